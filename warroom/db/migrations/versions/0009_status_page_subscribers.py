"""status page subscribers, their components, and the outbox's subscriber column (issue 8)

Revision ID: 0009
Revises: 0010
Create Date: 2026-12-02 02:15:00

Subscribers of the public status page (email with double opt-in, or signed webhooks), the
components each one follows, and `notifications.subscriber_id` so that a message to someone who
unsubscribed meanwhile is cancelled instead of sent.
"""

import sqlalchemy as sa
from alembic import op

import warroom.db.base

revision = "0009"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=True),
        sa.Column("confirmed_at", warroom.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", warroom.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "confirmation_sent_at", warroom.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", warroom.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IN ('email', 'webhook')", name=op.f("ck_status_subscribers_channel")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_subscribers")),
        sa.UniqueConstraint(
            "channel", "address", name=op.f("uq_status_subscribers_channel")
        ),
    )
    with op.batch_alter_table("status_subscribers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_subscribers_active",
            ["unsubscribed_at", "confirmed_at", "id"],
            unique=False,
        )
    op.create_table(
        "status_subscriber_components",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["components.id"],
            name=op.f("fk_status_subscriber_components_component_id_components"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["status_subscribers.id"],
            name=op.f("fk_status_subscriber_components_subscriber_id_status_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "subscriber_id", "component_id", name=op.f("pk_status_subscriber_components")
        ),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscriber_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_notifications_subscriber", ["subscriber_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_subscriber_id_status_subscribers"),
            "status_subscribers",
            ["subscriber_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_subscriber_id_status_subscribers"), type_="foreignkey"
        )
        batch_op.drop_index("ix_notifications_subscriber")
        batch_op.drop_column("subscriber_id")
    op.drop_table("status_subscriber_components")
    with op.batch_alter_table("status_subscribers", schema=None) as batch_op:
        batch_op.drop_index("ix_status_subscribers_active")
    op.drop_table("status_subscribers")
