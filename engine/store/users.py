"""People who sign in to the app, and their sign-in sessions.

A removed user keeps their row (``removed_at`` set): journeys, versions and the audit log name
people by their email as text, and the row is what tells an admin who that was. Only users not
removed hold their email uniquely, so an address can be given to a new account after removal.

A session that has ended (signed out, idle too long, too old) is of no further use: the engine's
purge deletes its row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Index, delete, or_, text
from sqlmodel import Field, Session, SQLModel, col

from engine.store.db import UtcDateTime, enum_type, utc_now

EMAIL_LENGTH = 254  # the longest address SMTP carries (RFC 5321's path limit less the brackets)
NAME_LENGTH = 200
SESSION_IDLE = timedelta(hours=8)
SESSION_MAX = timedelta(days=7)


class Role(StrEnum):
    DESIGNER = "designer"
    MARKETER = "marketer"
    EXECUTIVE = "executive"
    ADMIN = "admin"
    # Works the human tasks of journeys (calls, chats) with their customers' context; edits and runs nothing.
    AGENT = "agent"


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
    # A one-time code (SHA-256) the browser trades for the session cookie, and until when it may.
    handoff_hash: str | None = Field(default=None, max_length=128, index=True)
    handoff_until: datetime | None = Field(default=None, sa_type=UtcDateTime)


def purge_sessions(*, session: Session, now: datetime) -> int:
    """Delete the sessions that have ended, for whatever reason; how many went."""
    statement = delete(UserSession).where(
        or_(
            col(UserSession.ended_at).is_not(None),
            col(UserSession.last_seen_at) < now - SESSION_IDLE,
            col(UserSession.created_at) < now - SESSION_MAX,
        )
    )
    return session.exec(statement).rowcount
