"""telling a user report's reporter when its incident resolves (issue 11)

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-02 08:40:00.000000

user_reports.told_resolved_at: when the incident's resolution was handled for the report (its
reporter told once). user_reports.reporter_email: a public reporter's address; the status
page's branch (0016) adds the same column, so it is added here only when it is not there yet.
"""

import sqlalchemy as sa
from alembic import op

import warroom.db.base

revision = '0017'
down_revision = '0013'
branch_labels = None
depends_on = None


def _has_email() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns('user_reports')
    return any(c['name'] == 'reporter_email' for c in columns)


def upgrade() -> None:
    add_email = not _has_email()
    with op.batch_alter_table('user_reports') as batch:
        if add_email:
            batch.add_column(
                sa.Column('reporter_email', sa.String(length=320), nullable=False, server_default='')
            )
        batch.add_column(
            sa.Column('told_resolved_at', warroom.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('user_reports') as batch:
        batch.drop_column('told_resolved_at')
