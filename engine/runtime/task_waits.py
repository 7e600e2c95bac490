"""Runs waiting on a person's task: which task each waits on, and the emails that tell an assignee about one.

The tick (:mod:`engine.runtime.due`) claims a run waiting at a human-task card when its ``due_at`` passes: either
a person recorded the outcome (which set the run due at once) and the run takes that outcome's path, or nobody
did in time and it takes the overdue path. Either way the task is marked, so it is acted on once. A run that ends
some other way while it waits (the goal, an exit criterion, a stop, a failure) has its task closed as no longer
needed, in the statement that ends it or right after, so nobody is asked to call a customer who has left.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, insert, literal, select, update
from sqlmodel import Session, col

from engine.map import Channel
from engine.runtime.decisions import EndReason
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    HumanTask,
    MessageStatus,
    OutboxMessage,
    TaskStatus,
    User,
)

# Who closed a task nobody needs any more, as the queue and the customer's timeline show it.
CLOSED_BY = "the journey"


@dataclass(frozen=True)
class WaitedTask:
    id: int
    outcome: str | None
    title: str
    due_at: datetime
    assignee_email: str | None


def waited_tasks(session: Session, enrollment_ids: Iterable[int]) -> dict[tuple[int, str], WaitedTask]:
    """The task each run waits on, by (run, card): the newest not yet acted on by the tick."""
    ids = set(enrollment_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            col(HumanTask.id),
            col(HumanTask.enrollment_id),
            col(HumanTask.node_id),
            col(HumanTask.status),
            col(HumanTask.outcome),
            col(HumanTask.title),
            col(HumanTask.due_at),
            col(User.email),
        )
        .outerjoin(User, col(User.id) == col(HumanTask.assignee_id))
        .where(
            col(HumanTask.enrollment_id).in_(ids),
            col(HumanTask.applied_at).is_(None),
            col(HumanTask.overdue_at).is_(None),
        )
        .order_by(col(HumanTask.id))
    ).all()
    return {
        (row.enrollment_id, row.node_id): WaitedTask(
            id=row.id,
            outcome=row.outcome if row.status == TaskStatus.DONE else None,
            title=row.title,
            due_at=row.due_at,
            assignee_email=row.email,
        )
        for row in rows
    }


def notice_row(*, task_id: int, node_id: str, recipient: str, subject: str, body: str, now: datetime) -> dict[str, Any]:
    """An email to a colleague about a task, through the same outbox and email lane as customers' messages.

    It is nobody's customer message: no customer, no journey, so no consent, frequency cap, quiet hours or KPI
    applies, and the dispatcher sends it whatever the journey's status, as it does a test send.
    """
    return {
        "idempotency_key": f"task{task_id}-{uuid.uuid4().hex}",
        "enrollment_id": None,
        "journey_id": None,
        "profile_id": None,
        "node_id": node_id,
        "channel": Channel.EMAIL.value,
        "fallback_channel": None,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "url": "",
        "status": MessageStatus.PENDING,
        "reason": "",
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "is_test": True,
        "provider_message_id": None,
        "delivered_at": None,
    }


def send_notices(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(OutboxMessage.__table__), rows)  # type: ignore[attr-defined]


def overdue_notice(task: WaitedTask, *, node_id: str, now: datetime) -> dict[str, Any] | None:
    """The email telling the task's assignee it is overdue; None when nobody has it."""
    if not task.assignee_email:
        return None
    return notice_row(
        task_id=task.id,
        node_id=node_id,
        recipient=task.assignee_email,
        subject=f"Overdue: {task.title or 'a task'} (task {task.id})",
        body=(
            f"Task {task.id}, {task.title or 'a task'}, was due at {task.due_at:%Y-%m-%d %H:%M} UTC and has no "
            "outcome yet. The journey went on by its overdue path; you can still record what happened on the "
            "Tasks page."
        ),
        now=now,
    )


def close_tasks_of_ended_runs(session: Session, *runs: ColumnElement[bool], now: datetime) -> int:
    """Close, in one statement, the open tasks that ended runs among ``runs`` (conditions on the enrollment table)
    waited on without their outcome; the note says why the run ended. A task whose overdue path was taken is left
    open, for the person to record what happened."""
    run = Enrollment.__table__  # type: ignore[attr-defined]
    task = HumanTask.__table__  # type: ignore[attr-defined]
    own_run = run.c.id == task.c.enrollment_id
    end_reason = select(run.c.end_reason).where(own_run).scalar_subquery()
    failure = select(func.coalesce(run.c.failure, "")).where(own_run).scalar_subquery()
    why = case(
        (end_reason == EndReason.GOAL.value, literal("the customer reached the goal")),
        (end_reason == EndReason.STOPPED.value, literal("the journey was stopped")),
        (
            end_reason == EndReason.EXIT_CRITERIA.value,
            literal("the customer left the journey: they met its exit criteria"),
        ),
        (end_reason == EndReason.FAILED.value, literal("the customer left the journey: their run failed: ") + failure),
        else_=literal("the customer left the journey: ") + func.coalesce(end_reason, ""),
    )
    closed: int = session.execute(  # type: ignore[attr-defined]
        update(task)
        .where(
            task.c.status == TaskStatus.OPEN,
            task.c.outcome.is_(None),
            task.c.overdue_at.is_(None),
            task.c.applied_at.is_(None),
            task.c.enrollment_id.in_(select(run.c.id).where(*runs, run.c.status == EnrollmentStatus.ENDED)),
        )
        .values(status=TaskStatus.CANCELLED, completed_at=now, completed_by=CLOSED_BY, note=why),
        execution_options={"synchronize_session": False},
    ).rowcount
    return closed
