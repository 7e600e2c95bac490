"""The tick's work: claim the runs whose wait is over and walk each to its next wait or end.

On PostgreSQL the claim takes row locks with SKIP LOCKED, so several workers share the due rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, select
from sqlmodel import Session, col

from engine.compiler import HumanTaskStep
from engine.journeys import PLANS, RUNNING, LoadedPlan
from engine.runtime.decisions import ResumeMode, after_task, after_wait
from engine.runtime.task_waits import WaitedTask, overdue_notice, send_notices, waited_tasks
from engine.runtime.walk import RunContext, walk
from engine.runtime.writes import BatchWrites, Position
from engine.store import Enrollment, EnrollmentStatus, Journey, Profile

CLAIM_BATCH = 1_000


def _due_query(now: datetime, limit: int, *, skip_locked: bool) -> Select[Any]:
    query = (
        select(
            col(Enrollment.id),
            col(Enrollment.journey_id),
            col(Enrollment.version_id),
            col(Enrollment.profile_id),
            col(Enrollment.step_id),
            col(Enrollment.context),
            col(Enrollment.resume_mode),
            col(Enrollment.event_arrived_at),
            col(Enrollment.step_entered_at),
            col(Enrollment.stage_id),
            col(Enrollment.stage_entered_at),
        )
        .join(Journey, and_(col(Journey.id) == col(Enrollment.journey_id), col(Journey.status).in_(RUNNING)))
        .where(col(Enrollment.status) == EnrollmentStatus.WAITING, col(Enrollment.due_at) <= now)
        .order_by(col(Enrollment.due_at))
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(of=Enrollment, skip_locked=True)
    return query


def _profiles(session: Session, profile_ids: Iterable[int]) -> dict[int, tuple[str | None, dict[str, Any], str | None]]:
    rows = session.execute(
        select(col(Profile.id), col(Profile.user_id), col(Profile.traits), col(Profile.timezone)).where(
            col(Profile.id).in_(set(profile_ids))
        )
    )
    return {pid: (user_id, dict(traits or {}), tz) for pid, user_id, traits, tz in rows}


def advance_due(*, session: Session, now: datetime, limit: int = CLAIM_BATCH) -> int:
    """Claim up to ``limit`` customers whose wait is over and advance them; returns how many.

    On PostgreSQL the claim takes row locks with SKIP LOCKED, so several workers share the due
    rows and none advances a customer another worker holds. The caller commits.
    """
    skip_locked = session.get_bind().dialect.name == "postgresql"
    rows = session.execute(_due_query(now, limit, skip_locked=skip_locked)).all()
    if not rows:
        return 0
    plans = PLANS.get_many(session=session, version_ids={row.version_id for row in rows})
    profiles = _profiles(session, (row.profile_id for row in rows))
    tasks = waited_tasks(
        session,
        (row.id for row in rows if isinstance(plans[row.version_id].steps.get(row.step_id or ""), HumanTaskStep)),
    )
    writes = BatchWrites(now=now)
    notices: list[dict[str, Any]] = []
    for row in rows:
        # A run whose stored state cannot be read back fails alone, like one that fails in its walk.
        with writes.run(row.id, profile_id=row.profile_id, at=Position.of_run(row)):
            task = tasks.get((row.id, row.step_id or ""))
            _advance_one(
                row,
                loaded=plans[row.version_id],
                profile=profiles[row.profile_id],
                task=task,
                now=now,
                writes=writes,
            )
            if task is not None and task.outcome is None:
                notice = overdue_notice(task, node_id=row.step_id, now=now)
                if notice is not None:
                    notices.append(notice)
    writes.flush(session)
    send_notices(session, notices)
    return len(rows)


def _advance_one(
    row: Any,
    *,
    loaded: LoadedPlan,
    profile: tuple[str | None, dict[str, Any], str | None],
    task: WaitedTask | None,
    now: datetime,
    writes: BatchWrites,
) -> None:
    user_id, traits, tz = profile
    waiting_step = loaded.steps.get(row.step_id) if row.step_id else None
    run = RunContext(
        enrollment_id=row.id,
        journey_id=row.journey_id,
        version_id=row.version_id,
        profile_id=row.profile_id,
        user_id=user_id,
        traits=traits,
        timezone=tz or loaded.plan.default_timezone,
        context=dict(row.context or {}),
        position=Position.of_run(row),
    )
    if isinstance(waiting_step, HumanTaskStep):
        outcome = task.outcome if task is not None else None
        start_at = after_task(waiting_step, outcome=outcome)
        if task is not None:
            writes.task_marks.append(
                {"tid": task.id, "applied_at": now if outcome else None, "overdue_at": None if outcome else now}
            )
    else:
        arrived = row.event_arrived_at is not None
        start_at = after_wait(waiting_step, event_arrived=arrived) if waiting_step else None
    mode = ResumeMode(row.resume_mode) if row.resume_mode else None
    walk(run, loaded=loaded, start_at=start_at, now=now, resume_mode=mode, writes=writes)
