"""grouping and correlation rules (issue 10)

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-02 17:00:00.000000

grouping_rules (per service, or global with service_id NULL: content keys, an optional window,
matchers, dependency-aware); incidents.grouping_key, the group key of the alerts that opened
an incident ('' for every existing one: they were grouped by service and window alone).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import warroom.db.base

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('grouping_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('keys', JSON, nullable=False),
    sa.Column('matchers', JSON, nullable=False),
    sa.Column('window_seconds', sa.Integer(), nullable=True),
    sa.Column('dependency_aware', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', warroom.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', warroom.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_grouping_rules_service_id_services'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_grouping_rules_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grouping_rules'))
    )
    op.create_index('ix_grouping_rules_service', 'grouping_rules', ['service_id', 'position'], unique=False)
    op.add_column('incidents', sa.Column('grouping_key', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('grouping_key')
    op.drop_index('ix_grouping_rules_service', table_name='grouping_rules')
    op.drop_table('grouping_rules')
