"""per-integration mapping templates (issue 10)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 17:00:00.000000

integrations.mapping: a generic integration's Jinja templates (summary, severity, dedup_key,
source, resolve_when, labels) and the sample payload they were checked on; NULL for none.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('integrations') as batch:
        batch.add_column(
            sa.Column(
                'mapping',
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('integrations') as batch:
        batch.drop_column('mapping')
