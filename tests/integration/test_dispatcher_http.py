"""The dispatcher delivering through real providers on 127.0.0.1 (an HTTP SMS/push provider and an SMTP server),
on SQLite and PostgreSQL. PostgreSQL tests share one database: each test's journey is stopped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.delivery import RETRY_AFTER_MAX, DispatchReport, dispatch_due
from engine.delivery.channels import HttpProviderSender, Sender, SmtpSender
from engine.map import Channel
from engine.runtime import stop_journey
from engine.store import MessageStatus, OutboxMessage, session_scope
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
from tests.integration.servers import HttpTestServer, SmtpTestServer

PHONE = "+15550123"


@pytest.fixture
def provider() -> Iterator[HttpTestServer]:
    with HttpTestServer() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with SmtpTestServer() as server:
        yield server


@dataclass
class Store:
    url: str
    journeys: list[int] = field(default_factory=list)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    used = Store(request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url"))
    yield used
    with session_scope(used.url) as session:
        for journey_id in used.journeys:
            stop_journey(session=session, journey_id=journey_id, actor="test")


def customer_gets(store: Store, channel: str, **traits: Any) -> str:
    """A live journey that sends one message on ``channel`` on entry, and a customer (returned) who enters it."""
    doc = journey_map([event_trigger("go"), send("note", channel, body="Your code is 1234")], [("entry", "note")])
    user = f"u-{uuid.uuid4().hex[:10]}"
    with session_scope(store.url) as session:
        journey_id, _ = publish_and_launch(session, doc)
        store.journeys.append(journey_id)
        ingest_and_react(session=session, messages=[identify(user, traits), track(user, "go")], now=NOW)
    return user


def deliver(store: Store, senders: dict[Channel, Sender], after: timedelta = timedelta()) -> DispatchReport:
    return dispatch_due(sessions=lambda: session_scope(store.url), senders=senders, now=lambda: NOW + after)


def the_message(store: Store) -> OutboxMessage:
    with session_scope(store.url) as session:
        query = select(OutboxMessage).where(OutboxMessage.journey_id == store.journeys[-1])
        return session.execute(query).scalar_one()


def test_a_503_then_200_is_one_delivery_after_a_retry_with_the_same_key(store: Store, provider: HttpTestServer) -> None:
    customer_gets(store, "sms", phone=PHONE)
    sender = HttpProviderSender(f"{provider.url}/sms", Channel.SMS)
    provider.fail_next(1, status=503)
    try:
        first = deliver(store, {Channel.SMS: sender})
        retrying = the_message(store)
        second = deliver(store, {Channel.SMS: sender}, timedelta(minutes=1))
    finally:
        sender.close()

    delivered = the_message(store)
    failed, succeeded = provider.requests
    assert (first.retried, second.delivered) == (1, 1)
    assert retrying.status is MessageStatus.PENDING
    assert retrying.reason == "attempt 1 failed, will retry: HTTP 503: failing on purpose with 503"
    assert failed.headers["idempotency-key"] == succeeded.headers["idempotency-key"] == delivered.idempotency_key
    assert succeeded.json()["to"] == PHONE
    assert succeeded.json()["body"] == "Your code is 1234"
    assert (delivered.status, delivered.attempts) == (MessageStatus.DELIVERED, 2)
    assert delivered.provider_message_id == "msg-2"


def test_a_4xx_from_the_provider_fails_the_message_for_good(store: Store, provider: HttpTestServer) -> None:
    user = customer_gets(store, "push")
    sender = HttpProviderSender(f"{provider.url}/push", Channel.PUSH)
    provider.respond_next(status=422, body="unknown device")
    try:
        deliver(store, {Channel.PUSH: sender})
        again = deliver(store, {Channel.PUSH: sender}, timedelta(hours=1))
    finally:
        sender.close()

    message = the_message(store)
    assert again.handled == 0
    assert len(provider.requests) == 1
    assert provider.requests[0].json()["user_id"] == user
    assert (message.status, message.reason) == (MessageStatus.FAILED, "HTTP 422: unknown device")


def test_a_provider_that_does_not_answer_in_time_is_retried(store: Store, provider: HttpTestServer) -> None:
    customer_gets(store, "sms", phone=PHONE)
    sender = HttpProviderSender(f"{provider.url}/sms", Channel.SMS, timeout=0.2)
    provider.respond_next(status=200, body={"id": "late"}, delay=1.0)
    try:
        report = deliver(store, {Channel.SMS: sender})
    finally:
        sender.close()

    message = the_message(store)
    assert report.retried == 1
    assert message.status is MessageStatus.PENDING
    assert message.reason.startswith("attempt 1 failed, will retry: timed out")


def test_an_smtp_4xx_then_acceptance_delivers_one_mail(store: Store, smtp: SmtpTestServer) -> None:
    customer_gets(store, "email", email="ada@example.com")
    sender = SmtpSender(smtp.host, smtp.port, "journeys@example.com")
    smtp.fail_next(1, 451)
    try:
        first = deliver(store, {Channel.EMAIL: sender})
        second = deliver(store, {Channel.EMAIL: sender}, timedelta(minutes=1))
    finally:
        sender.close()

    (mail,) = smtp.messages
    message = the_message(store)
    assert (first.retried, second.delivered) == (1, 1)
    assert mail.rcpt_tos == ("ada@example.com",)
    assert message.idempotency_key in mail.message["Message-ID"]
    assert (message.status, message.attempts) == (MessageStatus.DELIVERED, 2)


@pytest.mark.parametrize(
    ("said", "waited"), [("600", timedelta(seconds=600)), ("86400", RETRY_AFTER_MAX)], ids=["as-said", "capped"]
)
def test_a_429_is_retried_when_its_retry_after_says_up_to_the_maximum(
    store: Store, provider: HttpTestServer, said: str, waited: timedelta
) -> None:
    customer_gets(store, "sms", phone=PHONE)
    sender = HttpProviderSender(f"{provider.url}/sms", Channel.SMS)
    provider.respond_next(status=429, body="slow down", headers={"Retry-After": said})
    try:
        deliver(store, {Channel.SMS: sender})
        waiting = the_message(store)
        early = deliver(store, {Channel.SMS: sender}, waited - timedelta(seconds=1))
        on_time = deliver(store, {Channel.SMS: sender}, waited)
    finally:
        sender.close()

    assert waiting.next_attempt_at == NOW + waited
    assert waiting.reason == f"attempt 1 failed, will retry: HTTP 429: slow down (Retry-After: {said})"
    assert (early.handled, on_time.delivered) == (0, 1)
    assert len(provider.requests) == 2
