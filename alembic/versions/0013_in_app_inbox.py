"""in-app messages reach an inbox per customer

Revision ID: 0013_in_app_inbox
Revises: 0012_send_attempts
Create Date: 2027-01-26 12:00:00.000000

The in-app channel delivers into ``in_app_message`` (one row per outbox message, with what the customer did with
it), and customers' tokens are signed with the secret in ``in_app_secret``. Outbox messages get the label of an
in-app message's button; those stored before this revision have none (an in-app message with a URL then shows the
default label). Downgrading drops the inboxes, what customers did with their messages and the secret: the events
those actions were stored as stay.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0013_in_app_inbox"
down_revision: str | None = "0012_send_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox_message", sa.Column("button", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.alter_column("button", server_default=None)
    op.create_table(
        "in_app_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("journey_id", sa.Integer(), nullable=True),
        sa.Column("node_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("button_label", sa.Text(), nullable=False),
        sa.Column("button_url", sa.Text(), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox_message.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["profile_id"], ["profile.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["journey_id"], ["journey.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outbox_id"),
    )
    with op.batch_alter_table("in_app_message", schema=None) as batch_op:
        batch_op.create_index("ix_in_app_message_user", ["user_id", "dismissed_at", "expires_at"], unique=False)
        batch_op.create_index("ix_in_app_message_journey_node", ["journey_id", "node_id", "created_at"], unique=False)
    op.create_table(
        "in_app_secret",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("in_app_secret")
    with op.batch_alter_table("in_app_message", schema=None) as batch_op:
        batch_op.drop_index("ix_in_app_message_journey_node")
        batch_op.drop_index("ix_in_app_message_user")
    op.drop_table("in_app_message")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("button")
