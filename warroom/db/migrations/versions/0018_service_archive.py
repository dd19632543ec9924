"""archiving a service (issue 9)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 17:00:00.000000

services.archived_at: when an admin archived the service (NULL: in use). An archived service's
integrations accept no events and its monitors do not run; its history stays.
"""

import sqlalchemy as sa
from alembic import op

import warroom.db.base

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('services') as batch:
        batch.add_column(
            sa.Column('archived_at', warroom.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('services') as batch:
        batch.drop_column('archived_at')
