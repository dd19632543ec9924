"""Tables of notification: people's contact methods and rules, and the outbox of messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, BigId, JSONType, UTCDateTime, utcnow
from warroom.notify.channels import CHANNELS, NAME_LENGTH

# The CHECK values come from the channel registry; a new channel needs a migration for them.
CHANNEL_NAMES = tuple(CHANNELS)
OUTBOX_STATUSES = ("pending", "sent", "failed", "cancelled")


class ContactMethod(Base):
    __tablename__ = "contact_methods"
    __table_args__ = (CheckConstraint(f"channel IN {CHANNEL_NAMES!r}", name="channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(NAME_LENGTH))
    label: Mapped[str] = mapped_column(String(120), default="")
    # Email address, URL, Apprise URL or E.164 phone number.
    address: Mapped[str] = mapped_column(Text)
    # Webhooks: the HMAC key the receiver verifies signatures with.
    secret: Mapped[str | None] = mapped_column(String(128), default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationRule(Base):
    """Notify through this contact method `delay_seconds` after being paged, for an urgency."""

    __tablename__ = "notification_rules"
    __table_args__ = (
        CheckConstraint("urgency IN ('high', 'low')", name="urgency"),
        CheckConstraint("delay_seconds >= 0", name="delay"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    contact_method_id: Mapped[int] = mapped_column(
        ForeignKey("contact_methods.id", ondelete="CASCADE")
    )
    urgency: Mapped[str] = mapped_column(String(4))
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)


class Notification(Base):
    """The outbox: written in the transaction that decides to notify, delivered by the engine."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"status IN {OUTBOX_STATUSES!r}", name="status"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_incident", "incident_id", "id"),
        Index("ix_notifications_subscriber", "subscriber_id"),
        # Delivery claims pages before a queued fan-out (engine/delivery.py claim_due).
        Index("ix_notifications_due_kind", "status", "kind", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), default=None
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    contact_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_methods.id", ondelete="SET NULL"), default=None
    )
    # A stakeholder list member reached at an address (no user, no contact method): its
    # webhook signing secret is read from there at delivery.
    stakeholder_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("stakeholder_members.id", ondelete="SET NULL"), default=None
    )
    channel: Mapped[str] = mapped_column(String(NAME_LENGTH))
    target: Mapped[str] = mapped_column(Text)
    # page | mobilise | fyi | sla_warning | sla_breach | stale_nudge | reminder (an update is
    # due) | role (given a role) | stakeholder | reporter (a user report's incident resolved)
    kind: Mapped[str] = mapped_column(String(16), default="page")
    urgency: Mapped[str] = mapped_column(String(4), default="high")
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    links: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # What the message was decided on, for its last check before sending (oversight messages:
    # the priority, clock and share, or the activity a nudge was about).
    context: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    status: Mapped[str] = mapped_column(String(9), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A worker that claimed the row holds it until this time; after a crash it is reclaimed.
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # A fresh value for each claim: only the claim holding it may send and record the row.
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # A status-page subscriber's message (kind "subscriber"): not sent once they unsubscribed.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("status_subscribers.id", ondelete="CASCADE"), default=None
    )
