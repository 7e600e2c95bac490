"""People who sign in to the app, and their sign-in sessions.

A removed user keeps their row (``removed_at`` set): journeys, versions and the audit log name
people by their email as text, and the row is what tells an admin who that was. Only users not
removed hold their email uniquely, so an address can be given to a new account after removal.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from engine.store.db import UtcDateTime, enum_type, utc_now

EMAIL_LENGTH = 254  # the longest address SMTP carries (RFC 5321's path limit less the brackets)
NAME_LENGTH = 200


class Role(StrEnum):
    DESIGNER = "designer"
    MARKETER = "marketer"
    EXECUTIVE = "executive"
    ADMIN = "admin"


class User(SQLModel, table=True):
    # "user" is a reserved word in PostgreSQL.
    __tablename__ = "user_account"
    __table_args__ = (
        Index(
            "ux_user_account_email_active",
            "email",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_LENGTH)
    name: str = Field(default="", max_length=NAME_LENGTH)
    role: Role = Field(sa_type=enum_type(Role))
    password_hash: str = Field(max_length=256)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    failed_sign_ins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class UserSession(SQLModel, table=True):
    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    secret_hash: str = Field(max_length=128, unique=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    last_seen_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
