"""Tables of the catalog: teams, users, API tokens, services, dependencies, integrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from warroom.db.base import Base, JSONType, UTCDateTime, utcnow

team_members = Table(
    "team_members",
    Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

service_dependencies = Table(
    "service_dependencies",
    Base.metadata,
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    Column("depends_on_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    CheckConstraint("service_id <> depends_on_id", name="not_self"),
)

ROLES = ("admin", "responder", "stakeholder")


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    members: Mapped[list[User]] = relationship(
        secondary=team_members, back_populates="teams", order_by="User.id"
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    role: Mapped[str] = mapped_column(String(16), default="responder")
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    # Low-urgency notifications wait until the end of these local hours ("HH:MM"), if set.
    quiet_hours_start: Mapped[str | None] = mapped_column(String(5), default=None)
    quiet_hours_end: Mapped[str | None] = mapped_column(String(5), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    teams: Mapped[list[Team]] = relationship(
        secondary=team_members, back_populates="members", order_by="Team.id"
    )


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    # SHA-256 of the token: tokens carry 256 random bits, so a fast hash is enough and lookups
    # stay O(1); the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    user: Mapped[User] = relationship()


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (CheckConstraint("tier BETWEEN 1 AND 3", name="tier"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    # Criticality tier 1 (most critical) .. 3; gives the impact of an alert-born incident.
    tier: Mapped[int] = mapped_column(Integer, default=2)
    # New alerts join the service's open incident if its last alert came within this window;
    # 0 opens an incident per alert.
    grouping_window_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    # When the last open alert of an incident resolves, resolve the incident too.
    auto_resolve: Mapped[bool] = mapped_column(default=True)
    # Flap detection: an alert key changing state (firing <-> resolved) more than
    # flap_threshold times within flap_window_minutes is held as flapping. None: the global
    # default (alerts/flapping.py); a threshold of 0 turns it off for the service.
    flap_threshold: Mapped[int | None] = mapped_column(Integer, default=None)
    flap_window_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    escalation_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set while the service is archived (warroom/monitors/archive.py): its integrations accept
    # no events, its monitors do not run, it is offered in no picker; its history stays.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    team: Mapped[Team | None] = relationship()
    depends_on: Mapped[list[Service]] = relationship(
        secondary=service_dependencies,
        primaryjoin=lambda: Service.id == service_dependencies.c.service_id,
        secondaryjoin=lambda: Service.id == service_dependencies.c.depends_on_id,
        order_by=lambda: Service.id,
    )
    integrations: Mapped[list[Integration]] = relationship(
        back_populates="service", order_by="Integration.id"
    )


# "monitor": the one integration per service that Warroom's own monitors (heartbeats, checks,
# log rules) send their signals under (warroom/monitors); "email": inbound mail to
# <routing key>@... (warroom/intake/email.py).
INTEGRATION_TYPES = ("pagerduty", "alertmanager", "generic", "monitor", "email")


class Integration(Base):
    __tablename__ = "integrations"
    __table_args__ = (
        CheckConstraint(f"type IN {INTEGRATION_TYPES!r}", name="type"),
        UniqueConstraint("routing_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120), default="")
    # Kept retrievable (admins copy it into tool configs, as with PagerDuty integration keys).
    routing_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # A generic integration's mapping templates (warroom/intake/mapping.py): summary, severity,
    # dedup_key, source, resolve_when, labels and the sample payload they were checked on.
    # None: events must be in Warroom's generic format.
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    service: Mapped[Service] = relationship(back_populates="integrations")
