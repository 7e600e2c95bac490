"""transitions record where the customer came from

Revision ID: 0006_transition_source
Revises: 0005_accounts
Create Date: 2026-12-06 12:00:00.000000

Each transition now names the step the customer came from and when it had entered that step, and
a stage entry names the stage left, when it had been entered and how long ago that was. A move
between two steps, or two stages, is then one row: the KPIs count moves and time them off an index
instead of putting every run's steps back in order. A run keeps the step and stage it is at and
when it entered them (the stage stays once it ends: the one it left the journey from), so its next
transition records them without reading its history. Rows recorded before this revision are filled
in from the previous transition of their run. The indexes follow what the KPI queries now read;
the run-order and stage-by-run indexes are no longer read. Runs get an index by when they entered,
for the dashboard's daily trends.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_transition_source"
down_revision: str | None = "0005_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Valid on PostgreSQL and on SQLite 3.33+ (UPDATE ... FROM, window functions).
STEP_SOURCES = """
UPDATE transition
SET from_node_id = previous.node_id, from_at = previous.at
FROM (
    SELECT id,
           lag(node_id) OVER (PARTITION BY enrollment_id ORDER BY id) AS node_id,
           lag(at) OVER (PARTITION BY enrollment_id ORDER BY id) AS at
    FROM transition
) AS previous
WHERE previous.id = transition.id AND previous.node_id IS NOT NULL
"""
STAGE_SOURCES = """
UPDATE transition
SET from_stage_id = previous.stage_id, from_stage_at = previous.at
FROM (
    SELECT id,
           lag(stage_id) OVER (PARTITION BY enrollment_id ORDER BY id) AS stage_id,
           lag(at) OVER (PARTITION BY enrollment_id ORDER BY id) AS at
    FROM transition
    WHERE first_in_stage = {true}
) AS previous
WHERE previous.id = transition.id AND previous.stage_id IS NOT NULL
"""
STAGE_SECONDS = {
    "postgresql": "UPDATE transition SET from_stage_seconds = date_part('epoch', at - from_stage_at)"
    " WHERE from_stage_at IS NOT NULL",
    # SQLite keeps timestamps as ISO text; julianday() reads them to well under a millisecond.
    "sqlite": "UPDATE transition SET from_stage_seconds = (julianday(at) - julianday(from_stage_at)) * 86400.0"
    " WHERE from_stage_at IS NOT NULL",
}
# A run's latest transition is the step it waits at; its latest stage entry, the stage it is in.
WHERE_RUNS_ARE = """
UPDATE enrollment
SET step_entered_at = CASE WHEN status = 'waiting' THEN (
        SELECT transition.at FROM transition WHERE transition.enrollment_id = enrollment.id
        ORDER BY transition.id DESC LIMIT 1
    ) END,
    stage_id = (
        SELECT transition.stage_id FROM transition
        WHERE transition.enrollment_id = enrollment.id AND transition.first_in_stage = {true}
        ORDER BY transition.id DESC LIMIT 1
    ),
    stage_entered_at = (
        SELECT transition.at FROM transition
        WHERE transition.enrollment_id = enrollment.id AND transition.first_in_stage = {true}
        ORDER BY transition.id DESC LIMIT 1
    )
"""


def _true() -> str:
    return "true" if op.get_bind().dialect.name == "postgresql" else "1"


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString(length=120)
    moment = sa.DateTime(timezone=True)
    op.add_column("transition", sa.Column("from_node_id", text, nullable=True))
    op.add_column("transition", sa.Column("from_at", moment, nullable=True))
    op.add_column("transition", sa.Column("from_stage_id", text, nullable=True))
    op.add_column("transition", sa.Column("from_stage_at", moment, nullable=True))
    op.add_column("transition", sa.Column("from_stage_seconds", sa.Float(), nullable=True))
    op.add_column("enrollment", sa.Column("step_entered_at", moment, nullable=True))
    op.add_column("enrollment", sa.Column("stage_id", text, nullable=True))
    op.add_column("enrollment", sa.Column("stage_entered_at", moment, nullable=True))
    op.execute(STEP_SOURCES)
    op.execute(STAGE_SOURCES.format(true=_true()))
    op.execute(STAGE_SECONDS[op.get_bind().dialect.name])
    op.execute(WHERE_RUNS_ARE.format(true=_true()))
    op.drop_index("ix_transition_journey_run", table_name="transition")
    op.drop_index("ix_transition_journey_stage_run", table_name="transition")
    op.drop_index("ix_transition_journey_node", table_name="transition")
    op.drop_index("ix_transition_journey_stage", table_name="transition")
    op.create_index(
        "ix_transition_journey_node_at",
        "transition",
        ["journey_id", "node_id", "at", "version_id", "enrollment_id"],
        unique=False,
    )
    op.create_index(
        "ix_transition_journey_move",
        "transition",
        ["journey_id", "node_id", "from_node_id", "from_at", "at", "version_id", "enrollment_id"],
        unique=False,
    )
    op.create_index(
        "ix_transition_stage_move",
        "transition",
        [
            "journey_id",
            "stage_id",
            "from_stage_id",
            "at",
            "from_stage_at",
            "from_stage_seconds",
            "version_id",
            "enrollment_id",
        ],
        unique=False,
        sqlite_where=sa.text("first_in_stage = 1"),
        postgresql_where=sa.text("first_in_stage"),
    )
    op.create_index(
        "ix_enrollment_journey_stage",
        "enrollment",
        ["journey_id", "stage_id", "version_id", "stage_entered_at", "entered_at", "ended_at", "goal_reached_at"],
        unique=False,
    )
    op.create_index(
        "ix_enrollment_journey_entered", "enrollment", ["journey_id", "entered_at", "goal_reached_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_enrollment_journey_entered", table_name="enrollment")
    op.drop_index("ix_enrollment_journey_stage", table_name="enrollment")
    op.drop_index("ix_transition_stage_move", table_name="transition")
    op.drop_index("ix_transition_journey_move", table_name="transition")
    op.drop_index("ix_transition_journey_node_at", table_name="transition")
    op.create_index(
        "ix_transition_journey_stage", "transition", ["journey_id", "first_in_stage", "stage_id", "at"], unique=False
    )
    op.create_index("ix_transition_journey_node", "transition", ["journey_id", "node_id"], unique=False)
    op.create_index(
        "ix_transition_journey_stage_run",
        "transition",
        ["journey_id", "first_in_stage", "enrollment_id", "stage_id", "at", "version_id"],
        unique=False,
    )
    op.create_index(
        "ix_transition_journey_run",
        "transition",
        ["journey_id", "enrollment_id", "id", "node_id", "at", "version_id"],
        unique=False,
    )
    with op.batch_alter_table("transition", schema=None) as batch_op:
        batch_op.drop_column("from_stage_seconds")
        batch_op.drop_column("from_stage_at")
        batch_op.drop_column("from_stage_id")
        batch_op.drop_column("from_at")
        batch_op.drop_column("from_node_id")
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_column("stage_entered_at")
        batch_op.drop_column("stage_id")
        batch_op.drop_column("step_entered_at")
