"""Events received through the intake, stored once per ``messageId``."""

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
