"""inhibition rules and flap detection (issue 10)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 08:00:00.000000

inhibit_rules (Alertmanager's: source and target matchers, equal labels); alerts.inhibits (a
possible source, with the partial index the batch reads sources along) and alerts.flap (the
key's recent state changes when the alert opened); alert_flaps (recent changes of keys whose
alert resolved); services.flap_threshold / flap_window_minutes (NULL: the global default).
Columns are added without rewriting the alerts table.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import warroom.db.base

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
INHIBITING = sa.text("inhibits AND status <> 'resolved'")


def upgrade() -> None:
    op.create_table('inhibit_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('source_matchers', JSON, nullable=False),
    sa.Column('target_matchers', JSON, nullable=False),
    sa.Column('equal', JSON, nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', warroom.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_inhibit_rules_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inhibit_rules'))
    )
    op.create_table('alert_flaps',
    sa.Column('integration_id', sa.Integer(), nullable=False),
    sa.Column('dedup_key', sa.String(length=255), nullable=False),
    sa.Column('state', JSON, nullable=False),
    sa.Column('expires_at', warroom.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_alert_flaps_integration_id_integrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('integration_id', 'dedup_key', name=op.f('pk_alert_flaps'))
    )
    op.create_index('ix_alert_flaps_expires_at', 'alert_flaps', ['expires_at'], unique=False)
    op.add_column('alerts', sa.Column('inhibits', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('alerts', sa.Column('flap', JSON, nullable=True))
    op.create_index('ix_alerts_inhibiting', 'alerts', ['id'], unique=False, sqlite_where=INHIBITING, postgresql_where=INHIBITING)
    op.add_column('services', sa.Column('flap_threshold', sa.Integer(), nullable=True))
    op.add_column('services', sa.Column('flap_window_minutes', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('flap_window_minutes')
        batch_op.drop_column('flap_threshold')
    op.drop_index('ix_alerts_inhibiting', table_name='alerts', sqlite_where=INHIBITING, postgresql_where=INHIBITING)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('flap')
        batch_op.drop_column('inhibits')
    op.drop_index('ix_alert_flaps_expires_at', table_name='alert_flaps')
    op.drop_table('alert_flaps')
    op.drop_table('inhibit_rules')
