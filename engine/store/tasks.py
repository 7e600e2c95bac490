"""Human tasks: a step of a journey a person takes, with the customer's run waiting on its outcome.

A task is opened by the walk that reaches a human-task card, in the same transaction as the run's wait; the
run's ``due_at`` is the task's, so the engine's due-time scan (the tick) finds overdue tasks like any other
wait. A recorded outcome sets the run due at once; the tick then walks it on the outcome's path. A task the
tick sent down the overdue path stays open for a person to record what happened (``overdue_at``), which no
longer moves the run. A task whose run ends some other way while waiting on it (the goal, an exit criterion, a
stop, a failure) is closed as no longer needed (``cancelled``): ``completed_at`` says when, ``note`` says why.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from engine.store.db import UtcDateTime, enum_type, utc_now

NOTE_LENGTH: Final = 5_000
OUTCOME_LENGTH: Final = 200


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    # Closed without an outcome: the run waiting on it ended otherwise, so nobody need act on it.
    CANCELLED = "cancelled"


class HumanTask(SQLModel, table=True):
    __tablename__ = "human_task"
    __table_args__ = (
        # The queue: open tasks of a team, soonest due first.
        Index("ix_human_task_queue", "status", "team", "due_at"),
        Index("ix_human_task_assignee", "assignee_id", "status", "due_at"),
        # The task a run waits on, found by the tick for the runs it claims.
        Index("ix_human_task_enrollment", "enrollment_id", "node_id"),
        # The card's figures on the map.
        Index("ix_human_task_journey_node", "journey_id", "node_id", "created_at"),
        Index("ix_human_task_profile", "profile_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    journey_id: int = Field(foreign_key="journey.id", ondelete="CASCADE")
    version_id: int
    enrollment_id: int = Field(foreign_key="enrollment.id", ondelete="CASCADE")
    profile_id: int = Field(foreign_key="profile.id", ondelete="CASCADE")
    node_id: str = Field(max_length=120)
    title: str = Field(default="", max_length=200)
    team: str = Field(default="", max_length=200)
    channel: str | None = Field(default=None, max_length=16)
    # Rendered for this customer when the task opened (Liquid, like a message).
    instructions: str = Field(default="", sa_type=Text)
    outcomes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: TaskStatus = Field(default=TaskStatus.OPEN, sa_type=enum_type(TaskStatus))
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    due_at: datetime = Field(sa_type=UtcDateTime)
    assignee_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    claimed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # When the tick sent the run down the overdue path; the task stays open for what the person did.
    overdue_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # When a person recorded the outcome, or when the task was closed as no longer needed.
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    completed_by: str | None = Field(default=None, max_length=254)
    outcome: str | None = Field(default=None, max_length=OUTCOME_LENGTH)
    note: str = Field(default="", sa_type=Text)
    # When the tick walked the run on from the recorded outcome.
    applied_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
