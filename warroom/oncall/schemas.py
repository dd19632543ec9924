"""Request and response bodies of on-call: schedules, overrides, escalation policies, who is on
call, and people's notification rules and quiet hours (contact methods: notify.schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from warroom.common.schemas import NONBLANK, Id, In, Instant, Out, Patch, TimeZone

# "HH:MM", 00:00 to 23:59. A window across midnight ends earlier than it starts.
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# Custom shifts longer than this are a typo, and would step past year 9999 in computations.
MAX_SHIFT_SECONDS = 366 * 86400
# Shorter custom shifts are refused by the service with a clear message (not by the schema, so
# that zero and negative lengths get the "must be positive" message of issue 3).
MIN_SHIFT_SECONDS = 3600
# A step waiting more than a day for an acknowledgement is not an escalation.
MAX_STEP_DELAY = 86400
Rotation = Literal["hourly", "daily", "weekly", "custom"]
TargetType = Literal["user", "schedule", "team"]
Urgency = Literal["high", "low"]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-11-27T09:00:00Z")
    return value


# --- schedules ---------------------------------------------------------------------------------


class RestrictionIn(In):
    weekdays: list[int] = Field(
        min_length=1,
        max_length=7,
        description="Days the window opens: 0 = Monday .. 6 = Sunday",
        # The service checks the range (its message names the days); the document shows it.
        json_schema_extra={"items": {"type": "integer", "minimum": 0, "maximum": 6}},
    )
    start: str = Field(pattern=HHMM, description="Wall-clock time in the schedule's zone")
    end: str = Field(pattern=HHMM, description="Earlier than start: the window ends next day")


class LayerIn(In):
    name: str = Field(default="", max_length=120)
    rotation: Rotation
    shift_seconds: int | None = Field(
        default=None,
        le=MAX_SHIFT_SECONDS,
        description="Custom rotations only: wall-clock shift length",
    )
    start: str = Field(
        max_length=32,
        description="First handoff, wall-clock time in the schedule's zone without offset "
        "(YYYY-MM-DDTHH:MM); its time of day is the handoff time",
    )
    end: str | None = Field(
        default=None, max_length=32, description="Optional end, same form as start"
    )
    member_ids: list[Id] = Field(max_length=500, description="The rotation's order")
    restrictions: list[RestrictionIn] = Field(
        default=[],
        max_length=50,
        description="Windows in which this layer's members are on call; none = always",
    )


class ScheduleIn(In):
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    description: str = Field(default="", max_length=5000)
    time_zone: TimeZone
    team_id: Id | None = None
    layers: list[LayerIn] = Field(
        min_length=1,
        max_length=50,
        description="Lowest first: a later layer wins where it has someone on call",
    )


class SchedulePatch(Patch):
    nullable = frozenset({"team_id"})  # no team
    name: str | None = Field(default=None, min_length=1, max_length=120, pattern=NONBLANK)
    description: str | None = Field(default=None, max_length=5000)
    time_zone: TimeZone | None = None
    team_id: Id | None = None
    layers: list[LayerIn] | None = Field(
        default=None, min_length=1, max_length=50, description="Replaces every layer when given"
    )


class RestrictionOut(Out):
    weekdays: list[int]
    start: str
    end: str


class LayerOut(Out):
    id: int
    position: int
    name: str
    rotation: str
    shift_seconds: int | None
    start: str
    end: str | None
    member_ids: list[int]
    restrictions: list[RestrictionOut]


class ScheduleOut(Out):
    id: int
    name: str
    description: str
    time_zone: str
    team_id: int | None
    layers: list[LayerOut]
    created_at: datetime
    warnings: list[str] = Field(
        description="Gaps in the next 7 days, deactivated members: fix before they page nobody"
    )


# --- overrides ---------------------------------------------------------------------------------


class OverrideIn(In):
    kind: Literal["add", "remove", "replace"]
    user_id: Id = Field(description="add: who is added; remove/replace: who is taken off")
    replacement_id: Id | None = Field(default=None, description="replace only: who covers instead")
    start: Instant
    end: Instant
    note: str = Field(default="", max_length=2000)

    _check_aware = field_validator("start", "end")(_aware)


class OverrideOut(Out):
    id: int
    schedule_id: int
    kind: str
    user_id: int
    replacement_id: int | None
    start: datetime
    end: datetime
    note: str
    created_by_id: int | None
    created_at: datetime


# --- who is on call ----------------------------------------------------------------------------


class OnCallUser(Out):
    user_id: int
    name: str
    until: datetime | None = Field(description="When this person's stretch ends; null: > 1 year")


class NextHandoff(Out):
    at: datetime
    users: list[OnCallUser] = Field(description="Who is on call from then; empty: a gap starts")


class OnCallOut(Out):
    schedule_id: int
    schedule_name: str
    time_zone: str
    at: datetime
    on_call: list[OnCallUser]
    next: NextHandoff | None = Field(description="The next change; null: none within a year")


class OnCallOverview(Out):
    at: datetime
    schedules: list[OnCallOut]
    warnings: list[str]


class ShiftOut(Out):
    user_id: int
    name: str
    start: datetime
    end: datetime
    layer: int | None = Field(description="Position of the layer it comes from; null: override")


class GapOut(Out):
    start: datetime
    end: datetime


class ShiftsOut(Out):
    schedule_id: int
    since: datetime
    until: datetime
    shifts: list[ShiftOut]
    gaps: list[GapOut] = Field(description="Stretches with nobody on call")


class FeedOut(Out):
    url: str = Field(description="Subscribe to it in a calendar app; anyone with it can read it")


# --- escalation policies -----------------------------------------------------------------------


class TargetIn(In):
    type: TargetType
    id: Id


class StepIn(In):
    delay_seconds: int = Field(
        default=300,
        ge=0,
        le=MAX_STEP_DELAY,
        description="How long to wait for an acknowledgement before the next step",
    )
    targets: list[TargetIn] = Field(min_length=1, max_length=50)


class PolicyIn(In):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "Payments escalation",
                    "repeat": 1,
                    "steps": [
                        {"delay_seconds": 300, "targets": [{"type": "schedule", "id": 1}]},
                        {"delay_seconds": 600, "targets": [{"type": "user", "id": 2}]},
                    ],
                }
            ]
        }
    }
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    description: str = Field(default="", max_length=5000)
    team_id: Id | None = None
    repeat: int = Field(
        default=0,
        ge=0,
        le=9,
        description="How many more times the steps run if nobody acknowledges",
    )
    steps: list[StepIn] = Field(min_length=1, max_length=20)


class PolicyPatch(Patch):
    nullable = frozenset({"team_id"})  # no team
    name: str | None = Field(default=None, min_length=1, max_length=120, pattern=NONBLANK)
    description: str | None = Field(default=None, max_length=5000)
    team_id: Id | None = None
    repeat: int | None = Field(default=None, ge=0, le=9)
    steps: list[StepIn] | None = Field(
        default=None, min_length=1, max_length=20, description="Replaces every step"
    )


class TargetOut(Out):
    type: str
    id: int
    name: str = Field(description="The user's, schedule's or team's name; '' if it is gone")


class StepOut(Out):
    id: int
    position: int
    delay_seconds: int
    targets: list[TargetOut]


class PolicyOut(Out):
    id: int
    name: str
    description: str
    team_id: int | None
    repeat: int
    steps: list[StepOut]
    service_ids: list[int]
    created_at: datetime
    warnings: list[str] = Field(
        description="Deactivated or deleted targets, steps that would page nobody right now"
    )


class ServicePolicyIn(In):
    escalation_policy_id: Id | None = Field(description="null detaches the policy")


class ServicePolicyOut(Out):
    service_id: int
    escalation_policy_id: int | None


# --- notification rules, quiet hours (contact methods: warroom.notify.schemas) ---------------


class NotificationRuleIn(In):
    model_config = {
        "json_schema_extra": {
            "examples": [{"contact_method_id": 1, "urgency": "high", "delay_seconds": 120}]
        }
    }
    contact_method_id: Id
    urgency: Urgency = "high"
    delay_seconds: int = Field(default=0, ge=0, le=MAX_STEP_DELAY)


class NotificationRulePatch(Patch):
    contact_method_id: Id | None = None
    urgency: Urgency | None = None
    delay_seconds: int | None = Field(default=None, ge=0, le=MAX_STEP_DELAY)


class NotificationRuleOut(Out):
    id: int
    user_id: int
    contact_method_id: int
    urgency: str
    delay_seconds: int


class QuietHours(In):
    start: str | None = Field(
        default=None, pattern=HHMM, description="Local time in the user's zone"
    )
    end: str | None = Field(default=None, pattern=HHMM)


class TestSent(Out):
    notification_id: int = Field(description="The queued test message in the outbox")


class QuietHoursOut(Out):
    user_id: int
    time_zone: str
    start: str | None
    end: str | None
