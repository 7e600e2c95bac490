"""Customer profiles: identity (user id and anonymous ids), traits, time zone and channel consent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from engine.store.db import UtcDateTime, utc_now


class Profile(SQLModel, table=True):
    __tablename__ = "profile"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str | None = Field(default=None, max_length=200, unique=True, index=True)
    traits: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    timezone: str | None = Field(default=None, max_length=64)
    # Channel name -> False once the customer opted out; a missing channel means consent was never withdrawn.
    consent: dict[str, bool] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ProfileAlias(SQLModel, table=True):
    """An anonymous id seen for a profile; identify merges the person behind several of them."""

    __tablename__ = "profile_alias"

    anonymous_id: str = Field(primary_key=True, max_length=200)
    profile_id: int = Field(foreign_key="profile.id", index=True, ondelete="CASCADE")
