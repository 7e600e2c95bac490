"""What a forecast reads from the store, and only reads: the version's plan (or the draft's, compiled), the
window's events that can move a customer in this journey, streamed in the order the intake stored them, and
copies of the profiles they belong to, taken in chunks as customers first appear."""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, or_, select, type_coerce
from sqlmodel import Session, col

from engine.compiler import Plan, WaitForEventStep, compile_map
from engine.forecast.figures import ForecastError
from engine.forecast.replay import Customer, StoredEvent
from engine.journeys import PLANS, LoadedPlan, draft_of, get_journey
from engine.map import EventTrigger
from engine.store import Event, JourneyVersion, Profile, among, read_json

CHUNK = 5_000


def draft_plan(*, session: Session, journey_id: int) -> LoadedPlan:
    """The journey's draft compiled, as a version published now would run it."""
    result = compile_map(draft_of(get_journey(session=session, journey_id=journey_id)))
    if result.plan is None:
        errors = [p.message for p in result.errors]
        raise ForecastError(f"the draft has {len(errors)} compile error(s), so it cannot be forecast: {errors[0]}")
    return _loaded(result.plan)


def _loaded(plan: Plan) -> LoadedPlan:
    return LoadedPlan(plan=plan, steps=plan.step_index(), journey_name=plan.journey_name)


def version_plan(*, session: Session, journey_id: int, number: int) -> tuple[int, LoadedPlan]:
    """The version's id and plan, as the engine loads it."""
    version_id = session.execute(
        select(col(JourneyVersion.id)).where(
            col(JourneyVersion.journey_id) == journey_id, col(JourneyVersion.number) == number
        )
    ).scalar_one_or_none()
    if version_id is None:
        raise ForecastError(f"journey {journey_id} has no published version {number}")
    return version_id, PLANS.get(session=session, version_id=version_id)


def event_names(plan: Plan) -> set[str]:
    """The tracks that can move a customer in this plan: its entry event, goal, exit criteria and awaited events.
    Other tracks (and pages, screens, aliases) do nothing in this journey, live or replayed."""
    names = {c.event for c in plan.exit_criteria}
    names |= {s.event for s in plan.steps if isinstance(s, WaitForEventStep)}
    if isinstance(plan.entry.trigger, EventTrigger):
        names.add(plan.entry.trigger.event)
    if plan.goal_event:
        names.add(plan.goal_event)
    return names


def stream_events(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    names: Iterable[str],
    part: int = 0,
    parts: int = 1,
    only: Container[int] | None = None,
    seen: set[str] | None = None,
    chunk: int = CHUNK,
) -> Iterator[list[StoredEvent]]:
    """The window's events that matter to the plan, oldest stored first, about ``chunk`` at a time: every identify
    and group (they change traits and consent), and the tracks named; only those of part ``part`` of ``parts`` of
    the customers (by profile id). Each carries its moment on the replay's clock: the latest receipt of the window's
    events up to it, over all parts, so the clock never goes back and is the same in every part. So every part reads
    every event's receipt, in the order stored, and decodes only its own customers' events."""
    query = (
        select(
            col(Event.profile_id),
            col(Event.type),
            col(Event.name),
            _unprocessed(Event.properties),
            _unprocessed(Event.received_at),
        )
        .where(
            col(Event.received_at) >= since,
            col(Event.received_at) < until,
            or_(
                col(Event.type).in_(["identify", "group"]),
                and_(col(Event.type) == "track", col(Event.name).in_(sorted(set(names)))),
            ),
        )
        .order_by(col(Event.id))
    )
    result = session.connection().execution_options(stream_results=True, yield_per=chunk).execute(query)
    # Receipts as the driver gives them: text of one fixed width on SQLite and timestamps from psycopg, either of
    # which orders as time does.
    latest: Any = None
    for rows in result.partitions():
        events = []
        for profile_id, kind, name, properties, received in rows:
            if latest is None or received > latest:
                latest = received
            if seen is not None and kind == "track":
                seen.add(name)
            if (parts == 1 or profile_id % parts == part) and (only is None or profile_id in only):
                events.append(
                    StoredEvent(
                        profile_id=profile_id, kind=kind, name=name, properties=_json(properties) or {}, at=_utc(latest)
                    )
                )
        yield events


def entrants(session: Session, *, since: datetime, until: datetime, event: str) -> set[int]:
    """The customers who did ``event`` in the window: with a journey entered on that event, nobody else can enter
    it, and what anybody else does in the window (traits, consent, other events) moves nobody in it."""
    rows = session.execute(
        select(col(Event.profile_id))
        .where(
            col(Event.type) == "track",
            col(Event.name) == event,
            col(Event.received_at) >= since,
            col(Event.received_at) < until,
        )
        .distinct()
    )
    return set(rows.scalars())


def profile_copies(session: Session, profile_ids: Iterable[int]) -> list[Customer]:
    """Copies of these profiles as they are stored now."""
    wanted = list(profile_ids)
    if not wanted:
        return []
    dialect = session.get_bind().dialect.name
    rows = session.execute(
        select(
            col(Profile.id),
            col(Profile.user_id),
            _unprocessed(Profile.traits),
            col(Profile.timezone),
            _unprocessed(Profile.consent),
        ).where(among(col(Profile.id), wanted, dialect=dialect))
    )
    return [
        Customer(
            profile_id=profile_id,
            user_id=user_id,
            traits=_json(traits) or {},
            timezone=timezone,
            consent=_json(consent) or {},
        )
        for profile_id, user_id, traits, timezone, consent in rows
    ]


# A forecast reads every event of its window and a profile per customer: the columns' own result processing
# (SQLAlchemy's JSON and timestamp types) took most of the reading, so the columns come as the driver gives them
# (text on SQLite; decoded JSON and aware timestamps from psycopg) and are decoded here, once, by C decoders.


def _unprocessed(column: Any) -> Any:
    return type_coerce(column, String())


def _json(value: Any) -> Any:
    return read_json(value) if isinstance(value, str) else value


def _utc(value: str | datetime) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
