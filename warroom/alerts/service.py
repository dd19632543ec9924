"""Load-decide-store for one group commit: the rows a batch touches, plan_batch, alert writes.

Alerts decide; the incident side of the plan (incidents, timeline, paging) is handed to
:func:`warroom.incidents.bulk.apply_alert_decisions`, which owns those rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import Connection, Table, delete, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from warroom.alerts import grouping_rules
from warroom.alerts.flapping import FlapRule, Record
from warroom.alerts.grouping import AlertView, Group, GroupingRules
from warroom.alerts.holds import load_suppression
from warroom.alerts.logic import (
    OPEN_INCIDENT,
    AlertState,
    Grouping,
    Outcome,
    Plan,
    ServiceRule,
    Signal,
    Submission,
    plan_batch,
)
from warroom.alerts.models import HELD_WHERE, Alert, AlertFlap
from warroom.alerts.release_timers import schedule_releases
from warroom.catalog.models import Integration
from warroom.incidents.bulk import AlertDecisions, apply_alert_decisions
from warroom.incidents.logic import IncidentState, Matrix

KEY_CHUNK = 500
_OPEN_STATUSES = ", ".join(f"'{status}'" for status in OPEN_INCIDENT)
ALERTS = cast(Table, Alert.__table__)
# Held alerts one release timer plans at most; more: another timer at once.
RELEASE_BATCH = 2_000


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
    # The routing key is known but its service is archived: the sender is told so (409), not
    # that the key is wrong.
    archived: bool = False


def ingest_batch(
    session: Session,
    requests: Sequence[RoutedSignals],
    now: datetime,
    matrix: Matrix,
    cache: BatchCache | None = None,
) -> list[IngestResult]:
    """Store a batch of parsed requests in the session's transaction (the caller commits).

    With a `cache` (SQLite's group committer), the batch's catalog rows come from memory while
    no other connection has written (see :class:`BatchCache`); the caller clears it when the
    transaction does not commit."""
    conn = session.connection()
    sql = _Driver(conn)
    state = cache.state(sql) if cache is not None else None
    integrations = _integrations(sql, {r.routing_key for r in requests}, state)
    results: list[IngestResult | None] = [None] * len(requests)
    submissions: list[Submission] = []
    positions: list[int] = []
    for i, req in enumerate(requests):
        integ = integrations.get(req.routing_key)
        if integ is None:
            results[i] = IngestResult([], refused="unknown routing key")
            continue
        if integ.archived:
            results[i] = IngestResult(
                [],
                refused=f"service {integ.service_name!r} is archived: Warroom accepts no events "
                "for it (nothing was stored); an admin can unarchive it on its page",
                archived=True,
            )
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

    plan, new_ids = _plan_and_store(conn, sql, submissions, now, matrix, state)
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
    conn: Connection,
    sql: _Driver,
    submissions: list[Submission],
    now: datetime,
    matrix: Matrix,
    state: CachedState | None,
) -> tuple[Plan, dict[int, int]]:
    """Load what the submissions touch, plan, store; returns the plan and new incident ids."""
    service_ids = sorted({s.service_id for s in submissions})
    services, policies = _services(sql, service_ids, state)
    open_alerts, flap_memory = _load_open_alerts(sql, submissions, now)
    incident_ids = {a.incident_ref for a in open_alerts.values() if a.incident_ref is not None}
    rules = _grouping_rules(conn, state)
    grouping = _grouping(sql, rules, submissions, services) if not rules.empty else None
    keys_of: dict[int, set[str]] = defaultdict(set)
    if grouping is not None:
        for sub, groups in zip(submissions, grouping.groups, strict=True):
            keys_of[sub.service_id].update(g.key for g in groups if g is not None)
    latest: dict[int, int] = {}
    keyed: dict[tuple[int, str], int] = {}
    for service_id in service_ids:
        # Only incidents alerts have joined: a declared one has no last_alert_at, and
        # PostgreSQL sorts NULL first in DESC, which would hide the alert-born incident.
        keys = sorted(keys_of.get(service_id, ())) if grouping is not None else []
        if not keys or keys == [""]:
            found = sql.rows(
                "SELECT id FROM incidents WHERE service_id = {p} AND status IN "  # noqa: S608
                f"({_OPEN_STATUSES}) AND last_alert_at IS NOT NULL AND grouping_key = '' "
                "ORDER BY last_alert_at DESC LIMIT 1",
                (service_id,),
            )
            if found:
                latest[service_id] = found[0][0]
                incident_ids.add(found[0][0])
            continue
        # Grouping rules: the newest open incident of each of the batch's keys.
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start : start + KEY_CHUNK]
            for incident_id, key in sql.rows(
                "SELECT id, grouping_key FROM incidents WHERE service_id = {p} AND status IN "  # noqa: S608
                f"({_OPEN_STATUSES}) AND last_alert_at IS NOT NULL "
                "AND grouping_key IN ({many}) ORDER BY last_alert_at DESC",
                (service_id, *chunk),
                len(chunk),
            ):
                if key == "":
                    if service_id not in latest:
                        latest[service_id] = incident_id
                        incident_ids.add(incident_id)
                elif (service_id, key) not in keyed:
                    keyed[(service_id, key)] = incident_id
                    incident_ids.add(incident_id)
    if grouping is not None:
        grouping = replace(grouping, latest=keyed)
        incident_ids.update(grouping.on_dependency.values())
    needs_counts = any(sig.action != "trigger" for s in submissions for sig in s.signals)
    incidents = _load_incidents(sql, incident_ids, needs_counts)

    suppression = load_suppression(conn, service_ids, now)

    plan = plan_batch(
        submissions,
        open_alerts,
        incidents,
        latest,
        services,
        now,
        matrix,
        suppression,
        flap_memory,
        grouping,
    )
    if plan.release_at:
        schedule_releases(conn, plan.release_at, now)
    if plan.flap_memory:
        _remember_flaps(sql, plan.flap_memory)

    # Incidents are stored by their owner; alerts then point at the real incident ids.
    new_ids = apply_alert_decisions(
        conn,
        AlertDecisions(plan.new_incidents, plan.changed_incidents, plan.timeline, policies),
        now,
    )

    def real(ref: int | None) -> int | None:
        return None if ref is None else new_ids.get(ref, ref)

    if plan.new_alerts:
        _insert_alerts(sql, plan.new_alerts, real)
    if plan.changed_alerts:
        _update_alerts(sql, plan.changed_alerts, real)
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
    _plan_and_store(conn, _Driver(conn), submissions, now, matrix, None)
    if len(rows) == RELEASE_BATCH:
        schedule_releases(conn, {now}, now)  # more to look at: another round at once
    return len(rows)


def prune_flap_memory(session: Session, now: datetime) -> int:
    """Forgets keys whose remembered changes no longer count (along ix_alert_flaps_expires_at)."""
    t = cast(Table, AlertFlap.__table__)
    result = session.connection().execute(delete(t).where(t.c.expires_at <= now))
    return int(result.rowcount or 0)


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
    "inhibits",
    "flap",
)


@dataclass(frozen=True)
class _Integration:
    id: int
    type: str
    name: str
    service_id: int
    service_name: str = ""
    archived: bool = False


class _Driver:
    """The batch's SQL straight through the DB-API cursor of the session's connection (inside
    its transaction). At one event per commit, building, caching and compiling SQLAlchemy
    statements and processing their results cost several times SQLite's own work; here each
    statement is a constant string and values are converted by hand, exactly as the column
    types would (SQLite: naive UTC text and JSON text; PostgreSQL: the driver's own types).

    Statements are written with ``{p}`` for one placeholder and ``{many}`` for a list of them."""

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"
        self.placeholder = "?" if self.sqlite else "%s"
        raw = conn.connection.driver_connection
        assert raw is not None
        self.raw: Any = raw
        self.cursor: Any = self.raw.cursor()
        self.dialect = conn.dialect
        self.error: type[Exception] = conn.dialect.loaded_dbapi.Error
        self._formatted: dict[datetime, str] = {}
        self._parsed: dict[str, datetime] = {}

    def text(self, sql: str, many: int = 0) -> str:
        return sql.format(p=self.placeholder, many=", ".join([self.placeholder] * many))

    def rows(self, sql: str, params: Sequence[Any], many: int = 0) -> list[Any]:
        statement = self.text(sql, many)
        try:
            self.cursor.execute(statement, params)
            return list(self.cursor.fetchall())
        except self.error as exc:
            raise self._wrapped(statement, params, exc) from exc

    def executemany(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        statement = self.text(sql)
        try:
            self.cursor.executemany(statement, params)
        except self.error as exc:
            raise self._wrapped(statement, params, exc) from exc

    def _wrapped(self, statement: str, params: Any, exc: Exception) -> BaseException:
        """The driver's error as SQLAlchemy raises it (IntegrityError, OperationalError, ...),
        which the committer tells apart: a conflict is retried, an unavailable database is 503."""
        return DBAPIError.instance(statement, params, exc, self.error, dialect=self.dialect)

    def ts(self, value: datetime | None) -> Any:
        """A time as the column stores it (a batch shares a handful: each is formatted once)."""
        if value is None or not self.sqlite:
            return value
        text = self._formatted.get(value)
        if text is None:
            # isoformat, not strftime("%Y..."): glibc does not pad years before 1000
            # ("86-09-11"), and SQLAlchemy then cannot read the row back (every list 500s).
            naive = value.astimezone(UTC).replace(tzinfo=None)
            text = self._formatted[value] = naive.isoformat(sep=" ", timespec="microseconds")
        return text

    def read_ts(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        parsed = self._parsed.get(value)
        if parsed is None:
            parsed = self._parsed[value] = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return parsed

    def read_json(self, value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, (str, bytes)) else value


class BatchCache:
    """Inputs of a batch that only other writers change, kept in memory between group commits.

    Used on SQLite, where one process writes and each batch runs on the committer's own
    connection: ``PRAGMA data_version`` on that connection changes exactly when another
    connection has committed since it last looked (its own commits do not change it). It is read
    inside the batch's write transaction, after ``BEGIN IMMEDIATE`` took the write lock, so
    nothing can change between the check and the batch's use of what is cached. Any change by
    anyone else (a service edited, an integration rotated, the engine recording a page) clears
    everything: reloading is what every batch did before, so a cleared cache costs nothing extra.

    What is cached must not be written by the intake batch itself (or the batch must update it
    before commit): integrations by routing key and service rules today. To cache another input,
    add a field to :class:`CachedState` and fill it on a miss, as :func:`_services` does; clearing
    and validation need no change. The committer calls :meth:`clear` whenever a transaction did
    not commit, and a fresh connection starts from an empty cache."""

    def __init__(self) -> None:
        self._state: CachedState | None = None
        self._owner: Any = None
        self._version: Any = None
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self._state = None
        self._owner = None

    def state(self, sql: _Driver) -> CachedState | None:
        if not sql.sqlite:
            return None
        version = sql.rows("PRAGMA data_version", ())[0][0]
        if self._state is not None and self._owner is sql.raw and self._version == version:
            self.hits += 1
            return self._state
        self.misses += 1
        self._state, self._owner, self._version = CachedState(), sql.raw, version
        return self._state


@dataclass
class CachedState:
    """One generation of :class:`BatchCache`: dropped whole when another connection writes."""

    integrations: dict[str, _Integration] = field(default_factory=dict)
    services: dict[int, tuple[ServiceRule, int | None]] = field(default_factory=dict)
    grouping_rules: GroupingRules | None = None


def _grouping_rules(conn: Connection, state: CachedState | None) -> GroupingRules:
    """The grouping rules: from the batch cache while nobody else wrote (SQLite), else from
    the per-engine cache behind one single-row question."""
    if state is not None and state.grouping_rules is not None:
        return state.grouping_rules
    rules = grouping_rules.active_rules(conn)
    if state is not None:
        state.grouping_rules = rules
    return rules


def _grouping(
    sql: _Driver,
    rules: GroupingRules,
    submissions: list[Submission],
    services: dict[int, ServiceRule],
) -> Grouping:
    """Each new alert's group by the rules (pure, once per signal), and for the services
    whose alerts may join a dependency's incident: their direct dependencies and the open
    incidents on those (one query each, only when such a rule applied)."""
    groups: list[tuple[Group | None, ...]] = []
    dependency_aware: set[int] = set()
    for sub in submissions:
        if not rules.applies(sub.service_id):
            groups.append((None,) * len(sub.signals))
            continue
        name = services[sub.service_id].name
        found: list[Group | None] = []
        for sig in sub.signals:
            if sig.action not in ("trigger", "release"):
                found.append(None)
                continue
            group = rules.group_of(
                sub.service_id,
                AlertView(
                    name,
                    sub.integration_name,
                    sig.severity,
                    sig.summary,
                    sig.source,
                    sig.dedup_key,
                    sig.labels,
                ),
            )
            if group.dependency_aware:
                dependency_aware.add(sub.service_id)
            found.append(group)
        groups.append(tuple(found))
    if not dependency_aware:
        return Grouping(groups)
    wanted = sorted(dependency_aware)
    direct: dict[int, list[int]] = defaultdict(list)
    for service_id, depends_on in sql.rows(
        "SELECT service_id, depends_on_id FROM service_dependencies "
        "WHERE service_id IN ({many}) ORDER BY service_id, depends_on_id",
        wanted,
        len(wanted),
    ):
        direct[service_id].append(depends_on)
    on_dependency: dict[int, int] = {}
    targets = sorted({d for deps in direct.values() for d in deps})
    if targets:
        # An incident listing the dependency (its own, or one its alerts joined), newest first.
        for service_id, incident_id in sql.rows(
            "SELECT s.service_id, i.id FROM incident_services s "  # noqa: S608
            "JOIN incidents i ON i.id = s.incident_id WHERE s.service_id IN ({many}) "
            f"AND i.status IN ({_OPEN_STATUSES}) AND i.last_alert_at IS NOT NULL "
            "ORDER BY i.last_alert_at DESC, i.id",
            targets,
            len(targets),
        ):
            on_dependency.setdefault(service_id, incident_id)
    return Grouping(
        groups,
        direct={sid: tuple(deps) for sid, deps in direct.items()},
        on_dependency=on_dependency,
    )


def _integrations(
    sql: _Driver, keys: set[str], state: CachedState | None
) -> dict[str, _Integration]:
    found: dict[str, _Integration] = {}
    wanted = list(keys)
    if state is not None:
        found = {k: state.integrations[k] for k in keys if k in state.integrations}
        wanted = [k for k in keys if k not in found]
    if wanted:
        # The service's archived mark rides on the same probe (a primary-key join): an
        # archived service's keys are refused without another query; cached with the key and
        # dropped with everything else when the archive commits (another connection's write).
        for key, iid, type_, name, service_id, service_name, archived in sql.rows(
            "SELECT i.routing_key, i.id, i.type, i.name, i.service_id, s.name, "
            "s.archived_at IS NOT NULL FROM integrations i JOIN services s ON s.id = i.service_id "
            "WHERE i.routing_key IN ({many})",
            wanted,
            len(wanted),
        ):
            found[key] = _Integration(iid, type_, name, service_id, service_name, bool(archived))
            if state is not None:
                state.integrations[key] = found[key]
    return found


def _services(
    sql: _Driver, service_ids: list[int], state: CachedState | None
) -> tuple[dict[int, ServiceRule], dict[int, int | None]]:
    services: dict[int, ServiceRule] = {}
    policies: dict[int, int | None] = {}
    wanted = service_ids
    if state is not None:
        for sid in service_ids:
            if sid in state.services:
                services[sid], policies[sid] = state.services[sid]
        wanted = [sid for sid in service_ids if sid not in services]
    if wanted:
        query = (
            "SELECT id, tier, grouping_window_seconds, auto_resolve, escalation_policy_id, "
            "flap_threshold, flap_window_minutes, name FROM services WHERE id IN ({many}) "
            "ORDER BY id"
        )
        if not sql.sqlite:
            # Serialises writers of the same services across processes: two API nodes cannot
            # both open an incident for one service, or race an incident change.
            query += " FOR UPDATE"
        for sid, tier, window, auto_resolve, policy, flaps, flap_minutes, name in sql.rows(
            query, wanted, len(wanted)
        ):
            services[sid] = ServiceRule(
                tier, window, bool(auto_resolve), FlapRule.of(flaps, flap_minutes), name
            )
            policies[sid] = policy
            if state is not None:
                state.services[sid] = (services[sid], policy)
    return services, policies


def _insert_alerts(
    sql: _Driver, alerts: list[AlertState], real: Callable[[int | None], int | None]
) -> None:
    """New alerts in one executemany: the intake's widest write."""
    ts = sql.ts
    sql.executemany(
        f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) "  # noqa: S608 - constant columns
        f"VALUES ({', '.join(['{p}'] * len(ALERT_COLUMNS))})",
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
                a.inhibits,
                None if a.flap is None else _json(a.flap),
            )
            for a in alerts
        ],
    )


def _remember_flaps(sql: _Driver, memory: list[tuple[int, str, dict[str, Any], datetime]]) -> None:
    """The resolved keys' recent changes, for their next alert (one upsert per resolve; the
    last of a key in this batch wins)."""
    latest = {(iid, key): (state, until) for iid, key, state, until in memory}
    sql.executemany(
        "INSERT INTO alert_flaps (integration_id, dedup_key, state, expires_at) "
        "VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (integration_id, dedup_key) DO UPDATE SET "
        "state = excluded.state, expires_at = excluded.expires_at",
        [(iid, key, _json(state), sql.ts(until)) for (iid, key), (state, until) in latest.items()],
    )


def _update_alerts(
    sql: _Driver, alerts: list[AlertState], real: Callable[[int | None], int | None]
) -> None:
    """Changed alerts, each with the narrowest statement that stores what the plan changed. A
    re-sent trigger (the same alert again, Alertmanager's group_interval) usually changes only
    its count and last event time: no JSON to encode, and SQLite rewrites the row but no index
    entry (status, an indexed column, is not in the statement). An alert whose incident or hold
    changed (a held alert released into an incident, or held by something else now) gets the
    widest statement, which also writes incident_id, suppression and suppressed_by."""
    ts = sql.ts
    counted: list[tuple[Any, ...]] = []
    refreshed: list[tuple[Any, ...]] = []
    moved: list[tuple[Any, ...]] = []
    rehomed: list[tuple[Any, ...]] = []
    for a in alerts:
        loaded = a.loaded or (None,) * 9
        if loaded[6:9] != (a.incident_ref, a.suppression, a.suppressed_by):
            rehomed.append(
                (
                    a.severity,
                    a.summary,
                    _json(a.details),
                    _json(a.links),
                    _json(a.labels),
                    a.event_count,
                    ts(a.last_event_at),
                    a.status,
                    ts(a.acknowledged_at),
                    ts(a.resolved_at),
                    real(a.incident_ref),
                    a.suppression,
                    None if a.suppressed_by is None else _json(a.suppressed_by),
                    a.id,
                )
            )
            continue
        same_status = a.status == loaded[0]
        if same_status and (a.severity, a.summary, a.details, a.links, a.labels) == loaded[1:6]:
            counted.append((a.event_count, ts(a.last_event_at), a.id))
            continue
        content = (
            a.severity,
            a.summary,
            _json(a.details),
            _json(a.links),
            _json(a.labels),
            a.event_count,
            ts(a.last_event_at),
        )
        if same_status:
            refreshed.append((*content, a.id))
        else:
            moved.append((*content, a.status, ts(a.acknowledged_at), ts(a.resolved_at), a.id))
    if counted:
        sql.executemany(
            "UPDATE alerts SET event_count = {p}, last_event_at = {p} WHERE id = {p}", counted
        )
    content_sql = (
        "UPDATE alerts SET severity = {p}, summary = {p}, details = {p}, links = {p}, "
        "labels = {p}, event_count = {p}, last_event_at = {p}"
    )
    if refreshed:
        sql.executemany(content_sql + " WHERE id = {p}", refreshed)
    if moved:
        sql.executemany(
            content_sql + ", status = {p}, acknowledged_at = {p}, resolved_at = {p} WHERE id = {p}",
            moved,
        )
    if rehomed:
        sql.executemany(
            content_sql + ", status = {p}, acknowledged_at = {p}, resolved_at = {p}, "
            "incident_id = {p}, suppression = {p}, suppressed_by = {p} WHERE id = {p}",
            rehomed,
        )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


_OPEN_ALERT_COLUMNS = (
    "id, integration_id, service_id, dedup_key, status, severity, incident_id, event_count, "
    "summary, details, links, labels, last_event_at, acknowledged_at, suppression, suppressed_by, "
    "created_at, inhibits, flap"
)


def _load_open_alerts(
    sql: _Driver, submissions: list[Submission], now: datetime
) -> tuple[dict[tuple[int, str], AlertState], dict[tuple[int, str], Record]]:
    """The batch's open alerts by key, and the remembered recent changes of its keys (for
    flap detection), read by the same probe."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for sub in submissions:
        wanted[sub.integration_id].update(sig.dedup_key for sig in sub.signals)
    found: dict[tuple[int, str], AlertState] = {}
    memory: dict[tuple[int, str], Record] = {}
    moment = sql.ts(now)
    for integration_id, keyset in wanted.items():
        keys = sorted(keyset)
        # First only the keys (an index-only probe of uq_alerts_open_dedup_key): in an alert
        # storm most keys are new, and then the whole rows are not read at all. The same
        # statement probes the keys' flap memory (a primary-key probe of a small table).
        open_keys: list[str] = []
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start : start + KEY_CHUNK]
            for key, state in sql.rows(
                "SELECT dedup_key, NULL FROM alerts WHERE integration_id = {p} "
                "AND status <> 'resolved' AND dedup_key IN ({many}) UNION ALL "
                "SELECT dedup_key, state FROM alert_flaps WHERE integration_id = {p} "
                "AND expires_at > {p} AND dedup_key IN ({many})",
                (integration_id, *chunk, integration_id, moment, *chunk),
                len(chunk),
            ):
                if state is None:
                    open_keys.append(key)
                else:
                    record = Record.from_json(sql.read_json(state))
                    if record is not None:
                        memory[(integration_id, key)] = record
        keys = sorted(open_keys)
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start : start + KEY_CHUNK]
            rows = sql.rows(
                f"SELECT {_OPEN_ALERT_COLUMNS} FROM alerts WHERE integration_id = {{p}} "  # noqa: S608
                "AND status <> 'resolved' AND dedup_key IN ({many})",
                (integration_id, *chunk),
                len(chunk),
            )
            for r in rows:
                details, links, labels = (sql.read_json(v) for v in r[9:12])
                suppressed_by = None if r[15] is None else sql.read_json(r[15])
                found[(r[1], r[3])] = AlertState(
                    id=r[0],
                    integration_id=r[1],
                    service_id=r[2],
                    dedup_key=r[3],
                    status=r[4],
                    severity=r[5],
                    incident_ref=r[6],
                    event_count=r[7],
                    summary=r[8],
                    details=details,
                    links=links,
                    labels=labels,
                    last_event_at=sql.read_ts(r[12]),
                    acknowledged_at=sql.read_ts(r[13]),
                    suppression=r[14],
                    suppressed_by=suppressed_by,
                    created_at=sql.read_ts(r[16]),
                    inhibits=bool(r[17]),
                    flap=None if r[18] is None else sql.read_json(r[18]),
                    # The same objects: the plan replaces an alert's values, never mutates them.
                    loaded=(r[4], r[5], r[8], details, links, labels, r[6], r[14], suppressed_by),
                )
    return found, memory


_INCIDENT_COLUMNS = (
    "id, service_id, status, impact, urgency, priority, priority_source, severity, alert_count, "
    "last_alert_at, title, triggered_at, impact_started_at, acknowledged_at, resolved_at, "
    "caused_by_id"
)


def _load_incidents(sql: _Driver, ids: set[int], with_counts: bool) -> dict[int, IncidentState]:
    if not ids:
        return {}
    wanted = sorted(ids)
    query = f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id IN ({{many}})"  # noqa: S608
    if not sql.sqlite:
        query += " ORDER BY id FOR UPDATE"
    ts = sql.read_ts
    incidents = {
        r[0]: IncidentState(
            ref=r[0],
            service_id=r[1],
            status=r[2],
            impact=r[3],
            urgency=r[4],
            priority=r[5],
            priority_source=r[6],
            severity=r[7],
            alert_count=r[8],
            open_alerts=0,
            triggered_alerts=0,
            last_alert_at=ts(r[9]),
            title=r[10],
            triggered_at=ts(r[11]),
            impact_started_at=ts(r[12]),
            acknowledged_at=ts(r[13]),
            resolved_at=ts(r[14]),
            caused_by_ref=r[15],
        )
        for r in sql.rows(query, wanted, len(wanted))
    }
    if with_counts:
        counts = sql.rows(
            "SELECT incident_id, status, count(*) FROM alerts WHERE incident_id IN ({many}) "
            "AND status <> 'resolved' GROUP BY incident_id, status",
            wanted,
            len(wanted),
        )
        for incident_id, status, n in counts:
            state = incidents.get(incident_id)
            if state is not None:
                state.open_alerts += n
                if status == "triggered":
                    state.triggered_alerts += n
    return incidents
