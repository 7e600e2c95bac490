"""A provider's 429 with Retry-After holds back its whole channel, not just the message it answered: the lane claims
and sends nothing on that channel until then, while other channels go on. The dispatcher's clock is a test clock,
so "until then" is a fact about order, not about how long anything took."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from engine.delivery import Dispatcher
from engine.delivery.channels import HttpProviderSender
from engine.map import Channel
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
from tests.integration.journey_harness import wait_for
from tests.integration.servers import HttpTestServer


class Clock:
    def __init__(self, at: datetime) -> None:
        self._at = at
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._at

    def advance(self, by: timedelta) -> None:
        with self._lock:
            self._at += by


@pytest.fixture
def sms_provider() -> Iterator[HttpTestServer]:
    with HttpTestServer() as server:
        yield server


@pytest.fixture
def push_provider() -> Iterator[HttpTestServer]:
    with HttpTestServer() as server:
        yield server


def statuses(db_url: str, channel: str) -> list[MessageStatus]:
    with session_scope(db_url) as session:
        query = select(OutboxMessage).where(col(OutboxMessage.channel) == channel).order_by(col(OutboxMessage.id))
        return [m.status for m in session.execute(query).scalars()]


def test_a_429_with_retry_after_holds_back_its_channel_until_then_and_no_other(
    db_url: str, sms_provider: HttpTestServer, push_provider: HttpTestServer
) -> None:
    with session_scope(db_url) as session:
        for channel in ("sms", "push"):
            publish_and_launch(
                session,
                journey_map([event_trigger("go"), send(f"{channel}-note", channel)], [("entry", f"{channel}-note")]),
            )
        for user in ("u0", "u1"):
            ingest_and_react(
                session=session, messages=[identify(user, {"phone": f"+1555012{user[1]}"}), track(user, "go")], now=NOW
            )
    sms_provider.respond_next(status=429, body="slow down", headers={"Retry-After": "2"})
    sms = HttpProviderSender(f"{sms_provider.url}/sms", Channel.SMS)
    push = HttpProviderSender(f"{push_provider.url}/push", Channel.PUSH)
    clock = Clock(NOW)
    dispatcher = Dispatcher(
        sessions=lambda: session_scope(db_url),
        senders={Channel.SMS: sms, Channel.PUSH: push},
        now=clock,
        idle=timedelta(seconds=0.05),
        widths={Channel.SMS: 1, Channel.PUSH: 1},
    )
    dispatcher.start()
    try:
        # Push goes on while SMS is held: the test clock keeps the SMS provider's 429 in force.
        wait_for(lambda: statuses(db_url, "push") == [MessageStatus.DELIVERED] * 2, what="both pushes delivered")
        time.sleep(0.3)
        assert len(sms_provider.requests) == 1
        clock.advance(timedelta(seconds=1))
        time.sleep(0.3)
        assert len(sms_provider.requests) == 1

        clock.advance(timedelta(seconds=1))

        wait_for(lambda: statuses(db_url, "sms") == [MessageStatus.DELIVERED] * 2, what="both SMS delivered")
    finally:
        dispatcher.stop(grace=1)
        sms.close()
        push.close()
    assert len(sms_provider.requests) == 3
    assert len(push_provider.requests) == 2
