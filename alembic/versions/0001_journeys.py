"""journeys and published versions

Revision ID: 0001_journeys
Revises:
Create Date: 2026-11-23 00:15:35.260501
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0001_journeys"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        # Plain text, no native enum and no CHECK: a new status then needs no type or constraint migration.
        sa.Column(
            "status",
            sa.Enum("draft", "live", "paused", "draining", "stopped", name="journeystatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("draft_map", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("journey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journey_name"), ["name"], unique=False)

    op.create_table(
        "journey_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("map", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(["journey_id"], ["journey.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("journey_id", "number", name="uq_journey_version_number"),
    )
    with op.batch_alter_table("journey_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journey_version_journey_id"), ["journey_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("journey_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journey_version_journey_id"))
    op.drop_table("journey_version")

    with op.batch_alter_table("journey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journey_name"))
    op.drop_table("journey")
