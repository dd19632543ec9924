"""Version stamps the live event stream compares: a page reloads when its stamp changes."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.incidents.models import (
    OPEN_STATUSES,
    Incident,
    TimelineEvent,
)

# --- live version stamps (what the event stream compares) ---------------------------------------


def incident_version(session: Session, incident_id: int) -> tuple[object, ...] | None:
    """Changes whenever anything shown in the war room changes; None if the incident is gone.

    The event count is there because on PostgreSQL a transaction can commit a smaller id after a
    larger one is visible: the maximum alone would miss it.
    """
    row = session.execute(
        select(Incident.updated_at, Incident.status, Incident.alert_count).where(
            Incident.id == incident_id
        )
    ).first()
    if row is None:
        return None
    last, count = session.execute(
        select(func.max(TimelineEvent.id), func.count()).where(
            TimelineEvent.incident_id == incident_id
        )
    ).one()
    return (*row, last, count)


def dashboard_version(session: Session) -> tuple[object, ...]:
    """Changes when an incident is created or anything is recorded on any timeline."""
    last_event = session.scalar(select(func.max(TimelineEvent.id)))
    last_incident = session.scalar(select(func.max(Incident.id)))
    open_state = session.execute(
        select(func.count(), func.max(Incident.updated_at)).where(
            Incident.status.in_(OPEN_STATUSES)
        )
    ).one()
    return (last_event, last_incident, *open_state)


def version_tag(version: object) -> str:
    """A short opaque tag of a version stamp, to put in a page and compare with the stream's."""
    return hashlib.sha256(repr(version).encode()).hexdigest()[:16]
