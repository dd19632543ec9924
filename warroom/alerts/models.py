"""The alerts table: one row per open-or-past alert, deduplicated by (integration, key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Select,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, BigId, JSONType, UTCDateTime

ALERT_STATUSES = ("triggered", "acknowledged", "resolved")
SUPPRESSIONS = ("silenced", "maintenance", "inhibited", "flapping")
HELD_WHERE = "suppression IS NOT NULL AND incident_id IS NULL AND status = 'triggered'"
# Firing alerts that matched an inhibition rule's source side when they arrived (or when the
# rule was created): the few rows each batch reads as possible sources.
INHIBITING_WHERE = "inhibits AND status <> 'resolved'"
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
        # Possible sources of inhibition rules (partial: ordinary alerts are not in it).
        Index(
            "ix_alerts_inhibiting",
            "id",
            sqlite_where=text(INHIBITING_WHERE),
            postgresql_where=text(INHIBITING_WHERE),
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
    # Matched an inhibition rule's source matchers when it arrived: a possible source while it
    # fires (the rules are checked again each batch; see alerts/inhibition.py).
    inhibits: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The key's recent state changes when this alert opened, if it had any before it
    # ({"t": [epoch seconds], "since": epoch | null}, alerts/flapping.py); None: only its own
    # opening (created_at).
    flap: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


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


class InhibitRule(Base):
    """Alertmanager's inhibit_rule: while an alert matching the source matchers fires, alerts
    matching the target matchers with the same values of the `equal` labels do not page."""

    __tablename__ = "inhibit_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Alertmanager's v2 matcher shape, as silences: [{"name", "value", "isRegex", "isEqual"}].
    source_matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    target_matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    equal: Mapped[list[str]] = mapped_column(JSONType, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GroupingRule(Base):
    """How a service's alerts (or every service's: `service_id` NULL) group into incidents:
    by the values of content keys, within a window, optionally joining a dependency's open
    incident (alerts/grouping.py). Tried by position, then id; a service's before the global."""

    __tablename__ = "grouping_rules"
    __table_args__ = (Index("ix_grouping_rules_service", "service_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), default=None
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Field names (severity, summary, source, integration, dedup_key) or labels.<name>.
    keys: Mapped[list[str]] = mapped_column(JSONType)
    # Alertmanager's v2 matcher shape, as silences; empty: every alert of the rule's scope.
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # NULL: the service's grouping window.
    window_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    dependency_aware: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertFlap(Base):
    """The recent state changes of a key whose last alert resolved, kept until they no longer
    count (`expires_at`): a new alert of the key starts from them. Written at each resolve,
    read with the batch's key probe, pruned by the engine."""

    __tablename__ = "alert_flaps"
    __table_args__ = (
        PrimaryKeyConstraint("integration_id", "dedup_key"),
        Index("ix_alert_flaps_expires_at", "expires_at"),
    )
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(255))
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
