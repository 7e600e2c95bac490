"""The task queue: tasks by team and assignee, open, overdue, mine or done, soonest due first.

Done holds tasks closed without an outcome too (their run ended otherwise), with the reason in their note; they
never show as open, overdue or mine.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy import Select, and_, select
from sqlmodel import Session, col

from engine.store import Enrollment, EnrollmentStatus, HumanTask, Journey, Profile, TaskStatus, User

QUEUE_LIMIT: Final = 200


class TaskFilter(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    MINE = "mine"
    DONE = "done"


class TaskView(BaseModel):
    id: int
    journey_id: int
    journey_name: str
    node_id: str
    title: str
    team: str
    channel: str | None
    instructions: str
    outcomes: list[str]
    status: TaskStatus
    created_at: datetime
    due_at: datetime
    overdue: bool
    # The engine took the overdue path: recording an outcome now no longer moves the customer.
    overdue_path_taken: bool
    assignee_id: int | None
    assignee: str
    profile_id: int
    customer: str
    outcome: str | None
    note: str
    completed_by: str | None
    completed_at: datetime | None
    # Whether the customer's run still waits on this task (it may have ended: goal, exit, stop).
    run_waiting: bool


def _query() -> Select[Any]:
    return (
        select(
            HumanTask,
            col(Journey.name),
            col(User.email),
            col(User.name),
            col(Profile.user_id),
            col(Profile.traits),
            col(Enrollment.id).label("waiting_run"),
        )
        .join(Journey, col(Journey.id) == col(HumanTask.journey_id))
        .join(Profile, col(Profile.id) == col(HumanTask.profile_id))
        .outerjoin(User, col(User.id) == col(HumanTask.assignee_id))
        .outerjoin(
            Enrollment,
            and_(
                col(Enrollment.id) == col(HumanTask.enrollment_id),
                col(Enrollment.status) == EnrollmentStatus.WAITING,
                col(Enrollment.step_id) == col(HumanTask.node_id),
            ),
        )
    )


def customer_name(user_id: str | None, traits: dict[str, Any]) -> str:
    name = traits.get("name") or " ".join(str(traits[k]) for k in ("first_name", "last_name") if traits.get(k))
    return str(name or traits.get("email") or user_id or "unknown customer")


def _view(row: Any, now: datetime) -> TaskView:
    task: HumanTask = row[0]
    assert task.id is not None
    return TaskView(
        id=task.id,
        journey_id=task.journey_id,
        journey_name=row[1],
        node_id=task.node_id,
        title=task.title or task.node_id,
        team=task.team,
        channel=task.channel,
        instructions=task.instructions,
        outcomes=list(task.outcomes),
        status=task.status,
        created_at=task.created_at,
        due_at=task.due_at,
        overdue=task.status is TaskStatus.OPEN and task.due_at <= now,
        overdue_path_taken=task.overdue_at is not None,
        assignee_id=task.assignee_id,
        assignee=row[3] or row[2] or "",
        profile_id=task.profile_id,
        customer=customer_name(row[4], dict(row[5] or {})),
        outcome=task.outcome,
        note=task.note,
        completed_by=task.completed_by,
        completed_at=task.completed_at,
        run_waiting=row[6] is not None and task.overdue_at is None and task.applied_at is None,
    )


def list_tasks(
    *,
    session: Session,
    now: datetime,
    show: TaskFilter = TaskFilter.OPEN,
    user_id: int | None = None,
    team: str | None = None,
    limit: int = QUEUE_LIMIT,
) -> list[TaskView]:
    """The queue under ``show`` (``mine``: open tasks assigned to ``user_id``), of ``team`` when given."""
    query = _query()
    if show is TaskFilter.DONE:
        query = query.where(col(HumanTask.status).in_([TaskStatus.DONE, TaskStatus.CANCELLED])).order_by(
            col(HumanTask.completed_at).desc(), col(HumanTask.id).desc()
        )
    else:
        query = query.where(col(HumanTask.status) == TaskStatus.OPEN).order_by(col(HumanTask.due_at), col(HumanTask.id))
        if show is TaskFilter.OVERDUE:
            query = query.where(col(HumanTask.due_at) <= now)
        if show is TaskFilter.MINE:
            query = query.where(col(HumanTask.assignee_id) == user_id)
    if team:
        query = query.where(col(HumanTask.team) == team)
    return [_view(row, now) for row in session.execute(query.limit(limit)).all()]


def task_teams(*, session: Session) -> list[str]:
    """The teams open tasks are for, for the queue's team filter."""
    rows = session.execute(
        select(col(HumanTask.team))
        .where(col(HumanTask.status) == TaskStatus.OPEN)
        .distinct()
        .order_by(col(HumanTask.team))
    )
    return [team for (team,) in rows if team]


def task_view(*, session: Session, task_id: int, now: datetime) -> TaskView | None:
    row = session.execute(_query().where(col(HumanTask.id) == task_id)).first()
    return None if row is None else _view(row, now)
