"""public report email and a review's public summary (issues 11 and 13)

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02 08:00:00.000000

user_reports.reporter_email: the address a visitor of the status page left to be told when
the problem is fixed (optional; empty when none). reviews.public_summary: the text a published
review shows on the status page's entry for its incident (empty: nothing is shown).
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_reports') as batch:
        batch.add_column(
            sa.Column('reporter_email', sa.String(length=320), nullable=False, server_default='')
        )
    with op.batch_alter_table('reviews') as batch:
        batch.add_column(sa.Column('public_summary', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('reviews') as batch:
        batch.drop_column('public_summary')
    with op.batch_alter_table('user_reports') as batch:
        batch.drop_column('reporter_email')
