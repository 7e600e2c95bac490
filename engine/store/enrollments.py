"""Customers inside journeys: one row per run, and one row per step they entered.

A waiting customer is a row with ``due_at`` (and, when waiting for an event, its name and the
correlation value), never a timer in memory.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from engine.store.db import UtcDateTime, enum_type, utc_now


class EnrollmentStatus(StrEnum):
    WAITING = "waiting"
    ENDED = "ended"


class Enrollment(SQLModel, table=True):
    __tablename__ = "enrollment"
    __table_args__ = (
        Index("ix_enrollment_due", "status", "due_at"),
        # A customer's runs, waiting ones first: what reacting to a batch of events reads, bounded by the batch's
        # customers however many others are waiting.
        Index("ix_enrollment_profile", "profile_id", "status", "journey_id"),
        Index("ix_enrollment_journey_status", "journey_id", "status", "step_id"),
        # Runs by when they entered, with whether they reached the goal: the dashboard's daily trend.
        Index("ix_enrollment_journey_entered", "journey_id", "entered_at", "goal_reached_at"),
        # What became of the runs: the stage each is in (or left the journey from), when it came and
        # how it ended, read whole off the index by the goal and stage KPIs.
        Index(
            "ix_enrollment_journey_stage",
            "journey_id",
            "stage_id",
            "version_id",
            "stage_entered_at",
            "entered_at",
            "ended_at",
            "goal_reached_at",
        ),
        # Failed runs, newest first, for launch control: few, so a partial index keeps them at hand.
        Index(
            "ix_enrollment_failed",
            "journey_id",
            "ended_at",
            sqlite_where=text("end_reason = 'failed'"),
            postgresql_where=text("end_reason = 'failed'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    journey_id: int = Field(foreign_key="journey.id", ondelete="CASCADE")
    version_id: int = Field(foreign_key="journey_version.id")
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    status: EnrollmentStatus = Field(default=EnrollmentStatus.WAITING, sa_type=enum_type(EnrollmentStatus))
    step_id: str | None = Field(default=None, max_length=120)
    # When the run entered the step it waits at, and the stage it is in and when it entered it: what
    # its next transition records as where it came from. The stage stays when the run ends.
    step_entered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    stage_id: str | None = Field(default=None, max_length=120)
    stage_entered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
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
    # Why the engine could not carry the run on (end reason "failed"): shown on launch control and in
    # the customer's timeline, so one customer's bad data is seen rather than stopping everyone else.
    failure: str | None = Field(default=None, sa_type=Text)
    goal_reached_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Transition(SQLModel, table=True):
    """A customer entering a node; the first entry into a stage is flagged for the stage metrics.

    ``from_node_id`` and ``from_at`` record the step the customer came from and when it had entered
    that step (both None on the journey's entry): a move between two steps is then one row, which the
    edge shares count without putting each run's steps back in order. A stage entry likewise records
    the stage left, when it had been entered and how long ago that was (``from_stage_id``,
    ``from_stage_at``, ``from_stage_seconds``), so a move between stages, and the time it took, is
    one row too.
    """

    __tablename__ = "transition"
    __table_args__ = (
        Index("ix_transition_enrollment", "enrollment_id"),
        Index("ix_transition_journey_node_at", "journey_id", "node_id", "at", "version_id", "enrollment_id"),
        Index(
            "ix_transition_journey_move",
            "journey_id",
            "node_id",
            "from_node_id",
            "from_at",
            "at",
            "version_id",
            "enrollment_id",
        ),
        # Stage entries only (a partial index: most transitions stay in their stage, and are not written
        # to it): entries into a stage, and moves between two stages, are ranges of it.
        Index(
            "ix_transition_stage_move",
            "journey_id",
            "stage_id",
            "from_stage_id",
            "at",
            "from_stage_at",
            "from_stage_seconds",
            "version_id",
            "enrollment_id",
            sqlite_where=text("first_in_stage = 1"),
            postgresql_where=text("first_in_stage"),
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
    from_node_id: str | None = Field(default=None, max_length=120)
    from_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    from_stage_id: str | None = Field(default=None, max_length=120)
    from_stage_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # How long the visit to the stage left lasted: the stage velocity, kept as a number so that
    # percentiles compare numbers rather than work out each row's difference of two times.
    from_stage_seconds: float | None = None
