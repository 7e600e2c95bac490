"""The dispatcher delivering through real providers on 127.0.0.1: an HTTP SMS/push provider and an SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from engine.channels.base import Sender
from engine.channels.email import SmtpSender
from engine.channels.http import HttpProviderSender
from engine.dispatcher import DispatchReport, dispatch_due
from engine.ingest import ingest
from engine.mapdoc import Channel
from engine.store.db import session_scope
from engine.store.outbox import MessageStatus, OutboxMessage
from tests.engine_factories import NOW, event_trigger, identify, journey_map, publish_and_launch, send, track
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


def customer_gets(session: Session, channel: str, **traits: Any) -> None:
    """A live journey that sends one message on ``channel`` on entry, and a customer who enters it."""
    doc = journey_map([event_trigger("go"), send("note", channel, body="Your code is 1234")], [("entry", "note")])
    publish_and_launch(session, doc)
    ingest(session=session, messages=[identify("u1", traits), track("u1", "go")], now=NOW)
    session.commit()


def deliver(db_url: str, senders: dict[Channel, Sender], after: timedelta = timedelta()) -> DispatchReport:
    return dispatch_due(sessions=lambda: session_scope(db_url), senders=senders, now=lambda: NOW + after)


def the_message(db_url: str) -> OutboxMessage:
    with session_scope(db_url) as session:
        return session.execute(select(OutboxMessage)).scalar_one()


def test_a_503_then_200_is_one_delivery_after_a_retry_with_the_same_key(
    session: Session, db_url: str, provider: HttpTestServer
) -> None:
    customer_gets(session, "sms", phone=PHONE)
    sender = HttpProviderSender(f"{provider.url}/sms", Channel.SMS)
    provider.fail_next(1, status=503)
    try:
        first = deliver(db_url, {Channel.SMS: sender})
        retrying = the_message(db_url)
        second = deliver(db_url, {Channel.SMS: sender}, timedelta(minutes=1))
    finally:
        sender.close()

    delivered = the_message(db_url)
    failed, succeeded = provider.requests
    assert (first.retried, second.delivered) == (1, 1)
    assert retrying.status is MessageStatus.PENDING
    assert retrying.reason == "attempt 1 failed, will retry: HTTP 503: failing on purpose with 503"
    assert failed.headers["idempotency-key"] == succeeded.headers["idempotency-key"] == delivered.idempotency_key
    assert succeeded.json()["to"] == PHONE
    assert succeeded.json()["body"] == "Your code is 1234"
    assert (delivered.status, delivered.attempts) == (MessageStatus.DELIVERED, 2)
    assert delivered.provider_message_id == "msg-2"


def test_a_4xx_from_the_provider_fails_the_message_for_good(
    session: Session, db_url: str, provider: HttpTestServer
) -> None:
    customer_gets(session, "push")
    sender = HttpProviderSender(f"{provider.url}/push", Channel.PUSH)
    provider.respond_next(status=422, body="unknown device")
    try:
        deliver(db_url, {Channel.PUSH: sender})
        again = deliver(db_url, {Channel.PUSH: sender}, timedelta(hours=1))
    finally:
        sender.close()

    message = the_message(db_url)
    assert again.handled == 0
    assert len(provider.requests) == 1
    assert provider.requests[0].json()["user_id"] == "u1"
    assert (message.status, message.reason) == (MessageStatus.FAILED, "HTTP 422: unknown device")


def test_a_provider_that_does_not_answer_in_time_is_retried(
    session: Session, db_url: str, provider: HttpTestServer
) -> None:
    customer_gets(session, "sms", phone=PHONE)
    sender = HttpProviderSender(f"{provider.url}/sms", Channel.SMS, timeout=0.2)
    provider.respond_next(status=200, body={"id": "late"}, delay=1.0)
    try:
        report = deliver(db_url, {Channel.SMS: sender})
    finally:
        sender.close()

    message = the_message(db_url)
    assert report.retried == 1
    assert message.status is MessageStatus.PENDING
    assert message.reason.startswith("attempt 1 failed, will retry: timed out")


def test_an_smtp_4xx_then_acceptance_delivers_one_mail(session: Session, db_url: str, smtp: SmtpTestServer) -> None:
    customer_gets(session, "email", email="ada@example.com")
    sender = SmtpSender(smtp.host, smtp.port, "journeys@example.com")
    smtp.fail_next(1, 451)
    try:
        first = deliver(db_url, {Channel.EMAIL: sender})
        second = deliver(db_url, {Channel.EMAIL: sender}, timedelta(minutes=1))
    finally:
        sender.close()

    (mail,) = smtp.messages
    message = the_message(db_url)
    assert (first.retried, second.delivered) == (1, 1)
    assert mail.rcpt_tos == ("ada@example.com",)
    assert message.idempotency_key in mail.message["Message-ID"]
    assert (message.status, message.attempts) == (MessageStatus.DELIVERED, 2)
