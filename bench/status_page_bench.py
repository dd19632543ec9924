"""Status page latency: /status, summary.json and the RSS feed with 50 components and 1,000
past incidents (plus a recurring and a one-off maintenance window), served from the snapshot
cache, against the cost of a rebuild (the ceiling: what every request would cost without the
cache), and /status during a 10,000-subscriber fan-out queued in the outbox.

    python bench/status_page_bench.py [--incidents 1000] [--components 50] [--requests 300]

In-process (ASGI TestClient, SQLite file). Two times per request: the server's (from the ASGI
call to the last body chunk handed over, taken by a wrapper around the app, so the client's
own cost is left out) and the round trip through the client. Each is shown next to /healthz
of the same app measured the same way in the same run (the peer: the middleware with no
work), so the ratio can be compared across days and machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from warroom.app import create_app
from warroom.catalog import service as catalog
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.incidents.models import Incident, StatusUpdate, incident_services
from warroom.maintenance import windows
from warroom.statuspage import public
from warroom.statuspage import service as statuspage
from warroom.statuspage.fanout import Notice, fan_out_slice
from warroom.statuspage.models import StatusSubscriber


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[-1]


Message = MutableMapping[str, Any]


class ServerTimer:
    """An ASGI wrapper that records each HTTP request's server time per path, in ms: from the
    call into the app until the last body chunk is handed to the server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: dict[str, list[float]] = defaultdict(list)

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times[scope["path"]].append((time.perf_counter() - t0) * 1000)
            await send(message)

        await self.app(scope, receive, timed)

    def take(self, path: str) -> list[float]:
        found, self.times[path] = self.times[path], []
        return found


def seed(db: Database, components: int, incidents: int, subscribers: int) -> None:
    now = datetime.now(UTC)
    with db.session() as s:
        services = [catalog.create_service(s, name=f"svc-{i}", tier=2) for i in range(components)]
        s.flush()
        made = [
            statuspage.create_component(
                s, name=f"Component {i}", service_id=svc.id, now=now - timedelta(days=120)
            )
            for i, svc in enumerate(services)
        ]
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
        # Maintenance the page computes: a weekly window over five components (its occurrence
        # math runs on every rebuild) and a one-off window next week.
        component_ids = [c.id for c in made[:5]]
        windows.create(
            s,
            title="Weekly patching",
            description="",
            starts_at=now - timedelta(days=60),
            ends_at=now - timedelta(days=60) + timedelta(hours=2),
            component_ids=component_ids,
            service_ids=[],
            public=True,
            created_by_id=None,
            now=now,
            rrule="FREQ=WEEKLY;BYDAY=SU",
            time_zone="Europe/Berlin",
        )
        windows.create(
            s,
            title="Database upgrade",
            description="",
            starts_at=now + timedelta(days=7),
            ends_at=now + timedelta(days=7, hours=1),
            component_ids=component_ids,
            service_ids=[],
            public=True,
            created_by_id=None,
            now=now,
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
    timer = ServerTimer(app)
    paths = ("/healthz", "/status", "/status/api/v2/summary.json", "/status/history.rss")
    with TestClient(timer) as client:
        for warm in paths:
            measure(client, warm, 5)
            timer.take(warm)
        rebuild = []
        for _ in range(20):
            with db.read_session() as s:
                t0 = time.perf_counter()
                public.build(s, datetime.now(UTC))
                rebuild.append((time.perf_counter() - t0) * 1000)
        # Interleaved, so that a moment of load on the machine falls on every path alike.
        trips: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.requests):
            for p in paths:
                trips[p] += measure(client, p, 1)
        served = {p: timer.take(p) for p in paths}
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
        served_during = timer.take("/status")
    load = os.getloadavg()[0]
    rb = statistics.median(rebuild)
    print(f"machine: {os.cpu_count()} cores, load {load:.2f}, {datetime.now(UTC):%F %H:%M} UTC")
    print(
        f"{args.components} components, {args.incidents} past incidents, {args.requests} requests"
    )
    print(f"snapshot rebuild (ceiling, no cache): median {rb:.1f} ms, p95 {p95(rebuild):.1f} ms")
    peer = p95(served["/healthz"])
    print("server time (ASGI call to last body chunk); p95/peer = p95 / p95 of /healthz (server)")
    for p in paths:
        xs = served[p]
        print(
            f"  {p:30s} p50 {statistics.median(xs):6.2f} ms  p95 {p95(xs):6.2f} ms  "
            f"p95/peer {p95(xs) / peer:5.2f}  p95/rebuild {p95(xs) / rb:.3f}"
        )
    xs = served_during
    print(
        f"  {'/status during fan-out':30s} p50 {statistics.median(xs):6.2f} ms  "
        f"p95 {p95(xs):6.2f} ms  p95/peer {p95(xs) / peer:5.2f}"
    )
    trip_peer = p95(trips["/healthz"])
    print("round trip through the in-process client; p95/peer as above")
    for p in paths:
        xs = trips[p]
        print(
            f"  {p:30s} p50 {statistics.median(xs):6.2f} ms  p95 {p95(xs):6.2f} ms  "
            f"p95/peer {p95(xs) / trip_peer:5.2f}"
        )
    xs = during
    print(
        f"  {'/status during fan-out':30s} p50 {statistics.median(xs):6.2f} ms  "
        f"p95 {p95(xs):6.2f} ms  p95/peer {p95(xs) / trip_peer:5.2f}"
    )
    per_slice = t_fan * 1000 / slices
    print(
        f"fan-out: {args.subscribers} subscribers, {slices} slices, {t_fan * 1000:.0f} ms of "
        f"writes ({per_slice:.1f} ms per slice transaction)"
    )


if __name__ == "__main__":
    main()
