"""The at-risk save starter with its CSM call as a human task, run on SQLite and PostgreSQL.

Health scores drop, the in-app guidance goes out, nobody engages for 48 hours: each admin's CSM call becomes a task
with the customer's context. One task is completed over the HTTP API (reached, saved) and the run goes on along
that path; another goes overdue and the overdue path runs (its assignee is emailed); a third is completed while the
journey is paused, stays where it is, and its outcome is applied on resume.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from engine.accounts import create_api_token, create_user
from engine.kpis import MetricsFilter, journey_report, task_card_metrics
from engine.map.starters import load_template
from engine.runtime import advance_due, customer_view, pause_journey, resume_journey
from engine.store import (
    AuditEntry,
    Enrollment,
    HumanTask,
    OutboxMessage,
    Profile,
    Role,
    TaskStatus,
    session_scope,
    utc_now,
)
from engine.tasks import TaskFilter, assign_task, complete_task, list_tasks, task_context
from journey_builder.kpis.csv_export import report_csv
from tests.engine_factories import identify, ingest_and_react, publish_and_launch
from tests.integration.journey_harness import api_server

SAVED = "reached \N{EN DASH} saved"
CHURNING = "reached \N{EN DASH} churning"


def admin(user: str) -> Any:
    return identify(
        user,
        {
            "email": f"{user}@example.com",
            "first_name": user.title(),
            "account_name": f"{user.title()} Inc",
            "phone": "+15550100",
            "health_score": 42,
            "role": "admin",
        },
    )


def run_of(session: Session, user: str) -> Enrollment:
    return session.execute(
        select(Enrollment).join(Profile, col(Profile.id) == col(Enrollment.profile_id)).where(Profile.user_id == user)
    ).scalar_one()


def task_of(session: Session, user: str) -> HumanTask:
    return session.execute(
        select(HumanTask).join(Profile, col(Profile.id) == col(HumanTask.profile_id)).where(Profile.user_id == user)
    ).scalar_one()


def sent(session: Session, user: str) -> list[str]:
    rows = session.execute(
        select(col(OutboxMessage.node_id))
        .join(Profile, col(Profile.id) == col(OutboxMessage.profile_id))
        .where(Profile.user_id == user)
        .order_by(col(OutboxMessage.id))
    )
    return [node_id for (node_id,) in rows]


def test_the_at_risk_save_s_csm_calls_are_tasks_whose_outcomes_move_the_journey(own_database_url: str) -> None:
    url = own_database_url
    # The API records its outcome at the real time: the engine's clock here is set so that the tasks open a minute
    # before it, and ticks after it.
    no_engagement = utc_now().replace(microsecond=0) - timedelta(minutes=1)
    start = no_engagement - timedelta(days=2, minutes=1)
    with session_scope(url) as session:
        journey_id, _ = publish_and_launch(session, load_template("at_risk_save"))
        agent = create_user(
            session=session,
            email="csm@example.com",
            name="Casey CSM",
            password="x" * 12,
            role=Role.AGENT,
            actor="admin@example.com",
        )
        token = create_api_token(session=session, name="helpdesk", role=Role.AGENT).secret
        designer_token = create_api_token(session=session, name="drawing", role=Role.DESIGNER).secret
        ingest_and_react(session=session, messages=[admin("saved"), admin("late"), admin("held")], now=start)

    with session_scope(url) as session:
        for user in ("saved", "late", "held"):
            assert sent(session, user) == ["csm_task", "in_app_guidance"]
            assert run_of(session, user).step_id == "wait_engaged"
        assert list_tasks(session=session, now=start) == []

        advance_due(session=session, now=no_engagement)

    with session_scope(url) as session:
        queue = list_tasks(session=session, now=no_engagement, team="csm")
        assert sorted(view.customer for view in queue) == ["Held", "Late", "Saved"]
        for view in queue:
            assert view.node_id == "csm_call"
            assert view.outcomes == [SAVED, CHURNING, "no answer"]
            assert view.due_at == no_engagement + timedelta(days=1)
            assert view.run_waiting
        saved_task = task_of(session, "saved")
        assert saved_task.instructions.startswith("Call Saved at Saved Inc (+15550100). Their health score is 42")
        context = task_context(session=session, task_id=saved_task.id or 0, now=no_engagement)
        assert context is not None
        assert context.journey_name == "At-risk account save"
        assert context.step == "Call the admin (CSM)"
        assert context.stage == "Re-engage"
        assert context.traits["health_score"] == 42
        assert [item.title for item in context.path if item.kind == "step"] == [
            "Health score below 60 (admins)",
            "Webhook: task for the CSM",
            "In-app: three quick wins",
            "Clicked the quick wins within 2 days?",
            "Call the admin (CSM)",
        ]
        assert {(m.step, m.channel) for m in context.messages} == {
            ("Webhook: task for the CSM", "webhook"),
            ("In-app: three quick wins", "in_app"),
        }
        assign_task(
            session=session,
            task_id=task_of(session, "late").id or 0,
            assignee_id=agent.user_id,
            actor="lead@x.io",
            now=no_engagement,
        )

    # The helpdesk records the call over the API; a designer's token may not.
    with api_server(url) as base, httpx.Client(base_url=base) as client:
        path = f"/api/tasks/{saved_task.id}/complete"
        body = {"outcome": SAVED, "note": "Admin was on leave; team restarts Monday."}
        refused = client.post(path, json=body, headers={"Authorization": f"Bearer {designer_token}"})
        assert refused.status_code == 403
        unknown = client.post(path, json={"outcome": "maybe"}, headers={"Authorization": f"Bearer {token}"})
        assert unknown.status_code == 422
        assert "'maybe' is not an outcome" in unknown.json()["detail"]
        done = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "done"
        again = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 409
        assert "already done" in again.json()["detail"]

    with session_scope(url) as session:
        advance_due(session=session, now=utc_now() + timedelta(seconds=1))

    with session_scope(url) as session:
        run = run_of(session, "saved")
        assert (run.status, run.step_id) == ("waiting", "wait_score_refresh")
        task = task_of(session, "saved")
        assert task.applied_at is not None
        assert task.outcome == SAVED
        view = customer_view(session=session, profile_id=task.profile_id)
        assert view is not None
        done_items = [item for item in view.timeline if item.kind == "task:done"]
        assert [item.title for item in done_items] == [f"task done: Call the admin (CSM): {SAVED}"]
        assert "Admin was on leave" in done_items[0].detail
        audit = session.execute(select(AuditEntry).where(AuditEntry.action == "complete_task")).scalar_one()
        assert audit.journey_id == journey_id
        assert audit.detail["outcome"] == SAVED
        assert audit.actor == "token:helpdesk"

        pause_journey(session=session, journey_id=journey_id, actor="marketer")
        complete_task(
            session=session,
            task_id=task_of(session, "held").id or 0,
            outcome=CHURNING,
            note="Moving to a competitor at renewal.",
            actor="csm@example.com",
            now=no_engagement + timedelta(minutes=6),
        )

    overdue_at = no_engagement + timedelta(days=1, minutes=1)
    with session_scope(url) as session:
        advance_due(session=session, now=overdue_at)
        # Paused: nobody moves, the open task stays open and the completed one waits for the resume.
        assert run_of(session, "held").step_id == "csm_call"
        assert run_of(session, "late").step_id == "csm_call"
        assert task_of(session, "late").status is TaskStatus.OPEN
        assert task_of(session, "held").applied_at is None
        resume_journey(session=session, journey_id=journey_id, actor="marketer")

    with session_scope(url) as session:
        advance_due(session=session, now=overdue_at + timedelta(seconds=1))

    with session_scope(url) as session:
        held = run_of(session, "held")
        assert (held.status, held.end_reason) == ("ended", "completed")
        assert session.get(Profile, held.profile_id).traits["churn_risk"] == "high"  # type: ignore[union-attr]
        assert task_of(session, "held").applied_at is not None

        late = run_of(session, "late")
        assert (late.status, late.end_reason) == ("ended", "completed")
        assert sent(session, "late")[-1] == "live_call_task"
        late_task = task_of(session, "late")
        assert late_task.status is TaskStatus.OPEN
        assert late_task.overdue_at is not None
        overdue = list_tasks(session=session, now=overdue_at, show=TaskFilter.OVERDUE)
        assert [(view.customer, view.overdue_path_taken, view.run_waiting) for view in overdue] == [
            ("Late", True, False)
        ]
        notices = session.execute(
            select(col(OutboxMessage.subject)).where(OutboxMessage.recipient == "csm@example.com")
        ).scalars()
        assert sorted(notices) == [
            f"Assigned to you: Call the admin (CSM) (task {late_task.id})",
            f"Overdue: Call the admin (CSM) (task {late_task.id})",
        ]

        # Recorded late, the outcome is kept but moves nobody: the run already took the overdue path.
        complete_task(
            session=session,
            task_id=late_task.id or 0,
            outcome="no answer",
            note="",
            actor="csm@example.com",
            now=overdue_at + timedelta(hours=1),
        )
        entry = (
            session.execute(
                select(AuditEntry).where(AuditEntry.action == "complete_task").order_by(col(AuditEntry.id).desc())
            )
            .scalars()
            .first()
        )
        assert entry is not None
        assert entry.detail["moves_customer"] is False

        # The card's figures, as the overlay, the KPI page and its CSV all get them.
        session.flush()
        every = MetricsFilter.all_time(journey_id=journey_id)
        [card] = task_card_metrics(session=session, metrics_filter=every)
        assert (card.node_id, card.created, card.done, card.done_within_due, card.overdue, card.open) == (
            "csm_call",
            3,
            3,
            2,
            1,
            0,
        )
        assert card.closed_without_outcome == 0
        assert {(o.outcome, o.tasks) for o in card.outcomes} == {(SAVED, 1), (CHURNING, 1), ("no answer", 1)}
        assert card.median_to_outcome_seconds == pytest.approx(6 * 60)
        report = journey_report(session=session, metrics_filter=every)
        assert report.tasks == (card,)
        text = report_csv(report, window_label="All time", generated_at=overdue_at)
        assert "Human tasks" in text
        assert f"Call the admin (CSM),3,2,1,0,0,0.10,{SAVED},1,33.3" in text
