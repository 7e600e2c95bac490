"""Runs waiting on a person's task: which task each waits on, and the emails that tell an assignee about one.

The tick (:mod:`engine.runtime.due`) claims a run waiting at a human-task card when its ``due_at`` passes: either
a person recorded the outcome (which set the run due at once) and the run takes that outcome's path, or nobody
did in time and it takes the overdue path. Either way the task is marked, so it is acted on once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session, col

from engine.map import Channel
from engine.store import HumanTask, MessageStatus, OutboxMessage, TaskStatus, User


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
