"""login attempts remember the known device (issue 7)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:00:00.000000

login_attempts.device: the id of the signed "known device" cookie the attempt came with ('' for
none). A browser that already signed in as a person is limited by its own failures only, so
strangers failing on that person's username, from any address, cannot lock them out.
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'login_attempts',
        sa.Column('device', sa.String(length=32), nullable=False, server_default=''),
    )


def downgrade() -> None:
    with op.batch_alter_table('login_attempts') as batch:
        batch.drop_column('device')
