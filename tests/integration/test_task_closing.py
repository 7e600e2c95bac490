"""Tasks nobody needs any more, on SQLite and PostgreSQL: a CSM call whose customer renewed (the goal event), left
(an exit criterion), whose run failed or whose journey was stopped is closed with the reason, leaves the open
queue, cannot be completed, shows on the customer's timeline and counts as closed without outcome; a task whose run
took the overdue path stays open for the person to record what happened.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from engine.accounts import create_user
from engine.kpis import MetricsFilter, journey_report, task_card_metrics
from engine.map.starters import load_template
from engine.runtime import CLOSED_BY, BatchWrites, Position, advance_due, customer_view, stop_journey
from engine.store import HumanTask, Profile, Role, TaskStatus, session_scope, utc_now
from engine.tasks import TaskError, TaskFilter, claim_task, complete_task, list_tasks
from journey_builder.kpis.csv_export import report_csv
from tests.engine_factories import ingest_and_react, publish_and_launch, track
from tests.integration.test_human_tasks_flow import admin, run_of


def task_of(session: Session, user: str) -> HumanTask:
    return session.execute(
        select(HumanTask)
        .join(Profile, col(Profile.id) == col(HumanTask.profile_id))
        .where(Profile.user_id == user)
        .execution_options(populate_existing=True)
    ).scalar_one()


def test_tasks_of_runs_that_ended_otherwise_are_closed_with_the_reason(own_database_url: str) -> None:
    url = own_database_url
    start = utc_now().replace(microsecond=0) - timedelta(days=5)
    no_engagement = start + timedelta(days=2, minutes=1)
    later = timedelta(hours=12)
    with session_scope(url) as session:
        journey_id, _ = publish_and_launch(session, load_template("at_risk_save"))
        agent = create_user(
            session=session, email="csm@example.com", name="Casey", password="x" * 12, role=Role.AGENT, actor="t"
        )
        ingest_and_react(session=session, messages=[admin("renewed"), admin("leaving"), admin("late")], now=start)
        # Enters later, so its task is not yet due when the others' are overdue.
        ingest_and_react(session=session, messages=[admin("stopped"), admin("broken")], now=start + later)

    with session_scope(url) as session:
        advance_due(session=session, now=no_engagement)
        advance_due(session=session, now=no_engagement + later)
    with session_scope(url) as session:
        assert sorted(view.customer for view in list_tasks(session=session, now=no_engagement + later)) == [
            "Broken",
            "Late",
            "Leaving",
            "Renewed",
            "Stopped",
        ]
        claim_task(
            session=session,
            task_id=task_of(session, "renewed").id or 0,
            user_id=agent.user_id,
            actor="csm@example.com",
            now=no_engagement,
        )

    goal_at = no_engagement + timedelta(hours=13)
    with session_scope(url) as session:
        ingest_and_react(
            session=session,
            messages=[track("renewed", "subscription_renewed"), track("leaving", "account_cancelled")],
            now=goal_at,
        )
    with session_scope(url) as session:
        assert (run_of(session, "renewed").status, run_of(session, "renewed").end_reason) == ("ended", "goal")
        renewed = task_of(session, "renewed")
        assert (renewed.status, renewed.note, renewed.completed_at) == (
            TaskStatus.CANCELLED,
            "the customer reached the goal",
            goal_at,
        )
        assert (renewed.completed_by, renewed.outcome) == (CLOSED_BY, None)
        leaving = task_of(session, "leaving")
        assert (leaving.status, leaving.note) == (
            TaskStatus.CANCELLED,
            "the customer left the journey: they met its exit criteria",
        )
        # The engine cannot carry this one on: its run fails, and the task is closed with the failure.
        broken_run = run_of(session, "broken")
        writes = BatchWrites(now=goal_at)
        with writes.run(broken_run.id or 0, profile_id=broken_run.profile_id, at=Position.of_run(broken_run)):
            raise RuntimeError("the template could not be rendered")
        writes.flush(session)
        broken = task_of(session, "broken")
        assert (broken.status, broken.note) == (
            TaskStatus.CANCELLED,
            "the customer left the journey: their run failed: the engine could not advance this run from step "
            "'csm_call' (RuntimeError: the template could not be rendered)",
        )
        mine = list_tasks(session=session, now=goal_at, show=TaskFilter.MINE, user_id=agent.user_id)
        assert mine == []
        assert sorted(v.customer for v in list_tasks(session=session, now=goal_at)) == ["Late", "Stopped"]

    overdue_at = no_engagement + timedelta(days=1, minutes=1)
    with session_scope(url) as session:
        advance_due(session=session, now=overdue_at)
    with session_scope(url) as session:
        late_run = run_of(session, "late")
        assert (late_run.status, late_run.end_reason) == ("ended", "completed")
        late = task_of(session, "late")
        assert (late.status, late.overdue_at) == (TaskStatus.OPEN, overdue_at)
        assert run_of(session, "stopped").step_id == "csm_call"
        stop_journey(session=session, journey_id=journey_id, actor="marketer", now=overdue_at + timedelta(minutes=1))

    with session_scope(url) as session:
        stopped = task_of(session, "stopped")
        assert (stopped.status, stopped.note) == (TaskStatus.CANCELLED, "the journey was stopped")
        # The overdue path was taken: the person still records what happened.
        assert task_of(session, "late").status is TaskStatus.OPEN
        assert [v.customer for v in list_tasks(session=session, now=overdue_at, show=TaskFilter.OPEN)] == ["Late"]
        assert [v.customer for v in list_tasks(session=session, now=overdue_at, show=TaskFilter.OVERDUE)] == ["Late"]
        done = list_tasks(session=session, now=overdue_at, show=TaskFilter.DONE)
        assert sorted((v.customer, v.status, v.note) for v in done) == [
            ("Broken", TaskStatus.CANCELLED, broken.note),
            ("Leaving", TaskStatus.CANCELLED, "the customer left the journey: they met its exit criteria"),
            ("Renewed", TaskStatus.CANCELLED, "the customer reached the goal"),
            ("Stopped", TaskStatus.CANCELLED, "the journey was stopped"),
        ]

        with pytest.raises(TaskError, match=r"closed as no longer needed .*\(the journey was stopped\)"):
            complete_task(
                session=session,
                task_id=stopped.id or 0,
                outcome="no answer",
                note="",
                actor="csm@example.com",
                now=overdue_at,
            )
        with pytest.raises(TaskError, match="closed as no longer needed"):
            claim_task(
                session=session, task_id=stopped.id or 0, user_id=agent.user_id, actor="csm@example.com", now=overdue_at
            )

        view = customer_view(session=session, profile_id=renewed.profile_id)
        assert view is not None
        closed = [(item.title, item.detail) for item in view.timeline if item.kind == "task:closed"]
        assert closed == [("task closed: Call the admin (CSM): no longer needed", "the customer reached the goal")]

        every = MetricsFilter.all_time(journey_id=journey_id)
        [card] = task_card_metrics(session=session, metrics_filter=every)
        assert (card.created, card.done, card.done_within_due, card.overdue, card.closed_without_outcome) == (
            5,
            0,
            0,
            1,
            4,
        )
        assert (card.open, card.outcomes, card.median_to_outcome_seconds) == (1, (), None)
        report = journey_report(session=session, metrics_filter=every)
        assert report.tasks == (card,)
        text = report_csv(report, window_label="All time", generated_at=overdue_at)
        assert "Task card,Tasks,Done within due time,Overdue,Closed without outcome,Open," in text
        assert "Call the admin (CSM),5,0,1,4,1," in text
