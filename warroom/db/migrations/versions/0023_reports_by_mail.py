"""user reports by mail (issue 11)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 18:40:00.000000

user_reports.source may be 'mail': a report sent to `<key>+report@…` of an email integration.
"""

from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

BEFORE = ('form', 'api', 'public')
WITH_MAIL = ('form', 'api', 'public', 'mail')


def upgrade() -> None:
    with op.batch_alter_table('user_reports') as batch_op:
        batch_op.drop_constraint(op.f('ck_user_reports_source'), type_='check')
        batch_op.create_check_constraint('source', f"source IN {WITH_MAIL!r}")


def downgrade() -> None:
    op.execute("DELETE FROM user_reports WHERE source = 'mail'")
    with op.batch_alter_table('user_reports') as batch_op:
        batch_op.drop_constraint(op.f('ck_user_reports_source'), type_='check')
        batch_op.create_check_constraint('source', f"source IN {BEFORE!r}")
