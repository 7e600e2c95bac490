"""Working a task: claim it, release it, assign it to a colleague, record its outcome.

Recording an outcome sets the customer's run due at once (when it still waits on the task), so the engine's next
tick walks it on from that outcome's path; while the journey is paused the tick skips it, and the outcome is
applied on resume. Locks are taken run first, then task, the order the tick takes them in, so the two never
deadlock and a task is either completed before its overdue path is taken or after (then as late).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session, col

from engine.runtime import notice_row, send_notices
from engine.store import (
    NOTE_LENGTH,
    Enrollment,
    EnrollmentStatus,
    HumanTask,
    Role,
    TaskStatus,
    User,
    audit,
)


class TaskError(ValueError):
    """A task that cannot be worked as asked; the message says why."""


class TaskNotFoundError(TaskError, LookupError):
    """No task has this id."""


class TaskInputError(TaskError):
    """An outcome the task does not offer, or a note that cannot be kept."""


def _locked(session: Session, task_id: int) -> HumanTask:
    found = session.execute(select(col(HumanTask.enrollment_id)).where(col(HumanTask.id) == task_id)).first()
    if found is None:
        raise TaskNotFoundError(f"there is no task {task_id}")
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(select(col(Enrollment.id)).where(col(Enrollment.id) == found[0]).with_for_update())
    query = select(HumanTask).where(col(HumanTask.id) == task_id).execution_options(populate_existing=True)
    if postgres:
        query = query.with_for_update()
    task: HumanTask = session.execute(query).scalar_one()
    return task


def _open(task: HumanTask) -> None:
    if task.status is TaskStatus.DONE:
        raise TaskError(
            f"task {task.id} is already done: {task.completed_by or 'someone'} recorded {task.outcome!r} "
            f"at {task.completed_at:%Y-%m-%d %H:%M} UTC"
        )
    if task.status is TaskStatus.CANCELLED:
        raise TaskError(
            f"task {task.id} was closed as no longer needed at {task.completed_at:%Y-%m-%d %H:%M} UTC "
            f"({task.note or 'the customer left the journey'}); there is nothing left to record"
        )


def claim_task(*, session: Session, task_id: int, user_id: int, actor: str, now: datetime) -> HumanTask:
    """Take an open task; refused while a colleague holds it (they release it first)."""
    task = _locked(session, task_id)
    _open(task)
    if task.assignee_id is not None and task.assignee_id != user_id:
        holder = session.get(User, task.assignee_id)
        raise TaskError(f"task {task_id} is claimed by {holder.email if holder else 'someone else'}")
    task.assignee_id, task.claimed_at = user_id, now
    session.add(task)
    audit.record(session=session, actor=actor, action="claim_task", journey_id=task.journey_id, task=task_id)
    return task


def release_task(*, session: Session, task_id: int, user_id: int, role: Role, actor: str) -> HumanTask:
    """Give a claimed task back to its team's queue: its holder, or an admin, may."""
    task = _locked(session, task_id)
    _open(task)
    if task.assignee_id is None:
        raise TaskError(f"task {task_id} is not claimed by anyone")
    if task.assignee_id != user_id and role is not Role.ADMIN:
        raise TaskError(f"task {task_id} is claimed by someone else; only they or an admin may release it")
    task.assignee_id, task.claimed_at = None, None
    session.add(task)
    audit.record(session=session, actor=actor, action="release_task", journey_id=task.journey_id, task=task_id)
    return task


def assign_task(*, session: Session, task_id: int, assignee_id: int, actor: str, now: datetime) -> HumanTask:
    """Give an open task to a colleague, who is told by email."""
    task = _locked(session, task_id)
    _open(task)
    assignee = session.get(User, assignee_id)
    if assignee is None or assignee.removed_at is not None:
        raise TaskError(f"there is no user {assignee_id} to assign task {task_id} to")
    task.assignee_id, task.claimed_at = assignee.id, now
    session.add(task)
    audit.record(
        session=session, actor=actor, action="assign_task", journey_id=task.journey_id, task=task_id, to=assignee.email
    )
    if assignee.email != actor:
        send_notices(
            session,
            [
                notice_row(
                    task_id=task_id,
                    node_id=task.node_id,
                    recipient=assignee.email,
                    subject=f"Assigned to you: {task.title or 'a task'} (task {task_id})",
                    body=(
                        f"{actor} assigned you task {task_id}, {task.title or 'a task'}, due "
                        f"{task.due_at:%Y-%m-%d %H:%M} UTC.\n\n{task.instructions}\n\nOpen the Tasks page to work it."
                    ),
                    now=now,
                )
            ],
        )
    return task


def complete_task(*, session: Session, task_id: int, outcome: str, note: str, actor: str, now: datetime) -> HumanTask:
    """Record what the person did. The customer's run takes the outcome's path at the engine's next tick when it
    still waits on the task; a task whose overdue path was already taken is recorded without moving anyone."""
    task = _locked(session, task_id)
    _open(task)
    if outcome not in task.outcomes:
        offered = ", ".join(repr(name) for name in task.outcomes)
        raise TaskInputError(f"{outcome!r} is not an outcome of task {task_id}; choose one of {offered}")
    if len(note) > NOTE_LENGTH:
        raise TaskInputError(f"the note has {len(note):,} characters; at most {NOTE_LENGTH:,} are kept")
    if "\x00" in note:
        raise TaskInputError("the note holds a NUL character, which cannot be stored")
    task.status, task.outcome, task.note = TaskStatus.DONE, outcome, note.strip()
    task.completed_at, task.completed_by = now, actor
    session.add(task)
    moved = 0
    if task.overdue_at is None:
        table = Enrollment.__table__  # type: ignore[attr-defined]
        moved = session.execute(  # type: ignore[attr-defined]
            update(table)
            .where(
                table.c.id == task.enrollment_id,
                table.c.status == EnrollmentStatus.WAITING,
                table.c.step_id == task.node_id,
            )
            .values(due_at=now)
        ).rowcount
    audit.record(
        session=session,
        actor=actor,
        action="complete_task",
        journey_id=task.journey_id,
        task=task_id,
        outcome=outcome,
        note=task.note,
        moves_customer=bool(moved),
    )
    return task
