"""Status page latency: /status and summary.json with 50 components and 1,000 past incidents,
served from the snapshot cache, against the cost of a rebuild (the ceiling: what every request
would cost without the cache), and during a 10,000-subscriber fan-out queued in the outbox.

    python bench/status_page_bench.py [--incidents 1000] [--components 50] [--requests 300]

In-process (ASGI TestClient, SQLite file): the time of each request through the app, next to
/healthz measured the same way (the floor: the client and middleware with no work).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from warroom.app import create_app
from warroom.catalog import service as catalog
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.incidents.models import Incident, StatusUpdate, incident_services
from warroom.statuspage import public
from warroom.statuspage import service as statuspage
from warroom.statuspage.fanout import Notice, fan_out_slice
from warroom.statuspage.models import StatusSubscriber


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[-1]


def seed(db: Database, components: int, incidents: int, subscribers: int) -> None:
    now = datetime.now(UTC)
    with db.session() as s:
        services = [catalog.create_service(s, name=f"svc-{i}", tier=2) for i in range(components)]
        s.flush()
        for i, svc in enumerate(services):
            statuspage.create_component(
                s, name=f"Component {i}", service_id=svc.id, now=now - timedelta(days=120)
            )
        rows = []
        for i in range(incidents):
            t = now - timedelta(days=90) + timedelta(minutes=129 * i)
            rows.append(
                {
                    "title": f"Past incident {i}",
                    "status": "resolved",
                    "impact": 2,
                    "urgency": 2,
                    "priority": 2,
                    "triggered_at": t,
                    "resolved_at": t + timedelta(minutes=30),
                    "updated_at": t + timedelta(minutes=30),
                    "service_id": services[i % components].id,
                }
            )
        s.execute(insert(Incident), rows)
        ids = [r.id for r in s.query(Incident.id).order_by(Incident.id)]
        s.execute(
            insert(incident_services),
            [
                {"incident_id": iid, "service_id": services[n % components].id}
                for n, iid in enumerate(ids)
            ],
        )
        s.execute(
            insert(StatusUpdate),
            [
                {
                    "incident_id": iid,
                    "visibility": "public",
                    "stage": stage,
                    "message": f"{stage} {iid}",
                    "impact": "",
                    "created_at": rows[n]["triggered_at"] + timedelta(minutes=k * 10),
                    "revision": 1,
                }
                for n, iid in enumerate(ids)
                for k, stage in enumerate(("investigating", "resolved"))
            ],
        )
        s.execute(
            insert(StatusSubscriber),
            [
                {
                    "channel": "email",
                    "address": f"s{i}@example.com",
                    "confirmed_at": now,
                    "created_at": now,
                }
                for i in range(subscribers)
            ],
        )


def measure(client: TestClient, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--incidents", type=int, default=1000)
    ap.add_argument("--components", type=int, default=50)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--subscribers", type=int, default=10_000)
    args = ap.parse_args()
    path = Path(tempfile.mkdtemp()) / "bench.db"
    url = f"sqlite:///{path}"
    db = Database(url)
    from warroom.db.migrate import upgrade

    upgrade(db)
    seed(db, args.components, args.incidents, args.subscribers)
    app = create_app(Settings(database_url=url, base_url="http://bench.test"), db, run_engine=False)
    with TestClient(app) as client:
        measure(client, "/status", 5)
        rebuild = []
        for _ in range(20):
            with db.read_session() as s:
                t0 = time.perf_counter()
                public.build(s, datetime.now(UTC))
                rebuild.append((time.perf_counter() - t0) * 1000)
        floor = measure(client, "/healthz", args.requests)
        page = measure(client, "/status", args.requests)
        summary = measure(client, "/status/api/v2/summary.json", args.requests)
        # The fan-out: every slice written to the outbox, as the engine would, between requests.
        notice = Notice("bench", "s", "b", "/status", frozenset())
        during: list[float] = []
        after, slices, t_fan = 0, 0, 0.0
        while True:
            t0 = time.perf_counter()
            with db.session() as s:
                last = fan_out_slice(s, notice, after, datetime.now(UTC), "http://bench.test", "k")
            t_fan += time.perf_counter() - t0
            slices += 1
            during += measure(client, "/status", 10)
            if last is None:
                break
            after = last
    load = os.getloadavg()[0]
    rb = statistics.median(rebuild)
    print(f"machine: {os.cpu_count()} cores, load {load:.2f}, {datetime.now(UTC):%F %H:%M} UTC")
    print(
        f"{args.components} components, {args.incidents} past incidents, {args.requests} requests"
    )
    print(f"snapshot rebuild (ceiling, no cache): median {rb:.1f} ms, p95 {p95(rebuild):.1f} ms")
    rows = (
        ("/healthz (floor)", floor),
        ("/status", page),
        ("summary.json", summary),
        ("/status during fan-out", during),
    )
    for name, xs in rows:
        print(
            f"{name:24s} median {statistics.median(xs):6.2f} ms  p95 {p95(xs):6.2f} ms  "
            f"p95/rebuild {p95(xs) / rb:.3f}  p95/floor {p95(xs) / p95(floor):.2f}"
        )
    per_slice = t_fan * 1000 / slices
    print(
        f"fan-out: {args.subscribers} subscribers, {slices} slices, {t_fan * 1000:.0f} ms of "
        f"writes ({per_slice:.1f} ms per slice transaction)"
    )


if __name__ == "__main__":
    main()
