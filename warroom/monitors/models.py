"""Warroom's own monitors: heartbeats (with their last pings) and HTTP/TCP checks (with results).

Every decision a monitor makes becomes a signal on the monitor's service through the alerts
batch path (`monitors/signals.py`), under the service's one "monitor" integration, so dedup,
grouping and paging stay one code path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, BigId, JSONType, UTCDateTime, utcnow

HEARTBEAT_STATUSES = ("new", "up", "down")
PING_KINDS = ("success", "start", "fail")
CHECK_KINDS = ("http", "tcp")
CHECK_STATUSES = ("unknown", "up", "down")


class Heartbeat(Base):
    """A dead man's switch: a job pings `/ping/{ping_key}`; silence past the grace alerts."""

    __tablename__ = "heartbeats"
    __table_args__ = (
        CheckConstraint(f"status IN {HEARTBEAT_STATUSES!r}", name="status"),
        CheckConstraint("(period_seconds IS NULL) <> (cron IS NULL)", name="one_schedule"),
        # The sweep's walk: heartbeats whose deadline has passed, soonest first.
        Index("ix_heartbeats_alert_after", "alert_after"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    # 128 random bits; the URL is the credential, like a routing key.
    ping_key: Mapped[str] = mapped_column(String(64), unique=True)
    period_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    cron: Mapped[str | None] = mapped_column(String(120), default=None)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    grace_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    severity: Mapped[str] = mapped_column(String(16), default="error")
    status: Mapped[str] = mapped_column(String(8), default="new")
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_ping_kind: Mapped[str | None] = mapped_column(String(8), default=None)
    # A /start without its success yet: the run time is measured from here.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    # When silence turns the heartbeat down (None: nothing to wait for: new, or down already).
    alert_after: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    pings: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HeartbeatPing(Base):
    __tablename__ = "heartbeat_pings"
    __table_args__ = (
        CheckConstraint(f"kind IN {PING_KINDS!r}", name="kind"),
        Index("ix_heartbeat_pings_heartbeat_id", "heartbeat_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    heartbeat_id: Mapped[int] = mapped_column(ForeignKey("heartbeats.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(8))
    exit_status: Mapped[int | None] = mapped_column(Integer, default=None)
    method: Mapped[str] = mapped_column(String(8), default="GET")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_truncated: Mapped[bool] = mapped_column(default=False)
    duration_seconds: Mapped[float | None] = mapped_column(Float, default=None)


class Check(Base):
    """An HTTP(S) or TCP check the engine runs every `interval_seconds`."""

    __tablename__ = "checks"
    __table_args__ = (
        CheckConstraint(f"kind IN {CHECK_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {CHECK_STATUSES!r}", name="status"),
        CheckConstraint("confirm_failures BETWEEN 1 AND confirm_window", name="confirmation"),
        Index("ix_checks_due", "enabled", "next_run_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8))
    # http: the URL; tcp: host:port.
    target: Mapped[str] = mapped_column(String(2048))
    method: Mapped[str] = mapped_column(String(8), default="GET")
    expected_status: Mapped[str] = mapped_column(String(32), default="2xx")
    body_contains: Mapped[str] = mapped_column(Text, default="")
    body_regex: Mapped[str] = mapped_column(Text, default="")
    max_response_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    cert_expiry_days: Mapped[int | None] = mapped_column(Integer, default=None)
    timeout_seconds: Mapped[float] = mapped_column(Float, default=10.0)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=60)
    # Alert when `confirm_failures` of the last `confirm_window` results failed (N of M).
    confirm_failures: Mapped[int] = mapped_column(Integer, default=2)
    confirm_window: Mapped[int] = mapped_column(Integer, default=3)
    severity: Mapped[str] = mapped_column(String(16), default="error")
    enabled: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(8), default="unknown")
    # The last `confirm_window` outcomes, oldest first (true = passed).
    recent: Mapped[list[bool]] = mapped_column(JSONType, default=list)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A claimed run: another engine leaves the check alone until then.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckResult(Base):
    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_results_check_id", "check_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column()
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str] = mapped_column(Text, default="")


class LogRule(Base):
    """A rule over syslog and JSON log lines (monitors/logrules.py decides; the receiver counts)."""

    __tablename__ = "log_rules"
    __table_args__ = (CheckConstraint("threshold >= 1", name="threshold"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    # [{"field": ..., "op": eq|ne|contains|regex|gt|ge|lt|le, "value": ...}], all must hold.
    conditions: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    threshold: Mapped[int] = mapped_column(Integer, default=1)
    window_seconds: Mapped[int] = mapped_column(Integer, default=60)
    group_by: Mapped[str | None] = mapped_column(String(64), default=None)
    severity: Mapped[str] = mapped_column(String(16), default="error")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
