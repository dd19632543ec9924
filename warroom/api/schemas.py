"""Request and response bodies of the REST API. Inputs refuse unknown keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, field_validator

from warroom.alerts.flapping import (
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_MINUTES,
    THRESHOLD_MAX,
    WINDOW_MAX_MINUTES,
)
from warroom.common.schemas import NONBLANK, Id, In, Instant, Out, Page, Patch, TimeZone

__all__ = ["In", "Out", "Page"]  # re-exported: the API's routes take them from here

RoleName = Literal["commander", "communications_lead", "operations_lead", "scribe"]
UserRole = Literal["admin", "responder", "stakeholder"]


# --- teams and users --------------------------------------------------------------------------


class TeamIn(In):
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    description: str = Field(default="", max_length=5000)
    member_ids: list[Id] = Field(default=[], max_length=1000)


class TeamPatch(In):
    # null leaves a field as it is
    name: str | None = Field(default=None, min_length=1, max_length=120, pattern=NONBLANK)
    description: str | None = Field(default=None, max_length=5000)
    member_ids: list[Id] | None = Field(default=None, max_length=1000)


class TeamOut(Out):
    id: int
    name: str
    description: str
    member_ids: list[int]
    created_at: datetime


class UserIn(In):
    username: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    name: str = Field(default="", max_length=200)  # the column widths: PostgreSQL enforces them
    email: str = Field(default="", max_length=254)
    time_zone: TimeZone = "UTC"
    role: UserRole = "responder"
    password: str | None = Field(default=None, min_length=8, max_length=200)


class UserPatch(Patch):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    time_zone: TimeZone | None = None
    role: UserRole | None = None
    active: bool | None = None


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
    name: str = Field(default="", max_length=120)


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
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "checkout-api",
                    "description": "Checkout HTTP API",
                    "team_id": 1,
                    "tier": 1,
                    "grouping_window_seconds": 1800,
                    "depends_on_ids": [2],
                }
            ]
        }
    }
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    description: str = Field(default="", max_length=5000)
    team_id: Id | None = None
    tier: int = Field(2, ge=1, le=3, description="Criticality: 1 most critical .. 3")
    grouping_window_seconds: int = Field(3600, ge=0, le=7 * 86400)
    auto_resolve: bool = True
    depends_on_ids: list[Id] = Field(default=[], max_length=1000)
    flap_threshold: int | None = Field(
        default=None,
        ge=0,
        le=THRESHOLD_MAX,
        description="An alert key changing state (firing <-> resolved) more than this many "
        "times within flap_window_minutes is held as flapping; 0 turns flap detection off; "
        f"null: the default, {DEFAULT_THRESHOLD}",
    )
    flap_window_minutes: int | None = Field(
        default=None,
        ge=1,
        le=WINDOW_MAX_MINUTES,
        description=f"null: the default, {DEFAULT_WINDOW_MINUTES}",
    )


class ServicePatch(Patch):
    # No team; the default flap settings.
    nullable = frozenset({"team_id", "flap_threshold", "flap_window_minutes"})
    name: str | None = Field(default=None, min_length=1, max_length=120, pattern=NONBLANK)
    description: str | None = Field(default=None, max_length=5000)
    team_id: Id | None = None
    tier: int | None = Field(default=None, ge=1, le=3)
    grouping_window_seconds: int | None = Field(default=None, ge=0, le=7 * 86400)
    auto_resolve: bool | None = None
    depends_on_ids: list[Id] | None = Field(default=None, max_length=1000)
    flap_threshold: int | None = Field(default=None, ge=0, le=THRESHOLD_MAX)
    flap_window_minutes: int | None = Field(default=None, ge=1, le=WINDOW_MAX_MINUTES)


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
    flap_threshold: int | None = None
    flap_window_minutes: int | None = None
    created_at: datetime
    archived_at: datetime | None = Field(
        default=None,
        description="Set while the service is archived: its integrations refuse events (409), "
        "its monitors do not run, pickers leave it out; its history stays.",
    )


# Bounds of a mapping (warroom/intake/mapping.py enforces the same ones when it saves).
TEMPLATE_MAX = 2000
SAMPLE_MAX_BYTES = 64 * 1024
LabelName = Annotated[str, Field(min_length=1, max_length=100, pattern="^[A-Za-z0-9_]+$")]
Template = Annotated[str, Field(max_length=TEMPLATE_MAX)]


def _json_value(value: Any, limit: int) -> Any:
    try:
        encoded = orjson.dumps(value)
    except TypeError:
        raise ValueError("must be a JSON value") from None
    if len(encoded) > limit:
        raise ValueError(f"at most {limit // 1024} KB of JSON")
    if b"\\u0000" in encoded:
        raise ValueError("text cannot contain NUL (\\u0000) characters")
    return value


class MappingIn(In):
    """Jinja templates that turn any JSON payload into an event (ADR 20). Each template sees
    the payload as `payload` and its top-level keys by name; a missing field is an error
    (write `x | default('')` or `x is defined` for optional ones)."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "summary": "{{ title }}",
                    "severity": "{{ 'critical' if priority == 'P1' else 'warning' }}",
                    "dedup_key": "{{ alert_id }}",
                    "source": "{{ host | default('') }}",
                    "resolve_when": "state == 'ok'",
                    "labels": {"team": "{{ tags.team | default('none') }}"},
                    "sample": {
                        "title": "CPU high on web-1",
                        "priority": "P1",
                        "alert_id": "cpu-web-1",
                        "state": "alerting",
                        "host": "web-1",
                        "tags": {"team": "web"},
                    },
                }
            ]
        }
    }
    summary: Template = Field(
        min_length=1, description="Template of the alert's summary (cut at 1,024 characters)."
    )
    severity: Template = Field(
        default="",
        description="Template giving critical, error, warning or info; blank: error.",
    )
    dedup_key: Template = Field(
        default="",
        description="Template of the dedup key (1 to 255 characters); blank: each event is "
        "its own alert. Required with resolve_when.",
    )
    source: Template = Field(default="", description="Template of the source (cut at 255).")
    resolve_when: Template = Field(
        default="",
        description="A Jinja expression (no braces): when true the event resolves the alert "
        "with its dedup key, e.g. status == 'resolved'.",
    )
    labels: dict[LabelName, Template] = Field(
        default_factory=dict, max_length=20, description="Label name -> template."
    )
    sample: Any = Field(
        default=None,
        description="A payload the mapping must work on to be saved (a list: each item). "
        "Kept with the mapping; at most 64 KB.",
    )

    @field_validator("sample")
    @classmethod
    def _sample(cls, value: Any) -> Any:
        return _json_value(value, SAMPLE_MAX_BYTES)


class MappingOut(Out):
    summary: str
    severity: str
    dedup_key: str
    source: str
    resolve_when: str
    labels: dict[str, str]
    sample: Any = None


class IntegrationIn(In):
    model_config = {
        "json_schema_extra": {
            "examples": [{"service_id": 1, "type": "alertmanager", "name": "Prometheus"}]
        }
    }
    service_id: Id
    type: Literal["pagerduty", "alertmanager", "generic", "email"]
    name: str = Field(default="", max_length=120)
    mapping: MappingIn | None = Field(
        default=None,
        description="Generic integrations only: map any JSON instead of Warroom's format.",
    )


class IntegrationPatch(Patch):
    nullable = frozenset({"mapping"})
    name: str | None = Field(default=None, max_length=120)
    mapping: MappingIn | None = Field(
        default=None,
        description="The new mapping; null removes it (events must then be in "
        "Warroom's generic format).",
    )


class MappingTryIn(In):
    payload: Any = Field(description="A payload as the sender would post it (a list: each item).")
    mapping: MappingIn | None = Field(
        default=None, description="A mapping to try before saving it; left out: the saved one."
    )

    @field_validator("payload")
    @classmethod
    def _payload(cls, value: Any) -> Any:
        return _json_value(value, 512 * 1024)


class MappedEventOut(Out):
    action: Literal["trigger", "resolve"]
    summary: str
    severity: str
    dedup_key: str
    source: str
    labels: dict[str, str]
    unmapped: bool = Field(
        description="The mapping failed on this payload: intake keeps it as an alert with "
        "the raw payload and this fallback summary."
    )
    errors: list[str]


class MappingTryOut(Out):
    events: list[MappedEventOut]


class IntegrationOut(Out):
    id: int
    service_id: int
    type: str
    name: str
    routing_key: str | None = Field(
        default=None, description="Visible to admins and the owning team's responders."
    )
    url: str = Field(description="Where the tool sends its events.")
    created_at: datetime
    rotated_at: datetime | None
    mapping: MappingOut | None = None


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
    suppression: str | None = Field(
        default=None,
        description="why it does not page: silenced, maintenance, inhibited (caused by an "
        "incident on a dependency) or flapping; null: it pages",
    )
    suppressed_by: dict[str, Any] | None = None


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
    caused_by_id: int | None = Field(
        default=None,
        description="the open incident on a dependency this one was caused by (it did not page)",
    )
    major: bool = Field(
        default=False,
        description="a major incident (its commander accepted; internal, never on the status page)",
    )
    roles: list[RoleOut]


class DeclareIn(In):
    title: str = Field(min_length=1, max_length=500, pattern=NONBLANK)
    description: str = Field(default="", max_length=20000)
    impact: int = Field(ge=1, le=3, description="1 high .. 3 low")
    urgency: int = Field(ge=1, le=3, description="1 high .. 3 low")
    service_ids: list[Id] = Field(default=[], max_length=1000)


class ActionIn(In):
    note: str | None = Field(default=None, max_length=5000)


class PriorityIn(In):
    impact: int | None = Field(default=None, ge=1, le=3)
    urgency: int | None = Field(default=None, ge=1, le=3)
    reason: str = Field(
        min_length=1, max_length=2000, pattern=NONBLANK, description="Why; kept on the timeline."
    )


class NoteIn(In):
    text: str = Field(min_length=1, max_length=20000, pattern=NONBLANK)


class RoleIn(In):
    user_id: Id


class TaskIn(In):
    title: str = Field(min_length=1, max_length=500, pattern=NONBLANK)
    owner_id: Id | None = None
    due_at: Instant | None = None

    @field_validator("due_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("due_at needs a time zone, e.g. 2026-11-27T10:00:00Z")
        return value


class TaskPatch(Patch):
    nullable = frozenset({"owner_id", "due_at"})
    title: str | None = Field(default=None, min_length=1, max_length=500, pattern=NONBLANK)
    owner_id: Id | None = None
    due_at: Instant | None = None
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
