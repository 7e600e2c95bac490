"""Messages in doubt: handed to a provider that cannot be asked again safely (SMTP) by a worker that died before
the answer was recorded. The engine holds them; a person looks at the attempts and resends or marks them sent.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlmodel import Session, col

from engine.delivery.sending import changed
from engine.store import MessageStatus, OutboxMessage, Profile, audit, utc_now

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


def in_doubt_messages(*, session: Session, journey_id: int, limit: int = 50) -> tuple[int, list[InDoubtMessage]]:
    """How many of the journey's messages are held in doubt, and the oldest ``limit`` of them."""
    held = (col(OutboxMessage.journey_id) == journey_id, col(OutboxMessage.status) == MessageStatus.IN_DOUBT)
    count = session.execute(select(func.count()).where(*held)).scalar_one()
    rows = session.execute(
        select(OutboxMessage, col(Profile.user_id))
        .outerjoin(Profile, col(Profile.id) == col(OutboxMessage.profile_id))
        .where(*held)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    ).all()
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
    """Send the message again (same Message-ID): the customer may receive it twice."""
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
