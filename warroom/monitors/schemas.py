"""Request and response bodies of the heartbeat and check API (inputs forbid unknown keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from warroom.common.schemas import NONBLANK, Id, In, Out, Patch, TimeZone

Severity = Literal["critical", "error", "warning", "info"]


class HeartbeatIn(In):
    service_id: Id
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    period_seconds: int | None = Field(default=None, ge=60, le=366 * 86400)
    cron: str | None = Field(default=None, min_length=9, max_length=120)
    time_zone: TimeZone = "UTC"
    grace_seconds: int = Field(default=3600, ge=60, le=366 * 86400)
    severity: Severity = "error"


class PingOut(Out):
    id: int
    at: datetime
    kind: str
    exit_status: int | None
    method: str
    remote_addr: str
    user_agent: str
    body: str
    body_truncated: bool
    duration_seconds: float | None


class HeartbeatOut(Out):
    id: int
    service_id: int
    name: str
    period_seconds: int | None
    cron: str | None
    time_zone: str
    grace_seconds: int
    severity: str
    status: str = Field(description="new, up, started, late or down, at the time of reading")
    last_ping_at: datetime | None
    last_duration_seconds: float | None
    alert_after: datetime | None = Field(description="When silence turns it down")
    pings: int
    ping_url: str | None = Field(default=None, description="Visible to admins only.")
    created_at: datetime


class CheckIn(In):
    service_id: Id
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    kind: Literal["http", "tcp"]
    target: str = Field(min_length=3, max_length=2048)
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expected_status: str = Field(default="2xx", max_length=32)
    body_contains: str = Field(default="", max_length=1000)
    body_regex: str = Field(default="", max_length=1000)
    max_response_ms: int | None = Field(default=None, ge=1, le=600_000)
    cert_expiry_days: int | None = Field(default=None, ge=1, le=3650)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60, strict=False)
    interval_seconds: int = Field(default=60, ge=10, le=86400)
    confirm_failures: int = Field(default=2, ge=1, le=20)
    confirm_window: int = Field(default=3, ge=1, le=20)
    severity: Severity = "error"
    enabled: bool = True


class CheckPatch(Patch):
    enabled: bool | None = None


class ResultOut(Out):
    id: int
    at: datetime
    ok: bool
    latency_ms: float | None
    status_code: int | None
    error: str


class CheckOut(Out):
    id: int
    service_id: int
    name: str
    kind: str
    target: str
    method: str
    expected_status: str
    body_contains: str
    body_regex: str
    max_response_ms: int | None
    cert_expiry_days: int | None
    timeout_seconds: float
    interval_seconds: int
    confirm_failures: int
    confirm_window: int
    severity: str
    enabled: bool
    status: str
    last_run_at: datetime | None
    next_run_at: datetime
    last_result: dict[str, Any]
    created_at: datetime


class ConditionIn(In):
    field: str = Field(min_length=1, max_length=64)
    op: Literal["eq", "ne", "contains", "regex", "gt", "ge", "lt", "le"]
    value: str = Field(max_length=1000)


class LogRuleIn(In):
    service_id: Id
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    conditions: list[ConditionIn] = Field(min_length=1, max_length=10)
    threshold: int = Field(default=1, ge=1, le=1_000_000)
    window_seconds: int = Field(default=60, ge=1, le=86400)
    group_by: str | None = Field(default=None, min_length=1, max_length=64)
    severity: Severity = "error"
    enabled: bool = True


class LogRulePatch(Patch):
    enabled: bool | None = None


class ConditionOut(Out):
    field: str
    op: str
    value: str


class LogRuleOut(Out):
    id: int
    service_id: int
    name: str
    conditions: list[ConditionOut]
    threshold: int
    window_seconds: int
    group_by: str | None
    severity: str
    enabled: bool
    created_at: datetime
