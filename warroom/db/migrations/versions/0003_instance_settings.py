"""instance settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:19:35.694514
"""

import sqlalchemy as sa
from alembic import op

import warroom.db.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('instance_settings',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_instance_settings'))
    )



def downgrade() -> None:

    op.drop_table('instance_settings')

