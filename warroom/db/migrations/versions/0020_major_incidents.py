"""major incidents: the installation's rules and the mark on incidents (issue 10)

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-02 17:00:00.000000

major_incident_settings: one row (id 1) with when to propose a major incident (a tier-1 service
affected, priority P1, more than N alerts within W minutes) and the escalation policy paged when
a commander accepts. incidents.major: the incident was accepted as a major one. Proposals and
decisions are derived and recorded on the timeline (major_accepted, major_rejected).
"""

import sqlalchemy as sa
from alembic import op

import warroom.db.base

revision = '0020'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'major_incident_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('on_tier_one', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('on_priority_one', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('alert_burst', sa.Integer(), nullable=True),
        sa.Column('burst_minutes', sa.Integer(), nullable=False),
        sa.Column('escalation_policy_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', warroom.db.base.UTCDateTime(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_major_incident_settings_single_row')),
        sa.CheckConstraint(
            'alert_burst IS NULL OR alert_burst >= 1',
            name=op.f('ck_major_incident_settings_alert_burst'),
        ),
        sa.CheckConstraint(
            'burst_minutes BETWEEN 1 AND 1440',
            name=op.f('ck_major_incident_settings_burst_minutes'),
        ),
        sa.ForeignKeyConstraint(
            ['escalation_policy_id'],
            ['escalation_policies.id'],
            name=op.f('fk_major_incident_settings_escalation_policy_id_escalation_policies'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_major_incident_settings')),
    )
    op.add_column(
        'incidents', sa.Column('major', sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table('incidents') as batch:
        batch.drop_column('major')
    op.drop_table('major_incident_settings')
