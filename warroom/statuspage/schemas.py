"""Request and response bodies of the status page's admin API (warroom/api/statuspage.py)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from warroom.common.schemas import NONBLANK, Id, In, Instant, Out, Patch

Status = Literal[
    "operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"
]
Colour = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class PageSettingsIn(In):
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    logo_text: str = Field(default="", max_length=40)
    accent_colour: str = Field(default="#1f6feb", pattern=r"^#[0-9a-fA-F]{6}$")
    header_colour: str = Field(default="#0d1117", pattern=r"^#[0-9a-fA-F]{6}$")
    header_text_colour: str = Field(default="#ffffff", pattern=r"^#[0-9a-fA-F]{6}$")


class PageSettingsOut(Out):
    name: str
    logo_text: str
    accent_colour: str
    header_colour: str
    header_text_colour: str


class ComponentIn(In):
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    description: str = Field(default="", max_length=5000)
    group_id: Id | None = None
    service_id: Id | None = None
    private: bool = False
    position: int = Field(default=0, ge=0, le=100_000)


class ComponentPatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"group_id", "service_id", "manual_status"})
    name: str | None = Field(default=None, min_length=1, max_length=120, pattern=NONBLANK)
    description: str | None = Field(default=None, max_length=5000)
    group_id: Id | None = None
    service_id: Id | None = None
    private: bool | None = None
    position: int | None = Field(default=None, ge=0, le=100_000)
    # Set by hand (with a reason); null goes back to the derived status.
    manual_status: Status | None = None
    manual_reason: str | None = Field(default=None, max_length=2000)


class ComponentOut(Out):
    id: int
    name: str
    description: str
    group_id: int | None
    service_id: int | None
    private: bool
    position: int
    status: str
    status_source: str
    manual_status: str | None
    manual_reason: str
    created_at: datetime


class GroupIn(In):
    name: str = Field(min_length=1, max_length=120, pattern=NONBLANK)
    description: str = Field(default="", max_length=5000)
    position: int = Field(default=0, ge=0, le=100_000)


class GroupPatch(Patch):
    name: str | None = Field(default=None, min_length=1, max_length=120, pattern=NONBLANK)
    description: str | None = Field(default=None, max_length=5000)
    position: int | None = Field(default=None, ge=0, le=100_000)


class GroupOut(Out):
    id: int
    name: str
    description: str
    position: int
    created_at: datetime


class WindowIn(In):
    title: str = Field(min_length=1, max_length=200, pattern=NONBLANK)
    description: str = Field(default="", max_length=10_000)
    starts_at: Instant
    ends_at: Instant
    component_ids: list[Id] = Field(default=[], max_length=1000)
    service_ids: list[Id] = Field(default=[], max_length=1000)
    public: bool = True
    rrule: str | None = Field(
        default=None,
        max_length=500,
        description="RFC 5545 RRULE read in time_zone, e.g. FREQ=WEEKLY;BYDAY=SU: the window "
        "repeats, each occurrence starting at starts_at's local time and lasting "
        "ends_at - starts_at; announced once, shown on the page per occurrence",
    )
    recur_until: Instant | None = Field(
        default=None, description="no occurrence starts after this (rrule only)"
    )
    time_zone: str = Field(default="UTC", max_length=64, description="IANA zone of the rrule")


class WindowPatch(Patch):
    title: str | None = Field(default=None, min_length=1, max_length=200, pattern=NONBLANK)
    description: str | None = Field(default=None, max_length=10_000)
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    component_ids: list[Id] | None = Field(default=None, max_length=1000)
    service_ids: list[Id] | None = Field(default=None, max_length=1000)
    public: bool | None = None


class WindowOut(Out):
    id: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    public: bool
    component_ids: list[int]
    service_ids: list[int]
    created_at: datetime
    cancelled_at: datetime | None
    rrule: str | None
    recur_until: datetime | None
    time_zone: str
    recurrence: str = Field(description="a recurring window's rule in words ('' if one-off)")
    next_starts_at: datetime | None = Field(
        description="the occurrence in progress, else the next to start (None: no more)"
    )
    next_ends_at: datetime | None


class SubscriberIn(In):
    channel: Literal["email", "webhook"]
    address: str = Field(min_length=3, max_length=2000, pattern=NONBLANK)
    component_ids: list[Id] = Field(default=[], max_length=1000)


class SubscriberOut(Out):
    id: int
    channel: str
    address: str
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    component_ids: list[int]
    created_at: datetime
    # Webhooks created through the API: the signing secret, in this answer only.
    secret: str | None = None
