"""enrollment.failure: why the engine could not carry a run on

Revision ID: 0007_run_failure
Revises: 0006_transition_source
Create Date: 2026-12-08 12:00:00.000000

A run whose step cannot be carried out for this customer (a message that cannot be rendered from
their data, a wait that would end after the year 9999, a value the database refuses, any error while
walking it) now ends with the end reason "failed" and the reason here, instead of failing the tick
or the intake request it was part of. Runs recorded before this revision have none. Failed runs get
a partial index, which launch control reads for their count and the latest of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007_run_failure"
down_revision: str | None = "0006_transition_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.add_column(sa.Column("failure", sa.Text(), nullable=True))
    failed = sa.text("end_reason = 'failed'")
    op.create_index(
        "ix_enrollment_failed",
        "enrollment",
        ["journey_id", "ended_at"],
        unique=False,
        sqlite_where=failed,
        postgresql_where=failed,
    )


def downgrade() -> None:
    op.drop_index("ix_enrollment_failed", table_name="enrollment")
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("failure")
