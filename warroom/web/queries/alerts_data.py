"""What the alerts page reads: a filtered, bounded search of alerts newest first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert, of_incident
from warroom.catalog.models import Service
from warroom.web.queries.refs import Ref
from warroom.web.queries.war_room_data import AlertRow

ALERTS_PAGE = 50


# --- alerts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertFilter:
    q: str = ""
    status: str = ""
    severity: str = ""
    service_id: int | None = None
    incident_id: int | None = None
    before: int | None = None  # keyset: alerts with a smaller id


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_alerts(
    session: Session, f: AlertFilter, limit: int = ALERTS_PAGE
) -> tuple[list[AlertRow], int | None]:
    """Newest first; returns the rows and the id to pass as `before` for the next page."""
    query = select(Alert, Service.id, Service.name).join(Service, Service.id == Alert.service_id)
    if f.q:
        query = query.where(Alert.summary.ilike(_like_pattern(f.q), escape="\\"))
    if f.status:
        query = query.where(Alert.status == f.status)
    if f.severity:
        query = query.where(Alert.severity == f.severity)
    if f.service_id is not None:
        query = query.where(Alert.service_id == f.service_id)
    if f.incident_id is not None:
        query = of_incident(query, f.incident_id)
    if f.before is not None:
        query = query.where(Alert.id < f.before)
    rows = list(session.execute(query.order_by(Alert.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    found = [AlertRow(a, Ref(sid, name)) for a, sid, name in rows]
    return found, (found[-1].alert.id if more and found else None)
