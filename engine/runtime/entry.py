"""Entering customers by trait conditions and by schedule (event entry lives in the runtime)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from engine.map.conditions import all_hold
from engine.map.document import ScheduleTrigger, TraitTrigger
from engine.runtime.walk import Entrant, LiveJourney, admitted_journeys, admitted_profiles, enroll_many, live_journeys
from engine.store.profiles import Profile

AUDIENCE_CHUNK = 1_000


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
