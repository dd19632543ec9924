"""The alerts table: one row per open-or-past alert, deduplicated by (integration, key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Select, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, BigId, JSONType, UTCDateTime

ALERT_STATUSES = ("triggered", "acknowledged", "resolved")
SUPPRESSIONS = ("silenced", "maintenance", "inhibited", "flapping")
HELD_WHERE = "suppression IS NOT NULL AND incident_id IS NULL AND status = 'triggered'"
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
        # Alerts held back by a silence or maintenance, for the release timer (partial: the
        # intake's ordinary alerts are not in it).
        Index(
            "ix_alerts_held",
            "id",
            sqlite_where=text(HELD_WHERE),
            postgresql_where=text(HELD_WHERE),
        ),
        CheckConstraint(
            f"suppression IS NULL OR suppression IN {SUPPRESSIONS!r}", name="suppression"
        ),
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
    # Why it does not page: silenced | maintenance | inhibited | flapping (None: it pages), and
    # by what ({"silence_id": 3}, {"window_id": 1, "title": ...}, {"incident_id": 7}).
    suppression: Mapped[str | None] = mapped_column(String(16), default=None)
    suppressed_by: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class Silence(Base):
    """Alertmanager's silence: alerts matching every matcher between starts_at and ends_at are
    stored but do not page. Expiring one early sets ends_at to that moment (as Alertmanager)."""

    __tablename__ = "silences"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_silences_ends_at", "ends_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # Alertmanager's v2 shape: [{"name", "value", "isRegex", "isEqual"}].
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
