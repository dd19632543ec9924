"""Metrics page and review draft latency at scale (issue 13): 10,000 incidents, 1,000,000 alerts.

    python bench/reviews_bench.py [--database-url URL] [--requests 30] [--warmup 5]

Without --database-url a throwaway PostgreSQL server is started and seeded by
bench/seed_scale.py; with it, the database must have been seeded by that script. A real
`python -m warroom serve --role api` process serves it (bench/pages_bench.py's harness): a
responder it creates signs in through the login form, and the API is read with their token.

Measured, one request at a time on one kept-alive loopback connection after --warmup requests:
the metrics page over 30 and 90 days (every table of the page: counts, MTTD/MTTA/MTTM/MTTR, SLA
compliance, on-call load, noisy alerts, recurring incidents, feedback), the same numbers from
/api/v1/metrics/summary, one chart, and the review of the largest storm (60,000 alerts) as
JSON (the draft built from the record) and as the page. Ceilings from the issue: the metrics
page 300 ms, the storm's draft 1 s; the dashboard is measured in the same run as the peer, so
a loaded machine shows as a slower peer too. Figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.pages_bench import machine, server, sign_in  # noqa: E402
from bench.seed_scale import seed, start_server  # noqa: E402
from warroom.catalog import service as catalog  # noqa: E402
from warroom.db.engine import Database  # noqa: E402


def measure(
    client: httpx.Client, path: str, headers: dict[str, str], warmup: int, n: int
) -> dict[str, float]:
    for _ in range(warmup):
        r = client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times = []
    for _ in range(n):
        began = time.perf_counter()
        r = client.get(path, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, int(len(times) * 0.95) - 1)],
        "min": times[0],
        "kib": len(r.content) / 1024,
    }


def storm(db: Database) -> tuple[int, int]:
    """The incident with the most alerts, resolved (the seed leaves storms resolved or open)."""
    with db.session() as s:
        iid, count = s.execute(
            text("SELECT id, alert_count FROM incidents ORDER BY alert_count DESC LIMIT 1")
        ).one()
        s.execute(
            text(
                "UPDATE incidents SET status = 'resolved', "
                "resolved_at = COALESCE(resolved_at, last_alert_at + interval '10 minutes') "
                "WHERE id = :id AND status NOT IN ('resolved', 'closed')"
            ),
            {"id": iid},
        )
    return int(iid), int(count)


def run(url: str, args: argparse.Namespace) -> None:
    db = Database(url)
    with db.read_session() as s:
        incidents, alerts = s.execute(
            text("SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM alerts)")
        ).one()
    if incidents < 1000:
        raise SystemExit("the database is not seeded: run bench/seed_scale.py first")
    print(f"machine: {machine(db)}")
    print(f"data: {incidents:,} incidents, {alerts:,} alerts")
    iid, count = storm(db)
    password = secrets.token_urlsafe(16)
    username = f"bench-{secrets.token_hex(4)}"
    with db.session() as s:
        user = catalog.create_user(s, username=username, role="responder", password=password)
        token, _ = catalog.create_token(s, user.id, "reviews bench")
    db.dispose()
    bearer = {"Authorization": f"Bearer {token}"}
    with server(url) as base, httpx.Client(base_url=base, timeout=120) as client:
        sign_in(client, username, password)
        r = client.post(f"/api/v1/incidents/{iid}/review", headers=bearer)
        assert r.status_code in (201, 409), r.text
        cases: list[tuple[str, str, dict[str, str], float | None]] = [
            ("dashboard (peer)", "/", {}, None),
            ("metrics page, 30 days", "/analytics?period=30", {}, 300.0),
            ("metrics page, 90 days", "/analytics?period=90", {}, 300.0),
            ("GET /api/v1/metrics/summary (30 days)", "/api/v1/metrics/summary", bearer, 300.0),
            ("chart: mean times (30 days)", "/analytics/charts/durations.svg?period=30", {}, None),
            (
                f"review draft JSON, #{iid} ({count:,} alerts)",
                f"/api/v1/incidents/{iid}/review",
                bearer,
                1000.0,
            ),
            (f"review page, #{iid}", f"/incidents/{iid}/review", {}, 1000.0),
        ]
        print(f"\n{args.requests} requests per URL after {args.warmup} of warm-up; ms")
        print(f"{'':<52} {'p50':>8} {'p95':>8} {'min':>8} {'KiB':>6} {'of ceiling':>10}")
        peer = None
        for label, path, headers, ceiling in cases:
            m = measure(client, path, headers, args.warmup, args.requests)
            if peer is None:
                peer = m["p50"]
            share = f"{m['p50'] / ceiling:9.0%}" if ceiling else f"{m['p50'] / peer:8.1f}x"
            flag = "  OVER" if ceiling and m["p50"] > ceiling else ""
            print(
                f"{label:<52} {m['p50']:8.1f} {m['p95']:8.1f} {m['min']:8.1f} {m['kib']:6.0f} "
                f"{share:>10}{flag}",
                flush=True,
            )
        print(
            "\n'of ceiling': the median against the issue's ceiling (300 ms page, 1 s draft); "
            "the peer and the chart show their multiple of the dashboard's median"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="default: start and seed a server")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    pg: Any = None
    url = args.database_url
    if url is None:
        pg, url = start_server()
        print("seeding a throwaway server (bench/seed_scale.py):")
        seed(url)
    try:
        run(url, args)
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
