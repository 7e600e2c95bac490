"""journeys can be archived

Revision ID: 0010_journey_archive
Revises: 0009_goal_transitions
Create Date: 2027-01-11 12:00:00.000000

An archived journey leaves the journeys list and the dashboard but keeps its versions, runs and audit
trail; ``archived_at`` says since when and ``archived_by`` who archived it. Journeys stored before this
revision are not archived.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_journey_archive"
down_revision: str | None = "0009_goal_transitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("journey", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("journey", sa.Column("archived_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("journey", schema=None) as batch_op:
        batch_op.drop_column("archived_by")
        batch_op.drop_column("archived_at")
