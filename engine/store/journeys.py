"""Journeys (the draft a designer edits) and their published versions (frozen map + plan)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, Update, func, update
from sqlmodel import Field, Session, SQLModel, col, select

from engine.store.db import UtcDateTime, enum_type, utc_now


class JourneyStatus(StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    PAUSED = "paused"
    # Stopped for new entries while the customers inside finish their runs.
    DRAINING = "draining"
    STOPPED = "stopped"


class Journey(SQLModel, table=True):
    __tablename__ = "journey"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    description: str = ""
    status: JourneyStatus = Field(default=JourneyStatus.DRAFT, sa_type=enum_type(JourneyStatus))
    # The JourneyMap as ``model_dump(mode="json")``: plain JSON, so any reader can load it without the engine.
    draft_map: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Bumped by every draft save; a save naming an older revision is refused, so two editors
    # never silently overwrite each other.
    revision: int = 1
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    # A name, not a foreign key: removing an account must not remove or orphan its journeys.
    created_by: str | None = Field(default=None, max_length=200)
    # Set while the journey is archived: off the lists and the dashboard, its versions, runs and audit
    # trail kept as they are; restoring clears both.
    archived_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    archived_by: str | None = Field(default=None, max_length=200)


class JourneyVersion(SQLModel, table=True):
    __tablename__ = "journey_version"
    __table_args__ = (UniqueConstraint("journey_id", "number", name="uq_journey_version_number"),)

    id: int | None = Field(default=None, primary_key=True)
    journey_id: int = Field(foreign_key="journey.id", index=True, ondelete="CASCADE")
    number: int
    map: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    plan: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    published_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    published_by: str | None = Field(default=None, max_length=200)


def find_journey(*, session: Session, journey_id: int) -> Journey | None:
    """The journey as stored now, even when this session loaded an older copy of it earlier."""
    return session.get(Journey, journey_id, populate_existing=True)


def find_journey_by_name(*, session: Session, name: str) -> Journey | None:
    return session.exec(select(Journey).where(col(Journey.name) == name).order_by(col(Journey.id)).limit(1)).first()


def _archived_filter(query: Any, archived: bool | None) -> Any:
    if archived is None:
        return query
    return query.where(col(Journey.archived_at).is_not(None) if archived else col(Journey.archived_at).is_(None))


def all_journeys(
    *, session: Session, archived: bool | None = False, limit: int | None = None, offset: int = 0
) -> list[Journey]:
    """The journeys most recently changed first: those not archived, the archived ones (True), or all (None);
    a page of them with ``limit`` and ``offset``."""
    query = _archived_filter(select(Journey), archived)
    query = query.order_by(col(Journey.updated_at).desc(), col(Journey.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def count_journeys(*, session: Session, archived: bool | None = False) -> int:
    """How many journeys ``all_journeys`` lists with the same ``archived``."""
    query = _archived_filter(select(func.count()).select_from(Journey), archived)
    return int(session.exec(query).one())


def journey_names(*, session: Session) -> dict[int, str]:
    """Every journey's name by id, archived ones included."""
    rows = session.exec(select(col(Journey.id), col(Journey.name)))
    return {journey_id: name for journey_id, name in rows if journey_id is not None}


def latest_version_numbers(*, session: Session) -> dict[int, int]:
    rows = session.exec(
        select(col(JourneyVersion.journey_id), func.max(col(JourneyVersion.number))).group_by(
            col(JourneyVersion.journey_id)
        )
    )
    return {journey_id: number for journey_id, number in rows}


def next_version_number(*, session: Session, journey_id: int) -> int:
    current = session.exec(
        select(func.max(col(JourneyVersion.number))).where(col(JourneyVersion.journey_id) == journey_id)
    ).one()
    return (current or 0) + 1


def _rows_updated(session: Session, statement: Update) -> int:
    # "fetch" brings in-session copies of the rows the database actually changed up to date; the
    # default would also patch a stale copy that merely looks as if it matches the WHERE clause.
    return session.exec(statement, execution_options={"synchronize_session": "fetch"}).rowcount


def replace_draft(
    *,
    session: Session,
    journey_id: int,
    expected_revision: int,
    draft_map: dict[str, Any],
    name: str,
    description: str,
    at: datetime,
) -> bool:
    """Store a new draft only if the journey is still at ``expected_revision``; False when it is not.

    One conditional UPDATE, so two concurrent saves of the same revision cannot both win, on SQLite
    as on PostgreSQL.
    """
    statement = (
        update(Journey)
        .where(col(Journey.id) == journey_id, col(Journey.revision) == expected_revision)
        .values(
            draft_map=draft_map,
            name=name,
            description=description,
            revision=col(Journey.revision) + 1,
            updated_at=at,
        )
    )
    return _rows_updated(session, statement) == 1


def touch_journey(*, session: Session, journey_id: int, at: datetime) -> bool:
    """Mark the journey changed at ``at``; False when there is no such journey.

    Being a write, it also holds the journey's row (PostgreSQL) or the database (SQLite) until the
    transaction ends, which serialises work such as numbering versions.
    """
    statement = update(Journey).where(col(Journey.id) == journey_id).values(updated_at=at)
    return _rows_updated(session, statement) == 1


def mark_archived(
    *, session: Session, journey_id: int, at: datetime, by: str, statuses: Collection[JourneyStatus]
) -> bool:
    """Archive the journey if it is not archived and its status is one of ``statuses``; False otherwise.

    One conditional UPDATE, so a launch committed in between is seen and the journey is left as it is.
    """
    statement = (
        update(Journey)
        .where(
            col(Journey.id) == journey_id,
            col(Journey.archived_at).is_(None),
            col(Journey.status).in_(list(statuses)),
        )
        .values(archived_at=at, archived_by=by, updated_at=at)
    )
    return _rows_updated(session, statement) == 1


def clear_archived(*, session: Session, journey_id: int, at: datetime) -> bool:
    """Bring an archived journey back to the lists; False when it is not archived (or not there)."""
    statement = (
        update(Journey)
        .where(col(Journey.id) == journey_id, col(Journey.archived_at).is_not(None))
        .values(archived_at=None, archived_by=None, updated_at=at)
    )
    return _rows_updated(session, statement) == 1
