"""Working tasks: claim, release, assign and complete, each refusing what it cannot do with a reason, changing
nothing then; and a task whose instructions cannot be rendered for a customer fails that customer's run alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from engine.accounts import create_user
from engine.store import NOTE_LENGTH, Enrollment, HumanTask, OutboxMessage, Role, TaskStatus
from engine.tasks import (
    TaskError,
    TaskFilter,
    TaskInputError,
    TaskNotFoundError,
    assign_task,
    claim_task,
    complete_task,
    list_tasks,
    release_task,
)
from tests.engine_factories import (
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    send,
)
from tests.engine_factories import track as tracked

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)


def opened(session: Session, *users: str, instructions: str = "Call {{ profile.first_name }}") -> list[HumanTask]:
    doc = journey_map(
        [
            event_trigger("signed_up"),
            node(
                "call",
                "human_task",
                title="Call",
                team="csm",
                instructions=instructions,
                due="P1D",
                outcomes=["reached", "no answer"],
            ),
            send("thanks"),
            send("sorry"),
        ],
        [("entry", "call"), ("call", "thanks", "reached"), ("call", "sorry", "no answer")],
        profile_traits=["first_name"],
    )
    publish_and_launch(session, doc)
    messages = []
    for user in users:
        messages += [
            identify(user, {"email": f"{user}@example.com", "first_name": user.title()}),
            tracked(user, "signed_up"),
        ]
    ingest_and_react(session=session, messages=messages, now=NOW)
    return list(session.execute(select(HumanTask).order_by(col(HumanTask.id))).scalars())


def people(session: Session) -> tuple[int, int]:
    one = create_user(session=session, email="ann@example.com", password="x" * 12, role=Role.AGENT, actor="t")
    two = create_user(session=session, email="bob@example.com", password="x" * 12, role=Role.AGENT, actor="t")
    return one.user_id, two.user_id


def test_a_task_opens_with_its_instructions_rendered_for_the_customer(session: Session) -> None:
    [task] = opened(session, "ada")

    assert (task.status, task.team, task.instructions, task.outcomes) == (
        TaskStatus.OPEN,
        "csm",
        "Call Ada",
        ["reached", "no answer"],
    )
    assert task.due_at == NOW + timedelta(days=1)


def test_instructions_that_cannot_be_rendered_fail_that_run_alone(session: Session) -> None:
    assert opened(session, "ada", instructions="{{ profile.first_name | divided_by: 0 }}") == []

    run = session.execute(select(Enrollment)).scalar_one()
    assert run.end_reason == "failed"
    assert "the instructions of the task at step 'call' could not be rendered" in (run.failure or "")


def test_claim_release_and_assign_say_who_holds_a_task(session: Session) -> None:
    [task] = opened(session, "ada")
    ann, bob = people(session)
    assert task.id is not None

    claim_task(session=session, task_id=task.id, user_id=ann, actor="ann@example.com", now=NOW)
    with pytest.raises(TaskError, match=r"claimed by ann@example\.com"):
        claim_task(session=session, task_id=task.id, user_id=bob, actor="bob@example.com", now=NOW)
    with pytest.raises(TaskError, match="only they or an admin"):
        release_task(session=session, task_id=task.id, user_id=bob, role=Role.AGENT, actor="bob@example.com")
    assert [t.id for t in list_tasks(session=session, now=NOW, show=TaskFilter.MINE, user_id=ann)] == [task.id]

    release_task(session=session, task_id=task.id, user_id=bob, role=Role.ADMIN, actor="bob@example.com")
    assert task.assignee_id is None
    assign_task(session=session, task_id=task.id, assignee_id=bob, actor="lead@example.com", now=NOW)
    notice = session.execute(select(OutboxMessage).where(OutboxMessage.recipient == "bob@example.com")).scalar_one()
    assert notice.subject == f"Assigned to you: Call (task {task.id})"
    assert "Call Ada" in notice.body
    assert (notice.is_test, notice.profile_id, notice.journey_id) == (True, None, None)
    with pytest.raises(TaskNotFoundError):
        claim_task(session=session, task_id=999, user_id=ann, actor="ann@example.com", now=NOW)


def test_completing_needs_an_offered_outcome_and_a_storable_note_and_happens_once(session: Session) -> None:
    [task] = opened(session, "ada")
    assert task.id is not None

    for outcome, note, reason in (
        ("maybe", "", "'maybe' is not an outcome"),
        ("reached", "x" * (NOTE_LENGTH + 1), "at most 5,000"),
        ("reached", "a\x00b", "NUL"),
    ):
        with pytest.raises(TaskInputError, match=reason):
            complete_task(session=session, task_id=task.id, outcome=outcome, note=note, actor="ann", now=NOW)
    assert task.status is TaskStatus.OPEN

    complete_task(session=session, task_id=task.id, outcome="reached", note=" Spoke at length. ", actor="ann", now=NOW)
    assert (task.status, task.outcome, task.note) == (TaskStatus.DONE, "reached", "Spoke at length.")
    assert session.execute(select(Enrollment.due_at)).scalar_one() == NOW
    with pytest.raises(TaskError, match="already done"):
        complete_task(session=session, task_id=task.id, outcome="no answer", note="", actor="bob", now=NOW)
