"""Launch, pause, resume and stop a journey: the marketer's controls, shared by the UI and the API.

Every action checks the journey's current status, changes it in one transaction with whatever it
implies for the customers inside, and writes an audit entry naming who did it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from engine.journeys import PLANS, archived_refusal, get_journey
from engine.map import PausePolicy
from engine.runtime.decisions import EndReason
from engine.runtime.task_waits import close_tasks_of_ended_runs
from engine.store import (
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyStatus,
    JourneyVersion,
    MessageStatus,
    OutboxMessage,
    audit,
    utc_now,
)


class LifecycleError(ValueError):
    """An action the journey's current status does not allow; the message says why."""


class StopMode(StrEnum):
    NOW = "now"
    DRAIN = "drain"


_ALLOWED: dict[str, set[JourneyStatus]] = {
    "launch": {JourneyStatus.DRAFT},
    "pause": {JourneyStatus.LIVE},
    "resume": {JourneyStatus.PAUSED},
    "stop": {JourneyStatus.LIVE, JourneyStatus.PAUSED, JourneyStatus.DRAINING},
}


def _require(journey: Journey, action: str) -> None:
    allowed = _ALLOWED[action]
    if journey.status not in allowed:
        names = " or ".join(sorted(s.value for s in allowed))
        raise LifecycleError(
            f"cannot {action} journey {journey.name!r}: it is {journey.status.value}, and {action} needs {names}"
        )


def action_blocker(journey: Journey, action: str, *, published: bool) -> str | None:
    """Why ``action`` (launch, pause, resume, stop, drain) cannot be taken on the journey now, in a sentence for
    the person at the controls; None when it can."""
    if action == "launch" and journey.archived_at is not None:
        return "The journey is archived; restore it from the journeys list first."
    if not published:
        if action == "launch":
            return "Publish a version first; a launched journey runs its newest published version."
        return "Nothing to stop or pause yet; no version has been published and launched."
    allowed = _ALLOWED["stop" if action == "drain" else action] - (
        {JourneyStatus.DRAINING} if action == "drain" else set()
    )
    if journey.status in allowed:
        return None
    status = journey.status.value
    if action == "launch":
        if journey.status is JourneyStatus.PAUSED:
            return "The journey is paused; resume it instead."
        if journey.status in {JourneyStatus.STOPPED, JourneyStatus.DRAINING}:
            return f"The journey is {status}, and a journey runs once; duplicate it to run the map again."
        return f"The journey is already {status}."
    if journey.status is JourneyStatus.DRAFT:
        return f"Nothing to {action} yet; the journey has not been launched."
    return f"The journey is {status}; {action} needs it to be {' or '.join(sorted(s.value for s in allowed))}."


def publish_consequence(journey: Journey, *, latest: int) -> str | None:
    """What publishing version ``latest + 1`` does to the customers of a journey that may hold some, or None when
    nobody can be inside it (a draft or a stopped journey). Runs are pinned to the version they entered with."""
    new = latest + 1
    inside = (
        f"Customers already inside stay on version {latest}, the one they entered with, until their run ends: "
        f"they are not moved to the new map."
    )
    if journey.status is JourneyStatus.LIVE:
        return f"{inside} Customers who enter from now on follow version {new}."
    if journey.status is JourneyStatus.PAUSED:
        return f"{inside} Customers who enter after you resume follow version {new}."
    if journey.status is JourneyStatus.DRAINING:
        return f"{inside} A draining journey takes no new entries, so nobody will follow version {new}."
    return None


def _set_status(session: Session, journey: Journey, status: JourneyStatus, now: datetime) -> None:
    journey.status = status
    journey.updated_at = now
    session.add(journey)


def latest_version(*, session: Session, journey_id: int) -> JourneyVersion | None:
    return session.execute(
        select(JourneyVersion)
        .where(col(JourneyVersion.journey_id) == journey_id)
        .order_by(col(JourneyVersion.number).desc())
        .limit(1)
    ).scalar_one_or_none()


def _pause_policy(session: Session, journey_id: int) -> PausePolicy:
    version = latest_version(session=session, journey_id=journey_id)
    if version is None:
        return PausePolicy.SKIP_OVERDUE_SENDS
    return PLANS.get(session=session, version_id=version.id).plan.pause_policy  # type: ignore[arg-type]


def launch_journey(*, session: Session, journey_id: int, actor: str, now: datetime | None = None) -> Journey:
    """Open the journey to entries, on its newest published version."""
    now = now or utc_now()
    journey = get_journey(session=session, journey_id=journey_id)
    refusal = archived_refusal(journey, "launch")
    if refusal is not None:
        raise LifecycleError(refusal)
    _require(journey, "launch")
    version = latest_version(session=session, journey_id=journey_id)
    if version is None:
        raise LifecycleError(f"cannot launch journey {journey.name!r}: publish a version first")
    _set_status(session, journey, JourneyStatus.LIVE, now)
    audit.record(session=session, actor=actor, action="launch", journey_id=journey_id, version=version.number)
    return journey


def pause_journey(*, session: Session, journey_id: int, actor: str, now: datetime | None = None) -> Journey:
    """Stop entries and hold every customer where they are; nothing is sent while paused."""
    now = now or utc_now()
    journey = get_journey(session=session, journey_id=journey_id)
    _require(journey, "pause")
    _set_status(session, journey, JourneyStatus.PAUSED, now)
    audit.record(session=session, actor=actor, action="pause", journey_id=journey_id)
    return journey


def resume_journey(
    *, session: Session, journey_id: int, actor: str, policy: PausePolicy | None = None, now: datetime | None = None
) -> Journey:
    """Continue the journey, treating what fell due while paused by the map's pause policy.

    The policy is stamped on exactly the customers whose wait ended before now, so the next tick
    continues them in that mode once and then drops it; nobody else is touched.
    """
    now = now or utc_now()
    journey = get_journey(session=session, journey_id=journey_id)
    _require(journey, "resume")
    chosen = policy or _pause_policy(session, journey_id)
    overdue: int = 0
    if chosen is not PausePolicy.SEND_LATE:
        table = Enrollment.__table__  # type: ignore[attr-defined]
        overdue = session.execute(  # type: ignore[attr-defined]
            update(table)
            .where(
                table.c.journey_id == journey_id,
                table.c.status == EnrollmentStatus.WAITING,
                table.c.due_at <= now,
            )
            .values(resume_mode=chosen.value)
        ).rowcount
        outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
        overdue_sends = (
            outbox.c.journey_id == journey_id,
            outbox.c.status == MessageStatus.PENDING,
            ~outbox.c.is_test,
            outbox.c.next_attempt_at <= now,
        )
        _hold_in_doubt(session, "its journey resumed skipping overdue sends", *overdue_sends)
        session.execute(
            update(outbox)
            .where(*overdue_sends)
            .values(status=MessageStatus.SKIPPED, reason="held while the journey was paused; skipped on resume")
        )
    _set_status(session, journey, JourneyStatus.LIVE, now)
    audit.record(
        session=session,
        actor=actor,
        action="resume",
        journey_id=journey_id,
        policy=chosen.value,
        overdue_customers=overdue,
    )
    return journey


def stop_journey(
    *, session: Session, journey_id: int, actor: str, mode: StopMode = StopMode.NOW, now: datetime | None = None
) -> Journey:
    """End the journey: every run now, or drain (no entries while those inside finish)."""
    now = now or utc_now()
    journey = get_journey(session=session, journey_id=journey_id)
    _require(journey, "stop")
    if mode is StopMode.DRAIN:
        _set_status(session, journey, JourneyStatus.DRAINING, now)
        audit.record(session=session, actor=actor, action="drain", journey_id=journey_id)
        return journey
    ended = end_all_runs(session=session, journey_id=journey_id, now=now)
    _set_status(session, journey, JourneyStatus.STOPPED, now)
    audit.record(session=session, actor=actor, action="stop", journey_id=journey_id, ended_runs=ended)
    return journey


def end_all_runs(*, session: Session, journey_id: int, now: datetime) -> int:
    table = Enrollment.__table__  # type: ignore[attr-defined]
    ended: int = session.execute(  # type: ignore[attr-defined]
        update(table)
        .where(table.c.journey_id == journey_id, table.c.status == EnrollmentStatus.WAITING)
        .values(
            status=EnrollmentStatus.ENDED,
            ended_at=now,
            end_reason=EndReason.STOPPED.value,
            due_at=None,
            wait_event=None,
        )
    ).rowcount
    close_tasks_of_ended_runs(session, table.c.journey_id == journey_id, now=now)
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    pending = (outbox.c.journey_id == journey_id, outbox.c.status == MessageStatus.PENDING, ~outbox.c.is_test)
    _hold_in_doubt(session, "its journey stopped", *pending)
    session.execute(update(outbox).where(*pending).values(status=MessageStatus.SKIPPED, reason="journey stopped"))
    return ended


def _hold_in_doubt(session: Session, why: str, *where: Any) -> None:
    """A message waiting to be asked again after an attempt in doubt may already have reached the customer: rather
    than skipped out of sight, it is held for a person (launch control's in-doubt list), who may mark it sent."""
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    session.execute(
        update(outbox)
        .where(*where, outbox.c.in_doubt)
        .values(
            status=MessageStatus.IN_DOUBT,
            lease_owner=None,
            next_attempt_at=None,
            reason=f"in doubt: an earlier attempt may have reached the customer; held, not sent again: {why}",
        )
    )


def finish_drained(*, session: Session, now: datetime | None = None) -> list[int]:
    """Stop draining journeys nobody is inside any more; the scheduler calls this every tick."""
    now = now or utc_now()
    still_inside = (
        select(func.count())
        .where(col(Enrollment.journey_id) == col(Journey.id), col(Enrollment.status) == EnrollmentStatus.WAITING)
        .scalar_subquery()
    )
    done = (
        session.execute(select(col(Journey.id)).where(col(Journey.status) == JourneyStatus.DRAINING, still_inside == 0))
        .scalars()
        .all()
    )
    for journey_id in done:
        journey = get_journey(session=session, journey_id=journey_id)
        _set_status(session, journey, JourneyStatus.STOPPED, now)
        audit.record(session=session, actor="engine", action="drained", journey_id=journey_id)
    return list(done)
