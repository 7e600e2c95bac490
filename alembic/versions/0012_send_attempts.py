"""each send is fenced and recorded

Revision ID: 0012_send_attempts
Revises: 0011_event_consumption
Create Date: 2027-01-12 12:00:00.000000

Outbox messages get a fencing token (``lease_owner``, ``lease_version``) and an ``in_doubt`` flag; every
hand-over of a message to its provider becomes a ``send_attempt`` row. Messages stored before this revision
have never been claimed with a token (version 0) and are not in doubt; they have no attempt rows, though
their ``attempts`` count says how often they were tried.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0012_send_attempts"
down_revision: str | None = "0011_event_consumption"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox_message", sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
    )
    op.add_column("outbox_message", sa.Column("lease_version", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("outbox_message", sa.Column("in_doubt", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.alter_column("lease_version", server_default=None)
        batch_op.alter_column("in_doubt", server_default=None)
        batch_op.create_index("ix_outbox_channel_due", ["channel", "status", "next_attempt_at"], unique=False)
    op.create_table(
        "send_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("lease_version", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("provider_message_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["outbox_message.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("send_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_send_attempt_message", ["message_id", "attempt"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("send_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_send_attempt_message")
    op.drop_table("send_attempt")
    # Messages held in doubt or caught mid-send go back to pending: the older code knows neither state, and
    # its lease (next_attempt_at) still tells it when to try them.
    op.execute(
        "UPDATE outbox_message SET status = 'pending', next_attempt_at = COALESCE(next_attempt_at, CURRENT_TIMESTAMP)"
        " WHERE status IN ('sending', 'in_doubt')"
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_channel_due")
        batch_op.drop_column("in_doubt")
        batch_op.drop_column("lease_version")
        batch_op.drop_column("lease_owner")
