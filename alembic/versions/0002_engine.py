"""engine tables

Revision ID: 0002_engine
Revises: 0001_journeys
Create Date: 2026-11-23 00:15:44.137958
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002_engine'
down_revision: str | None = '0001_journeys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('journey_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_journey_at', ['journey_id', 'at'], unique=False)

    op.create_table('profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('traits', sa.JSON(), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('consent', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('profile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_user_id'), ['user_id'], unique=True)

    op.create_table('write_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['profile.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_name'), ['name'], unique=False)
        batch_op.create_index('ix_event_profile_time', ['profile_id', 'occurred_at'], unique=False)

    op.create_table('profile_alias',
    sa.Column('anonymous_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['profile_id'], ['profile.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('anonymous_id')
    )
    with op.batch_alter_table('profile_alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_alias_profile_id'), ['profile_id'], unique=False)

    op.create_table('enrollment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('journey_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('waiting', 'ended', name='enrollmentstatus', native_enum=False, length=32), nullable=False),
    sa.Column('step_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('wait_event', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('correlation', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('resume_mode', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('goal_reached_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['journey_id'], ['journey.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['profile_id'], ['profile.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['journey_version.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.create_index('ix_enrollment_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_enrollment_journey_status', ['journey_id', 'status', 'step_id'], unique=False)
        batch_op.create_index('ix_enrollment_profile_wait', ['profile_id', 'wait_event'], unique=False)

    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=True),
    sa.Column('journey_id', sa.Integer(), nullable=True),
    sa.Column('profile_id', sa.Integer(), nullable=True),
    sa.Column('node_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('fallback_channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('is_test', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'delivered', 'failed', 'suppressed', 'skipped', name='messagestatus', native_enum=False, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('provider_message_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['journey_id'], ['journey.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['profile_id'], ['profile.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_outbox_journey_node', ['journey_id', 'node_id', 'status'], unique=False)
        batch_op.create_index('ix_outbox_profile_channel', ['profile_id', 'channel', 'created_at'], unique=False)

    op.create_table('transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('journey_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('stage_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('first_in_stage', sa.Boolean(), nullable=False),
    sa.Column('arm', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('transition', schema=None) as batch_op:
        batch_op.create_index('ix_transition_enrollment', ['enrollment_id'], unique=False)
        batch_op.create_index('ix_transition_journey_node', ['journey_id', 'node_id'], unique=False)
        batch_op.create_index('ix_transition_journey_stage', ['journey_id', 'first_in_stage', 'stage_id', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('transition', schema=None) as batch_op:
        batch_op.drop_index('ix_transition_journey_stage')
        batch_op.drop_index('ix_transition_journey_node')
        batch_op.drop_index('ix_transition_enrollment')

    op.drop_table('transition')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_profile_channel')
        batch_op.drop_index('ix_outbox_journey_node')
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox_message')
    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.drop_index('ix_enrollment_profile_wait')
        batch_op.drop_index('ix_enrollment_journey_status')
        batch_op.drop_index('ix_enrollment_due')

    op.drop_table('enrollment')
    with op.batch_alter_table('profile_alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_alias_profile_id'))

    op.drop_table('profile_alias')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_profile_time')
        batch_op.drop_index(batch_op.f('ix_event_name'))

    op.drop_table('event')
    op.drop_table('write_key')
    with op.batch_alter_table('profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_user_id'))

    op.drop_table('profile')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_journey_at')

    op.drop_table('audit_entry')
    op.drop_table('api_token')
