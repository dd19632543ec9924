"""Request and response bodies of the user report API."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from warroom.common.schemas import NONBLANK, Id, In, Out


class ReportIn(In):
    service_id: Id
    description: str = Field(min_length=1, max_length=5000, pattern=NONBLANK)


class ReportOut(Out):
    id: int
    service_id: int
    reporter_id: int | None
    description: str
    source: str
    incident_id: int | None = Field(description="The incident it attached to or raised")
    created_at: datetime
