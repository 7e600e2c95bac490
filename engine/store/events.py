"""Events received through the intake, stored once per ``messageId``, and those the engine has yet to react to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from engine.store.db import UtcDateTime, utc_now


class Event(SQLModel, table=True):
    __tablename__ = "event"
    __table_args__ = (Index("ix_event_profile_time", "profile_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=200, unique=True)
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    type: str = Field(max_length=20)
    name: str | None = Field(default=None, max_length=200, index=True)
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    received_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class PendingEvent(SQLModel, table=True):
    """A stored event the engine has not reacted to yet: the intake writes one with the event, and the engine's
    consumer deletes it in the transaction that reacts to the event, so each event is reacted to once.

    Only the events that can move a customer (track, identify, group) get one. ``traits_before`` holds, for an
    identify or group, the customer's traits just before it: a trait trigger enters a customer whose traits start
    to meet its conditions, which the consumer, reading the profile later, could not tell otherwise.
    """

    __tablename__ = "pending_event"
    # A customer's waiting events in order: what tells a consumer that another holds this customer's earlier ones.
    __table_args__ = (Index("ix_pending_event_profile", "profile_id", "event_id"),)

    event_id: int = Field(primary_key=True, foreign_key="event.id", ondelete="CASCADE")
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    traits_before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
