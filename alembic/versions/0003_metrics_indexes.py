"""indexes for the KPI queries

Revision ID: 0003_metrics_indexes
Revises: 0002_engine
Create Date: 2026-11-23 01:06:00.000000

The KPI overlay reads every transition of a journey. These indexes hold the columns its queries
need in the order they group them, so each query reads one index instead of the table:
per node (entries, customers), per run in the order steps happened (stage firsts, edge shares);
and a customer's delivered messages by run, for the channel that reached them before the goal.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_metrics_indexes"
down_revision: str | None = "0002_engine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_transition_journey_node_run", "transition", ["journey_id", "node_id", "enrollment_id", "at"], unique=False
    )
    op.create_index(
        "ix_transition_journey_run",
        "transition",
        ["journey_id", "enrollment_id", "id", "node_id", "stage_id", "first_in_stage", "at"],
        unique=False,
    )
    op.create_index(
        "ix_outbox_enrollment_delivered", "outbox_message", ["enrollment_id", "status", "delivered_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_enrollment_delivered", table_name="outbox_message")
    op.drop_index("ix_transition_journey_run", table_name="transition")
    op.drop_index("ix_transition_journey_node_run", table_name="transition")
