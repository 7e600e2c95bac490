"""The engine's side of intake: take the events the intake stored and react to them, in order, each once.

The intake leaves a ``pending_event`` row beside every event that can move a customer. A consumer deletes the
oldest of them (up to a batch) in its own transaction, reacts to their events in the order they were stored,
and commits the deletions together with everything the reactions wrote: an event is reacted to once, or, when
the transaction dies (an error, a lost connection, kill -9), not at all and stays pending for the next consumer.

On PostgreSQL the claim skips rows other consumers hold (``FOR UPDATE SKIP LOCKED``), so several workers share
the work. A customer's events must still be reacted to in order, so a consumer that finds one of its customers
with an earlier event still pending (held by another consumer) hands that customer's events back untouched, for
a later batch. The runs it reacts on are read with row locks, so a tick walking the same run at that moment
(which skips locked rows) waits its turn instead of acting on it twice. On SQLite the claim takes the database's
one write lock, which serialises consumers (and the intake) outright.

Every look-up is bounded by the batch: the claim by the pending rows' key, the check for earlier events by
``ix_pending_event_profile``, the events and profiles by key, the customers' runs by ``ix_enrollment_profile``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, col

from engine.runtime.reactions import Happening, IncomingEvent, TraitsChanged, react
from engine.store import Event, PendingEvent, Profile, among

# On SQLite a batch is one turn among the writers, each intake request another (store.writer_turns): between two
# of the consumer's turns, 16 busy connections posting 100 events each store 1,600 events, so batches of 1,000
# fell behind and waited seconds. Bigger batches also commit less often for the same events.
CONSUME_BATCH = 5_000
# On PostgreSQL workers share the pending events (each claim skips the rows another holds) and write side by side: a
# smaller batch is reacted to and committed sooner, and one worker's claim no longer takes everything pending while
# the others wait. With two workers beside the intake at full speed, in one pair of runs, batches of 5,000 took
# 2.1 s from an event's acknowledgement to its reaction (p50) and batches of 2,000 0.9 s; other runs of 2,000 gave
# 1.0 and 1.4 s (benchmarks/intake.py --workers 2, docs/benchmarks.md).
CONSUME_BATCH_POSTGRESQL = 2_000

log = logging.getLogger(__name__)


def consume_batch_size(dialect: str) -> int:
    """How many pending events one batch takes on this database (``engine.dialect.name``)."""
    return CONSUME_BATCH_POSTGRESQL if dialect == "postgresql" else CONSUME_BATCH


@dataclass(frozen=True)
class Consumed:
    """What one batch did: events reacted to, customers entered into journeys, events handed back, and events
    taken off the pending ones without a reaction because reacting to them failed."""

    events: int
    entered: int
    deferred: int
    dropped: int = 0


def consume_events(*, session: Session, now: datetime, limit: int = CONSUME_BATCH) -> Consumed:
    """React to up to ``limit`` pending events, oldest first; the caller commits (or rolls back: then none of
    them was reacted to)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    oldest = select(col(PendingEvent.event_id)).order_by(col(PendingEvent.event_id)).limit(limit)
    # On PostgreSQL a CTE runs once: a locking claim inlined into the DELETE's WHERE may be run again by the re-check
    # of a row another transaction changed. SQLite needs the statement to start with DELETE, or its driver opens no
    # transaction and the claim would commit on its own.
    claim = select(oldest.with_for_update(skip_locked=True).cte("claim").c.event_id) if postgres else oldest
    claimed = session.execute(
        delete(PendingEvent)
        .where(col(PendingEvent.event_id).in_(claim))
        .returning(col(PendingEvent.event_id), col(PendingEvent.profile_id), col(PendingEvent.traits_before)),
        execution_options={"synchronize_session": False},
    ).all()
    if not claimed:
        return Consumed(0, 0, 0)
    taken = sorted(claimed, key=lambda row: row.event_id)
    held = _held_elsewhere(session, taken)
    handed_back = [row._asdict() for row in taken if row.profile_id in held]
    if handed_back:
        session.execute(insert(PendingEvent.__table__), handed_back)  # type: ignore[attr-defined]
        taken = [row for row in taken if row.profile_id not in held]
    entered = react(session=session, happenings=_happenings(session, taken), now=now)
    return Consumed(events=len(taken), entered=entered, deferred=len(handed_back))


def _held_elsewhere(session: Session, taken: list[Row[Any]]) -> set[int]:
    """The customers of this batch with an earlier event still pending: another consumer is reacting to it (or
    its request committed after a later one's), and this customer's events must wait for it."""
    first: dict[int, int] = {}
    for row in taken:
        first.setdefault(row.profile_id, row.event_id)
    rows = session.execute(
        select(col(PendingEvent.profile_id), func.min(col(PendingEvent.event_id)))
        .where(among(col(PendingEvent.profile_id), first, dialect=session.get_bind().dialect.name))
        .group_by(col(PendingEvent.profile_id))
    )
    return {profile_id for profile_id, earliest in rows if earliest < first[profile_id]}


def _happenings(session: Session, taken: list[Row[Any]]) -> list[Happening]:
    """The batch's events as the reactions take them, in the order they were stored, each with its customer as
    they stand now (traits, user id, time zone) and, for a trait change, the traits just before it."""
    if not taken:
        return []
    dialect = session.get_bind().dialect.name
    # Rows unpacked once into plain tuples: a batch reads thousands, and each named look-up on a row costs more.
    events = {
        event_id: (kind, name, properties)
        for event_id, kind, name, properties in session.execute(
            select(col(Event.id), col(Event.type), col(Event.name), col(Event.properties)).where(
                among(col(Event.id), [row.event_id for row in taken], dialect=dialect)
            )
        )
    }
    profiles = {
        profile_id: (user_id, traits, timezone)
        for profile_id, user_id, traits, timezone in session.execute(
            select(col(Profile.id), col(Profile.user_id), col(Profile.traits), col(Profile.timezone)).where(
                among(col(Profile.id), {row.profile_id for row in taken}, dialect=dialect)
            )
        )
    }
    happenings: list[Happening] = []
    for event_id, profile_id, traits_before in map(tuple, taken):
        kind, name, properties = events[event_id]
        user_id, traits, timezone = profiles[profile_id]
        if kind == "track":
            happenings.append(
                IncomingEvent(
                    profile_id=profile_id,
                    user_id=user_id,
                    traits=dict(traits or {}),
                    timezone=timezone,
                    name=name or "",
                    properties=dict(properties or {}),
                )
            )
        else:
            happenings.append(
                TraitsChanged(
                    profile_id=profile_id,
                    user_id=user_id,
                    before=dict(traits_before or {}),
                    after=dict(traits or {}),
                    timezone=timezone,
                )
            )
    return happenings


def consume_batch(*, sessions: Callable[[], AbstractContextManager[Session]], now: datetime, limit: int) -> Consumed:
    """One batch in its own transaction, as the engine's consume job runs it.

    A batch that fails for anything but the database being unreachable or busy (which fails every batch alike, and
    is tried again at the next run) could hold up every event behind it. Its oldest event is then tried alone, and
    if that fails too it is taken off the pending events without a reaction, and logged with its id, so the others
    go on. A run that fails within a batch never gets here: the reactions end that run alone, as failed.
    """
    try:
        with sessions() as session:
            return consume_events(session=session, now=now, limit=limit)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        log.exception("a batch of up to %s events failed; trying its oldest event alone", limit)
    try:
        with sessions() as session:
            return consume_events(session=session, now=now, limit=1)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        with sessions() as session:
            oldest = session.execute(select(func.min(col(PendingEvent.event_id)))).scalar_one_or_none()
            if oldest is not None:
                session.execute(delete(PendingEvent).where(col(PendingEvent.event_id) == oldest))
        log.exception("event %s could not be reacted to and was left without a reaction", oldest)
        return Consumed(events=0, entered=0, deferred=0, dropped=1)
