"""Load-decide-store for one group commit: the rows a batch touches, plan_batch, alert writes.

Alerts decide; the incident side of the plan (incidents, timeline, paging) is handed to
:func:`warroom.incidents.bulk.apply_alert_decisions`, which owns those rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import Connection, Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from warroom.alerts.holds import load_suppression
from warroom.alerts.logic import (
    OPEN_INCIDENT,
    AlertState,
    Outcome,
    Plan,
    ServiceRule,
    Signal,
    Submission,
    plan_batch,
)
from warroom.alerts.models import HELD_WHERE, Alert
from warroom.alerts.release_timers import schedule_releases
from warroom.catalog.models import Integration, Service
from warroom.incidents.bulk import AlertDecisions, apply_alert_decisions
from warroom.incidents.logic import IncidentState, Matrix
from warroom.incidents.models import Incident

KEY_CHUNK = 500
# Held alerts one release timer plans at most; more: another timer at once.
RELEASE_BATCH = 2_000
ALERTS = cast(Table, Alert.__table__)


class RoutedSignals(Protocol):
    """What intake hands over for one request (intake's ParsedRequest): alerts sit below intake
    and do not import it."""

    @property
    def source_type(self) -> str: ...
    @property
    def routing_key(self) -> str: ...
    @property
    def signals(self) -> Sequence[Signal]: ...


@dataclass(frozen=True)
class IngestResult:
    """What one request gets back: its outcomes, or why its routing key was refused."""

    outcomes: list[Outcome]
    refused: str | None = None
    opened_incidents: tuple[int, ...] = ()


def ingest_batch(
    session: Session, requests: Sequence[RoutedSignals], now: datetime, matrix: Matrix
) -> list[IngestResult]:
    """Store a batch of parsed requests in the session's transaction (the caller commits)."""
    conn = session.connection()
    keys = {r.routing_key for r in requests}
    integ_t = Integration.__table__.c
    integrations = {
        row.routing_key: row
        for row in conn.execute(
            select(
                integ_t.id, integ_t.routing_key, integ_t.type, integ_t.name, integ_t.service_id
            ).where(integ_t.routing_key.in_(keys))
        )
    }
    results: list[IngestResult | None] = [None] * len(requests)
    submissions: list[Submission] = []
    positions: list[int] = []
    for i, req in enumerate(requests):
        integ = integrations.get(req.routing_key)
        if integ is None:
            results[i] = IngestResult([], refused="unknown routing key")
            continue
        if integ.type != req.source_type:
            article = "an" if integ.type[:1] in "aeiou" else "a"
            results[i] = IngestResult(
                [],
                refused=f"this routing key belongs to {article} {integ.type} integration; "
                f"send {integ.type} events to its own endpoint",
            )
            continue
        submissions.append(
            Submission(integ.id, integ.name or integ.type, integ.service_id, tuple(req.signals))
        )
        positions.append(i)
    if not submissions:
        return [r for r in results if r is not None]

    plan, new_ids = _plan_and_store(conn, submissions, now, matrix)
    opened_by_request: dict[int, list[int]] = defaultdict(list)
    for sub_index, outcomes in enumerate(plan.outcomes):
        for o in outcomes:
            if o.alert_ref is not None:
                ref = plan.new_alerts[o.alert_ref].incident_ref
                if ref is not None and ref < 0:
                    opened_by_request[sub_index].append(new_ids[ref])
    for sub_index, (pos, outcomes) in enumerate(zip(positions, plan.outcomes, strict=True)):
        opened = tuple(dict.fromkeys(opened_by_request.get(sub_index, ())))
        results[pos] = IngestResult(outcomes, opened_incidents=opened)
    return [r for r in results if r is not None]


def _plan_and_store(
    conn: Connection, submissions: list[Submission], now: datetime, matrix: Matrix
) -> tuple[Plan, dict[int, int]]:
    """Load what the submissions touch, plan, store; returns the plan and new incident ids."""
    service_ids = sorted({s.service_id for s in submissions})
    svc_t = Service.__table__.c
    service_query = (
        select(
            svc_t.id,
            svc_t.tier,
            svc_t.grouping_window_seconds,
            svc_t.auto_resolve,
            svc_t.escalation_policy_id,
        )
        .where(svc_t.id.in_(service_ids))
        .order_by(svc_t.id)
    )
    if conn.dialect.name == "postgresql":
        # Serialises writers of the same services across processes: two API nodes cannot both
        # open an incident for one service, or race an incident change.
        service_query = service_query.with_for_update()
    services: dict[int, ServiceRule] = {}
    policies: dict[int, int | None] = {}
    for row in conn.execute(service_query):
        services[row.id] = ServiceRule(row.tier, row.grouping_window_seconds, row.auto_resolve)
        policies[row.id] = row.escalation_policy_id
    open_alerts = _load_open_alerts(conn, submissions)
    incident_ids = {a.incident_ref for a in open_alerts.values() if a.incident_ref is not None}
    latest: dict[int, int] = {}
    inc_t = Incident.__table__.c
    for service_id in service_ids:
        found = conn.execute(
            select(inc_t.id)
            # Only incidents alerts have joined: a declared one has no last_alert_at, and
            # PostgreSQL sorts NULL first in DESC, which would hide the alert-born incident.
            .where(
                inc_t.service_id == service_id,
                inc_t.status.in_(OPEN_INCIDENT),
                inc_t.last_alert_at.is_not(None),
            )
            .order_by(inc_t.last_alert_at.desc())
            .limit(1)
        ).scalar()
        if found is not None:
            latest[service_id] = found
            incident_ids.add(found)
    needs_counts = any(sig.action != "trigger" for s in submissions for sig in s.signals)
    incidents = _load_incidents(conn, incident_ids, needs_counts)
    suppression = load_suppression(conn, service_ids, now)

    plan = plan_batch(
        submissions, open_alerts, incidents, latest, services, now, matrix, suppression
    )
    if plan.release_at:
        schedule_releases(conn, plan.release_at, now)

    # Incidents are stored by their owner; alerts then point at the real incident ids.
    new_ids = apply_alert_decisions(
        conn,
        AlertDecisions(plan.new_incidents, plan.changed_incidents, plan.timeline, policies),
        now,
    )

    def real(ref: int | None) -> int | None:
        return None if ref is None else new_ids.get(ref, ref)

    if plan.new_alerts:
        _insert_alerts(conn, plan.new_alerts, real)
    if plan.changed_alerts:
        alert_t = Alert.__table__.c
        conn.execute(
            update(ALERTS).where(alert_t.id == bindparam("ref")),
            [
                {
                    "ref": a.id,
                    "status": a.status,
                    "severity": a.severity,
                    "summary": a.summary,
                    "details": a.details,
                    "links": a.links,
                    "labels": a.labels,
                    "event_count": a.event_count,
                    "last_event_at": a.last_event_at,
                    "acknowledged_at": a.acknowledged_at,
                    "resolved_at": a.resolved_at,
                    # A held alert released into an incident, or held by something else now.
                    "incident_id": real(a.incident_ref),
                    "suppression": a.suppression,
                    "suppressed_by": a.suppressed_by,
                }
                for a in plan.changed_alerts
            ],
        )
    return plan, new_ids


def release_held(session: Session, now: datetime, matrix: Matrix) -> int:
    """Plan again the alerts a silence or maintenance held back and that still fire: those no
    longer held join or open incidents and page, the others stay held (until their new end).
    Run by the engine's release timer; returns how many alerts were looked at."""
    conn = session.connection()
    a, i = Alert.__table__.c, Integration.__table__.c
    rows = conn.execute(
        select(
            a.integration_id,
            a.dedup_key,
            a.severity,
            a.summary,
            a.source,
            a.labels,
            i.name,
            i.type,
            i.service_id,
        )
        .join(Integration.__table__, i.id == a.integration_id)
        .where(text(HELD_WHERE))
        .order_by(a.id)
        .limit(RELEASE_BATCH)
    ).all()
    if not rows:
        return 0
    by_integration: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        by_integration[r.integration_id].append(r)
    submissions = [
        Submission(
            integration_id,
            group[0].name or group[0].type,
            group[0].service_id,
            tuple(
                Signal(
                    action="release",
                    dedup_key=r.dedup_key,
                    severity=r.severity,
                    summary=r.summary,
                    source=r.source,
                    labels=r.labels or {},
                )
                for r in group
            ),
        )
        for integration_id, group in by_integration.items()
    ]
    _plan_and_store(conn, submissions, now, matrix)
    if len(rows) == RELEASE_BATCH:
        schedule_releases(conn, {now}, now)  # more to look at: another round at once
    return len(rows)


ALERT_COLUMNS = (
    "integration_id",
    "service_id",
    "incident_id",
    "dedup_key",
    "status",
    "severity",
    "summary",
    "source",
    "details",
    "links",
    "labels",
    "group_key",
    "event_count",
    "started_at",
    "created_at",
    "last_event_at",
    "acknowledged_at",
    "resolved_at",
    "suppression",
    "suppressed_by",
)


def _insert_alerts(
    conn: Connection, alerts: list[AlertState], real: Callable[[int | None], int | None]
) -> None:
    """New alerts straight to the driver's executemany: the intake's widest write, where
    SQLAlchemy's per-value bind processing cost more than SQLite's insert itself. Values are
    encoded exactly as the column types would (SQLite: naive UTC text; JSON: a JSON string)."""
    if conn.dialect.name == "sqlite":
        placeholder = "?"

        # A batch's alerts share a handful of distinct times (the commit's now, the group's
        # startsAt): format each once.
        formatted: dict[datetime, str] = {}

        def ts(value: datetime | None) -> Any:
            if value is None:
                return None
            text = formatted.get(value)
            if text is None:
                # isoformat, not strftime("%Y..."): glibc does not pad years before 1000
                # ("86-09-11"), and SQLAlchemy then cannot read the row back (every list 500s).
                naive = value.astimezone(UTC).replace(tzinfo=None)
                text = formatted[value] = naive.isoformat(sep=" ", timespec="microseconds")
            return text
    else:
        placeholder = "%s"

        def ts(value: datetime | None) -> Any:
            return value

    sql = (
        f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) "  # noqa: S608 - constant columns
        f"VALUES ({', '.join([placeholder] * len(ALERT_COLUMNS))})"
    )
    conn.exec_driver_sql(
        sql,
        [
            (
                a.integration_id,
                a.service_id,
                real(a.incident_ref),
                a.dedup_key,
                a.status,
                a.severity,
                a.summary,
                a.source,
                _json(a.details),
                _json(a.links),
                _json(a.labels),
                a.group_key,
                a.event_count,
                ts(a.started_at),
                ts(a.created_at),
                ts(a.last_event_at),
                ts(a.acknowledged_at),
                ts(a.resolved_at),
                a.suppression,
                None if a.suppressed_by is None else _json(a.suppressed_by),
            )
            for a in alerts
        ],
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _load_open_alerts(
    conn: Connection, submissions: list[Submission]
) -> dict[tuple[int, str], AlertState]:
    wanted: dict[int, set[str]] = defaultdict(set)
    for sub in submissions:
        wanted[sub.integration_id].update(sig.dedup_key for sig in sub.signals)
    found: dict[tuple[int, str], AlertState] = {}
    placeholder = "?" if conn.dialect.name == "sqlite" else "%s"
    for integration_id, keyset in wanted.items():
        keys = sorted(keyset)
        # First only the keys, straight through the driver: in an alert storm most keys are
        # new, and building a 500-parameter IN through SQLAlchemy costs more than the lookup.
        open_keys: list[str] = []
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start : start + KEY_CHUNK]
            sql = (
                "SELECT dedup_key FROM alerts WHERE integration_id = "  # noqa: S608 - placeholders
                f"{placeholder} AND status <> 'resolved' AND dedup_key IN "
                f"({', '.join([placeholder] * len(chunk))})"
            )
            open_keys += [r[0] for r in conn.exec_driver_sql(sql, (integration_id, *chunk))]
        keys = sorted(open_keys)
        for start in range(0, len(keys), KEY_CHUNK):
            t = Alert.__table__.c
            rows = conn.execute(
                select(
                    t.id,
                    t.integration_id,
                    t.service_id,
                    t.dedup_key,
                    t.status,
                    t.severity,
                    t.incident_id,
                    t.event_count,
                    t.summary,
                    t.details,
                    t.links,
                    t.labels,
                    t.last_event_at,
                    t.acknowledged_at,
                    t.suppression,
                    t.suppressed_by,
                ).where(
                    t.integration_id == integration_id,
                    t.dedup_key.in_(keys[start : start + KEY_CHUNK]),
                    t.status != "resolved",
                )
            )
            for r in rows:
                found[(r.integration_id, r.dedup_key)] = AlertState(
                    id=r.id,
                    integration_id=r.integration_id,
                    service_id=r.service_id,
                    dedup_key=r.dedup_key,
                    status=r.status,
                    severity=r.severity,
                    incident_ref=r.incident_id,
                    event_count=r.event_count,
                    summary=r.summary,
                    details=r.details,
                    links=r.links,
                    labels=r.labels,
                    last_event_at=r.last_event_at,
                    acknowledged_at=r.acknowledged_at,
                    suppression=r.suppression,
                    suppressed_by=r.suppressed_by,
                )
    return found


def _load_incidents(conn: Connection, ids: set[int], with_counts: bool) -> dict[int, IncidentState]:
    if not ids:
        return {}
    query: Any = select(Incident.__table__).where(Incident.__table__.c.id.in_(ids))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    incidents = {
        inc.id: IncidentState(
            ref=inc.id,
            service_id=inc.service_id,
            status=inc.status,
            impact=inc.impact,
            urgency=inc.urgency,
            priority=inc.priority,
            priority_source=inc.priority_source,
            severity=inc.severity,
            alert_count=inc.alert_count,
            open_alerts=0,
            triggered_alerts=0,
            last_alert_at=inc.last_alert_at,
            title=inc.title,
            triggered_at=inc.triggered_at,
            impact_started_at=inc.impact_started_at,
            acknowledged_at=inc.acknowledged_at,
            resolved_at=inc.resolved_at,
            caused_by_ref=inc.caused_by_id,
        )
        for inc in conn.execute(query)
    }
    if with_counts:
        t = Alert.__table__.c
        counts = conn.execute(
            select(t.incident_id, t.status, func.count())
            .where(t.incident_id.in_(ids), t.status != "resolved")
            .group_by(t.incident_id, t.status)
        )
        for incident_id, status, n in counts:
            state = incidents.get(incident_id)
            if state is not None:
                state.open_alerts += n
                if status == "triggered":
                    state.triggered_alerts += n
    return incidents
