"""pending_event: the events the engine has yet to react to; runs found by customer

Revision ID: 0011_event_consumption
Revises: 0010_journey_archive
Create Date: 2027-01-20 12:00:00.000000

The intake now only stores events; the engine reacts to them afterwards, in order, taking each from
``pending_event`` in the transaction that reacts to it. Events stored before this revision were reacted to
when they were received, so none is pending. The runs of a batch's customers are found by
``ix_enrollment_profile`` (customer, status, journey), which replaces ``ix_enrollment_profile_wait``: the
planners did not use that one, and read every waiting run instead. Downgrading drops the events still
pending: stop the intake and let the engine catch up first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011_event_consumption"
down_revision: str | None = "0010_journey_archive"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_event",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("traits_before", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["profile_id"], ["profile.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_pending_event_profile", "pending_event", ["profile_id", "event_id"], unique=False)
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_index("ix_enrollment_profile_wait")
        batch.create_index("ix_enrollment_profile", ["profile_id", "status", "journey_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_index("ix_enrollment_profile")
        batch.create_index("ix_enrollment_profile_wait", ["profile_id", "wait_event"], unique=False)
    op.drop_index("ix_pending_event_profile", table_name="pending_event")
    op.drop_table("pending_event")
