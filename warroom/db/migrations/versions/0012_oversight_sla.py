"""oversight: settings per installation and team, outbox context, person-activity index (issue 13)

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-02 02:00:00.000000

oversight_settings: the escalation policy paged at an SLA breach and the stale time per
priority, one row for the installation (team_id NULL) and one per team that differs.
notifications.context: what an oversight message was decided on (priority, clock, share, or
the idle time of a nudge), for the last check before sending. ix_timeline_incident_actor: the
last event by a person per incident, the activity that keeps an incident fresh.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import warroom.db.base

revision = '0012'
down_revision = '0007'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'oversight_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('escalation_policy_id', sa.Integer(), nullable=True),
        sa.Column('stale_minutes', JSON, nullable=True),
        sa.Column('updated_at', warroom.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['team_id'],
            ['teams.id'],
            name=op.f('fk_oversight_settings_team_id_teams'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['escalation_policy_id'],
            ['escalation_policies.id'],
            name=op.f('fk_oversight_settings_escalation_policy_id_escalation_policies'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oversight_settings')),
    )
    op.create_index(
        'uq_oversight_settings_scope',
        'oversight_settings',
        [sa.text('coalesce(team_id, 0)')],
        unique=True,
    )
    op.add_column('notifications', sa.Column('context', JSON, nullable=True))
    op.create_index(
        'ix_timeline_incident_actor', 'timeline_events', ['incident_id', 'actor_type', 'at']
    )


def downgrade() -> None:
    op.drop_index('ix_timeline_incident_actor', table_name='timeline_events')
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('context')
    op.drop_index('uq_oversight_settings_scope', table_name='oversight_settings')
    op.drop_table('oversight_settings')
