"""Claiming the outbox: due messages of one channel (or all), leased to one worker with a fencing token, the
delivery policy (consent, caps, quiet hours) applied, and messages whose worker died mid-send found in doubt.

A claim is a short lease (``next_attempt_at`` pushed ahead) committed before any network call, so no database
transaction is held open while a provider answers. Every claim takes the next ``lease_version`` and names its
worker: a later write about the send (``engine.delivery.sending``) is made only while the row still carries that
version, so a worker that lost its lease can no longer change what another worker recorded. The claim counts the
attempt, so a lease that keeps running out still ends in the dead letter.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlmodel import Session, col

from engine.delivery.policy import CUSTOMER_FACING, Allow, Defer, Recipient, Suppress, decide
from engine.journeys import PLANS
from engine.map import Channel
from engine.store import (
    Enrollment,
    Journey,
    JourneyStatus,
    MessageStatus,
    OutboxMessage,
    Profile,
    SendAttempt,
)

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_CAP = timedelta(hours=1)
# A provider's Retry-After is honoured up to this; one asking for longer is tried again after this.
RETRY_AFTER_MAX = timedelta(hours=1)
# Channels whose provider can be asked again with the same Idempotency-Key when a send is in doubt. SMTP has no
# such key that servers honour, so an email in doubt is held for a person (resend or mark sent).
RESENDABLE = frozenset({Channel.SMS, Channel.PUSH, Channel.WEBHOOK, Channel.IN_APP})

SessionFactory = Callable[[], AbstractContextManager[Session]]
LIVE = (JourneyStatus.LIVE, JourneyStatus.DRAINING)


def backoff(attempt: int, *, jitter: float | None = None) -> timedelta:
    """Exponential backoff with up to 20% jitter, so retries of one outage do not arrive together."""
    base: timedelta = min(BACKOFF_BASE * 2 ** max(attempt - 1, 0), BACKOFF_CAP)
    spread = random.random() if jitter is None else jitter
    return base * (1 + 0.2 * spread)


def retry_delay(attempt: int, retry_after: float | None) -> timedelta:
    """The provider's Retry-After (up to RETRY_AFTER_MAX) when it gave one, else the backoff with jitter."""
    if retry_after is not None:
        return min(timedelta(seconds=retry_after), RETRY_AFTER_MAX)
    return backoff(attempt)


@dataclass
class DispatchReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0
    # Sent to the fallback channel's own claim; released back (paused, stopping); found in doubt.
    rerouted: int = 0
    released: int = 0
    in_doubt: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.delivered + self.retried + self.failed + self.suppressed + self.deferred

    def add(self, other: DispatchReport) -> None:
        for name in ("delivered", "retried", "failed", "suppressed", "deferred", "rerouted", "released", "in_doubt"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.details += other.details


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """A message leased to ``worker`` under ``lease_version``, addressed on the channel the policy chose."""

    id: int
    key: str
    channel: Channel
    recipient: str
    subject: str
    body: str
    url: str
    user_id: str | None
    profile_id: int | None
    journey_id: int | None
    is_test: bool
    attempts: int
    worker: str
    lease_version: int
    in_doubt: bool
    lease: timedelta = LEASE


def address_on(channel: Channel, traits: Mapping[str, Any], user_id: str | None, url: str) -> str:
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


def _close_dead_attempts(session: Session, message_ids: list[int], now: datetime) -> None:
    """The attempts left ``sending`` by a worker that died: the provider may or may not have the message."""
    if not message_ids:
        return
    attempts = SendAttempt.__table__  # type: ignore[attr-defined]
    session.execute(
        update(attempts)
        .where(attempts.c.message_id.in_(message_ids), attempts.c.outcome == "sending")
        .values(
            outcome="in_doubt",
            finished_at=now,
            detail="its worker stopped answering before the provider's answer was recorded",
        )
    )


def _settle_cut_short(session: Session, now: datetime, channel: Channel | None) -> int:
    """Messages left ``sending`` by a dead worker in a journey paused or stopped since: no claim takes them (only
    live journeys are claimed), so they are settled here. A stopped journey sends nothing more, so every channel's
    is held for a person (mark sent, or leave it); a paused one's email is held as in a live journey, and its HTTP
    messages wait, pending and in doubt, to be asked again with the same key once the journey resumes."""
    query = (
        select(col(OutboxMessage.id), col(OutboxMessage.channel), col(OutboxMessage.attempts), col(Journey.status))
        .join(Journey, col(Journey.id) == col(OutboxMessage.journey_id))
        .where(
            col(OutboxMessage.status) == MessageStatus.SENDING,
            col(OutboxMessage.next_attempt_at) <= now,
            ~col(OutboxMessage.is_test),
            col(Journey.status).in_([JourneyStatus.PAUSED, JourneyStatus.STOPPED]),
        )
    )
    if channel is not None:
        query = query.where(col(OutboxMessage.channel) == channel.value)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OutboxMessage, skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return 0
    _close_dead_attempts(session, [r.id for r in rows], now)
    cut = "was being sent when its worker stopped"
    settled: list[dict[str, Any]] = []
    for row in rows:
        values: dict[str, Any] = {"mid": row.id, "lease_owner": None, "in_doubt": True}
        if row.status == JourneyStatus.STOPPED:
            values |= {
                "status": MessageStatus.IN_DOUBT,
                "next_attempt_at": None,
                "reason": f"in doubt: attempt {row.attempts} {cut}; the journey is stopped, so it is not sent again",
            }
        elif Channel(row.channel) in RESENDABLE:
            values |= {
                "status": MessageStatus.PENDING,
                "next_attempt_at": now,
                "reason": (
                    f"in doubt: attempt {row.attempts} {cut}; the journey is paused: asked again with the same "
                    "idempotency key after it resumes"
                ),
            }
        else:
            values |= {
                "status": MessageStatus.IN_DOUBT,
                "next_attempt_at": None,
                "reason": (
                    f"in doubt: attempt {row.attempts} {cut}; held for a person to resend or mark sent "
                    f"({row.channel} cannot be asked again safely)"
                ),
            }
        settled.append(values)
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table).where(table.c.id == bindparam("mid")), settled, execution_options={"synchronize_session": False}
    )
    return len(settled)


def claim(
    *,
    session: Session,
    now: datetime,
    limit: int = 200,
    channel: Channel | None = None,
    worker: str = "dispatcher",
    lease: timedelta = LEASE,
) -> tuple[list[Claimed], DispatchReport]:
    """Lease due messages of live journeys (and test sends) on ``channel`` (every channel when None), settling
    those the policy blocks. A message still ``sending`` whose lease ran out is in doubt: asked again with the
    same key where the provider deduplicates (``RESENDABLE``), held for a person otherwise; one in a journey paused
    or stopped since is settled by ``_settle_cut_short``."""
    report = DispatchReport(in_doubt=_settle_cut_short(session, now, channel))
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
            col(OutboxMessage.journey_id),
            col(OutboxMessage.is_test),
            col(OutboxMessage.status),
            col(OutboxMessage.in_doubt),
            col(OutboxMessage.lease_version),
            col(Enrollment.version_id),
        )
        .outerjoin(Journey, col(Journey.id) == col(OutboxMessage.journey_id))
        .outerjoin(Enrollment, col(Enrollment.id) == col(OutboxMessage.enrollment_id))
        .where(
            col(OutboxMessage.status).in_([MessageStatus.PENDING, MessageStatus.SENDING]),
            col(OutboxMessage.next_attempt_at) <= now,
            or_(col(OutboxMessage.is_test), col(Journey.status).in_(LIVE)),
        )
        .order_by(col(OutboxMessage.next_attempt_at))
        .limit(limit)
    )
    if channel is not None:
        query = query.where(col(OutboxMessage.channel) == channel.value)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OutboxMessage, skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return [], report
    _close_dead_attempts(session, [r.id for r in rows if r.status == MessageStatus.SENDING], now)
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

    claimed: list[Claimed] = []
    settled: list[dict[str, Any]] = []
    for row in rows:
        user_id, traits, tz, consent = profiles.get(row.profile_id, (None, {}, None, {}))
        loaded = plans.get(row.version_id) if row.version_id is not None else None
        plan = loaded.plan if loaded is not None else None
        first = Channel(row.channel)
        in_doubt = row.in_doubt or row.status == MessageStatus.SENDING
        unchanged: dict[str, Any] = {
            "mid": row.id,
            "channel": first.value,
            "recipient": row.recipient,
            "attempts": row.attempts,
            "lease_owner": None,
            "lease_version": row.lease_version,
            "in_doubt": in_doubt,
        }
        if in_doubt:
            report.in_doubt += 1
        if row.status == MessageStatus.SENDING and first not in RESENDABLE:
            settled.append(
                {
                    **unchanged,
                    "status": MessageStatus.IN_DOUBT,
                    "next_attempt_at": None,
                    "reason": (
                        f"in doubt: attempt {row.attempts} was being sent when its worker stopped; "
                        f"held for a person to resend or mark sent ({first.value} cannot be asked again safely)"
                    ),
                }
            )
            continue
        fallback = Channel(row.fallback_channel) if row.fallback_channel else None
        cap = plan.frequency_cap if plan and not row.is_test else None
        verdict = decide(
            channel=first,
            fallback=fallback,
            recipient=Recipient(
                consent=consent,
                timezone=tz or (plan.default_timezone if plan else "UTC"),
                sent_in_window=sent[cap.window].get(row.profile_id, {}) if cap else {},
            ),
            has_address=bool(row.recipient),
            fallback_has_address=bool(fallback and address_on(fallback, traits, user_id, row.url)),
            quiet=plan.quiet_hours if plan and not row.is_test else None,
            cap=cap,
            now=now,
        )
        match verdict:
            case Suppress(reason=reason):
                settled.append(
                    {**unchanged, "status": MessageStatus.SUPPRESSED, "reason": reason, "next_attempt_at": None}
                )
                report.suppressed += 1
            case Defer(until=until, reason=reason):
                settled.append(
                    {
                        **unchanged,
                        "status": MessageStatus.PENDING,
                        "reason": f"deferred: {reason}",
                        "next_attempt_at": until,
                    }
                )
                report.deferred += 1
            case Allow() if row.attempts >= MAX_ATTEMPTS:
                # Only a lease that ran out gets here: each claim counts as an attempt, so a message whose
                # sending keeps killing the worker ends in the dead letter instead of being retried forever.
                settled.append(
                    {
                        **unchanged,
                        "status": MessageStatus.FAILED,
                        "reason": f"dead letter after {row.attempts} attempts: the sender never answered",
                        "next_attempt_at": None,
                    }
                )
                report.failed += 1
            case Allow(channel=chosen) if chosen is not first:
                # The fallback channel has claims of its own (and its own provider's pace): hand the message over,
                # due now, rather than send it from this channel's lane.
                settled.append(
                    {
                        **unchanged,
                        "status": MessageStatus.PENDING,
                        "reason": f"sent on {chosen.value}: {first.value} blocked",
                        "next_attempt_at": now,
                        "channel": chosen.value,
                        "recipient": address_on(chosen, traits, user_id, row.url),
                    }
                )
                report.rerouted += 1
            case Allow():
                settled.append(
                    {
                        **unchanged,
                        "status": MessageStatus.PENDING,
                        "reason": "" if not in_doubt else "in doubt: asked again with the same idempotency key",
                        "next_attempt_at": now + lease,
                        "attempts": row.attempts + 1,
                        "lease_owner": worker,
                        "lease_version": row.lease_version + 1,
                    }
                )
                if first in CUSTOMER_FACING and row.profile_id is not None:
                    for by_profile in sent.values():
                        counts = by_profile.setdefault(row.profile_id, {})
                        counts[first.value] = counts.get(first.value, 0) + 1
                claimed.append(
                    Claimed(
                        id=row.id,
                        key=row.idempotency_key,
                        channel=first,
                        recipient=row.recipient,
                        subject=row.subject,
                        body=row.body,
                        url=row.url,
                        user_id=user_id,
                        profile_id=row.profile_id,
                        journey_id=row.journey_id,
                        is_test=row.is_test,
                        attempts=row.attempts + 1,
                        worker=worker,
                        lease_version=row.lease_version + 1,
                        in_doubt=in_doubt,
                        lease=lease,
                    )
                )
    session.execute(
        update(table).where(table.c.id == bindparam("mid")),
        settled,
        execution_options={"synchronize_session": False},
    )
    return claimed, report
