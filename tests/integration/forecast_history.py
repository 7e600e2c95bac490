"""A hand-built week of events for the cart-abandonment starter with known outcomes, and the live engine driven
over it on a simulated clock: the intake, the consumer, the tick and the dispatcher, each called at the very
moment the next thing happens (an event arrives, a wait ends, quiet hours end)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from engine.delivery import dispatch_due
from engine.delivery.channels import ChannelSettings, build_senders
from engine.intake import AnyMessage, ingest
from engine.map import FrequencyCap, JourneyMap
from engine.map.starters import load_template
from engine.runtime import advance_due, consume_events
from engine.store import Enrollment, EnrollmentStatus, MessageStatus, OutboxMessage, session_scope
from tests.engine_factories import identify, track

# 12:00 UTC is 07:00 in New York, the starter's default time zone; its quiet hours are 21:00-08:00 there.
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
UNTIL = START + timedelta(days=3)
M = timedelta(minutes=1)
H = timedelta(hours=1)


def capped_starter() -> JourneyMap:
    """The starter with a cap of two messages per channel a day, so a customer who abandons three carts in a row
    meets it."""
    doc = load_template("cart_abandonment")
    settings = doc.settings.model_copy(update={"frequency_cap": FrequencyCap(max_messages=2, window=timedelta(days=1))})
    return doc.model_copy(update={"settings": settings, "name": "Cart abandonment (forecast test)"})


def _person(user_id: str, **traits: Any) -> AnyMessage:
    base: dict[str, Any] = {"email": f"{user_id}@example.com", "phone": "+15550100", "first_name": user_id.title()}
    return identify(user_id, {**base, **traits}, message_id=f"id-{user_id}")


def _abandon(user_id: str, cart: str) -> AnyMessage:
    properties = {"cart_id": cart, "cart_url": f"https://shop.example/cart/{cart}", "cart_total": 50, "item_count": 2}
    return track(user_id, "cart_abandoned", properties, message_id=f"abandon-{cart}")


def _order(user_id: str, cart: str) -> AnyMessage:
    return track(user_id, "order_completed", {"cart_id": cart, "total": 50}, message_id=f"order-{cart}")


def _empty(user_id: str, cart: str) -> AnyMessage:
    return track(user_id, "cart_emptied", {"cart_id": cart}, message_id=f"empty-{cart}")


def history() -> list[tuple[datetime, AnyMessage]]:
    """Who does what, when (offsets from START):

    - buyer-fast orders 30 minutes after abandoning: the goal, no message;
    - buyer-late orders after the email, while the 4-hour wait listens: the goal by the event path;
    - idle never comes back: email, push, SMS, the end of the sequence;
    - no-email opted out of email (no fallback: suppressed), no-push out of push (its fallback, email, sends);
    - no-phone has no phone: the SMS is suppressed for want of an address;
    - night-owl abandons at 20:30 in New York: quiet hours hold the email and the push until 08:00;
    - capper abandons and empties three carts in three hours: the third email meets the cap of two a day;
    - late-comer abandons 30 minutes before the window ends: still waiting at its end;
    - browser only views pages of products: no journey cares.
    """
    events: list[tuple[timedelta, AnyMessage]] = []
    for i, user in enumerate(["buyer-fast", "buyer-late", "idle", "no-phone", "night-owl", "capper", "late-comer"]):
        events.append((i * M, _person(user) if user != "no-phone" else _person(user, phone="")))
    events += [
        (8 * M, _person("no-email", consent={"email": False})),
        (9 * M, _person("no-push", unsubscribed_push=True)),
        (10 * M, _abandon("buyer-fast", "c-fast")),
        (40 * M, _order("buyer-fast", "c-fast")),
        (20 * M, _abandon("buyer-late", "c-late")),
        (2 * H, _order("buyer-late", "c-late")),
        (30 * M, _abandon("idle", "c-idle")),
        (31 * M, _abandon("no-email", "c-no-email")),
        (32 * M, _abandon("no-push", "c-no-push")),
        (33 * M, _abandon("no-phone", "c-no-phone")),
        (13 * H + 30 * M, _abandon("night-owl", "c-night")),
        (2 * M, _abandon("capper", "c-cap-1")),
        (1 * H + 5 * M, _empty("capper", "c-cap-1")),
        (1 * H + 10 * M, _abandon("capper", "c-cap-2")),
        (2 * H + 15 * M, _empty("capper", "c-cap-2")),
        (2 * H + 20 * M, _abandon("capper", "c-cap-3")),
        (UNTIL - START - 30 * M, _abandon("late-comer", "c-late-comer")),
        (3 * H, track("browser", "product_viewed", {"sku": "x"}, message_id="view-1")),
    ]
    return sorted(((START + offset, message) for offset, message in events), key=lambda pair: pair[0])


def store_history(database_url: str, events: Sequence[tuple[datetime, AnyMessage]]) -> None:
    """Store the events as the intake does at their times, with no engine reacting."""
    for at, message in events:
        with session_scope(database_url) as session:
            ingest(session=session, messages=[message], now=at)


def _next_due(database_url: str) -> datetime | None:
    with session_scope(database_url) as session:
        run = session.execute(
            select(func.min(col(Enrollment.due_at))).where(col(Enrollment.status) == EnrollmentStatus.WAITING)
        ).scalar_one_or_none()
        message = session.execute(
            select(func.min(col(OutboxMessage.next_attempt_at))).where(
                col(OutboxMessage.status) == MessageStatus.PENDING
            )
        ).scalar_one_or_none()
    times = [t for t in (run, message) if t is not None]
    return min(times) if times else None


def _stopped_at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


@dataclass(frozen=True)
class LiveRun:
    steps: int


def run_live(database_url: str, events: Sequence[tuple[datetime, AnyMessage]], *, until: datetime) -> LiveRun:
    """The live engine over the events, its clock moved from one thing that happens to the next until ``until``.
    Messages go to the sandbox (stored as delivered, sent nowhere)."""
    senders = build_senders(ChannelSettings.from_env({"JOURNEY_SANDBOX": "true"}))
    pending = list(events)
    steps = 0
    while True:
        due = _next_due(database_url)
        arrival = pending[0][0] if pending else None
        moments = [t for t in (due, arrival) if t is not None and t < until]
        if not moments:
            return LiveRun(steps=steps)
        now = min(moments)
        steps += 1
        with session_scope(database_url) as session:
            while advance_due(session=session, now=now):
                pass
        while pending and pending[0][0] == now:
            with session_scope(database_url) as session:
                ingest(session=session, messages=[pending.pop(0)[1]], now=now)
                consume_events(session=session, now=now)
        dispatch_due(sessions=lambda: session_scope(database_url), senders=senders, now=_stopped_at(now))
