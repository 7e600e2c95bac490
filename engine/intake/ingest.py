"""Event intake in Segment's shape: store each event once, resolve the person, leave the reaction to the engine.

A batch is handled in one transaction: existing ``messageId``s are looked up in one query (a
retried event is harmless), profiles are resolved for the whole batch, and events are inserted in
bulk, each track, identify and group with a ``pending_event`` row. The intake touches no run: the
engine's consumer (:func:`engine.runtime.consume_events`) reacts to the pending events afterwards,
in order, so what an event costs here does not grow with the customers waiting in journeys. An
``alias`` may merge two people that the messages after it name, so it is resolved on its own,
between the messages before it and those after it.

What each type stores: ``track`` its event name and properties; ``identify`` its traits (merged into the
profile's); ``page`` and ``screen`` their name and properties; ``group`` the group id as the event's name and
the group's traits as its properties, and the group id as the profile's ``group_id`` trait (the latest group
wins), so journeys can filter and trigger on it; ``alias`` the previous id, under ``previous_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session, col

from engine.intake.messages import (
    AliasMessage,
    AnyMessage,
    GroupMessage,
    IdentifyMessage,
    PageMessage,
    ScreenMessage,
    TrackMessage,
)
from engine.intake.profiles import Person, Profiles
from engine.store import Event, PendingEvent, insert_rows, select_by_unique, utc_now

#: The profile trait a ``group`` call sets to its group id.
GROUP_TRAIT = "group_id"


class IngestResult(BaseModel):
    accepted: int
    duplicates: int


def consent_changes(traits: dict[str, Any]) -> dict[str, bool]:
    """Consent arrives as a ``consent`` trait ({"sms": false}) or as ``unsubscribed_<channel>``."""
    changes: dict[str, bool] = {}
    consent = traits.get("consent")
    if isinstance(consent, dict):
        for channel, value in consent.items():
            given = _yes_or_no(value)
            if given is not None:
                changes[str(channel)] = given
    for key, value in traits.items():
        unsubscribed = _yes_or_no(value) if key.startswith("unsubscribed_") else None
        if unsubscribed is not None:
            changes[key.removeprefix("unsubscribed_")] = not unsubscribed
    return changes


def _yes_or_no(value: Any) -> bool | None:
    """A flag as sources send it (true, "false", 0, "yes"); None when it says neither, so it changes nothing.

    ``bool("false")`` is True: taken at face value, a text flag would re-subscribe a customer who opted out.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
            value.strip().lower()
        )
    return None


def ingest(*, session: Session, messages: Sequence[AnyMessage], now: datetime | None = None) -> IngestResult:
    """Store a list of messages in one transaction (the caller commits); the engine reacts to them later."""
    return ingest_requests(session=session, requests=[messages], now=now)[0]


def ingest_requests(
    *, session: Session, requests: Sequence[Sequence[AnyMessage]], now: datetime | None = None
) -> list[IngestResult]:
    """Store several requests' messages in one transaction (the caller commits), as if each request came after the
    one before it: an event an earlier request of the list holds is a duplicate of the later one's."""
    now = now or utc_now()
    # Core statements on the session's connection: the intake loads no ORM object, so the ORM's handling of each
    # statement would be work for nothing.
    dialect = session.get_bind().dialect.name
    ids = [[m.messageId or f"generated-{uuid.uuid4()}" for m in messages] for messages in requests]
    wanted = {i for listed in ids for i in listed}
    existing = set(
        session.connection()
        .execute(select_by_unique(select(col(Event.message_id)), col(Event.message_id), wanted, dialect=dialect))
        .scalars()
    )
    fresh: list[tuple[str, AnyMessage]] = []
    results: list[IngestResult] = []
    seen: set[str] = set()
    for listed, messages in zip(ids, requests, strict=True):
        before = len(fresh)
        for message_id, message in zip(listed, messages, strict=True):
            if message_id in existing or message_id in seen:
                continue
            seen.add(message_id)
            fresh.append((message_id, message))
        accepted = len(fresh) - before
        results.append(IngestResult(accepted=accepted, duplicates=len(messages) - accepted))
    for run in _runs(fresh):
        _ingest_run(session, run, now)
    return results


def _runs(fresh: list[tuple[str, AnyMessage]]) -> Iterator[list[tuple[str, AnyMessage]]]:
    """The messages in order, in runs resolved together; each alias is a run of its own."""
    run: list[tuple[str, AnyMessage]] = []
    for item in fresh:
        if isinstance(item[1], AliasMessage):
            if run:
                yield run
                run = []
            yield [item]
        else:
            run.append(item)
    if run:
        yield run


def _stored(message: AnyMessage) -> tuple[str | None, dict[str, Any]]:
    """The event row's name and properties."""
    if isinstance(message, TrackMessage):
        return message.event, message.properties
    if isinstance(message, IdentifyMessage):
        return None, message.traits
    if isinstance(message, PageMessage | ScreenMessage):
        return message.name, message.properties
    if isinstance(message, GroupMessage):
        return message.group_id, message.traits
    return None, {"previous_id": message.previous_id}


def _ingest_run(session: Session, fresh: list[tuple[str, AnyMessage]], now: datetime) -> None:
    """Store one run of messages, with a pending reaction for each that can move a customer."""
    resolved = _resolved(session, fresh, now)
    while resolved is None:
        # Another request has just created one of the run's new customers: resolved again, it is found.
        resolved = _resolved(session, fresh, now)
    rows, reactions = resolved
    # Matched back by messageId, not by position: neither database promises RETURNING's rows in the rows' order.
    inserted = insert_rows(session, Event.__table__, rows, returning=("id", "message_id"))  # type: ignore[attr-defined]
    ids = {row.message_id: row.id for row in inserted}
    waiting = [
        {"event_id": ids[row["message_id"]], "profile_id": row["profile_id"], "traits_before": before}
        for row, (reacts, before) in zip(rows, reactions, strict=True)
        if reacts
    ]
    insert_rows(session, PendingEvent.__table__, waiting)  # type: ignore[attr-defined]


def _resolved(
    session: Session, fresh: list[tuple[str, AnyMessage]], now: datetime
) -> tuple[list[dict[str, Any]], list[tuple[bool, dict[str, Any] | None]]] | None:
    """The run's event rows and, per message, whether the engine reacts to it (no journey reacts to a page, screen
    or alias) and, for a trait change, the traits before it; its people saved. None when another request has just
    created one of its new customers, with nothing of the run written."""
    profiles = Profiles(session, [m for _, m in fresh], now)
    rows: list[dict[str, Any]] = []
    people: list[Person] = []
    reactions: list[tuple[bool, dict[str, Any] | None]] = []
    for message_id, message in fresh:
        profile = profiles.resolve(message)
        before = dict(profile.traits)
        if isinstance(message, IdentifyMessage):
            profile.traits = {**profile.traits, **{k: v for k, v in message.traits.items() if k != "consent"}}
            consent = consent_changes(message.traits)
            if consent:
                profile.consent = {**profile.consent, **consent}
        elif isinstance(message, GroupMessage):
            profile.traits = {**profile.traits, GROUP_TRAIT: message.group_id}
        tz = message.timezone
        if tz:
            profile.timezone = tz
        profile.updated_at = now
        name, properties = _stored(message)
        rows.append(
            {
                "message_id": message_id,
                "type": message.type,
                "name": name,
                "properties": properties,
                "occurred_at": message.timestamp or now,
                "received_at": now,
            }
        )
        people.append(profile)
        if isinstance(message, TrackMessage):
            reactions.append((True, None))
        else:
            reactions.append((isinstance(message, IdentifyMessage | GroupMessage), before))
    people = [profiles.current(profile) for profile in people]
    if not profiles.save(people):
        return None
    for row, profile in zip(rows, people, strict=True):
        row["profile_id"] = profile.id
    return rows, reactions
