"""The audit log: who did what to which journey, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, Session, SQLModel, col, select

from engine.store.db import UtcDateTime, utc_now


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_journey_at", "journey_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    # No foreign key: the log outlives what it speaks of.
    journey_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def record(*, session: Session, actor: str, action: str, journey_id: int | None = None, **detail: Any) -> AuditEntry:
    entry = AuditEntry(actor=actor, action=action, journey_id=journey_id, detail=detail)
    session.add(entry)
    return entry


def entries(
    *,
    session: Session,
    journey_id: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[AuditEntry]:
    """The newest entries first, narrowed by every filter given: ``since`` is inclusive, ``until`` exclusive."""
    query = select(AuditEntry)
    if journey_id is not None:
        query = query.where(AuditEntry.journey_id == journey_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    if until is not None:
        query = query.where(col(AuditEntry.at) < until)
    return list(session.exec(query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit)))


def actions(*, session: Session) -> list[str]:
    """Every action the log holds, in alphabetical order: the choices of a filter."""
    return list(session.exec(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
