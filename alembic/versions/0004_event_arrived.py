"""enrollment.event_arrived_at: an awaited event that came while the journey was paused

Revision ID: 0004_event_arrived
Revises: 0003_metrics_indexes
Create Date: 2026-11-23 06:20:00.000000

A paused journey holds its customers where they are; an event one of them waits for is recorded
here instead of being dropped, so after resuming the run takes the event's path, not the timeout's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004_event_arrived"
down_revision: str | None = "0003_metrics_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.add_column(sa.Column("event_arrived_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("event_arrived_at")
