"""Tables of the status page: component groups, components, each component's status history
and the subscribers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, BigId, UTCDateTime, utcnow

# Statuspage's words, worst last; "under_maintenance" is set by maintenance windows only.
COMPONENT_STATUSES = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)


class ComponentGroup(Base):
    __tablename__ = "component_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Component(Base):
    """Something the public knows by name ("Checkout", "API"), shown on the status page.

    Its status is derived from the open incidents and maintenance of its service unless a person
    set one by hand (`manual_status`, with a reason); a private component is never shown publicly
    and never counts in the overall status.
    """

    __tablename__ = "components"
    __table_args__ = (
        CheckConstraint(
            f"manual_status IS NULL OR manual_status IN {COMPONENT_STATUSES!r}",
            name="manual_status",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("component_groups.id", ondelete="SET NULL"), default=None
    )
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), default=None, index=True
    )
    private: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    manual_status: Mapped[str | None] = mapped_column(String(24), default=None)
    manual_reason: Mapped[str] = mapped_column(Text, default="")
    manual_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    manual_set_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComponentStatusChange(Base):
    """Append-only history of a component's effective status; the uptime bars are read from it."""

    __tablename__ = "component_status_changes"
    __table_args__ = (
        CheckConstraint(f"status IN {COMPONENT_STATUSES!r}", name="status"),
        Index("ix_component_status_changes_component_at", "component_id", "at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(24))
    # Why: "incident", "maintenance", "manual" or "check".
    source: Mapped[str] = mapped_column(String(16), default="incident")
    reason: Mapped[str] = mapped_column(Text, default="")


SUBSCRIBER_CHANNELS = ("email", "webhook")

# Which components a subscriber wants to hear about; none listed means every public component.
status_subscriber_components = Table(
    "status_subscriber_components",
    Base.metadata,
    Column(
        "subscriber_id", ForeignKey("status_subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("component_id", ForeignKey("components.id", ondelete="CASCADE"), primary_key=True),
)


class StatusSubscriber(Base):
    """Someone outside who follows the status page by email (double opt-in) or webhook.

    Only a subscriber with `confirmed_at` set and `unsubscribed_at` unset is ever sent
    anything but its confirmation mail.
    """

    __tablename__ = "status_subscribers"
    __table_args__ = (
        CheckConstraint(f"channel IN {SUBSCRIBER_CHANNELS!r}", name="channel"),
        UniqueConstraint("channel", "address"),
        # The fan-out: confirmed, still subscribed, in id order.
        Index("ix_status_subscribers_active", "unsubscribed_at", "confirmed_at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), default="email")
    address: Mapped[str] = mapped_column(Text)
    # Webhooks: the HMAC key the receiver checks `Warroom-Signature` with.
    secret: Mapped[str | None] = mapped_column(String(128), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The last confirmation mail: one per address per RESEND_AFTER, so the form cannot be used
    # to mail-bomb an address.
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
