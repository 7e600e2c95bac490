"""Each message once: a late worker's write is refused by the lease token, a killed pass repeats only the send that
was in flight (marked in doubt), pause, stop and consent are checked before each send, and a hanging channel holds
back only itself."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from engine.delivery import LEASE, dispatch_due
from engine.delivery.channels import DeliveryResult, DeliveryStatus, OutboundMessage
from engine.map import Channel
from engine.runtime import pause_journey, stop_journey
from engine.store import MessageStatus, Profile, session_scope, utc_now
from engine.worker import Engine, EngineSettings
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    publish_and_launch,
    send,
    track,
)
from tests.integration.journey_harness import wait_for
from tests.unit.delivery.test_dispatcher import RecordingSender, messages, sessions


def journey_on(session: Session, *channels: str) -> int:
    """A live journey sending one message per channel on entry, in this order."""
    nodes = [event_trigger("go")] + [send(f"m{i}", channel) for i, channel in enumerate(channels)]
    edges: list[tuple[str, str] | tuple[str, str, str]] = [("entry", "m0")]
    edges += [(f"m{i}", f"m{i + 1}") for i in range(len(channels) - 1)]
    journey_id, _ = publish_and_launch(session, journey_map(nodes, edges))
    return journey_id


def customers(session: Session, count: int) -> list[str]:
    users = [f"u{i}" for i in range(count)]
    for user in users:
        ingest_and_react(
            session=session,
            messages=[
                identify(user, {"email": f"{user}@example.com", "phone": f"+1555010{user[1:]}"}),
                track(user, "go"),
            ],
            now=NOW,
        )
    session.commit()
    return users


def attempts(db_url: str) -> list[Any]:
    """The send_attempt rows, in order (imported here: the table is what the fix adds)."""
    from engine.store import SendAttempt

    with session_scope(db_url) as session:
        return list(session.execute(select(SendAttempt).order_by(col(SendAttempt.id))).scalars())


@dataclass
class BlockingSender(RecordingSender):
    """Answers only once ``go`` is set; ``called`` is set when a send has reached it."""

    go: threading.Event = field(default_factory=threading.Event)
    called: threading.Event = field(default_factory=threading.Event)

    def send(self, message: OutboundMessage) -> DeliveryResult:
        self.sent.append(message)
        self.called.set()
        self.go.wait(timeout=30)
        return DeliveryResult(DeliveryStatus.DELIVERED, "accepted late", "late-id")


def test_a_late_worker_cannot_overwrite_what_the_worker_that_took_over_recorded(session: Session, db_url: str) -> None:
    journey_on(session, "sms")
    customers(session, 1)
    slow, quick = BlockingSender(), RecordingSender()
    first = threading.Thread(
        target=dispatch_due,
        kwargs={"sessions": sessions(db_url), "senders": {Channel.SMS: slow}, "now": lambda: NOW},
    )
    first.start()
    try:
        assert slow.called.wait(timeout=10)
        # The slow worker's lease has run out: another worker takes the message over.
        dispatch_due(sessions=sessions(db_url), senders={Channel.SMS: quick}, now=lambda: NOW + LEASE)
    finally:
        slow.go.set()
        first.join(timeout=10)

    (message,) = messages(db_url)
    assert (message.status, message.attempts, message.provider_message_id) == (MessageStatus.DELIVERED, 2, "provider-1")
    assert message.in_doubt
    late, taken_over = attempts(db_url)
    assert (late.attempt, late.outcome, late.detail, late.provider_message_id) == (
        1,
        "late",
        "accepted late",
        "late-id",
    )
    assert (taken_over.attempt, taken_over.outcome) == (2, "delivered")
    assert taken_over.lease_version > late.lease_version


class Killed(BaseException):
    """What a SIGKILL does to a pass, as far as the database can tell: nothing after it runs."""


@dataclass
class DyingSender(RecordingSender):
    """Delivers, except to ``dies_at``: the worker dies while that send is in flight."""

    dies_at: frozenset[str] = frozenset()

    def send(self, message: OutboundMessage) -> DeliveryResult:
        self.sent.append(message)
        if message.to in self.dies_at:
            raise Killed
        return DeliveryResult(DeliveryStatus.DELIVERED, "accepted", f"id-{message.idempotency_key}")


def test_a_killed_pass_repeats_only_the_send_that_was_in_flight_and_marks_it_in_doubt(
    session: Session, db_url: str
) -> None:
    journey_on(session, "sms")
    customers(session, 3)
    dying = DyingSender(dies_at=frozenset({"+15550102"}))
    with pytest.raises(Killed):
        dispatch_due(sessions=sessions(db_url), senders={Channel.SMS: dying}, now=lambda: NOW)
    after = RecordingSender()

    dispatch_due(sessions=sessions(db_url), senders={Channel.SMS: after}, now=lambda: NOW + LEASE)

    assert sorted(m.to for m in dying.sent) == ["+15550100", "+15550101", "+15550102"]
    assert [m.to for m in after.sent] == ["+15550102"]
    rows = {m.recipient: m for m in messages(db_url)}
    assert all(m.status is MessageStatus.DELIVERED for m in rows.values())
    assert {to for to, m in rows.items() if m.in_doubt} == {"+15550102"}
    assert after.sent[0].idempotency_key == rows["+15550102"].idempotency_key
    outcomes = sorted((a.message_id, a.attempt, a.outcome) for a in attempts(db_url))
    doubtful = rows["+15550102"].id
    assert [(a, o) for m, a, o in outcomes if m == doubtful] == [(1, "in_doubt"), (2, "delivered")]


@dataclass
class MeddlingSender(RecordingSender):
    """Sends, and during the first send does ``meddle`` (a person acting while the pass is under way)."""

    meddle: object = None

    def send(self, message: OutboundMessage) -> DeliveryResult:
        if not self.sent and callable(self.meddle):
            self.meddle()
        return super().send(message)


def test_pausing_during_a_pass_stops_the_sends_not_yet_made(session: Session, db_url: str) -> None:
    journey_id = journey_on(session, "email")
    customers(session, 3)

    def pause() -> None:
        with session_scope(db_url) as other:
            pause_journey(session=other, journey_id=journey_id, actor="test")

    sender = MeddlingSender(meddle=pause)
    report = dispatch_due(sessions=sessions(db_url), senders={Channel.EMAIL: sender}, now=lambda: NOW)

    assert len(sender.sent) == 1
    assert report.delivered == 1
    held = [m for m in messages(db_url) if m.status is MessageStatus.PENDING]
    assert len(held) == 2
    assert all((m.attempts, m.reason) == (0, "held: the journey is paused") for m in held)


def test_stopping_during_a_pass_sends_nothing_more(session: Session, db_url: str) -> None:
    journey_id = journey_on(session, "email")
    customers(session, 3)

    def stop() -> None:
        with session_scope(db_url) as other:
            stop_journey(session=other, journey_id=journey_id, actor="test")

    sender = MeddlingSender(meddle=stop)
    dispatch_due(sessions=sessions(db_url), senders={Channel.EMAIL: sender}, now=lambda: NOW)

    assert len(sender.sent) == 1
    assert sorted(m.status for m in messages(db_url)) == [MessageStatus.DELIVERED, *[MessageStatus.SKIPPED] * 2]


def test_an_opt_out_during_a_pass_suppresses_the_customers_next_send(session: Session, db_url: str) -> None:
    journey_on(session, "email")
    customers(session, 2)

    def opt_out() -> None:
        with session_scope(db_url) as other:
            profile = other.execute(select(Profile).where(col(Profile.user_id) == "u1")).scalar_one()
            profile.consent = {"email": False}

    sender = MeddlingSender(meddle=opt_out)
    dispatch_due(sessions=sessions(db_url), senders={Channel.EMAIL: sender}, now=lambda: NOW)

    assert [m.to for m in sender.sent] == ["u0@example.com"]
    statuses = {m.recipient: (m.status, m.reason) for m in messages(db_url)}
    assert statuses["u1@example.com"] == (MessageStatus.SUPPRESSED, "opted out of email before it was sent")


def test_a_hanging_channel_holds_back_only_itself(session: Session, db_url: str) -> None:
    journey_on(session, "sms", "email")
    customers(session, 3)
    hanging, healthy = BlockingSender(), RecordingSender()
    engine = Engine(
        EngineSettings(database_url=db_url, tick=timedelta(seconds=0.1)),
        senders={Channel.SMS: hanging, Channel.EMAIL: healthy},
    )
    engine.start()
    try:

        def emails_recorded() -> bool:
            return [m.status for m in messages(db_url) if m.channel == "email"] == [MessageStatus.DELIVERED] * 3

        wait_for(emails_recorded, timeout=20, what="every email recorded as delivered while SMS hangs")
        assert hanging.called.is_set()
        assert all(m.status is not MessageStatus.DELIVERED for m in messages(db_url) if m.channel == "sms")
    finally:
        hanging.go.set()
        engine.shutdown()


def test_stopping_ends_the_lease_of_a_send_still_under_way_so_another_worker_takes_it_at_once(
    session: Session, db_url: str
) -> None:
    journey_on(session, "sms")
    customers(session, 1)
    hanging = BlockingSender()
    engine = Engine(
        EngineSettings(database_url=db_url, tick=timedelta(seconds=0.1), stop_grace=timedelta(seconds=0.5)),
        senders={Channel.SMS: hanging},
    )
    engine.start()
    try:
        assert hanging.called.wait(timeout=20)
        engine.shutdown()
        (message,) = messages(db_url)
    finally:
        hanging.go.set()

    assert message.status is MessageStatus.SENDING
    assert message.next_attempt_at is not None
    assert message.next_attempt_at <= utc_now()
