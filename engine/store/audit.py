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


def entries(*, session: Session, journey_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit)
    if journey_id is not None:
        query = query.where(AuditEntry.journey_id == journey_id)
    return list(session.exec(query))
