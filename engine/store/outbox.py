"""Messages to deliver, written in the same transaction as the step that sends them, and every attempt at
sending one: what each provider was asked, by which worker, and what it answered."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from engine.store.db import UtcDateTime, enum_type, utc_now


class MessageStatus(StrEnum):
    PENDING = "pending"
    # Handed to the provider by the worker holding the lease; its answer is not recorded yet.
    SENDING = "sending"
    # Was being sent when its worker died, on a channel that cannot be asked again safely (SMTP): held for a
    # person to resend or mark sent.
    IN_DOUBT = "in_doubt"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    SKIPPED = "skipped"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_channel_due", "channel", "status", "next_attempt_at"),
        Index("ix_outbox_journey_node", "journey_id", "node_id", "status"),
        Index("ix_outbox_profile_channel", "profile_id", "channel", "created_at"),
        Index("ix_outbox_journey_counts", "journey_id", "node_id", "status", "is_test", "created_at"),
        Index("ix_outbox_enrollment_delivered", "enrollment_id", "status", "delivered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=120, unique=True)
    enrollment_id: int | None = Field(default=None, foreign_key="enrollment.id", ondelete="SET NULL")
    journey_id: int | None = Field(default=None, foreign_key="journey.id", ondelete="SET NULL")
    profile_id: int | None = Field(default=None, foreign_key="profile.id", ondelete="SET NULL")
    node_id: str = Field(max_length=120)
    channel: str = Field(max_length=16)
    fallback_channel: str | None = Field(default=None, max_length=16)
    recipient: str = Field(default="", max_length=500)
    subject: str = Field(default="", sa_type=Text)
    body: str = Field(default="", sa_type=Text)
    url: str = Field(default="", sa_type=Text)
    # The label of an in-app message's button (which opens ``url``); other channels leave it empty.
    button: str = Field(default="", sa_type=Text)
    is_test: bool = False
    status: MessageStatus = Field(default=MessageStatus.PENDING, sa_type=enum_type(MessageStatus))
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reason: str = Field(default="", sa_type=Text)
    provider_message_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The fencing token: every claim takes the next version and names its worker; a write about a send
    # is made only while the row still carries the version the writer claimed.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_version: int = 0
    # It was being sent when its worker died: the provider may have it twice. Kept once it is resolved.
    in_doubt: bool = False


class SendAttempt(SQLModel, table=True):
    """One hand-over of a message to its provider, written before the provider is called and finished with
    its answer; one left ``sending`` is a send whose worker died (its outcome becomes ``in_doubt``)."""

    __tablename__ = "send_attempt"
    __table_args__ = (Index("ix_send_attempt_message", "message_id", "attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="outbox_message.id", ondelete="CASCADE")
    attempt: int
    worker: str = Field(max_length=64)
    lease_version: int
    channel: str = Field(max_length=16)
    started_at: datetime = Field(sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # sending, delivered, retry, failed, in_doubt; "late" when the answer came after the lease was lost.
    outcome: str = Field(default="sending", max_length=16)
    detail: str = Field(default="", sa_type=Text)
    provider_message_id: str | None = Field(default=None, max_length=200)
