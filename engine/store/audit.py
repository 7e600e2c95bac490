"""The audit log: who did what to which journey, and when.

Its filters come from people (the admin page's form), so :func:`entries` and :func:`day_bounds` check
them before any query and refuse what cannot be one with an :class:`AuditQueryError` naming the filter:
an id or a page past what the database's integers hold, text it could never match or cannot store (a
NUL), a time without a zone, a day that is not a date.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, Session, SQLModel, col, select

from engine.store.db import UtcDateTime, utc_now

ACTOR_LENGTH: Final = 200
ACTION_LENGTH: Final = 64
MAX_ENTRIES: Final = 1000
# The largest id and row offset a 64-bit integer holds, in SQLite and PostgreSQL alike.
_LARGEST: Final = 2**63 - 1
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_journey_at", "journey_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    actor: str = Field(max_length=ACTOR_LENGTH)
    action: str = Field(max_length=ACTION_LENGTH)
    # No foreign key: the log outlives what it speaks of.
    journey_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AuditQueryError(ValueError):
    """A filter the log cannot be read with. ``field`` names it (the argument of :func:`entries`, or
    ``since``/``until`` for :func:`day_bounds`); None when each is fine but together they are not."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


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
    offset: int = 0,
) -> list[AuditEntry]:
    """The newest entries first, narrowed by every filter given: ``since`` is inclusive, ``until`` exclusive;
    ``offset`` of them skipped, then at most ``limit`` (1 to MAX_ENTRIES)."""
    _check(journey_id, actor, action, since, until, limit, offset)
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
    ordered = query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    return list(session.exec(ordered.offset(offset).limit(limit)))


def _check(
    journey_id: int | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> None:
    if journey_id is not None and not 0 < journey_id <= _LARGEST:
        raise AuditQueryError(f"there is no journey {journey_id}", field="journey_id")
    for field, text, length in (("actor", actor, ACTOR_LENGTH), ("action", action, ACTION_LENGTH)):
        if text is None:
            continue
        if len(text) > length:
            raise AuditQueryError(f"at most {length} characters", field=field)
        if "\x00" in text:
            raise AuditQueryError("cannot hold a NUL character", field=field)
    for field, moment in (("since", since), ("until", until)):
        if moment is not None and moment.utcoffset() is None:
            raise AuditQueryError(f"{moment.isoformat()} must carry a time zone", field=field)
    if not 1 <= limit <= MAX_ENTRIES:
        raise AuditQueryError(f"{limit} is not between 1 and {MAX_ENTRIES}", field="limit")
    if offset < 0:
        raise AuditQueryError(f"{offset} cannot be negative", field="offset")
    if offset > _LARGEST:
        raise AuditQueryError(f"{offset} is past the end of any log", field="offset")


def day_bounds(first_day: str, last_day: str) -> tuple[datetime | None, datetime | None]:
    """The ``since`` and ``until`` of whole UTC days written YYYY-MM-DD, both days included; an empty
    day leaves its side open, and so does the calendar's last day, which has no day after it."""
    first = _day(first_day, "since")
    last = _day(last_day, "until")
    if first is not None and last is not None and first > last:
        raise AuditQueryError(f"the first day ({first.isoformat()}) is after the last ({last.isoformat()})")
    since = datetime.combine(first, time(), UTC) if first is not None else None
    until = datetime.combine(last + timedelta(days=1), time(), UTC) if last is not None and last < date.max else None
    return since, until


def _day(text: str, field: str) -> date | None:
    if not text:
        return None
    day = None
    # Only what a date input writes: fromisoformat alone also takes 20240305 and week dates (2024-W10-2).
    if _DAY.fullmatch(text):
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(text)
    if day is None:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise AuditQueryError(f"{shown!r} is not a date (YYYY-MM-DD)", field=field)
    return day


def actions(*, session: Session) -> list[str]:
    """Every action the log holds, in alphabetical order: the choices of a filter."""
    return list(session.exec(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))
