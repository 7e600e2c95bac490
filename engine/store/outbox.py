"""Messages to deliver, written in the same transaction as the step that sends them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from engine.store.db import UtcDateTime, enum_type, utc_now


class MessageStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    SKIPPED = "skipped"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_journey_node", "journey_id", "node_id", "status"),
        Index("ix_outbox_profile_channel", "profile_id", "channel", "created_at"),
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
    is_test: bool = False
    status: MessageStatus = Field(default=MessageStatus.PENDING, sa_type=enum_type(MessageStatus))
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reason: str = Field(default="", sa_type=Text)
    provider_message_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
