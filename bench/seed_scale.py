"""Seeds a PostgreSQL database at the scale of issue 4: 10,000 incidents, 1,000,000 alerts.

    python bench/seed_scale.py [--database-url URL] [--incidents 10000] [--alerts 1000000]

With --database-url the database must be empty or freshly migrated (no incidents yet); without
it a throwaway server is started (tests.pgserver), seeded, and kept until Ctrl-C, with its URL
printed. bench/pages_bench.py seeds its own server the same way when given no URL.

What it writes, spread over the last 90 days (deterministic for a given --seed):
- 3 teams, 20 services (tiers 1-3, dependencies), one integration each, 60 users.
- 10,000 incidents in time order: most resolved or closed, a few hundred open (triggered,
  acknowledged, mitigated; mostly recent, some stale), priorities from the default matrix,
  roles on most of them (a commander on ~3/4), tasks on some.
- 1,000,000 alerts, skewed: six storms of 10,000-60,000 alerts, most incidents a handful;
  ids follow creation time across incidents, as intake writes them.
- Timeline events: a handful per incident; storms get one "alerts grouped" event per ~100 alerts
  (the intake aggregates per batch); ~1 in 8 incidents had a priority change.

Loading: the catalog through the ORM, everything else with COPY (text format) with the secondary
indexes of the big tables dropped during the load and rebuilt after, foreign-key triggers off
when the role may do that, then VACUUM ANALYZE so plans and visibility are those of a database
that autovacuum has seen. About 20 seconds on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import random
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from warroom.catalog import service as catalog  # noqa: E402
from warroom.catalog.models import Team, User  # noqa: E402
from warroom.db import migrate  # noqa: E402
from warroom.db.engine import Database  # noqa: E402
from warroom.incidents.logic import DEFAULT_MATRIX, priority_for  # noqa: E402

DAY = 86400.0
HOUR = 3600.0
MINUTE = 60.0

TEAMS = {
    "Platform": ["api-gateway", "auth", "postgres-main", "redis-cache", "kafka", "k8s-cluster",
                 "object-storage"],
    "Payments": ["checkout", "payments-api", "billing", "fraud-scoring", "ledger", "invoicing",
                 "payouts"],
    "Growth": ["web-frontend", "mobile-api", "search", "recommendations", "notifications",
               "email-sender"],
}  # fmt: skip
TIER = {
    "api-gateway": 1, "auth": 1, "postgres-main": 1, "checkout": 1, "payments-api": 1,
    "ledger": 1, "web-frontend": 1, "redis-cache": 2, "kafka": 2, "k8s-cluster": 1,
    "billing": 2, "fraud-scoring": 2, "mobile-api": 2, "search": 2, "payouts": 2,
    "object-storage": 3, "invoicing": 3, "recommendations": 3, "notifications": 3,
    "email-sender": 3,
}  # fmt: skip
DEPENDS = {
    "api-gateway": ["auth", "k8s-cluster"], "auth": ["postgres-main", "redis-cache"],
    "checkout": ["payments-api", "api-gateway", "fraud-scoring"],
    "payments-api": ["ledger", "postgres-main", "kafka"], "ledger": ["postgres-main"],
    "billing": ["ledger", "invoicing"], "payouts": ["ledger", "kafka"],
    "web-frontend": ["api-gateway", "search"], "mobile-api": ["api-gateway", "notifications"],
    "search": ["k8s-cluster"], "recommendations": ["search", "kafka"],
    "notifications": ["kafka", "email-sender"], "invoicing": ["object-storage"],
}  # fmt: skip
ALERT_NAMES = [
    ("HighErrorRate", "5xx ratio above 5% for 5m"),
    ("HighLatency", "p99 latency above 2s"),
    ("PodCrashLooping", "container restarted 5 times in 10m"),
    ("TargetDown", "scrape target unreachable"),
    ("DiskAlmostFull", "filesystem above 90%"),
    ("CPUThrottling", "throttled more than 25% of periods"),
    ("ReplicationLag", "replica lag above 30s"),
    ("QueueBacklog", "consumer lag above 100k messages"),
    ("CertificateExpiring", "TLS certificate expires in 7 days"),
    ("MemoryPressure", "working set above 95% of the limit"),
]
DECLARED_TITLES = [
    "Customers report failed card payments",
    "Login page slow for EU users",
    "Elevated checkout abandonment",
    "Search results empty for some queries",
    "Emails delayed by more than an hour",
    "Mobile app cannot refresh feed",
    "Invoices generated with wrong totals",
    "Partial outage in one availability zone",
    "Data pipeline stuck since the last deploy",
    "Third-party payment provider degraded",
]
FIRST_NAMES = ["Ada", "Sam", "Mei", "Lena", "Raj", "Olivia", "Tom", "Ines", "Kofi", "Yuki",
               "Marta", "Omar", "Priya", "Jonas", "Chloe", "Diego", "Aisha", "Lars", "Nora",
               "Felix"]  # fmt: skip
LAST_NAMES = ["Okafor", "Tanaka", "Fischer", "Patel", "Brown"]
ZONES = ["Europe/London", "America/New_York", "Asia/Tokyo", "Europe/Berlin", "Asia/Kolkata"]
SEVERITIES = ["critical", "error", "warning", "info"]
SEVERITY_WEIGHTS = [10, 25, 45, 20]
URGENCY = {"critical": 1, "error": 1, "warning": 2, "info": 3}
ROLES = [("commander", 0.75), ("communications_lead", 0.3), ("operations_lead", 0.25),
         ("scribe", 0.15)]  # fmt: skip
# The storms: alert counts of the few incidents that dominate the alerts table.
STORMS = [60_000, 40_000, 25_000, 20_000, 12_000, 10_000]
REGULAR_CAP = 5_000


@dataclass
class Inc:
    id: int
    triggered: float
    status: str
    service: int  # index into the services list
    source: str
    severity: str
    impact: int
    urgency: int
    priority: int
    title: str
    alerts: int = 0
    span: float = 0.0
    acknowledged: float | None = None
    mitigated: float | None = None
    resolved: float | None = None
    closed: float | None = None
    priority_changed: float | None = None
    priority_before: int | None = None
    extra_services: list[int] = field(default_factory=list)
    roles: dict[str, tuple[int, float]] = field(default_factory=dict)
    creator: int | None = None

    @property
    def last_alert(self) -> float | None:
        return self.triggered + self.span if self.alerts else None

    @property
    def updated(self) -> float:
        times = [self.triggered, self.acknowledged, self.mitigated, self.resolved, self.closed]
        if self.alerts:
            times.append(self.triggered + self.span)
        return max(t for t in times if t is not None)


# --- COPY text format ---------------------------------------------------------------------------


def ts(epoch: float | None) -> str:
    if epoch is None:
        return "\\N"
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def js(value: Any) -> str:
    if value is None:
        return "\\N"
    # orjson escapes control characters; only the backslash needs doubling for COPY text.
    return orjson.dumps(value).decode().replace("\\", "\\\\")


def txt(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def val(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def copy_rows(conn: psycopg.Connection[Any], table: str, columns: str, lines: Iterable[str]) -> int:
    n = 0
    buf = io.StringIO()
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for line in lines:
            buf.write(line)
            n += 1
            if n % 20_000 == 0:
                copy.write(buf.getvalue().encode())
                buf = io.StringIO()
        copy.write(buf.getvalue().encode())
    return n


# --- generation ---------------------------------------------------------------------------------


def open_probability(age: float) -> float:
    """Recent incidents are mostly still open; a few old ones were never closed (stale)."""
    if age < 6 * HOUR:
        return 0.85
    if age < DAY:
        return 0.5
    if age < 7 * DAY:
        return 0.08
    return 0.018


def make_incidents(
    rng: random.Random, n: int, now: float, services: list[tuple[int, str, int]], users: list[int]
) -> list[Inc]:
    starts = sorted(now - rng.random() * 90 * DAY for _ in range(n))
    incidents = []
    for idx, start in enumerate(starts):
        age = now - start
        if rng.random() < open_probability(age):
            status = rng.choices(["triggered", "acknowledged", "mitigated"], [30, 45, 25])[0]
        elif age < 3 * DAY:
            status = "resolved" if rng.random() < 0.9 else "closed"
        else:
            status = "closed" if rng.random() < 0.85 else "resolved"
        svc = rng.randrange(len(services))
        severity = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
        declared = rng.random() < 0.08
        if declared:
            impact, urgency = rng.choice([1, 1, 2, 2, 3]), rng.choice([1, 2, 2, 3])
            title = rng.choice(DECLARED_TITLES)
        else:
            impact, urgency = min(services[svc][2], 3), URGENCY[severity]
            name, text = ALERT_NAMES[(idx + 1) % len(ALERT_NAMES)]  # as its first alert
            title = f"{name} on {services[svc][1]}: {text}"
        inc = Inc(
            id=idx + 1,
            triggered=start,
            status=status,
            service=svc,
            source="declared" if declared else "alert",
            severity=severity,
            impact=impact,
            urgency=urgency,
            priority=priority_for(impact, urgency, DEFAULT_MATRIX),
            title=title,
            creator=rng.choice(users) if declared else None,
        )
        lifecycle(rng, inc, now)
        if rng.random() < 0.12:
            # A person changed the priority some minutes in: the SLA clocks restart there.
            inc.priority_changed = min(start + rng.uniform(2, 90) * MINUTE, now)
            inc.priority_before = rng.choice([p for p in (1, 2, 3, 4) if p != inc.priority])
        if rng.random() < 0.2:
            others = [i for i in range(len(services)) if i != svc]
            inc.extra_services = rng.sample(others, rng.choice([1, 1, 2]))
        is_open = status in ("triggered", "acknowledged", "mitigated")
        for role, share in ROLES:
            wanted = share + (0.2 if is_open and inc.priority <= 2 else 0)
            if rng.random() < wanted:
                at = min(start + rng.uniform(1, 30) * MINUTE, now)
                inc.roles[role] = (rng.choice(users), at)
        incidents.append(inc)
    return incidents


def lifecycle(rng: random.Random, inc: Inc, now: float) -> None:
    t = inc.triggered
    if inc.status == "triggered":
        return
    inc.acknowledged = min(t + rng.expovariate(1 / (8 * MINUTE)), now)
    if inc.status == "acknowledged":
        return
    if inc.status in ("mitigated", "resolved", "closed") and rng.random() < 0.6:
        inc.mitigated = min(inc.acknowledged + rng.expovariate(1 / (40 * MINUTE)), now)
    if inc.status == "mitigated":
        if inc.mitigated is None:
            inc.mitigated = min(inc.acknowledged + rng.expovariate(1 / (40 * MINUTE)), now)
        return
    after = inc.mitigated or inc.acknowledged
    inc.resolved = min(after + rng.lognormvariate(math.log(1.5 * HOUR), 1.0), now)
    if inc.status == "closed":
        inc.closed = min(inc.resolved + rng.uniform(0.5, 5) * DAY, now)


def assign_alert_counts(rng: random.Random, incidents: list[Inc], total: int, now: float) -> None:
    """Storms first (two open, the rest in the past), then a capped log-normal for the others."""
    born = [i for i in incidents if i.source == "alert"]
    open_recent = [
        i for i in born if i.status in ("triggered", "acknowledged") and now - i.triggered < DAY
    ]
    past = [i for i in born if i.status == "closed" and now - i.triggered > 7 * DAY]
    storms = rng.sample(open_recent, min(2, len(open_recent)))
    storms += rng.sample(past, len(STORMS) - len(storms))
    for inc, count in zip(storms, STORMS, strict=True):
        inc.alerts = count
        inc.span = rng.uniform(3, 10) * HOUR
        inc.severity, inc.urgency = "critical", 1
        inc.priority = priority_for(inc.impact, inc.urgency, DEFAULT_MATRIX)
    storm_ids = {i.id for i in storms}
    regular = [i for i in born if i.id not in storm_ids]
    budget = total - sum(STORMS)
    weights = [rng.lognormvariate(0, 2.0) for _ in regular]

    def counts(k: float) -> list[int]:
        return [min(REGULAR_CAP, 1 + int(k * w)) for w in weights]

    lo, hi = 0.0, float(budget)
    for _ in range(60):
        mid = (lo + hi) / 2
        if sum(counts(mid)) > budget:
            hi = mid
        else:
            lo = mid
    found = counts(lo)
    short = budget - sum(found)
    while short > 0:
        j = rng.randrange(len(found))
        if found[j] < REGULAR_CAP:
            found[j] += 1
            short -= 1
    for inc, count in zip(regular, found, strict=True):
        inc.alerts = count
        # Alerts keep arriving for a while: minutes for one alert, hours for hundreds.
        inc.span = 0.0 if count == 1 else min(rng.uniform(2, 20) * MINUTE * math.log2(count), DAY)
    for inc in born:
        # The last alert cannot come after the incident was resolved, nor in the future.
        limit = (inc.resolved or now) - inc.triggered
        inc.span = max(0.0, min(inc.span, limit - 1))


# --- rows ---------------------------------------------------------------------------------------


def incident_lines(incidents: list[Inc]) -> Iterator[str]:
    for i in incidents:
        manual = i.source == "declared" or i.priority_changed is not None
        yield (
            "\t".join(
                [
                    str(i.id),
                    txt(i.title),
                    "",
                    i.status,
                    str(SERVICE_IDS[i.service]),
                    i.severity if i.source == "alert" else "\\N",
                    str(i.impact),
                    str(i.urgency),
                    str(i.priority),
                    "manual" if manual else "auto",
                    i.source,
                    val(i.creator),
                    str(i.alerts),
                    ts(i.triggered - 120 if i.alerts else None),
                    ts(i.triggered),
                    ts(i.last_alert),
                    ts(i.acknowledged),
                    ts(i.mitigated),
                    ts(i.resolved),
                    ts(i.closed),
                    ts(i.updated),
                ]
            )
            + "\n"
        )


INCIDENT_COLUMNS = (
    "id, title, description, status, service_id, severity, impact, urgency, priority, "
    "priority_source, source, created_by_id, alert_count, impact_started_at, triggered_at, "
    "last_alert_at, acknowledged_at, mitigated_at, resolved_at, closed_at, updated_at"
)


def alert_lines(
    rng: random.Random, incidents: list[Inc], integrations: list[int], now: float
) -> Iterator[str]:
    """Every alert, in creation-time order across incidents, with ids 1..N in that order."""
    order: list[tuple[float, int, int]] = []
    for idx, inc in enumerate(incidents):
        n = inc.alerts
        for k in range(n):
            at = inc.triggered + (inc.span * k / (n - 1) if n > 1 else 0.0)
            order.append((at, idx, k))
    order.sort()
    for alert_id, (at, idx, k) in enumerate(order, start=1):
        inc = incidents[idx]
        # The first alert names the incident; a storm's later ones vary every 50 alerts.
        name, text = ALERT_NAMES[(inc.id + k // 50) % len(ALERT_NAMES)]
        host = f"{SERVICE_NAMES[inc.service]}-{k % 97}"
        severity = inc.severity if k == 0 else rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
        if SEVERITIES.index(severity) < SEVERITIES.index(inc.severity):
            severity = inc.severity
        if inc.status in ("resolved", "closed"):
            status = "resolved"
        elif inc.status == "triggered":
            status = "triggered" if rng.random() < 0.7 else "resolved"
        elif inc.status == "acknowledged":
            status = "acknowledged" if rng.random() < 0.6 else "resolved"
        else:
            status = "resolved" if rng.random() < 0.7 else "acknowledged"
        end = inc.resolved if inc.resolved is not None else now
        events = 1 + (int(rng.expovariate(0.5)) if rng.random() < 0.3 else 0)
        last_event = min(at + (events - 1) * rng.uniform(30, 300), end)
        acked = (
            min(max(inc.acknowledged, at), end)
            if inc.acknowledged is not None and status != "triggered"
            else None
        )
        resolved = min(at + rng.uniform(1, 120) * MINUTE, end) if status == "resolved" else None
        if resolved is not None:
            last_event = max(min(last_event, resolved), at)
        yield (
            "\t".join(
                [
                    str(alert_id),
                    str(integrations[inc.service]),
                    str(SERVICE_IDS[inc.service]),
                    str(inc.id),
                    f"{name}/{host}/{inc.id}-{k}",
                    status,
                    severity,
                    txt(f"{name} on {host}: {text}"),
                    f"prometheus-{inc.service % 3}",
                    js({"description": text, "runbook": f"https://runbooks.example/{name}"}),
                    "[]",
                    js({"alertname": name, "instance": host, "severity": severity}),
                    f"{{}}:{{alertname={name}}}",
                    str(events),
                    ts(at - rng.uniform(10, 90)),
                    ts(at),
                    ts(last_event),
                    ts(acked),
                    ts(resolved),
                ]
            )
            + "\n"
        )


ALERT_COLUMNS = (
    "id, integration_id, service_id, incident_id, dedup_key, status, severity, summary, source, "
    "details, links, labels, group_key, event_count, started_at, created_at, last_event_at, "
    "acknowledged_at, resolved_at"
)
SERVICE_NAMES: list[str] = []  # by position in the generated data
SERVICE_IDS: list[int] = []


def timeline_rows(
    rng: random.Random, incidents: list[Inc], integrations: list[int], names: dict[int, str]
) -> list[tuple[float, int, str, str, int | None, str, str, Any, Any]]:
    """(at, incident, kind, actor type, actor id, actor name, message, before, after)."""
    rows: list[tuple[float, int, str, str, int | None, str, str, Any, Any]] = []

    def user_event(at: float, inc: Inc, kind: str, msg: str, before: Any, after: Any) -> None:
        uid = inc.roles.get("commander", (rng.choice(list(names)), 0))[0]
        rows.append((at, inc.id, kind, "user", uid, names[uid], msg, before, after))

    for inc in incidents:
        integ = integrations[inc.service]
        integ_name = f"{SERVICE_NAMES[inc.service]} alertmanager"
        if inc.source == "alert":
            rows.append(
                (inc.triggered, inc.id, "incident_triggered", "integration", integ, integ_name,
                 f"Triggered by alert: {inc.title}", None,
                 {"status": "triggered", "priority": inc.priority, "impact": inc.impact,
                  "urgency": inc.urgency})
            )  # fmt: skip
        else:
            creator = inc.creator or 1
            rows.append(
                (inc.triggered, inc.id, "incident_declared", "user", creator, names[creator],
                 f"Declared: {inc.title}", None, {"status": "triggered", "priority": inc.priority})
            )  # fmt: skip
        if inc.alerts > 1:
            # One aggregated event per intake batch: ~100 alerts each in a storm.
            batches = max(1, min(inc.alerts // 100, 800)) if inc.alerts > 200 else 1
            per = (inc.alerts - 1) // batches
            for b in range(batches):
                at = inc.triggered + inc.span * (b + 1) / batches
                count = per if b < batches - 1 else inc.alerts - 1 - per * (batches - 1)
                noun = "alert" if count == 1 else "alerts"
                rows.append(
                    (at, inc.id, "alerts_grouped", "integration", integ, integ_name,
                     f"{count} {noun} grouped into this incident", None,
                     {"count": count, "summaries": [inc.title]})
                )  # fmt: skip
        for role, (uid, at) in inc.roles.items():
            rows.append(
                (at, inc.id, "role_assigned", "user", uid, names[uid],
                 f"{names[uid]} is {role.replace('_', ' ')}", None,
                 {"role": role, "user_id": uid})
            )  # fmt: skip
        if inc.priority_changed is not None:
            user_event(
                inc.priority_changed, inc, "priority_changed",
                f"Priority P{inc.priority_before} → P{inc.priority}",
                {"priority": inc.priority_before}, {"priority": inc.priority},
            )  # fmt: skip
        previous = "triggered"
        for status, at in (
            ("acknowledged", inc.acknowledged),
            ("mitigated", inc.mitigated),
            ("resolved", inc.resolved),
            ("closed", inc.closed),
        ):
            if at is None:
                continue
            user_event(
                at, inc, "status_changed", f"{status.capitalize()}",
                {"status": previous}, {"status": status},
            )  # fmt: skip
            previous = status
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            end = inc.resolved or inc.updated
            at = inc.triggered + rng.random() * max(end - inc.triggered, 60)
            user_event(at, inc, "note", "Looking at the dashboards; will update in 15 min.",
                       None, None)  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


# --- loading ------------------------------------------------------------------------------------


def _psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def indexes_dropped(conn: psycopg.Connection[Any], tables: list[str]) -> Iterator[None]:
    """Drops the secondary indexes of the tables (not those behind a constraint), recreates them."""
    found = conn.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = ANY(%s) AND i.schemaname = current_schema()
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid =
                          (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)
        """,
        (tables,),
    ).fetchall()
    for name, _ in found:
        conn.execute(f'DROP INDEX "{name}"')
    yield
    for _, definition in found:
        conn.execute(definition)


def seed(url: str, incidents_n: int = 10_000, alerts_n: int = 1_000_000, seed_: int = 4) -> None:
    rng = random.Random(seed_)
    began = time.perf_counter()

    def step(message: str) -> None:
        print(f"  {time.perf_counter() - began:6.1f}s  {message}", flush=True)

    db = Database(url)
    if db.is_sqlite:
        raise SystemExit("seed_scale loads PostgreSQL only (it uses COPY)")
    migrate.upgrade(db)
    now_dt = datetime.now(UTC).replace(microsecond=0)
    now = now_dt.timestamp()
    with db.session() as s:
        if s.query(User).filter(User.username == "scale-01").first() is not None:
            raise SystemExit("this database is already seeded (user scale-01 exists)")
        users: list[User] = []
        for k in range(60):
            first, last = FIRST_NAMES[k % 20], LAST_NAMES[k // 20 % 5]
            users.append(
                catalog.create_user(
                    s,
                    username=f"scale-{k + 1:02d}",
                    name=f"{first} {last}",
                    email=f"scale-{k + 1:02d}@example.com",
                    time_zone=ZONES[k % 5],
                    role="stakeholder" if k % 10 == 9 else "responder",
                )
            )
        responders = [u for u in users if u.role == "responder"]
        services: list[tuple[int, str, int]] = []
        integrations: list[int] = []
        by_name: dict[str, int] = {}
        for t, (team_name, names) in enumerate(TEAMS.items()):
            team = Team(name=f"{team_name} (scale)", description=f"The {team_name} team")
            team.members = responders[t * 18 : (t + 1) * 18]
            s.add(team)
            s.flush()
            for name in names:
                svc = catalog.create_service(s, name=name, team_id=team.id, tier=TIER[name])
                by_name[name] = svc.id
                services.append((svc.id, name, svc.tier))
                kind = ("alertmanager", "pagerduty", "generic")[len(services) % 3]
                integrations.append(catalog.create_integration(s, svc.id, kind, kind).id)
        for name, deps in DEPENDS.items():
            svc_row = s.get(catalog.Service, by_name[name])
            assert svc_row is not None
            catalog.set_dependencies(s, svc_row, [by_name[d] for d in deps])
        names = {u.id: u.name for u in users}
        user_ids = [u.id for u in responders]
    db.dispose()
    SERVICE_NAMES[:] = [name for _, name, _ in services]
    SERVICE_IDS[:] = [sid for sid, _, _ in services]
    step(f"catalog: {len(services)} services, {len(users)} users, 3 teams")

    incidents = make_incidents(rng, incidents_n, now, services, user_ids)
    assign_alert_counts(rng, incidents, alerts_n, now)
    step("generated incidents")

    with psycopg.connect(_psycopg_url(url)) as conn:
        for table in ("incidents", "alerts", "timeline_events"):
            if conn.execute(f"SELECT count(*) FROM {table}").fetchone() != (0,):
                raise SystemExit(f"the {table} table is not empty: seed an empty database")
        try:
            conn.execute("SET session_replication_role = replica")  # no FK triggers
        except psycopg.Error:
            conn.rollback()
            print("  (not allowed to skip foreign-key triggers: loading with them)")
        conn.execute("SET maintenance_work_mem = '256MB'")
        big = ["alerts", "timeline_events", "incidents", "incident_roles", "incident_services"]
        with indexes_dropped(conn, big):
            copy_rows(conn, "incidents", INCIDENT_COLUMNS, incident_lines(incidents))
            copy_rows(
                conn,
                "incident_services",
                "incident_id, service_id",
                (
                    f"{i.id}\t{SERVICE_IDS[sid]}\n"
                    for i in incidents
                    for sid in sorted({i.service, *i.extra_services})
                ),
            )
            copy_rows(
                conn,
                "incident_roles",
                "incident_id, role, user_id, assigned_at",
                (
                    f"{i.id}\t{role}\t{uid}\t{ts(at)}\n"
                    for i in incidents
                    for role, (uid, at) in i.roles.items()
                ),
            )
            tasks = []
            for i in incidents:
                if rng.random() < 0.15:
                    for k in range(rng.choice([1, 1, 2, 3])):
                        done = i.resolved is not None
                        tasks.append(
                            f"{i.id}\tFollow-up {k + 1}: check {SERVICE_NAMES[i.service]}\t"
                            f"{rng.choice(user_ids)}\t\\N\t{'done' if done else 'open'}\t"
                            f"{ts(i.triggered + 600)}\t{ts(i.resolved)}\n"
                        )
            copy_rows(
                conn,
                "tasks",
                "incident_id, title, owner_id, due_at, status, created_at, done_at",
                tasks,
            )
            step(f"incidents, services, roles, {len(tasks)} tasks copied")
            events = timeline_rows(rng, incidents, integrations, names)
            copy_rows(
                conn,
                "timeline_events",
                "id, incident_id, at, kind, actor_type, actor_id, actor_name, message, before, "
                "after",
                (
                    f"{n}\t{inc}\t{ts(at)}\t{kind}\t{atype}\t{val(aid)}\t{txt(aname)}\t"
                    f"{txt(msg)}\t{js(before)}\t{js(after)}\n"
                    for n, (at, inc, kind, atype, aid, aname, msg, before, after) in enumerate(
                        events, start=1
                    )
                ),
            )
            step(f"{len(events)} timeline events copied")
            n = copy_rows(
                conn, "alerts", ALERT_COLUMNS, alert_lines(rng, incidents, integrations, now)
            )
            step(f"{n} alerts copied")
        step("indexes rebuilt")
        for table, column in (("incidents", "id"), ("timeline_events", "id"), ("alerts", "id"),
                              ("incident_roles", "id"), ("tasks", "id")):  # fmt: skip
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"(SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)"
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")
        # A snapshot held elsewhere (autovacuum analysing a table) can keep the first VACUUM from
        # marking the new pages all-visible; a database that has run a while has them marked.
        for _ in range(5):
            row = conn.execute(
                "SELECT relallvisible::float / greatest(relpages, 1) FROM pg_class "
                "WHERE relname = 'alerts'"
            ).fetchone()
            if row is None or row[0] > 0.95:
                break
            time.sleep(1)
            conn.execute("VACUUM alerts")
        visible = 100 * (row[0] if row else 0)
        step(f"VACUUM ANALYZE done ({visible:.0f}% of alert pages all-visible)")
        summary = conn.execute(
            "SELECT status, count(*) FROM incidents GROUP BY status ORDER BY status"
        ).fetchall()
        top = conn.execute(
            "SELECT id, status, alert_count FROM incidents ORDER BY alert_count DESC LIMIT 6"
        ).fetchall()
        median = conn.execute(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY alert_count) FROM incidents"
        ).fetchone()
    print("  incidents by status: " + ", ".join(f"{s} {c}" for s, c in summary))
    print("  largest incidents (id, status, alerts): " + ", ".join(map(str, top)))
    print(f"  median alerts per incident: {median[0] if median else '?'}")


def start_server() -> tuple[Any, str]:
    from tests.pgserver import PostgresServer

    server = PostgresServer()
    server.start()
    return server, server.create_database("warroom_scale")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="default: start a throwaway server")
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    server = None
    url = args.database_url
    if url is None:
        server, url = start_server()
        # Stop the server on `kill` too (a background job started by a script ignores Ctrl-C).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        began = time.perf_counter()
        print(f"seeding {url} ({os.cpu_count()} cpus)")
        seed(url, args.incidents, args.alerts, args.seed)
        print(f"done in {time.perf_counter() - began:.0f}s")
        if server is not None:
            print(f"\nserver running: {url}\nCtrl-C or SIGTERM stops it and deletes its data.")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
