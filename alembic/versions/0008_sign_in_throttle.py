"""sign-in throttle per client, session cookies handed over by the backend

Revision ID: 0008_sign_in_throttle
Revises: 0007_run_failure
Create Date: 2026-12-06 21:30:00.000000

Failed sign-ins are counted per client address (and per client and email) in their own table
instead of on the account, so nobody can lock another person's account from their own machine.
The account's failure count and lock-out go: a lock held on an account when upgrading is dropped
(the throttle starts empty). A session gets a one-time hand-over code, which the browser trades for
the HttpOnly session cookie at the backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_sign_in_throttle"
down_revision: str | None = "0007_run_failure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("email_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sign_in_attempt_client_at", "sign_in_attempt", ["client", "at"], unique=False)
    op.create_index("ix_sign_in_attempt_email_client", "sign_in_attempt", ["email_hash", "client"], unique=False)
    op.create_index("ix_sign_in_attempt_at", "sign_in_attempt", ["at"], unique=False)

    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handoff_hash", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.add_column(sa.Column("handoff_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_user_session_handoff_hash"), ["handoff_hash"], unique=False)

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_sign_ins")


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_sign_ins", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_handoff_hash"))
        batch_op.drop_column("handoff_until")
        batch_op.drop_column("handoff_hash")

    op.drop_index("ix_sign_in_attempt_at", table_name="sign_in_attempt")
    op.drop_index("ix_sign_in_attempt_email_client", table_name="sign_in_attempt")
    op.drop_index("ix_sign_in_attempt_client_at", table_name="sign_in_attempt")
    op.drop_table("sign_in_attempt")
