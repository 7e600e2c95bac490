"""Journeys (the draft a designer edits) and their published versions (frozen map + plan)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, func, select
from sqlmodel import Field, Session, SQLModel, col

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
    draft_map: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Bumped by every draft save; a save naming an older revision is refused, so two editors
    # never silently overwrite each other.
    revision: int = 1
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    # A name, not a foreign key: removing an account must not remove or orphan its journeys.
    created_by: str | None = Field(default=None, max_length=200)


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
    return session.get(Journey, journey_id)


def find_journey_by_name(*, session: Session, name: str) -> Journey | None:
    return session.execute(select(Journey).where(col(Journey.name) == name).limit(1)).scalar_one_or_none()


def all_journeys(*, session: Session) -> list[Journey]:
    return list(session.execute(select(Journey).order_by(col(Journey.updated_at).desc())).scalars())


def latest_version_numbers(*, session: Session) -> dict[int, int]:
    rows = session.execute(
        select(col(JourneyVersion.journey_id), func.max(col(JourneyVersion.number))).group_by(
            col(JourneyVersion.journey_id)
        )
    )
    return {journey_id: number for journey_id, number in rows}


def next_version_number(*, session: Session, journey_id: int) -> int:
    current = session.execute(
        select(func.max(col(JourneyVersion.number))).where(col(JourneyVersion.journey_id) == journey_id)
    ).scalar_one()
    return (current or 0) + 1
