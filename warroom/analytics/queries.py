"""What the metrics read: incidents' timestamps and alert counts, and pages, for a period.

A handful of queries per period, each along an index (incidents by triggered_at, notifications
by incident); the alerts table itself is never scanned (each incident keeps its alert count).
The arithmetic is `logic.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Select, select, type_coerce
from sqlalchemy.orm import Session

from warroom.analytics import logic
from warroom.catalog.models import Service, User
from warroom.incidents.models import Incident, incident_services
from warroom.notify.models import Notification

PAGE_KINDS = ("page", "mobilise")
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class Filter:
    since: datetime
    until: datetime
    team_id: int | None = None
    service_id: int | None = None
    priority: int | None = None

    def shifted(self, since: datetime, until: datetime) -> Filter:
        return Filter(since, until, self.team_id, self.service_id, self.priority)


def incident_ids(f: Filter) -> Select[int]:
    query = select(Incident.id).where(
        Incident.triggered_at >= f.since, Incident.triggered_at < f.until
    )
    return _narrow(query, f)


def _narrow(query: Q, f: Filter) -> Q:
    if f.priority is not None:
        query = query.where(Incident.priority == f.priority)
    if f.service_id is not None:
        query = query.where(
            Incident.id.in_(
                select(incident_services.c.incident_id).where(
                    incident_services.c.service_id == f.service_id
                )
            )
        )
    if f.team_id is not None:
        query = query.where(
            Incident.id.in_(
                select(incident_services.c.incident_id)
                .join(Service, Service.id == incident_services.c.service_id)
                .where(Service.team_id == f.team_id)
            )
        )
    return query


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive UTC; PostgreSQL aware values (any offset: differences are right).
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _raw(column: Any) -> Any:
    """A timestamp column without the per-value UTCDateTime conversion (`_utc` does it)."""
    return type_coerce(column, DateTime(timezone=True))


def incidents(session: Session, f: Filter) -> list[logic.IncidentFacts]:
    """The period's incidents as facts: one Core query along ix_incidents_triggered_at (the ORM's
    row machinery cost more than the query at 10,000 incidents)."""
    query = _narrow(
        select(
            Incident.id,
            Incident.priority,
            Incident.title,
            Incident.service_id,
            _raw(Incident.triggered_at),
            _raw(Incident.impact_started_at),
            _raw(Incident.acknowledged_at),
            _raw(Incident.mitigated_at),
            _raw(Incident.resolved_at),
            Incident.merged_into_id,
            Incident.alert_count,
        ).where(Incident.triggered_at >= f.since, Incident.triggered_at < f.until),
        f,
    ).order_by(Incident.triggered_at, Incident.id)
    rows = session.connection().execute(query).all()
    return [
        logic.IncidentFacts(
            iid,
            prio,
            title,
            sid,
            trig if trig.tzinfo else trig.replace(tzinfo=UTC),
            _utc(imp),
            _utc(ack),
            _utc(mit),
            _utc(res),
            merged,
            n,
        )
        for iid, prio, title, sid, trig, imp, ack, mit, res, merged, n in rows
    ]


def pages(session: Session, f: Filter) -> list[logic.PageFacts]:
    """One fact per page: an escalation step's or a mobilisation's rows to one person share
    the idempotency key up to "-r<rule>" (one row per contact method and fallback)."""
    rows = session.execute(
        select(
            Notification.user_id,
            Notification.created_at,
            User.time_zone,
            Notification.idempotency_key,
        )
        .join(User, User.id == Notification.user_id)
        .where(
            Notification.incident_id.in_(incident_ids(f)),
            Notification.kind.in_(PAGE_KINDS),
        )
    )
    first: dict[tuple[int, str], logic.PageFacts] = {}
    for uid, at, zone, key in rows:
        if uid is None:
            continue
        group = (uid, key.split("-r", 1)[0])
        seen = first.get(group)
        if seen is None or at < seen.at:
            first[group] = logic.PageFacts(uid, at, zone)
    return list(first.values())


@dataclass(frozen=True)
class Report:
    """Everything the metrics page, its CSV and the API show for one filter."""

    filter: Filter
    previous: Filter
    summary: logic.Summary
    previous_summary: logic.Summary
    load: list[logic.Load]
    noisy: list[logic.Noisy]
    recurring: list[logic.Recurring]
    names: dict[int, str]
    services: dict[int, str]

    def trend(self, metric: str) -> float | None:
        now, before = _headline(self.summary, metric), _headline(self.previous_summary, metric)
        return logic.trend(now, before)


def _headline(summary: logic.Summary, metric: str) -> float | None:
    if metric == "incidents":
        return float(summary.incidents)
    duration: logic.Duration = getattr(summary, metric)
    return duration.mean_seconds


def report(session: Session, f: Filter, now: datetime) -> Report:
    since, until = logic.previous_period(f.since, f.until)
    previous = f.shifted(since, until)
    current = incidents(session, f)
    load = logic.on_call_load(pages(session, f))
    names = (
        {
            uid: name or username
            for uid, name, username in session.execute(
                select(User.id, User.name, User.username).where(
                    User.id.in_([x.user_id for x in load])
                )
            )
        }
        if load
        else {}
    )
    return Report(
        filter=f,
        previous=previous,
        summary=logic.summarise(current, now),
        previous_summary=logic.summarise(incidents(session, previous), now, with_sla=False),
        load=load,
        noisy=logic.noisy(current),
        recurring=logic.recurring(current),
        names=names,
        services=service_names(session),
    )


def service_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Service.id, Service.name)).all())
