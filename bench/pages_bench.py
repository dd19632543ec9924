"""Page and list latency at scale (issue 4): 10,000 incidents and 1,000,000 alerts in PostgreSQL.

    python bench/pages_bench.py [--database-url URL] [--requests 60] [--warmup 10]

Without --database-url a throwaway PostgreSQL server is started and seeded by
bench/seed_scale.py (about a minute); with it, the database must have been seeded by that script.
A real `python -m warroom serve --role api` process serves it; the benchmark signs in through
the login form (CSRF cookie + field, as a browser does) as a responder it creates, and reads the
REST list with an API token of that user.

What is measured: the round trip of each request on loopback over one kept-alive connection, one
request at a time, after --warmup requests of the same URL. With nothing queued, that is the
server's time plus a fraction of a millisecond of client and loopback, so it is what a user
would wait for minus the network. Medians and p95 of --requests requests per URL. Beside them,
the server's own mean for the same requests, from the `warroom_request_duration_seconds`
histogram that /metrics already exports (sum and count read before and after each URL's run):
the check that the client adds nothing that matters. Figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.intake_bench import free_port  # noqa: E402
from bench.seed_scale import seed, start_server  # noqa: E402
from warroom.catalog import service as catalog  # noqa: E402
from warroom.db.engine import Database  # noqa: E402

TARGET_MS = 150.0


@dataclass(frozen=True)
class Case:
    label: str
    path: str
    api: bool = False
    expect: str = ""  # a string the body must contain (the page shows what it should)
    target: bool = True  # under the 150 ms target; others are shown for information


def machine(db: Database) -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        memory = "?"
    with db.read_session() as s:
        pg = str(s.execute(text("SHOW server_version")).scalar_one())
    return (
        f"{platform.platform()}; {os.cpu_count()} cpus ({cpu}); {memory} RAM; "
        f"Python {platform.python_version()}; PostgreSQL {pg} (same machine)"
    )


def scale(db: Database) -> dict[str, Any]:
    """What is in the database, and the ids the cases need."""
    with db.read_session() as s:

        def one(sql: str) -> Any:
            return s.execute(text(sql)).one()

        incidents, alerts = one(
            "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM alerts)"
        )
        open_n = one(
            "SELECT count(*) FROM incidents "
            "WHERE status IN ('triggered', 'acknowledged', 'mitigated')"
        )[0]
        events = one("SELECT count(*) FROM timeline_events")[0]
        big_open = one(
            "SELECT id, alert_count FROM incidents WHERE status IN ('triggered', 'acknowledged', "
            "'mitigated') ORDER BY alert_count DESC LIMIT 1"
        )
        # The oldest storm: the worst case for "newest alerts of an incident" without a
        # fitting index (PostgreSQL walks back past every newer alert).
        big_past = one(
            "SELECT id, alert_count FROM incidents WHERE status = 'closed' "
            "AND alert_count >= 10000 ORDER BY id LIMIT 1"
        )
        small = one(
            "SELECT id, alert_count FROM incidents WHERE alert_count BETWEEN 2 AND 10 "
            "ORDER BY status = 'acknowledged' DESC, id DESC LIMIT 1"
        )
        service = one(
            "SELECT s.service_id FROM incident_services s JOIN incidents i ON i.id = s.incident_id"
            " WHERE i.status IN ('triggered', 'acknowledged', 'mitigated')"
            " GROUP BY s.service_id ORDER BY count(*) DESC, s.service_id LIMIT 1"
        )[0]
        # A cursor 9/10 of the way down the list, newest first: a deep page.
        deep = one(
            f"SELECT id FROM incidents ORDER BY id DESC OFFSET {int(0.9 * incidents)} LIMIT 1"
        )[0]
    return {
        "incidents": incidents,
        "alerts": alerts,
        "open": open_n,
        "events": events,
        "big_open": big_open,
        "big_past": big_past,
        "small": small,
        "service": service,
        "deep": deep,
    }


def cases(info: dict[str, Any]) -> list[Case]:
    big, big_n = info["big_open"]
    past, past_n = info["big_past"]
    small, small_n = info["small"]
    svc, deep = info["service"], info["deep"]
    api = "/api/v1/incidents"
    return [
        Case("dashboard (open, default)", "/", expect="Open incidents"),
        Case("dashboard ?status=triggered", "/?status=triggered"),
        Case("dashboard ?status=acknowledged", "/?status=acknowledged"),
        Case("dashboard ?status=resolved", "/?status=resolved"),
        Case("dashboard ?status=closed (200 of ~8,000)", "/?status=closed"),
        Case("dashboard ?priority=1", "/?status=open&priority=1"),
        Case("dashboard ?service=", f"/?service={svc}"),
        Case("dashboard ?mine=1", "/?mine=1"),
        Case("dashboard live fragment", "/dashboard.fragment"),
        Case(
            f"incident, open storm ({big_n:,} alerts)",
            f"/incidents/{big}",
            expect=f"({big_n})",
        ),
        Case(
            f"incident, oldest storm ({past_n:,} alerts, closed)",
            f"/incidents/{past}",
            expect=f"({past_n})",
        ),
        Case(f"incident, small ({small_n} alerts)", f"/incidents/{small}", expect=f"({small_n})"),
        Case("incident live panels, open storm", f"/incidents/{big}/panels.fragment"),
        Case("alerts, first page", "/alerts"),
        Case("alerts of the open storm", f"/alerts?incident={big}"),
        Case("alerts of the oldest storm", f"/alerts?incident={past}"),
        Case("alerts ?status=triggered", "/alerts?status=triggered"),
        # A summary search that matches nothing reads every alert (no text index yet).
        Case("alerts ?q= matching nothing (not in target)", "/alerts?q=no-such-text", target=False),
        Case("API list, first page", api, api=True),
        Case("API ?status=open", f"{api}?status=open", api=True),
        Case(
            "API ?status=resolved,closed&priority=1,2&service_id=",
            f"{api}?status=resolved&status=closed&priority=1&priority=2&service_id={svc}",
            api=True,
        ),
        Case("API deep cursor (9/10 down)", f"{api}?cursor={deep}", api=True),
        Case(
            "API deep cursor ?status=closed&priority=3",
            f"{api}?status=closed&priority=3&cursor={deep}",
            api=True,
        ),
        Case("API deep cursor ?service_id=", f"{api}?service_id={svc}&cursor={deep}", api=True),
        Case(
            "API ?status=open&priority=2&service_id=",
            f"{api}?status=open&priority=2&service_id={svc}",
            api=True,
        ),
    ]


@contextmanager
def server(url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "WARROOM_DATABASE_URL": url, "WARROOM_LOG_LEVEL": "warning"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--role", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: `serve` migrates first, and a new index on a million alerts takes a while.
        deadline = time.monotonic() + 600
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        print(f"server up in {time.perf_counter() - started:.1f}s (includes migrations)")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def sign_in(client: httpx.Client, username: str, password: str) -> None:
    form = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert form.status_code == 200 and token, form.text[:500]
    done = client.post(
        "/login",
        data={
            "login_token": token.group(1),
            "next": "/",
            "username": username,
            "password": password,
        },
    )
    assert done.status_code == 303, (done.status_code, done.text[:500])


def server_seconds(client: httpx.Client) -> dict[tuple[str, str], tuple[float, float]]:
    """(method, route) -> (sum of seconds, count) of the request-duration histogram."""
    found: dict[tuple[str, str], list[float]] = {}
    for line in client.get("/metrics").text.splitlines():
        m = re.match(
            r'warroom_request_duration_seconds_(sum|count)\{method="(\w+)",route="([^"]*)"\} (\S+)',
            line,
        )
        if m:
            kind, method, route, value = m.groups()
            found.setdefault((method, route), [0.0, 0.0])[kind == "count"] = float(value)
    return {k: (v[0], v[1]) for k, v in found.items()}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    client: httpx.Client, case: Case, headers: dict[str, str], warmup: int, n: int
) -> dict[str, Any]:
    for _ in range(warmup):
        r = client.get(case.path, headers=headers)
        assert r.status_code == 200, (case.path, r.status_code, r.text[:300])
        if case.expect:
            assert case.expect in r.text, (case.path, case.expect)
    time.sleep(0.05)  # the last warm-up request is recorded
    before = server_seconds(client)
    times = []
    size = 0
    for _ in range(n):
        start = time.perf_counter()
        r = client.get(case.path, headers=headers)
        times.append(1000 * (time.perf_counter() - start))
        assert r.status_code == 200, (case.path, r.status_code)
        size = len(r.content)
    # The route template of this path is the one whose count grew by n. The server records a
    # request just after sending its last byte, so the last one may need a moment to show.
    server_ms = float("nan")
    for _ in range(20):
        after = server_seconds(client)
        for key, (total, count) in after.items():
            old_total, old_count = before.get(key, (0.0, 0.0))
            if key[0] == "GET" and key[1] != "/metrics" and count - old_count == n:
                server_ms = 1000 * (total - old_total) / n
        if server_ms == server_ms:
            break
        time.sleep(0.05)
    return {
        "p50": statistics.median(times),
        "p95": pct(times, 0.95),
        "min": min(times),
        "server_mean": server_ms,
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="default: start and seed a server")
    parser.add_argument("--requests", type=int, default=60, help="measured requests per URL")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured requests per URL first")
    parser.add_argument("--only", default="", help="run only the cases whose label contains this")
    args = parser.parse_args()
    pg = None
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


def run(url: str, args: argparse.Namespace) -> None:
    db = Database(url)
    info = scale(db)
    if info["incidents"] < 1000:
        raise SystemExit("the database is not seeded: run bench/seed_scale.py first")
    print(f"machine: {machine(db)}")
    print(
        f"data: {info['incidents']:,} incidents ({info['open']} open), {info['alerts']:,} alerts,"
        f" {info['events']:,} timeline events"
    )
    password = secrets.token_urlsafe(16)
    username = f"bench-{secrets.token_hex(4)}"
    with db.session() as s:
        user = catalog.create_user(s, username=username, role="responder", password=password)
        token, _ = catalog.create_token(s, user.id, "pages bench")
    db.dispose()
    with server(url) as base, httpx.Client(base_url=base, timeout=60) as client:
        sign_in(client, username, password)
        bearer = {"Authorization": f"Bearer {token}"}
        print(
            f"\n{args.requests} requests per URL after {args.warmup} of warm-up, one at a time "
            "on one keep-alive connection; ms"
        )
        header = f"{'':<52} {'p50':>7} {'p95':>7} {'min':>7} {'server':>7} {'KiB':>6}"
        print(header)
        worst = 0.0
        for case in cases(info):
            if args.only and args.only not in case.label:
                continue
            result = measure(client, case, bearer if case.api else {}, args.warmup, args.requests)
            if case.target:
                worst = max(worst, result["p50"])
            flag = "  over target" if case.target and result["p50"] > TARGET_MS else ""
            print(
                f"{case.label:<52} {result['p50']:7.1f} {result['p95']:7.1f} {result['min']:7.1f}"
                f" {result['server_mean']:7.1f} {result['bytes'] / 1024:6.0f}{flag}",
                flush=True,
            )
        print(f"\nslowest median of the targeted URLs {worst:.1f} ms (target {TARGET_MS:.0f} ms)")
        print("server = the server's own mean from warroom_request_duration_seconds")


if __name__ == "__main__":
    main()
