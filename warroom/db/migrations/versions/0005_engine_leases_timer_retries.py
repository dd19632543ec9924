"""engine: a lease token per claim, timer attempts (issue 7)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:40:00.000000

- notifications.lease_token: a fresh value for each claim of an outbox row. Recording an
  outcome, and the last check before sending, act only while the row still carries the
  token of the claim that is delivering it; a lease that ran out and was claimed again
  (by any engine, the same one included) can no longer be recorded by the first claim.
- timers.attempts / timers.last_error: a timer that raised is retried with backoff (its
  due_at moves on) instead of blocking every other timer behind it; the count drives the
  backoff and the give-up point, the error is what the operator sees.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications') as batch:
        batch.add_column(sa.Column('lease_token', sa.String(length=32), nullable=True))
    with op.batch_alter_table('timers') as batch:
        batch.add_column(
            sa.Column('attempts', sa.Integer(), nullable=False, server_default='0')
        )
        batch.add_column(sa.Column('last_error', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('timers') as batch:
        batch.drop_column('last_error')
        batch.drop_column('attempts')
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('lease_token')
