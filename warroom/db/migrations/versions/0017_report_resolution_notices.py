"""telling a user report's reporter when its incident resolves (issue 11)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 08:40:00.000000

user_reports.told_resolved_at: when the incident's resolution was handled for the report (its
reporter told once). The public reporter's address, user_reports.reporter_email, came with 0016.
"""

import sqlalchemy as sa
from alembic import op

import warroom.db.base

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_reports') as batch:
        batch.add_column(
            sa.Column('told_resolved_at', warroom.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('user_reports') as batch:
        batch.drop_column('told_resolved_at')
