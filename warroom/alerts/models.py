"""The alerts table: one row per open-or-past alert, deduplicated by (integration, key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Select, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, BigId, JSONType, UTCDateTime

ALERT_STATUSES = ("triggered", "acknowledged", "resolved")
SEVERITIES = ("critical", "error", "warning", "info")
# Any select (of any columns) that reads alerts.
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(f"status IN {ALERT_STATUSES!r}", name="status"),
        CheckConstraint(f"severity IN {SEVERITIES!r}", name="severity"),
        # At most one open alert per key (GoAlert keeps this invariant in the database too); a
        # resolved alert frees its key so the next trigger opens a new alert.
        Index(
            "uq_alerts_open_dedup_key",
            "integration_id",
            "dedup_key",
            unique=True,
            sqlite_where=text("status <> 'resolved'"),
            postgresql_where=text("status <> 'resolved'"),
        ),
        # An incident's newest alerts, a LIMITed walk down the index (migration 0004).
        Index("ix_alerts_incident_id", "incident_id", "id"),
        Index("ix_alerts_service_created", "service_id", "created_at"),
        Index("ix_alerts_status_id", "status", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )
    dedup_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    labels: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    group_key: Mapped[str | None] = mapped_column(Text, default=None)
    # Events received for this alert (1 for the trigger that opened it).
    event_count: Mapped[int] = mapped_column(Integer, default=1)
    # When the source says the problem began (Alertmanager startsAt, PagerDuty payload.timestamp).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


def of_incident(query: Q, incident_id: int) -> Q:
    """`query` narrowed to one incident's alerts, ordered along ix_alerts_incident_id: the caller
    adds `.order_by(Alert.id.desc())` (and a LIMIT) for its newest alerts first.

    A range of one value rather than "=", and incident_id named in the ORDER BY: with "=",
    PostgreSQL drops the constant incident_id from the order, and may then walk the primary key
    backwards filtering on incident_id. It expects an incident's alerts to be spread evenly over
    the ids; a storm's are bunched, so for one that is some weeks old it reads past every newer
    alert (50-500 ms at a million alerts, docs/performance.md). With the range only
    (incident_id, id) gives the order.
    """
    return query.where(Alert.incident_id.between(incident_id, incident_id)).order_by(
        Alert.incident_id.desc()
    )
