"""Secrets that let other systems in: ingestion write keys and API bearer tokens, stored hashed."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from engine.store.db import UtcDateTime, utc_now


class WriteKey(SQLModel, table=True):
    __tablename__ = "write_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=32)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
