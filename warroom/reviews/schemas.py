"""Request and response bodies of reviews, action items, feedback and metrics (inputs forbid
unknown keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from warroom.common.schemas import NONBLANK, Id, In, Instant, Out, Patch

TEXT_MAX = 50_000
TITLE_MAX = 500


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-11-27T10:00:00Z")
    return value


class ReviewPatch(Patch):
    summary: str | None = Field(default=None, max_length=TEXT_MAX)
    what_happened: str | None = Field(default=None, max_length=TEXT_MAX)
    contributing_factors: str | None = Field(default=None, max_length=TEXT_MAX)
    went_well: str | None = Field(default=None, max_length=TEXT_MAX)
    went_badly: str | None = Field(default=None, max_length=TEXT_MAX)
    got_lucky: str | None = Field(default=None, max_length=TEXT_MAX)
    lessons: str | None = Field(default=None, max_length=TEXT_MAX)
    public_summary: str | None = Field(
        default=None,
        max_length=TEXT_MAX,
        description="Shown on the public status page with the incident once published",
    )
    due_at: Instant | None = None
    impact_started_at: Instant | None = Field(
        default=None, description="When the impact really began (the incident's own record)"
    )
    reviewer_ids: list[Id] | None = Field(default=None, max_length=50)

    _aware_due = field_validator("due_at", "impact_started_at")(_aware)


class StarIn(In):
    note: str = Field(default="", max_length=5_000)


class KeyTimeOut(Out):
    name: str
    label: str
    at: datetime | None


class StepOut(Out):
    label: str
    start: str
    end: str
    seconds: float


class RoleHoldOut(Out):
    role: str
    user_id: int
    name: str
    start: datetime
    end: datetime | None


class AlertGroupOut(Out):
    summary: str
    severity: str
    service: str
    count: int
    events: int
    first: datetime
    last: datetime


class StarOut(Out):
    timeline_event_id: int
    at: datetime
    message: str
    note: str


class ReviewOut(Out):
    id: int
    incident_id: int
    status: str
    title: str
    priority: int
    services: list[str]
    summary: str
    what_happened: str
    contributing_factors: str
    went_well: str
    went_badly: str
    got_lucky: str
    lessons: str
    public_summary: str
    due_at: datetime
    overdue: bool
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    reviewer_ids: list[int]
    key_times: list[KeyTimeOut]
    durations: list[StepOut]
    seconds_at_priority: dict[str, float]
    roles: list[RoleHoldOut]
    pages: int
    people_paged: list[str]
    alert_total: int
    alerts_by_severity: dict[str, int]
    alert_groups: list[AlertGroupOut]
    starred: list[StarOut]
    action_item_ids: list[int]


class ReviewListItem(Out):
    id: int
    incident_id: int
    incident_title: str
    priority: int
    status: str
    due_at: datetime
    overdue: bool


ItemStatus = Literal["open", "in_progress", "done"]


class ActionItemIn(In):
    title: str = Field(min_length=1, max_length=TITLE_MAX, pattern=NONBLANK)
    description: str = Field(default="", max_length=TEXT_MAX)
    owner_id: Id | None = None
    team_id: Id | None = None
    priority: int = Field(default=3, ge=1, le=4)
    due_at: Instant | None = None

    _aware_due = field_validator("due_at")(_aware)


class ActionItemPatch(Patch):
    nullable = frozenset({"owner_id", "team_id", "due_at"})
    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX, pattern=NONBLANK)
    description: str | None = Field(default=None, max_length=TEXT_MAX)
    owner_id: Id | None = None
    team_id: Id | None = None
    priority: int | None = Field(default=None, ge=1, le=4)
    status: ItemStatus | None = None
    due_at: Instant | None = None

    _aware_due = field_validator("due_at")(_aware)


class ActionItemOut(Out):
    id: int
    incident_id: int
    review_id: int | None
    title: str
    description: str
    owner_id: int | None
    team_id: int | None
    priority: int
    status: str
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None


class FeedbackIn(In):
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=5_000)


class FeedbackOut(Out):
    incident_id: int
    user_id: int
    rating: int
    comment: str
    created_at: datetime


# --- metrics ---------------------------------------------------------------------------------


class DurationOut(Out):
    count: int
    excluded: int
    mean_seconds: float | None
    median_seconds: float | None
    previous_mean_seconds: float | None
    trend: float | None = Field(description="Change from the previous period: 0.25 = 25 % more")
    definition: str


class SlaOut(Out):
    priority: int
    kind: str
    met: int
    missed: int
    share: float | None


class MetricsSummaryOut(Out):
    since: datetime
    until: datetime
    previous_since: datetime
    incidents: int
    previous_incidents: int
    incidents_trend: float | None
    by_priority: dict[str, int]
    mttd: DurationOut
    mtta: DurationOut
    mttm: DurationOut
    mttr: DurationOut
    sla: list[SlaOut]
    feedback_count: int
    feedback_mean: float | None
    definitions: dict[str, str]


class LoadOut(Out):
    user_id: int
    name: str
    pages: int
    out_of_hours: int


class NoisyOut(Out):
    service_id: int | None
    service: str
    signature: str
    alerts: int
    incidents: int


class RecurringOut(Out):
    service_id: int | None
    service: str
    signature: str
    incident_ids: list[int]
