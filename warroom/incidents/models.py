"""Tables of incidents, the services they affect, roles, tasks, the append-only timeline and
status updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, BigId, JSONType, UTCDateTime, utcnow

INCIDENT_STATUSES = ("triggered", "acknowledged", "mitigated", "resolved", "closed")
OPEN_STATUSES = ("triggered", "acknowledged", "mitigated")
ROLE_NAMES = ("commander", "communications_lead", "operations_lead", "scribe")

incident_services = Table(
    "incident_services",
    Base.metadata,
    Column("incident_id", ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    # The incidents of a service (filters, the service page); the key serves the other way.
    Index("ix_incident_services_service", "service_id", "incident_id"),
)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(f"status IN {INCIDENT_STATUSES!r}", name="status"),
        CheckConstraint("impact BETWEEN 1 AND 3", name="impact"),
        CheckConstraint("urgency BETWEEN 1 AND 3", name="urgency"),
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority"),
        # The grouping lookup: the open incident of a service with the latest alert.
        Index("ix_incidents_service_status", "service_id", "status", "last_alert_at"),
        Index("ix_incidents_status_priority", "status", "priority", "triggered_at"),
        Index("ix_incidents_triggered_at", "triggered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="triggered")
    # The service an alert-born incident belongs to (grouping key); all affected services are
    # in incident_services.
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), default=None
    )
    severity: Mapped[str | None] = mapped_column(String(16), default=None)
    impact: Mapped[int] = mapped_column(Integer)
    urgency: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    # "auto" while impact/urgency follow the signals; "manual" once a person set them.
    priority_source: Mapped[str] = mapped_column(String(8), default="auto")
    source: Mapped[str] = mapped_column(String(16), default="alert")  # alert | declared
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    impact_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The policy paging for this incident (the service's at trigger time).
    escalation_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL"), default=None
    )
    # Set when the incident was merged into another; it is then closed.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )
    # The group key of the alerts that opened it (alerts/grouping.py; "" without a grouping
    # rule): later alerts of its service join it only with the same key.
    grouping_key: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The open incident on a dependency this one was caused by (catalog inhibition): it joined
    # that incident and did not page.
    caused_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None, index=True
    )
    # A major incident (its commander accepted the proposal, incidents/major_store.py): marked on
    # every internal view and paged to the major-incident escalation policy. Not public.
    major: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class IncidentRole(Base):
    __tablename__ = "incident_roles"
    __table_args__ = (
        UniqueConstraint("incident_id", "role"),
        CheckConstraint(f"role IN {ROLE_NAMES!r}", name="role"),
        # "Mine": the incidents where a user holds a role.
        Index("ix_incident_roles_user", "user_id", "incident_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (CheckConstraint("status IN ('open', 'done')", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status: Mapped[str] = mapped_column(String(8), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class TimelineEvent(Base):
    """Append-only: nothing updates or deletes these rows; the UI, review and metrics read them."""

    __tablename__ = "timeline_events"
    __table_args__ = (
        Index("ix_timeline_incident_id", "incident_id", "id"),
        # The last event of one kind per incident (oversight: warnings done, the last nudge).
        Index("ix_timeline_incident_kind", "incident_id", "kind", "at"),
        # The last event by a person per incident: the activity that keeps an incident fresh.
        Index("ix_timeline_incident_actor", "incident_id", "actor_type", "at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    # Who: a user, an integration (signals) or the system (rules, timers).
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


UPDATE_STAGES = ("investigating", "identified", "monitoring", "resolved")
UPDATE_VISIBILITIES = ("public", "internal")

# The status-page components an update says are affected (component ids; the status page owns
# the components table).
status_update_components = Table(
    "status_update_components",
    Base.metadata,
    Column("update_id", ForeignKey("status_updates.id", ondelete="CASCADE"), primary_key=True),
    Column("component_id", ForeignKey("components.id", ondelete="CASCADE"), primary_key=True),
)


class StatusUpdate(Base):
    """A structured update on an incident for stakeholders (internal) or the public (public).

    Editing keeps the history: the previous text goes to `status_update_revisions` and
    `revision` counts up.
    """

    __tablename__ = "status_updates"
    __table_args__ = (
        CheckConstraint(f"stage IN {UPDATE_STAGES!r}", name="stage"),
        CheckConstraint(f"visibility IN {UPDATE_VISIBILITIES!r}", name="visibility"),
        Index("ix_status_updates_incident", "incident_id", "created_at"),
        # The public page and feeds: latest public updates.
        Index("ix_status_updates_visibility_created", "visibility", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    visibility: Mapped[str] = mapped_column(String(8), default="internal")
    stage: Mapped[str] = mapped_column(String(16), default="investigating")
    message: Mapped[str] = mapped_column(Text)
    # Impact in plain words ("Some customers cannot pay by card").
    impact: Mapped[str] = mapped_column(Text, default="")
    estimated_resolution_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revision: Mapped[int] = mapped_column(Integer, default=1)


class StatusUpdateRevision(Base):
    """An earlier text of an edited status update (append-only)."""

    __tablename__ = "status_update_revisions"
    __table_args__ = (UniqueConstraint("update_id", "revision"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("status_updates.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    impact: Mapped[str] = mapped_column(Text, default="")
    estimated_resolution_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # When this text was replaced, and by whom.
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class OversightSetting(Base):
    """Who is paged at an SLA breach and when an incident goes stale: one row for the
    installation (team_id NULL) and one per team that differs. A field left NULL inherits
    (team -> installation -> the WARROOM_* setting)."""

    __tablename__ = "oversight_settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), default=None
    )
    # The escalation policy whose first step is paged at a breach (e.g. the incident managers'
    # rota).
    escalation_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL"), default=None
    )
    # {"1": 30, "2": 120, ...}: minutes without a person's activity until stale (0: never).
    stale_minutes: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# One row per scope: the installation's (team_id NULL) and each team's.
Index("uq_oversight_settings_scope", func.coalesce(OversightSetting.team_id, 0), unique=True)


class MajorIncidentSetting(Base):
    """The installation's major-incident rules (one row, id 1; no row: the defaults of
    :class:`warroom.incidents.major.MajorPolicy`): when to propose that an incident is a major
    one, and the escalation policy whose first step is paged when a commander accepts."""

    __tablename__ = "major_incident_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("alert_burst IS NULL OR alert_burst >= 1", name="alert_burst"),
        CheckConstraint("burst_minutes BETWEEN 1 AND 1440", name="burst_minutes"),
    )
    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    on_tier_one: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    on_priority_one: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Propose when more than `alert_burst` alerts arrived within `burst_minutes` (NULL: never).
    alert_burst: Mapped[int | None] = mapped_column(Integer, default=None)
    burst_minutes: Mapped[int] = mapped_column(Integer, default=10)
    escalation_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL"), default=None
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
