"""Delivering the outbox: claim due messages, apply the delivery policy, send, record the result.

A claim is a short lease (``next_attempt_at`` pushed ahead) committed before any network call,
so no database transaction is held open while a provider answers; a worker that dies mid-send
leaves a lease that runs out, and the idempotency key keeps the retry harmless downstream. The
claim counts the attempt, so a lease that keeps running out still ends in the dead letter.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlmodel import Session, col

from engine.content import unsubscribe_url
from engine.delivery.channels import DeliveryResult, DeliveryStatus, OutboundMessage, Sender
from engine.delivery.policy import CUSTOMER_FACING, Allow, Defer, Recipient, Suppress, decide
from engine.journeys import PLANS
from engine.map import Channel
from engine.store import Enrollment, Journey, JourneyStatus, MessageStatus, OutboxMessage, Profile

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
SEND_LANES = 8
MAX_SEND_THREADS = 16
MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_CAP = timedelta(hours=1)

SessionFactory = Callable[[], AbstractContextManager[Session]]


def backoff(attempt: int, *, jitter: float | None = None) -> timedelta:
    """Exponential backoff with up to 20% jitter, so retries of one outage do not arrive together."""
    base: timedelta = min(BACKOFF_BASE * 2 ** max(attempt - 1, 0), BACKOFF_CAP)
    spread = random.random() if jitter is None else jitter
    return base * (1 + 0.2 * spread)


@dataclass
class DispatchReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.delivered + self.retried + self.failed + self.suppressed + self.deferred


@dataclass(frozen=True, kw_only=True)
class _Claimed:
    id: int
    key: str
    channel: Channel
    recipient: str
    subject: str
    body: str
    url: str
    user_id: str | None
    profile_id: int | None
    attempts: int


def _address(channel: Channel, traits: Mapping[str, Any], user_id: str | None, url: str) -> str:
    if channel is Channel.EMAIL:
        return str(traits.get("email") or "")
    if channel is Channel.SMS:
        return str(traits.get("phone") or "")
    if channel is Channel.WEBHOOK:
        return url
    return user_id or ""


def _sent_in_windows(session: Session, profile_ids: set[int], since: datetime) -> dict[int, dict[str, int]]:
    rows = session.execute(
        select(col(OutboxMessage.profile_id), col(OutboxMessage.channel), func.count())
        .where(
            col(OutboxMessage.profile_id).in_(profile_ids),
            col(OutboxMessage.status) == MessageStatus.DELIVERED,
            col(OutboxMessage.delivered_at) >= since,
        )
        .group_by(col(OutboxMessage.profile_id), col(OutboxMessage.channel))
    )
    counts: dict[int, dict[str, int]] = {}
    for profile_id, channel, count in rows:
        counts.setdefault(profile_id, {})[channel] = count
    return counts


def claim(*, session: Session, now: datetime, limit: int = 200) -> tuple[list[_Claimed], DispatchReport]:
    """Lease due messages of live journeys (and test sends), settling those the policy blocks."""
    report = DispatchReport()
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    query = (
        select(
            col(OutboxMessage.id),
            col(OutboxMessage.idempotency_key),
            col(OutboxMessage.channel),
            col(OutboxMessage.fallback_channel),
            col(OutboxMessage.recipient),
            col(OutboxMessage.subject),
            col(OutboxMessage.body),
            col(OutboxMessage.url),
            col(OutboxMessage.attempts),
            col(OutboxMessage.profile_id),
            col(OutboxMessage.is_test),
            col(Enrollment.version_id),
        )
        .outerjoin(Journey, col(Journey.id) == col(OutboxMessage.journey_id))
        .outerjoin(Enrollment, col(Enrollment.id) == col(OutboxMessage.enrollment_id))
        .where(
            col(OutboxMessage.status) == MessageStatus.PENDING,
            col(OutboxMessage.next_attempt_at) <= now,
            or_(
                col(OutboxMessage.is_test),
                col(Journey.status).in_([JourneyStatus.LIVE, JourneyStatus.DRAINING]),
            ),
        )
        .order_by(col(OutboxMessage.next_attempt_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OutboxMessage, skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return [], report
    profile_ids = {r.profile_id for r in rows if r.profile_id is not None}
    profiles = {
        pid: (user_id, traits or {}, tz, consent or {})
        for pid, user_id, traits, tz, consent in session.execute(
            select(
                col(Profile.id), col(Profile.user_id), col(Profile.traits), col(Profile.timezone), col(Profile.consent)
            ).where(col(Profile.id).in_(profile_ids))
        )
    }
    plans = PLANS.get_many(session=session, version_ids={r.version_id for r in rows if r.version_id is not None})
    # Each journey's cap counts over its own window: one count per distinct window (usually one).
    windows = {p.plan.frequency_cap.window for p in plans.values() if p.plan.frequency_cap is not None}
    sent = {window: _sent_in_windows(session, profile_ids, now - window) for window in windows}

    claimed: list[_Claimed] = []
    settled: list[dict[str, Any]] = []
    for row in rows:
        user_id, traits, tz, consent = profiles.get(row.profile_id, (None, {}, None, {}))
        loaded = plans.get(row.version_id) if row.version_id is not None else None
        plan = loaded.plan if loaded is not None else None
        channel = Channel(row.channel)
        fallback = Channel(row.fallback_channel) if row.fallback_channel else None
        cap = plan.frequency_cap if plan and not row.is_test else None
        verdict = decide(
            channel=channel,
            fallback=fallback,
            recipient=Recipient(
                consent=consent,
                timezone=tz or (plan.default_timezone if plan else "UTC"),
                sent_in_window=sent[cap.window].get(row.profile_id, {}) if cap else {},
            ),
            has_address=bool(row.recipient),
            fallback_has_address=bool(fallback and _address(fallback, traits, user_id, row.url)),
            quiet=plan.quiet_hours if plan and not row.is_test else None,
            cap=cap,
            now=now,
        )
        match verdict:
            case Suppress(reason=reason):
                settled.append(
                    {
                        "mid": row.id,
                        "status": MessageStatus.SUPPRESSED,
                        "reason": reason,
                        "next_attempt_at": None,
                        "channel": channel.value,
                        "recipient": row.recipient,
                        "attempts": row.attempts,
                    }
                )
                report.suppressed += 1
            case Defer(until=until, reason=reason):
                settled.append(
                    {
                        "mid": row.id,
                        "status": MessageStatus.PENDING,
                        "reason": f"deferred: {reason}",
                        "next_attempt_at": until,
                        "channel": channel.value,
                        "recipient": row.recipient,
                        "attempts": row.attempts,
                    }
                )
                report.deferred += 1
            case Allow() if row.attempts >= MAX_ATTEMPTS:
                # Only a lease that ran out gets here: each claim counts as an attempt, so a message whose
                # sending keeps killing the worker ends in the dead letter instead of being retried forever.
                settled.append(
                    {
                        "mid": row.id,
                        "status": MessageStatus.FAILED,
                        "reason": f"dead letter after {row.attempts} attempts: the sender never answered",
                        "next_attempt_at": None,
                        "channel": channel.value,
                        "recipient": row.recipient,
                        "attempts": row.attempts,
                    }
                )
                report.failed += 1
            case Allow(channel=chosen):
                recipient = row.recipient if chosen is channel else _address(chosen, traits, user_id, row.url)
                settled.append(
                    {
                        "mid": row.id,
                        "status": MessageStatus.PENDING,
                        "reason": "" if chosen is channel else f"sent on {chosen.value}: {channel.value} blocked",
                        "next_attempt_at": now + LEASE,
                        "channel": chosen.value,
                        "recipient": recipient,
                        "attempts": row.attempts + 1,
                    }
                )
                if chosen in CUSTOMER_FACING and row.profile_id is not None:
                    for by_profile in sent.values():
                        counts = by_profile.setdefault(row.profile_id, {})
                        counts[chosen.value] = counts.get(chosen.value, 0) + 1
                claimed.append(
                    _Claimed(
                        id=row.id,
                        key=row.idempotency_key,
                        channel=chosen,
                        recipient=recipient,
                        subject=row.subject,
                        body=row.body,
                        url=row.url,
                        user_id=user_id,
                        profile_id=row.profile_id,
                        attempts=row.attempts + 1,
                    )
                )
    session.execute(
        update(table).where(table.c.id == bindparam("mid")),
        settled,
        execution_options={"synchronize_session": False},
    )
    return claimed, report


def _send(sender: Sender, message: _Claimed) -> DeliveryResult:
    return sender.send(
        OutboundMessage(
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
    )


def _send_one(message: _Claimed, senders: Mapping[Channel, Sender], now: datetime) -> dict[str, Any]:
    sender = senders[message.channel]
    try:
        result = _send(sender, message)
    except Exception as error:
        # Senders report failures rather than raise; one that raises anyway has a bug. Recording it as
        # a transient failure keeps the rest of the pass (messages already sent) from being lost and re-sent.
        log.exception("the %s sender raised for message %s", message.channel.value, message.id)
        result = DeliveryResult(DeliveryStatus.RETRY, f"the {message.channel.value} sender raised {error!r}")
    update_row: dict[str, Any] = {
        "mid": message.id,
        "attempts": message.attempts,
        "reason": result.detail,
        "provider_message_id": result.provider_message_id,
        "delivered_at": None,
        "next_attempt_at": None,
    }
    if result.status is DeliveryStatus.DELIVERED:
        return {**update_row, "status": MessageStatus.DELIVERED, "delivered_at": now}
    if result.status is DeliveryStatus.RETRY and message.attempts < MAX_ATTEMPTS:
        return {
            **update_row,
            "status": MessageStatus.PENDING,
            "next_attempt_at": now + backoff(message.attempts),
            "reason": f"attempt {message.attempts} failed, will retry: {result.detail}",
        }
    if result.status is DeliveryStatus.RETRY:
        return {
            **update_row,
            "status": MessageStatus.FAILED,
            "reason": f"dead letter after {message.attempts} attempts: {result.detail}",
        }
    return {**update_row, "status": MessageStatus.FAILED}


def _send_all(
    claimed: list[_Claimed], senders: Mapping[Channel, Sender], now: Callable[[], datetime]
) -> list[dict[str, Any]]:
    """Send concurrently across messages: providers answer in tens of milliseconds, and one at a time
    a pass of 200 would take seconds. Each channel's messages stay in one lane, in order, because a
    sender (one SMTP connection) need not be safe to share between threads; HTTP channels get several."""
    lanes: dict[tuple[Channel, int], list[_Claimed]] = defaultdict(list)
    for index, message in enumerate(claimed):
        width = 1 if message.channel is Channel.EMAIL else SEND_LANES
        lanes[(message.channel, index % width)].append(message)

    def run(lane: list[_Claimed]) -> list[dict[str, Any]]:
        return [_send_one(message, senders, now()) for message in lane]

    if len(lanes) == 1:
        return run(next(iter(lanes.values())))
    with ThreadPoolExecutor(max_workers=min(len(lanes), MAX_SEND_THREADS)) as pool:
        return [row for rows in pool.map(run, lanes.values()) for row in rows]


def dispatch_due(
    *, sessions: SessionFactory, senders: Mapping[Channel, Sender], now: Callable[[], datetime], limit: int = 200
) -> DispatchReport:
    """One dispatcher pass: claim, send outside any transaction, record every result."""
    with sessions() as session:
        claimed, report = claim(session=session, now=now(), limit=limit)
    if not claimed:
        return report
    results = _send_all(claimed, senders, now)
    for row in results:
        status = row["status"]
        if status is MessageStatus.DELIVERED:
            report.delivered += 1
        elif status is MessageStatus.PENDING:
            report.retried += 1
        else:
            report.failed += 1
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    with sessions() as session:
        session.execute(
            update(table).where(table.c.id == bindparam("mid")),
            results,
            execution_options={"synchronize_session": False},
        )
    return report
