from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session, col

from engine.delivery import BACKOFF_BASE, LEASE, MAX_ATTEMPTS, DispatchReport, backoff, claim, dispatch_due, send_proof
from engine.delivery.channels import DeliveryResult, DeliveryStatus, OutboundMessage, parse_retry_after
from engine.map import Channel
from engine.runtime import advance_due, pause_journey
from engine.store import MessageStatus, OutboxMessage, session_scope
from tests.engine_factories import (
    NOW,
    event_trigger,
    identify,
    ingest_and_react,
    journey_map,
    node,
    publish_and_launch,
    send,
    track,
)

# 12:00 UTC is 07:00 in New York: inside quiet hours that end at 08:00 there.
QUIET = {"start": "21:00:00", "end": "08:00:00"}


@dataclass
class RecordingSender:
    """A Sender that records every message and answers with the queued results, then DELIVERED."""

    answers: list[DeliveryResult] = field(default_factory=list)
    sent: list[OutboundMessage] = field(default_factory=list)

    def send(self, message: OutboundMessage) -> DeliveryResult:
        self.sent.append(message)
        if self.answers:
            return self.answers.pop(0)
        return DeliveryResult(DeliveryStatus.DELIVERED, "accepted", f"provider-{len(self.sent)}")

    def close(self) -> None:
        """Nothing to release."""


def sessions(db_url: str) -> Callable[[], AbstractContextManager[Session]]:
    return lambda: session_scope(db_url)


def one_send_journey(
    session: Session, *, fallback: str | None = None, sends: int = 1, **settings: Any
) -> tuple[int, int]:
    """A journey that emails on entry (``sends`` messages in a row)."""
    nodes = [event_trigger("go")] + [send(f"mail{i}", fallback=fallback) for i in range(sends)]
    edges: list[tuple[str, str] | tuple[str, str, str]] = [("entry", "mail0")]
    edges += [(f"mail{i}", f"mail{i + 1}") for i in range(sends - 1)]
    return publish_and_launch(session, journey_map(nodes, edges, **settings))


def enter(session: Session, user: str = "u1", **traits: Any) -> None:
    ingest_and_react(
        session=session,
        messages=[identify(user, {"email": f"{user}@example.com", **traits}), track(user, "go")],
        now=NOW,
    )
    session.commit()


def messages(db_url: str) -> list[OutboxMessage]:
    with session_scope(db_url) as session:
        return list(session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))).scalars())


def run(db_url: str, sender: RecordingSender, at: datetime = NOW, **others: RecordingSender) -> DispatchReport:
    senders = {Channel.EMAIL: sender, **{Channel(name): s for name, s in others.items()}}
    return dispatch_due(sessions=sessions(db_url), senders=senders, now=lambda: at)


def test_a_message_is_delivered_with_its_idempotency_key(session: Session, db_url: str) -> None:
    one_send_journey(session)
    enter(session)
    sender = RecordingSender()

    report = run(db_url, sender)

    (message,) = messages(db_url)
    (outbound,) = sender.sent
    assert report.delivered == 1
    assert message.status is MessageStatus.DELIVERED
    assert (message.attempts, message.delivered_at, message.provider_message_id) == (1, NOW, "provider-1")
    assert message.next_attempt_at is None
    assert outbound.idempotency_key == message.idempotency_key
    assert (outbound.channel, outbound.to, outbound.subject) == (Channel.EMAIL, "u1@example.com", "Hello")
    assert "/v1/unsubscribe" in outbound.metadata["unsubscribe_url"]
    assert run(db_url, sender, NOW + timedelta(hours=1)).handled == 0


def test_a_transient_failure_is_retried_with_backoff(session: Session, db_url: str) -> None:
    one_send_journey(session)
    enter(session)
    sender = RecordingSender(answers=[DeliveryResult(DeliveryStatus.RETRY, "HTTP 503")])

    report = run(db_url, sender)

    (message,) = messages(db_url)
    assert report.retried == 1
    assert message.status is MessageStatus.PENDING
    assert message.attempts == 1
    assert message.next_attempt_at is not None
    assert NOW + BACKOFF_BASE <= message.next_attempt_at <= NOW + BACKOFF_BASE * 1.2
    assert message.reason == "attempt 1 failed, will retry: HTTP 503"
    assert run(db_url, sender, NOW + BACKOFF_BASE - timedelta(seconds=1)).handled == 0

    run(db_url, sender, NOW + timedelta(minutes=1))

    (message,) = messages(db_url)
    assert message.status is MessageStatus.DELIVERED
    assert message.attempts == 2
    assert len({m.idempotency_key for m in sender.sent}) == 1


def test_a_message_that_keeps_failing_goes_to_the_dead_letter(session: Session, db_url: str) -> None:
    one_send_journey(session)
    enter(session)
    sender = RecordingSender(answers=[DeliveryResult(DeliveryStatus.RETRY, "timed out")] * MAX_ATTEMPTS)

    at = NOW
    for _ in range(MAX_ATTEMPTS):
        run(db_url, sender, at)
        at += timedelta(hours=2)
    run(db_url, sender, at)

    (message,) = messages(db_url)
    assert len(sender.sent) == MAX_ATTEMPTS
    assert message.status is MessageStatus.FAILED
    assert message.attempts == MAX_ATTEMPTS
    assert message.reason == f"dead letter after {MAX_ATTEMPTS} attempts: timed out"


def test_a_permanent_failure_is_not_retried(session: Session, db_url: str) -> None:
    one_send_journey(session)
    enter(session)
    sender = RecordingSender(answers=[DeliveryResult(DeliveryStatus.FAILED, "550 no such mailbox")])

    report = run(db_url, sender)
    run(db_url, sender, NOW + timedelta(days=1))

    (message,) = messages(db_url)
    assert report.failed == 1
    assert len(sender.sent) == 1
    assert (message.status, message.reason, message.attempts) == (MessageStatus.FAILED, "550 no such mailbox", 1)


def test_backoff_doubles_up_to_the_cap() -> None:
    assert backoff(1, jitter=0) == BACKOFF_BASE
    assert backoff(3, jitter=0) == BACKOFF_BASE * 4
    assert backoff(3, jitter=1) == BACKOFF_BASE * 4 * 1.2
    assert backoff(30, jitter=0) == timedelta(hours=1)


def test_a_claimed_message_is_leased_until_the_lease_runs_out(session: Session, db_url: str) -> None:
    one_send_journey(session)
    enter(session)

    with session_scope(db_url) as first:
        claimed, _ = claim(session=first, now=NOW)
    with session_scope(db_url) as second:
        during, _ = claim(session=second, now=NOW + LEASE - timedelta(seconds=1))
    with session_scope(db_url) as third:
        after, _ = claim(session=third, now=NOW + LEASE)

    assert [c.id for c in claimed] == [c.id for c in after]
    assert during == []
    assert [c.attempts for c in claimed] == [1]
    assert [c.attempts for c in after] == [2]


def test_a_message_whose_lease_keeps_running_out_goes_to_the_dead_letter(session: Session, db_url: str) -> None:
    one_send_journey(session)
    enter(session)

    at = NOW
    for _ in range(MAX_ATTEMPTS):
        with session_scope(db_url) as worker:
            claimed, _ = claim(session=worker, now=at)
        assert len(claimed) == 1
        at += LEASE
    with session_scope(db_url) as worker:
        last, report = claim(session=worker, now=at)

    assert last == []
    assert report.failed == 1
    [message] = messages(db_url)
    assert message.status == MessageStatus.FAILED
    assert message.attempts == MAX_ATTEMPTS
    assert message.reason == f"dead letter after {MAX_ATTEMPTS} attempts: the sender never answered"


def test_quiet_hours_defer_the_message_to_their_end(session: Session, db_url: str) -> None:
    one_send_journey(session, quiet_hours=QUIET, default_timezone="America/New_York")
    enter(session)
    sender = RecordingSender()

    report = run(db_url, sender)

    (message,) = messages(db_url)
    end = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert report.deferred == 1
    assert sender.sent == []
    assert (message.status, message.next_attempt_at) == (MessageStatus.PENDING, end)
    assert message.reason == "deferred: quiet hours 21:00-08:00 in America/New_York"

    run(db_url, sender, end)
    assert messages(db_url)[0].status is MessageStatus.DELIVERED


def test_quiet_hours_follow_the_customer_time_zone(session: Session, db_url: str) -> None:
    one_send_journey(session, quiet_hours=QUIET, default_timezone="America/New_York")
    ingest_and_react(
        session=session,
        messages=[
            identify("u1", {"email": "u1@example.com"}, context={"timezone": "Europe/Paris"}),
            track("u1", "go"),
        ],
        now=NOW,
    )
    session.commit()

    report = run(db_url, RecordingSender())

    assert report.delivered == 1


def test_the_frequency_cap_suppresses_what_goes_over_it(session: Session, db_url: str) -> None:
    one_send_journey(session, sends=2, frequency_cap={"max_messages": 1, "window": "P1D"})
    enter(session)
    sender = RecordingSender()

    report = run(db_url, sender)

    first, second = messages(db_url)
    assert (report.delivered, report.suppressed) == (1, 1)
    assert len(sender.sent) == 1
    assert first.status is MessageStatus.DELIVERED
    assert second.status is MessageStatus.SUPPRESSED
    assert second.reason == "frequency cap: 1 email message(s) per P1D"


def test_an_opted_out_channel_is_suppressed_with_the_reason(session: Session, db_url: str) -> None:
    one_send_journey(session)
    enter(session, consent={"email": False})
    sender = RecordingSender()

    report = run(db_url, sender)

    (message,) = messages(db_url)
    assert report.suppressed == 1
    assert sender.sent == []
    assert (message.status, message.reason) == (MessageStatus.SUPPRESSED, "opted out of email")


def test_an_opted_out_channel_falls_back_to_the_fallback_channel(session: Session, db_url: str) -> None:
    one_send_journey(session, fallback="sms")
    enter(session, consent={"email": False}, phone="+15550100")
    email, sms = RecordingSender(), RecordingSender()

    report = run(db_url, email, sms=sms)

    (message,) = messages(db_url)
    (outbound,) = sms.sent
    assert report.delivered == 1
    assert email.sent == []
    assert (outbound.channel, outbound.to) == (Channel.SMS, "+15550100")
    assert (message.status, message.channel, message.recipient) == (MessageStatus.DELIVERED, "sms", "+15550100")


def test_messages_of_a_paused_journey_are_held(session: Session, db_url: str) -> None:
    journey_id, _ = one_send_journey(session)
    enter(session)
    pause_journey(session=session, journey_id=journey_id, actor="test")
    session.commit()
    sender = RecordingSender()

    report = run(db_url, sender, NOW + timedelta(days=1))

    (message,) = messages(db_url)
    assert report.handled == 0
    assert sender.sent == []
    assert (message.status, message.attempts) == (MessageStatus.PENDING, 0)


def test_a_test_send_goes_out_even_while_paused_and_in_quiet_hours(session: Session, db_url: str) -> None:
    journey_id, _ = one_send_journey(session, quiet_hours=QUIET, default_timezone="America/New_York")
    ingest_and_react(session=session, messages=[identify("tester", {"email": "tester@example.com"})], now=NOW)
    pause_journey(session=session, journey_id=journey_id, actor="test")
    proof = send_proof(session=session, journey_id=journey_id, node_id="mail0", customer="tester")
    session.commit()
    assert proof.next_attempt_at is not None
    # 11:00 UTC the next day is 06:00 or 07:00 in New York (with or without summer time): quiet hours there.
    next_day = proof.next_attempt_at.date() + timedelta(days=1)
    at = datetime.combine(next_day, datetime.min.time(), UTC) + timedelta(hours=11)
    sender = RecordingSender()

    report = run(db_url, sender, at)

    (message,) = messages(db_url)
    assert report.delivered == 1
    assert message.is_test
    assert message.status is MessageStatus.DELIVERED
    assert sender.sent[0].subject == "[TEST] Hello"


@pytest.mark.parametrize("status", [DeliveryStatus.RETRY, DeliveryStatus.FAILED])
def test_the_provider_detail_is_kept_as_the_reason(session: Session, db_url: str, status: DeliveryStatus) -> None:
    one_send_journey(session)
    enter(session)

    run(db_url, RecordingSender(answers=[DeliveryResult(status, "HTTP 4xx or 5xx: said no")]))

    assert "said no" in messages(db_url)[0].reason


def test_each_journey_counts_its_frequency_cap_over_its_own_window(session: Session, db_url: str) -> None:
    hourly = journey_map(
        [event_trigger("go"), send("first"), node("pause", "wait", duration="PT2H"), send("second")],
        [("entry", "first"), ("first", "pause"), ("pause", "second")],
        name="Hourly cap",
        frequency_cap={"max_messages": 1, "window": "PT1H"},
    )
    weekly = journey_map(
        [event_trigger("later"), send("weekly")],
        [("entry", "weekly")],
        name="Weekly cap",
        frequency_cap={"max_messages": 1, "window": "P7D"},
    )
    publish_and_launch(session, hourly)
    publish_and_launch(session, weekly)
    enter(session)
    run(db_url, RecordingSender())
    two_hours_later = NOW + timedelta(hours=2)
    advance_due(session=session, now=two_hours_later)
    ingest_and_react(session=session, messages=[track("u1", "later")], now=two_hours_later)
    session.commit()

    report = run(db_url, RecordingSender(), two_hours_later)

    statuses = {m.node_id: (m.status, m.reason) for m in messages(db_url)}
    assert (report.delivered, report.suppressed) == (1, 1)
    assert statuses["second"][0] is MessageStatus.DELIVERED
    assert statuses["weekly"] == (MessageStatus.SUPPRESSED, "frequency cap: 1 email message(s) per P7D")


def test_a_channel_the_customer_has_no_address_for_falls_back(session: Session, db_url: str) -> None:
    nodes = [event_trigger("go"), send("text", "sms", fallback="email"), send("only_text", "sms")]
    publish_and_launch(session, journey_map(nodes, [("entry", "text"), ("text", "only_text")]))
    enter(session)
    email, sms = RecordingSender(), RecordingSender()

    report = run(db_url, email, sms=sms)

    fell_back, suppressed = messages(db_url)
    assert report.delivered == 1
    assert sms.sent == []
    assert [m.to for m in email.sent] == ["u1@example.com"]
    assert (fell_back.status, fell_back.channel, fell_back.recipient) == (
        MessageStatus.DELIVERED,
        "email",
        "u1@example.com",
    )
    assert (suppressed.status, suppressed.reason) == (MessageStatus.SUPPRESSED, "the profile has no address for sms")


@dataclass
class BrokenSender(RecordingSender):
    """A sender with a bug: it raises instead of answering."""

    def send(self, message: OutboundMessage) -> DeliveryResult:
        self.sent.append(message)
        raise RuntimeError("provider library blew up")


def test_a_sender_that_raises_does_not_lose_the_other_deliveries_of_the_pass(session: Session, db_url: str) -> None:
    nodes = [event_trigger("go"), send("mail"), send("text", "sms")]
    publish_and_launch(session, journey_map(nodes, [("entry", "mail"), ("mail", "text")]))
    enter(session, phone="+15550100")
    email, sms = RecordingSender(), BrokenSender()

    report = run(db_url, email, sms=sms)
    retrying = messages(db_url)[1]
    again = run(db_url, email, NOW + LEASE, sms=RecordingSender())

    mail, text = messages(db_url)
    assert (report.delivered, report.retried) == (1, 1)
    assert retrying.reason.startswith("attempt 1 failed, will retry: the sms sender raised RuntimeError")
    assert len(email.sent) == 1
    assert mail.status is MessageStatus.DELIVERED
    assert text.attempts == 2
    assert text.status is MessageStatus.DELIVERED
    assert again.delivered == 1


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Mon, 23 Nov 2026 12:05:00 GMT", now=NOW) == 300
    assert parse_retry_after("Mon, 23 Nov 2026 11:00:00 GMT", now=NOW) == 0
    assert parse_retry_after("soon") is None
