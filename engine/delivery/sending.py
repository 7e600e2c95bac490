"""Sending one claimed message: its state written around the provider call, each write fenced by the lease.

1. **Gate**, in one short transaction right before the call: the journey must still be live or draining (a test
   send goes out regardless) and the customer must not have opted out of the channel since the claim. A paused
   journey's message is released (due again, the attempt not counted); an opted-out one is suppressed. Otherwise
   the message becomes ``sending`` and an attempt row is written, both only while the row still carries the
   claim's ``lease_version``.
2. **Call** the provider, outside any transaction. Every sender bounds its call (10 s), well under the lease.
3. **Record** the answer with a write that succeeds only while the row is still ``sending`` under the same
   version. A worker whose lease ran out meanwhile (another worker took the message as in doubt) has its write
   refused; its attempt row says ``late`` and keeps the provider's answer.

A worker killed between 1 and 3 leaves the message ``sending``: the next claim after the lease finds it in doubt.

A ``Throttle`` is a channel's pause after its provider answered 429 with ``Retry-After``: the provider is limiting
the sender, not the message, so until then the channel sends nothing (what was claimed goes back, due then).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, insert, select, update
from sqlmodel import Session

from engine.content import unsubscribe_url
from engine.delivery.channels import DeliveryResult, DeliveryStatus, OutboundMessage, Sender
from engine.delivery.dispatcher import LIVE, MAX_ATTEMPTS, RETRY_AFTER_MAX, Claimed, SessionFactory, retry_delay
from engine.delivery.policy import CUSTOMER_FACING
from engine.map import Channel
from engine.store import Journey, MessageStatus, OutboxMessage, Profile, SendAttempt

log = logging.getLogger(__name__)

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
ATTEMPTS = SendAttempt.__table__  # type: ignore[attr-defined]


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRIED = "retried"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    # Not sent: the journey was paused, or the worker is stopping.
    RELEASED = "released"
    # Not sent, or sent but not recorded: the lease had gone to another worker.
    LOST_LEASE = "lost_lease"


class Throttle:
    """The time before which a channel sends nothing, because its provider said 429 with ``Retry-After`` (honoured
    up to ``RETRY_AFTER_MAX``, as for the message itself). Shared by the channel's sending threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: datetime | None = None

    def note(self, result: DeliveryResult, now: datetime) -> None:
        if not (result.throttled and result.retry_after is not None):
            return
        until = now + min(timedelta(seconds=result.retry_after), RETRY_AFTER_MAX)
        with self._lock:
            if self._until is None or until > self._until:
                self._until = until

    def until(self, now: datetime) -> datetime | None:
        """When the channel may send again, or None when it may now."""
        with self._lock:
            return self._until if self._until is not None and self._until > now else None


@dataclass(frozen=True)
class _Gate:
    open: bool
    outcome: Outcome | None = None


def changed(session: Session, statement: Executable) -> int:
    """How many rows an UPDATE changed: whether a fenced write found its lease."""
    return int(cast(CursorResult[Any], session.execute(statement)).rowcount)


def _fenced(message: Claimed, *statuses: MessageStatus) -> Any:
    return (
        (OUTBOX.c.id == message.id)
        & (OUTBOX.c.lease_version == message.lease_version)
        & OUTBOX.c.status.in_([s.value for s in statuses])
    )


def release(sessions: SessionFactory, message: Claimed, now: datetime, reason: str) -> bool:
    """Give a claimed message back unsent: due again now, its attempt not counted. False when the lease had gone."""
    with sessions() as session:
        done = changed(
            session,
            update(OUTBOX)
            .where(_fenced(message, MessageStatus.PENDING))
            .values(lease_owner=None, next_attempt_at=now, attempts=message.attempts - 1, reason=reason),
        )
    return bool(done)


def _gate(sessions: SessionFactory, message: Claimed, now: datetime) -> _Gate:
    with sessions() as session:
        journey_status = None
        if message.journey_id is not None and not message.is_test:
            journey_status = session.execute(
                select(Journey.__table__.c.status).where(Journey.__table__.c.id == message.journey_id)  # type: ignore[attr-defined]
            ).scalar_one_or_none()
        consent: Mapping[str, bool] = {}
        if message.profile_id is not None:
            consent = (
                session.execute(
                    select(Profile.__table__.c.consent).where(Profile.__table__.c.id == message.profile_id)  # type: ignore[attr-defined]
                ).scalar_one_or_none()
                or {}
            )
        if journey_status is not None and journey_status not in LIVE:
            # Stopped journeys' messages were already skipped; a paused one's waits here, due again.
            done = changed(
                session,
                update(OUTBOX)
                .where(_fenced(message, MessageStatus.PENDING))
                .values(
                    lease_owner=None,
                    next_attempt_at=now,
                    attempts=message.attempts - 1,
                    reason=f"held: the journey is {journey_status}",
                ),
            )
            return _Gate(False, Outcome.RELEASED if done else Outcome.LOST_LEASE)
        if message.channel in CUSTOMER_FACING and consent.get(message.channel.value) is False:
            done = changed(
                session,
                update(OUTBOX)
                .where(_fenced(message, MessageStatus.PENDING))
                .values(
                    status=MessageStatus.SUPPRESSED,
                    lease_owner=None,
                    next_attempt_at=None,
                    reason=f"opted out of {message.channel.value} before it was sent",
                ),
            )
            return _Gate(False, Outcome.SUPPRESSED if done else Outcome.LOST_LEASE)
        done = changed(
            session,
            update(OUTBOX)
            .where(_fenced(message, MessageStatus.PENDING))
            .values(status=MessageStatus.SENDING, next_attempt_at=now + message.lease),
        )
        if not done:
            return _Gate(False, Outcome.LOST_LEASE)
        session.execute(
            insert(ATTEMPTS).values(
                message_id=message.id,
                attempt=message.attempts,
                worker=message.worker,
                lease_version=message.lease_version,
                channel=message.channel.value,
                started_at=now,
                outcome="sending",
                detail="",
            )
        )
    return _Gate(True)


def _outbound(message: Claimed) -> OutboundMessage:
    return OutboundMessage(
        idempotency_key=message.key,
        channel=message.channel,
        to=message.recipient,
        subject=message.subject,
        body=message.body,
        url=message.url,
        user_id=message.user_id,
        metadata=(
            {"unsubscribe_url": unsubscribe_url(message.profile_id, message.channel)}
            if message.profile_id is not None and message.channel in CUSTOMER_FACING
            else {}
        ),
    )


def _call(sender: Sender, message: Claimed) -> DeliveryResult:
    try:
        return sender.send(_outbound(message))
    except Exception as error:
        # Senders report failures rather than raise; one that raises anyway has a bug. Recording it as a transient
        # failure keeps the message retried (and bounded by the dead letter) rather than stuck in "sending".
        log.exception("the %s sender raised for message %s", message.channel.value, message.id)
        return DeliveryResult(DeliveryStatus.RETRY, f"the {message.channel.value} sender raised {error!r}")


def _result_values(message: Claimed, result: DeliveryResult, now: datetime) -> tuple[Outcome, dict[str, Any]]:
    values: dict[str, Any] = {
        "reason": result.detail,
        "provider_message_id": result.provider_message_id,
        "delivered_at": None,
        "next_attempt_at": None,
        "lease_owner": None,
    }
    if result.status is DeliveryStatus.DELIVERED:
        return Outcome.DELIVERED, {**values, "status": MessageStatus.DELIVERED, "delivered_at": now}
    if result.status is DeliveryStatus.RETRY and message.attempts < MAX_ATTEMPTS:
        return Outcome.RETRIED, {
            **values,
            "status": MessageStatus.PENDING,
            "next_attempt_at": now + retry_delay(message.attempts, result.retry_after),
            "reason": f"attempt {message.attempts} failed, will retry: {result.detail}",
        }
    if result.status is DeliveryStatus.RETRY:
        return Outcome.FAILED, {
            **values,
            "status": MessageStatus.FAILED,
            "reason": f"dead letter after {message.attempts} attempts: {result.detail}",
        }
    return Outcome.FAILED, {**values, "status": MessageStatus.FAILED}


def record(sessions: SessionFactory, message: Claimed, result: DeliveryResult, now: datetime) -> Outcome:
    """Write the provider's answer while the lease holds; the attempt row keeps it either way."""
    outcome, values = _result_values(message, result, now)
    with sessions() as session:
        done = changed(session, update(OUTBOX).where(_fenced(message, MessageStatus.SENDING)).values(**values))
        session.execute(
            update(ATTEMPTS)
            .where(
                (ATTEMPTS.c.message_id == message.id)
                & (ATTEMPTS.c.lease_version == message.lease_version)
                & (ATTEMPTS.c.worker == message.worker)
            )
            .values(
                finished_at=now,
                outcome=result.status.value if done else "late",
                detail=result.detail,
                provider_message_id=result.provider_message_id,
            )
        )
    if not done:
        log.warning(
            "message %s: the answer (%s) came after this worker's lease was lost; another worker's record stands",
            message.id,
            result.status.value,
        )
        return Outcome.LOST_LEASE
    return outcome


def send_claimed(
    message: Claimed,
    *,
    sessions: SessionFactory,
    senders: Mapping[Channel, Sender],
    now: Callable[[], datetime],
    throttle: Throttle | None = None,
) -> Outcome:
    """Gate, call the provider, record: the whole life of one attempt. While ``throttle`` holds the channel the
    message goes back unsent, due when the provider said."""
    if throttle is not None and (until := throttle.until(now())) is not None:
        reason = f"held: the {message.channel.value} provider asked to wait until {until:%H:%M:%S} (429)"
        return Outcome.RELEASED if release(sessions, message, until, reason) else Outcome.LOST_LEASE
    gate = _gate(sessions, message, now())
    if not gate.open:
        assert gate.outcome is not None
        return gate.outcome
    result = _call(senders[message.channel], message)
    if throttle is not None:
        throttle.note(result, now())
    return record(sessions, message, result, now())
