"""Tables of the status page: component groups, components and each component's status history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
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
