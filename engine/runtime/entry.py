"""Entering customers into journeys: new runs inserted and walked to their first wait, the re-entry
policy that admits them, and entries by trait conditions and by schedule (events enter through
:mod:`engine.runtime.reactions`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from engine.journeys import PLANS, LiveJourney, live_journeys
from engine.map import ReentryPolicy, ScheduleTrigger, TraitTrigger, all_hold
from engine.runtime.walk import RunContext, transition_row, walk
from engine.runtime.writes import NOWHERE, BatchWrites
from engine.store import Enrollment, EnrollmentStatus, Profile, insert_rows

AUDIENCE_CHUNK = 1_000


@dataclass(frozen=True, kw_only=True)
class Entrant:
    """A customer about to enter a journey, with what the trigger carried."""

    profile_id: int
    user_id: str | None
    traits: Mapping[str, Any]
    timezone: str | None
    context: Mapping[str, Any]


def open_runs(
    *,
    session: Session,
    writes: BatchWrites,
    journey_id: int,
    version_id: int,
    entrants: Sequence[tuple[int, Mapping[str, Any]]],
    now: datetime,
) -> list[int]:
    """New runs for (profile id, entry context) pairs, their ids in the same order; ``writes`` stores them.

    On PostgreSQL the ids come from the table's sequence and each run is inserted once, at the flush, as its first
    walk leaves it: inserting it bare and updating it straight after wrote every index of the table twice, and
    the consumer spent a fifth of its time in that update. SQLite has no sequence to take ids from, so the runs
    are inserted here (one statement) and updated at the flush; rows are matched back by customer rather than by
    position, an ordered RETURNING costing SQLite one statement per row. A customer entered twice at once gets ids
    in insertion order.
    """
    rows = [
        {
            "journey_id": journey_id,
            "version_id": version_id,
            "profile_id": profile_id,
            "status": EnrollmentStatus.WAITING,
            "step_id": None,
            "due_at": None,
            "context": dict(context),
            "entered_at": now,
        }
        for profile_id, context in entrants
    ]
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = sorted(
            session.connection()
            .exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('enrollment', 'id')) FROM generate_series(1, %(n)s)",
                {"n": len(rows)},
            )
            .scalars()
        )
        for enrollment_id, row in zip(ids, rows, strict=True):
            writes.opened[enrollment_id] = row
        return ids
    inserted = insert_rows(session, Enrollment.__table__, rows, returning=("id", "profile_id"))  # type: ignore[attr-defined]
    by_profile: dict[int, list[int]] = defaultdict(list)
    for stored in sorted(inserted, key=lambda stored: stored.id):
        by_profile[stored.profile_id].append(stored.id)
    return [by_profile[profile_id].pop(0) for profile_id, _ in entrants]


def enroll_many(
    *, session: Session, journey_id: int, version_id: int, entrants: Sequence[Entrant], now: datetime
) -> list[int]:
    """Enter customers into a journey and walk each until their first wait; returns enrollment ids."""
    if not entrants:
        return []
    loaded = PLANS.get(session=session, version_id=version_id)
    entry = loaded.plan.entry
    writes = BatchWrites(now=now)
    ids = open_runs(
        session=session,
        writes=writes,
        journey_id=journey_id,
        version_id=version_id,
        entrants=[(e.profile_id, e.context) for e in entrants],
        now=now,
    )
    for enrollment_id, entrant in zip(ids, entrants, strict=True):
        run = RunContext(
            enrollment_id=enrollment_id,
            journey_id=journey_id,
            version_id=version_id,
            profile_id=entrant.profile_id,
            user_id=entrant.user_id,
            traits=dict(entrant.traits),
            timezone=entrant.timezone or loaded.plan.default_timezone,
            context=dict(entrant.context),
            position=NOWHERE.entering(entry.node_id, entry.stage, now),
        )
        writes.transitions.append(transition_row(run, entry.node_id, entry.stage, now, came_from=NOWHERE))
        walk(run, loaded=loaded, start_at=entry.first_step, now=now, resume_mode=None, writes=writes)
    writes.flush(session)
    return ids


def admitted_journeys(*, session: Session, profile_id: int, journeys: Sequence[LiveJourney]) -> list[LiveJourney]:
    """The journeys whose re-entry policy lets this customer in now."""
    history = session.execute(
        select(col(Enrollment.journey_id), col(Enrollment.status)).where(
            col(Enrollment.profile_id) == profile_id,
            col(Enrollment.journey_id).in_([j.journey_id for j in journeys]),
        )
    ).all()
    entered = {journey_id for journey_id, _ in history}
    in_flight = {journey_id for journey_id, status in history if status == EnrollmentStatus.WAITING}
    admitted = []
    for journey in journeys:
        policy = journey.loaded.plan.reentry
        if policy is ReentryPolicy.NEVER and journey.journey_id in entered:
            continue
        if policy is ReentryPolicy.AFTER_EXIT and journey.journey_id in in_flight:
            continue
        admitted.append(journey)
    return admitted


def admitted_profiles(*, session: Session, journey: LiveJourney, profile_ids: Sequence[int]) -> set[int]:
    """Of these customers, the ones the journey's re-entry policy lets in now (one query)."""
    history = session.execute(
        select(col(Enrollment.profile_id), col(Enrollment.status)).where(
            col(Enrollment.journey_id) == journey.journey_id,
            col(Enrollment.profile_id).in_(profile_ids),
        )
    ).all()
    policy = journey.loaded.plan.reentry
    if policy is ReentryPolicy.NEVER:
        blocked = {profile_id for profile_id, _ in history}
    elif policy is ReentryPolicy.AFTER_EXIT:
        blocked = {profile_id for profile_id, status in history if status == EnrollmentStatus.WAITING}
    else:
        blocked = set()
    return set(profile_ids) - blocked


def trait_entries(
    journeys: Sequence[LiveJourney], *, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[LiveJourney]:
    """The journeys whose trait trigger the change from ``before`` to ``after`` starts to meet."""
    entries = []
    for journey in journeys:
        trigger = journey.loaded.plan.entry.trigger
        if not isinstance(trigger, TraitTrigger):
            continue
        if all_hold(trigger.conditions, match=trigger.match, traits=after, event={}) and not all_hold(
            trigger.conditions, match=trigger.match, traits=before, event={}
        ):
            entries.append(journey)
    return entries


def enter_by_traits(
    *,
    session: Session,
    profile_id: int,
    user_id: str | None,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    timezone: str | None,
    now: datetime,
    live: list[LiveJourney] | None = None,
) -> int:
    """Enroll a customer whose traits now meet a trait trigger they did not meet before."""
    journeys = live if live is not None else live_journeys(session=session)
    candidates = trait_entries(journeys, before=before, after=after)
    if not candidates:
        return 0
    entrant = Entrant(profile_id=profile_id, user_id=user_id, traits=after, timezone=timezone, context={})
    admitted = admitted_journeys(session=session, profile_id=profile_id, journeys=candidates)
    for journey in admitted:
        enroll_many(
            session=session, journey_id=journey.journey_id, version_id=journey.version_id, entrants=[entrant], now=now
        )
    return len(admitted)


def scheduled_journeys(*, session: Session) -> list[tuple[int, str, LiveJourney]]:
    """(journey id, cron expression, journey) for every live journey entered on a schedule."""
    return [
        (journey.journey_id, journey.loaded.plan.entry.trigger.cron, journey)
        for journey in live_journeys(session=session)
        if isinstance(journey.loaded.plan.entry.trigger, ScheduleTrigger)
    ]


def enroll_scheduled_audience(*, session: Session, journey_id: int, now: datetime) -> int:
    """Enroll every profile matching the scheduled journey's audience, chunk by chunk."""
    journey = next((j for j in live_journeys(session=session) if j.journey_id == journey_id), None)
    if journey is None or not isinstance(journey.loaded.plan.entry.trigger, ScheduleTrigger):
        return 0
    audience = journey.loaded.plan.entry.trigger.audience
    enrolled = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(col(Profile.id), col(Profile.user_id), col(Profile.traits), col(Profile.timezone))
            .where(col(Profile.id) > last_id)
            .order_by(col(Profile.id))
            .limit(AUDIENCE_CHUNK)
        ).all()
        if not rows:
            return enrolled
        last_id = rows[-1].id
        matching = [row for row in rows if all_hold(audience, traits=dict(row.traits or {}), event={})]
        admitted = admitted_profiles(session=session, journey=journey, profile_ids=[row.id for row in matching])
        entrants = [
            Entrant(
                profile_id=row.id, user_id=row.user_id, traits=dict(row.traits or {}), timezone=row.timezone, context={}
            )
            for row in matching
            if row.id in admitted
        ]
        enroll_many(
            session=session, journey_id=journey.journey_id, version_id=journey.version_id, entrants=entrants, now=now
        )
        enrolled += len(entrants)
