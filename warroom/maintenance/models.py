"""Tables of maintenance windows: one-off or recurring, for services and status-page components."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, UTCDateTime, utcnow

# Paging is suppressed for these services while a window is in progress.
maintenance_services = Table(
    "maintenance_services",
    Base.metadata,
    Column("window_id", ForeignKey("maintenance_windows.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_maintenance_services_service", "service_id", "window_id"),
)

# What the status page shows as "under maintenance" during the window.
maintenance_components = Table(
    "maintenance_components",
    Base.metadata,
    Column("window_id", ForeignKey("maintenance_windows.id", ondelete="CASCADE"), primary_key=True),
    Column("component_id", ForeignKey("components.id", ondelete="CASCADE"), primary_key=True),
)


class MaintenanceWindow(Base):
    """A planned disturbance: `starts_at`..`ends_at` once, or, with `rrule` (RFC 5545, read in
    `time_zone`), every occurrence starting at `starts_at`'s local time and lasting as long as
    the first one, until `ends_at` of the series (`recur_until`) if set."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_maintenance_windows_ends_at", "ends_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rrule: Mapped[str | None] = mapped_column(Text, default=None)
    recur_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Shown on the public status page and announced to subscribers.
    public: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
