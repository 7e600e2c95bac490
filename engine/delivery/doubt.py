"""Messages in doubt: handed to a provider by a worker that died before the answer was recorded. Those that cannot
be asked again safely (SMTP, or any channel once the journey is stopped) are held; a person looks at the attempts
and resends or marks them sent. Those waiting to be asked again with the same key (a paused journey's SMS, push,
webhooks) are listed too, so nothing in doubt is out of sight.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select, update
from sqlmodel import Session, col

from engine.delivery.sending import changed
from engine.store import Journey, JourneyStatus, MessageStatus, OutboxMessage, Profile, audit, utc_now

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]


class InDoubtError(ValueError):
    """The message is not (or no longer) held in doubt; the message says why."""


class InDoubtMessage(BaseModel):
    id: int
    node_id: str
    channel: str
    recipient: str
    user_id: str | None
    attempts: int
    reason: str
    created_at: datetime
    # Held for a person (resend or mark sent); False while it waits to be asked again with the same key.
    held: bool = True
    # Held and its journey not stopped (a stopped journey sends nothing more: it can only be marked sent).
    resendable: bool = True


def in_doubt_messages(*, session: Session, journey_id: int, limit: int = 50) -> tuple[int, list[InDoubtMessage]]:
    """How many of the journey's messages are in doubt (held, or waiting to be asked again), and the oldest
    ``limit`` of them."""
    waiting = and_(col(OutboxMessage.in_doubt), col(OutboxMessage.status) == MessageStatus.PENDING)
    held = (
        col(OutboxMessage.journey_id) == journey_id,
        or_(col(OutboxMessage.status) == MessageStatus.IN_DOUBT, waiting),
    )
    count = session.execute(select(func.count()).where(*held)).scalar_one()
    rows = session.execute(
        select(OutboxMessage, col(Profile.user_id))
        .outerjoin(Profile, col(Profile.id) == col(OutboxMessage.profile_id))
        .where(*held)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    ).all()
    journey = session.get(Journey, journey_id)
    stopped = journey is not None and journey.status == JourneyStatus.STOPPED
    return int(count), [
        InDoubtMessage(
            id=message.id,
            node_id=message.node_id,
            channel=message.channel,
            recipient=message.recipient,
            user_id=user_id,
            attempts=message.attempts,
            reason=message.reason,
            created_at=message.created_at,
            held=message.status == MessageStatus.IN_DOUBT,
            resendable=message.status == MessageStatus.IN_DOUBT and not stopped,
        )
        for message, user_id in rows
    ]


def _settle(session: Session, message_id: int, actor: str, action: str, **values: object) -> None:
    journey_id = session.execute(
        select(col(OutboxMessage.journey_id)).where(col(OutboxMessage.id) == message_id)
    ).scalar_one_or_none()
    done = changed(
        session,
        update(OUTBOX)
        .where(OUTBOX.c.id == message_id, OUTBOX.c.status == MessageStatus.IN_DOUBT.value)
        .values(**values),
    )
    if not done:
        raise InDoubtError(f"message {message_id} is not held in doubt (someone may have settled it already)")
    audit.record(session=session, actor=actor, action=action, journey_id=journey_id, message_id=message_id)


def resend(*, session: Session, message_id: int, actor: str, now: datetime | None = None) -> None:
    """Send the message again (same Message-ID): the customer may receive it twice. Refused once the journey is
    stopped: a stopped journey sends nothing more."""
    status = session.execute(
        select(col(Journey.status))
        .join(OutboxMessage, col(OutboxMessage.journey_id) == col(Journey.id))
        .where(col(OutboxMessage.id) == message_id)
    ).scalar_one_or_none()
    if status == JourneyStatus.STOPPED:
        raise InDoubtError(f"message {message_id} cannot be resent: its journey is stopped (mark it sent or leave it)")
    _settle(
        session,
        message_id,
        actor,
        "resend_in_doubt",
        status=MessageStatus.PENDING,
        next_attempt_at=now or utc_now(),
        reason=f"in doubt; resent by {actor}",
    )


def mark_sent(*, session: Session, message_id: int, actor: str, now: datetime | None = None) -> None:
    """Record the message as delivered without sending it again."""
    _settle(
        session,
        message_id,
        actor,
        "mark_sent_in_doubt",
        status=MessageStatus.DELIVERED,
        delivered_at=now or utc_now(),
        reason=f"in doubt; marked sent by {actor}",
    )
