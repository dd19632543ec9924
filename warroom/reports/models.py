"""User reports: "something is wrong with <service>", from the web form, the API or mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, UTCDateTime, utcnow

REPORT_SOURCES = ("form", "api", "public", "mail")


class UserReport(Base):
    __tablename__ = "user_reports"
    __table_args__ = (
        CheckConstraint(f"source IN {REPORT_SOURCES!r}", name="source"),
        Index("ix_user_reports_service_created", "service_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8), default="api")
    # A public reporter's address for "tell me when it is fixed" ('' when none was left).
    reporter_email: Mapped[str] = mapped_column(String(320), default="", server_default="")
    # The incident the report attached to or raised (None: waiting for more reports).
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its incident's resolution was handled for it: the reporter told (or nobody to tell,
    # no address given). Set once, by the engine's claim, so a report is told at most once.
    told_resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
