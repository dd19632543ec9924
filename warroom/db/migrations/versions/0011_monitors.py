"""Warroom's own monitors: heartbeats and their pings, HTTP/TCP checks and their results (issue 11)

Revision ID: 0011
Revises: 0012
Create Date: 2026-12-02 02:15:00.000000

- integrations.type gains 'monitor' (the one integration per service that heartbeats, checks
  and log rules send their signals under) and 'email' (inbound mail to <key>@...).
- heartbeats (ping key, period or cron + zone, grace, status, alert_after: the indexed instant
  silence turns one down) and heartbeat_pings (the newest 100 per heartbeat, bodies cut).
- checks (HTTP/TCP target, expectations, interval, N-of-M confirmation, next_run_at and a
  claim for several engines) and check_results.
- log_rules: conditions, threshold, window and group_by over syslog and JSON log lines.
- user_reports: what people report per service, and the incident each attached to or raised.
"""

import sqlalchemy as sa
from alembic import op

from warroom.db.base import JSONType, UTCDateTime

revision = '0011'
down_revision = '0012'
branch_labels = None
depends_on = None

BEFORE = ('pagerduty', 'alertmanager', 'generic')
WITH_MONITOR = ('pagerduty', 'alertmanager', 'generic', 'monitor', 'email')


def upgrade() -> None:
    with op.batch_alter_table('integrations') as batch_op:
        batch_op.drop_constraint(op.f('ck_integrations_type'), type_='check')
        batch_op.create_check_constraint('type', f"type IN {WITH_MONITOR!r}")
    op.create_table('checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('integration_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('target', sa.String(length=2048), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('expected_status', sa.String(length=32), nullable=False),
    sa.Column('body_contains', sa.Text(), nullable=False),
    sa.Column('body_regex', sa.Text(), nullable=False),
    sa.Column('max_response_ms', sa.Integer(), nullable=True),
    sa.Column('cert_expiry_days', sa.Integer(), nullable=True),
    sa.Column('timeout_seconds', sa.Float(), nullable=False),
    sa.Column('interval_seconds', sa.Integer(), nullable=False),
    sa.Column('confirm_failures', sa.Integer(), nullable=False),
    sa.Column('confirm_window', sa.Integer(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('recent', JSONType, nullable=False),
    sa.Column('next_run_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_result', JSONType, nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('http', 'tcp')", name=op.f('ck_checks_kind')),
    sa.CheckConstraint("status IN ('unknown', 'up', 'down')", name=op.f('ck_checks_status')),
    sa.CheckConstraint('confirm_failures BETWEEN 1 AND confirm_window', name=op.f('ck_checks_confirmation')),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_checks_integration_id_integrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_checks_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checks'))
    )
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.create_index('ix_checks_due', ['enabled', 'next_run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_checks_service_id'), ['service_id'], unique=False)

    op.create_table('heartbeats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('integration_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('ping_key', sa.String(length=64), nullable=False),
    sa.Column('period_seconds', sa.Integer(), nullable=True),
    sa.Column('cron', sa.String(length=120), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('grace_seconds', sa.Integer(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('last_ping_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_ping_kind', sa.String(length=8), nullable=True),
    sa.Column('started_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_duration_seconds', sa.Float(), nullable=True),
    sa.Column('alert_after', UTCDateTime(timezone=True), nullable=True),
    sa.Column('pings', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('new', 'up', 'down')", name=op.f('ck_heartbeats_status')),
    sa.CheckConstraint('(period_seconds IS NULL) <> (cron IS NULL)', name=op.f('ck_heartbeats_one_schedule')),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_heartbeats_integration_id_integrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_heartbeats_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeats')),
    sa.UniqueConstraint('ping_key', name=op.f('uq_heartbeats_ping_key'))
    )
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeats_alert_after', ['alert_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_heartbeats_service_id'), ['service_id'], unique=False)

    op.create_table('check_results',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['check_id'], ['checks.id'], name=op.f('fk_check_results_check_id_checks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_results'))
    )
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.create_index('ix_check_results_check_id', ['check_id', 'id'], unique=False)

    op.create_table('heartbeat_pings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('heartbeat_id', sa.Integer(), nullable=False),
    sa.Column('at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('exit_status', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_truncated', sa.Boolean(), nullable=False),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.CheckConstraint("kind IN ('success', 'start', 'fail')", name=op.f('ck_heartbeat_pings_kind')),
    sa.ForeignKeyConstraint(['heartbeat_id'], ['heartbeats.id'], name=op.f('fk_heartbeat_pings_heartbeat_id_heartbeats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeat_pings'))
    )
    with op.batch_alter_table('heartbeat_pings', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeat_pings_heartbeat_id', ['heartbeat_id', 'id'], unique=False)


    op.create_table('log_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('integration_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('conditions', JSONType, nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('window_seconds', sa.Integer(), nullable=False),
    sa.Column('group_by', sa.String(length=64), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('threshold >= 1', name=op.f('ck_log_rules_threshold')),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_log_rules_integration_id_integrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_log_rules_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_rules'))
    )
    with op.batch_alter_table('log_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_rules_service_id'), ['service_id'], unique=False)


    op.create_table('user_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('form', 'api', 'public')", name=op.f('ck_user_reports_source')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_user_reports_incident_id_incidents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_user_reports_reporter_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_user_reports_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_reports'))
    )
    with op.batch_alter_table('user_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_reports_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_user_reports_service_created', ['service_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_table('user_reports')
    op.drop_table('log_rules')
    with op.batch_alter_table('heartbeat_pings', schema=None) as batch_op:
        batch_op.drop_index('ix_heartbeat_pings_heartbeat_id')

    op.drop_table('heartbeat_pings')
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.drop_index('ix_check_results_check_id')

    op.drop_table('check_results')
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_heartbeats_service_id'))
        batch_op.drop_index('ix_heartbeats_alert_after')

    op.drop_table('heartbeats')
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checks_service_id'))
        batch_op.drop_index('ix_checks_due')

    op.drop_table('checks')
    op.execute("DELETE FROM integrations WHERE type IN ('monitor', 'email')")
    with op.batch_alter_table('integrations') as batch_op:
        batch_op.drop_constraint(op.f('ck_integrations_type'), type_='check')
        batch_op.create_check_constraint('type', f"type IN {BEFORE!r}")

