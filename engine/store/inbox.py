"""Each customer's in-app inbox: the in-app messages delivered to them, with what they did with each (read,
clicked, dismissed), and the workspace's secret that signs the tokens their app shows the inbox with.

A message lands here when the in-app channel delivers its outbox row (``engine.delivery.channels.inbox``): one
inbox row per outbox message (``outbox_id`` is unique), so a send asked again after it was in doubt finds its row
and adds none.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text, select, update
from sqlmodel import Field, Session, SQLModel, col
from sqlmodel import select as sqlmodel_select

from engine.store.db import UtcDateTime, utc_now

USER_ID_LENGTH = 200


class InboxAction(StrEnum):
    """What a customer did with a message, and the event each action is stored as."""

    READ = "read"
    CLICKED = "clicked"
    DISMISSED = "dismissed"

    @property
    def event(self) -> str:
        return {"read": "in_app_opened", "clicked": "in_app_clicked", "dismissed": "in_app_dismissed"}[self.value]


class InboxMessage(SQLModel, table=True):
    __tablename__ = "in_app_message"
    __table_args__ = (
        Index("ix_in_app_message_user", "user_id", "dismissed_at", "expires_at"),
        Index("ix_in_app_message_journey_node", "journey_id", "node_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox_message.id", ondelete="CASCADE", unique=True)
    user_id: str = Field(max_length=USER_ID_LENGTH)
    profile_id: int | None = Field(default=None, foreign_key="profile.id", ondelete="SET NULL")
    journey_id: int | None = Field(default=None, foreign_key="journey.id", ondelete="SET NULL")
    node_id: str = Field(max_length=120)
    title: str = Field(default="", sa_type=Text)
    body: str = Field(default="", sa_type=Text)
    button_label: str = Field(default="", sa_type=Text)
    button_url: str = Field(default="", sa_type=Text)
    is_test: bool = False
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    clicked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    dismissed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class InAppSecret(SQLModel, table=True):
    """The key customer tokens are signed with (HMAC-SHA256). Kept in clear: verifying a signature needs it. One is
    current (``retired_at`` empty); rotating retires it, and tokens it signed stop working at once."""

    __tablename__ = "in_app_secret"

    id: int | None = Field(default=None, primary_key=True)
    secret: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


def current_in_app_secret(session: Session) -> str | None:
    """The secret tokens are checked against, or None before an admin made one."""
    return session.execute(
        select(col(InAppSecret.secret))
        .where(col(InAppSecret.retired_at).is_(None))
        .order_by(col(InAppSecret.id).desc())
        .limit(1)
    ).scalar_one_or_none()


def new_in_app_secret(session: Session, now: datetime | None = None) -> str:
    """Retire the current secret (if any) and make a new one."""
    now = now or utc_now()
    session.execute(update(InAppSecret).where(col(InAppSecret.retired_at).is_(None)).values(retired_at=now))
    secret = secrets.token_urlsafe(32)
    session.add(InAppSecret(secret=secret, created_at=now))
    session.flush()
    return secret


def open_inbox_messages(
    session: Session, user_id: str, now: datetime, *, unread_only: bool = False, limit: int = 50
) -> Sequence[InboxMessage]:
    """The customer's messages neither dismissed nor expired, newest first."""
    query = sqlmodel_select(InboxMessage).where(
        col(InboxMessage.user_id) == user_id,
        col(InboxMessage.dismissed_at).is_(None),
        col(InboxMessage.expires_at) > now,
    )
    if unread_only:
        query = query.where(col(InboxMessage.read_at).is_(None))
    return session.exec(query.order_by(col(InboxMessage.id).desc()).limit(limit)).all()


def mark_inbox_message(message: InboxMessage, action: InboxAction, now: datetime) -> list[InboxAction]:
    """Record ``action`` on ``message``; returns the actions that are new (a click on an unread message reads it
    too). Doing something again changes nothing, so each action is counted once."""
    done: list[InboxAction] = []
    if action in (InboxAction.READ, InboxAction.CLICKED) and message.read_at is None:
        message.read_at = now
        done.append(InboxAction.READ)
    if action is InboxAction.CLICKED and message.clicked_at is None:
        message.clicked_at = now
        done.append(InboxAction.CLICKED)
    if action is InboxAction.DISMISSED and message.dismissed_at is None:
        message.dismissed_at = now
        done.append(InboxAction.DISMISSED)
    return done
