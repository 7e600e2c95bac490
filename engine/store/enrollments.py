"""Customers inside journeys: one row per run, and one row per step they entered.

A waiting customer is a row with ``due_at`` (and, when waiting for an event, its name and the
correlation value), never a timer in memory.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from engine.store.db import UtcDateTime, enum_type, utc_now


class EnrollmentStatus(StrEnum):
    WAITING = "waiting"
    ENDED = "ended"


class Enrollment(SQLModel, table=True):
    __tablename__ = "enrollment"
    __table_args__ = (
        Index("ix_enrollment_due", "status", "due_at"),
        Index("ix_enrollment_profile_wait", "profile_id", "wait_event"),
        Index("ix_enrollment_journey_status", "journey_id", "status", "step_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    journey_id: int = Field(foreign_key="journey.id", ondelete="CASCADE")
    version_id: int = Field(foreign_key="journey_version.id")
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    status: EnrollmentStatus = Field(default=EnrollmentStatus.WAITING, sa_type=enum_type(EnrollmentStatus))
    step_id: str | None = Field(default=None, max_length=120)
    due_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    wait_event: str | None = Field(default=None, max_length=200)
    correlation: str | None = Field(default=None, max_length=200)
    resume_mode: str | None = Field(default=None, max_length=32)
    # Set when the awaited event came while the journey was paused: after resuming, the run takes
    # the event's path rather than the timeout's.
    event_arrived_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    entered_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    end_reason: str | None = Field(default=None, max_length=32)
    goal_reached_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Transition(SQLModel, table=True):
    """A customer entering a node; the first entry into a stage is flagged for the stage metrics."""

    __tablename__ = "transition"
    __table_args__ = (
        Index("ix_transition_journey_node", "journey_id", "node_id"),
        Index("ix_transition_journey_stage", "journey_id", "first_in_stage", "stage_id", "at"),
        Index("ix_transition_enrollment", "enrollment_id"),
        Index("ix_transition_journey_run", "journey_id", "enrollment_id", "id", "node_id", "at", "version_id"),
        Index(
            "ix_transition_journey_stage_run",
            "journey_id",
            "first_in_stage",
            "enrollment_id",
            "stage_id",
            "at",
            "version_id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollment.id", ondelete="CASCADE")
    journey_id: int
    version_id: int
    node_id: str = Field(max_length=120)
    stage_id: str = Field(max_length=120)
    first_in_stage: bool = False
    arm: str | None = Field(default=None, max_length=120)
    at: datetime = Field(sa_type=UtcDateTime)
