"""Request and response bodies of the REST API. Inputs refuse unknown keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

T = TypeVar("T")

RoleName = Literal["commander", "communications_lead", "operations_lead", "scribe"]
UserRole = Literal["admin", "responder", "stakeholder"]
_ZONES = available_timezones()


class In(BaseModel):
    # strict: a JSON value of the wrong type is refused, not coerced ("impact": true is not 1,
    # "tier": "1" is not 1); datetime fields opt out to parse ISO 8601 strings.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as ?cursor= to get the next page; null on the last page."
    )


# --- teams and users --------------------------------------------------------------------------


class TeamIn(In):
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    member_ids: list[int] = []


class TeamPatch(In):
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = None
    member_ids: list[int] | None = None


class TeamOut(Out):
    id: int
    name: str
    description: str
    member_ids: list[int]
    created_at: datetime


def _zone(value: str | None) -> str | None:
    if value is not None and value not in _ZONES:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris")
    return value


class UserIn(In):
    username: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    name: str = Field("", max_length=200)  # the column widths: PostgreSQL enforces them
    email: str = Field("", max_length=254)
    time_zone: str = "UTC"
    role: UserRole = "responder"
    password: str | None = Field(None, min_length=8, max_length=200)

    _check_zone = field_validator("time_zone")(_zone)


class UserPatch(In):
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    time_zone: str | None = None
    role: UserRole | None = None
    active: bool | None = None

    _check_zone = field_validator("time_zone")(_zone)


class UserOut(Out):
    id: int
    username: str
    name: str
    email: str
    time_zone: str
    role: str
    active: bool
    team_ids: list[int]


class TokenIn(In):
    name: str = Field("", max_length=120)


class TokenOut(Out):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewToken(TokenOut):
    token: str = Field(description="Shown once; only its hash is stored.")


# --- services and integrations ------------------------------------------------------------------


class ServiceIn(In):
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    team_id: int | None = None
    tier: int = Field(2, ge=1, le=3, description="Criticality: 1 most critical .. 3")
    grouping_window_seconds: int = Field(3600, ge=0, le=7 * 86400)
    auto_resolve: bool = True
    depends_on_ids: list[int] = []


class ServicePatch(In):
    name: str | None = Field(None, min_length=1, max_length=120)
    description: str | None = None
    team_id: int | None = None
    tier: int | None = Field(None, ge=1, le=3)
    grouping_window_seconds: int | None = Field(None, ge=0, le=7 * 86400)
    auto_resolve: bool | None = None
    depends_on_ids: list[int] | None = None


class ServiceOut(Out):
    id: int
    name: str
    description: str
    team_id: int | None
    tier: int
    grouping_window_seconds: int
    auto_resolve: bool
    depends_on_ids: list[int]
    dependant_ids: list[int]
    created_at: datetime


class IntegrationIn(In):
    service_id: int
    type: Literal["pagerduty", "alertmanager", "generic"]
    name: str = Field("", max_length=120)


class IntegrationOut(Out):
    id: int
    service_id: int
    type: str
    name: str
    routing_key: str | None = Field(None, description="Visible to admins only.")
    url: str = Field(description="Where the tool sends its events.")
    created_at: datetime
    rotated_at: datetime | None


# --- alerts and incidents ----------------------------------------------------------------------


class AlertOut(Out):
    id: int
    integration_id: int
    service_id: int
    incident_id: int | None
    dedup_key: str
    status: str
    severity: str
    summary: str
    source: str
    details: dict[str, Any]
    links: list[dict[str, Any]]
    labels: dict[str, str]
    group_key: str | None
    event_count: int
    started_at: datetime | None
    created_at: datetime
    last_event_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


class RoleOut(Out):
    role: str
    user_id: int
    assigned_at: datetime


class IncidentOut(Out):
    id: int
    title: str
    description: str
    status: str
    service_id: int | None
    service_ids: list[int]
    severity: str | None
    impact: int
    urgency: int
    priority: int
    priority_name: str
    priority_source: str
    source: str
    alert_count: int
    impact_started_at: datetime | None
    triggered_at: datetime
    last_alert_at: datetime | None
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    merged_into_id: int | None = None
    roles: list[RoleOut]


class DeclareIn(In):
    title: str = Field(min_length=1, max_length=500)
    description: str = ""
    impact: int = Field(ge=1, le=3, description="1 high .. 3 low")
    urgency: int = Field(ge=1, le=3, description="1 high .. 3 low")
    service_ids: list[int] = []


class ActionIn(In):
    note: str | None = Field(None, max_length=5000)


class PriorityIn(In):
    impact: int | None = Field(None, ge=1, le=3)
    urgency: int | None = Field(None, ge=1, le=3)
    reason: str = Field(min_length=1, max_length=2000, description="Why; kept on the timeline.")


class NoteIn(In):
    text: str = Field(min_length=1, max_length=20000)


class RoleIn(In):
    user_id: int


class TaskIn(In):
    title: str = Field(min_length=1, max_length=500)
    owner_id: int | None = None
    due_at: datetime | None = Field(None, strict=False)

    @field_validator("due_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("due_at needs a time zone, e.g. 2026-11-27T10:00:00Z")
        return value


class TaskPatch(In):
    title: str | None = Field(None, min_length=1, max_length=500)
    owner_id: int | None = None
    due_at: datetime | None = Field(None, strict=False)
    status: Literal["open", "done"] | None = None

    @field_validator("due_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("due_at needs a time zone, e.g. 2026-11-27T10:00:00Z")
        return value


class TaskOut(Out):
    id: int
    incident_id: int
    title: str
    owner_id: int | None
    due_at: datetime | None
    status: str
    created_at: datetime
    done_at: datetime | None


class TimelineEventOut(Out):
    id: int
    at: datetime
    kind: str
    actor_type: str
    actor_id: int | None
    actor_name: str
    message: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
