"""Intake throughput against a real `warroom serve` process on loopback (SQLite by default).

    python bench/intake_bench.py [--seconds 10] [--database-url URL] [--silences N]

Workloads (issue 2): Alertmanager batches of 100 new alerts per request, and single PagerDuty
events, each from 2 client processes. Afterwards every acknowledged event is looked up in the
database. Prints medians of --runs runs; see docs/performance.md.

--silences N: N active silences that match none of the bench's alerts (every alert is checked
against them: the worst case), 9 in 10 with an equality matcher, 1 in 10 with regular
expressions only, as in issue 10's measurements.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.loadclient import run_load  # noqa: E402
from warroom.db.engine import Database  # noqa: E402

ALERTS_PER_BATCH = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def am_body(worker: int, seq: int) -> bytes:
    alerts = ",".join(
        '{"status":"firing","labels":{"alertname":"Bench","instance":"host-%d-%d-%d",'
        '"severity":"warning","service":"checkout-api"},"annotations":{"summary":"bench alert"},'
        '"startsAt":"2026-11-27T09:32:30.33727958Z","endsAt":"0001-01-01T00:00:00Z",'
        '"generatorURL":"http://prometheus/graph","fingerprint":"w%d-s%d-a%d"}'
        % (worker, seq, i, worker, seq, i)
        for i in range(ALERTS_PER_BATCH)
    )
    return (
        '{"receiver":"warroom","status":"firing","alerts":[%s],"groupLabels":{},'
        '"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","version":"4",'
        '"groupKey":"{}:{alertname=\\"Bench\\"}","truncatedAlerts":0}' % alerts
    ).encode()


PD_KEY = ""


def pd_body(worker: int, seq: int) -> bytes:
    return (
        '{"routing_key":"%s","event_action":"trigger","dedup_key":"pd-w%d-s%d",'
        '"payload":{"summary":"bench event %d","source":"bench","severity":"warning"}}'
        % (PD_KEY, worker, seq, seq)
    ).encode()


def start_server(url: str, port: int) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    env = {**os.environ, "WARROOM_DATABASE_URL": url}
    out = subprocess.run(
        [sys.executable, "-m", "warroom", "demo"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    keys = dict(
        re.findall(r"^\s+\S+\s+(pagerduty|alertmanager|generic)\s+([0-9a-f]{32})$", out, re.M)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--port", str(port), "--log-level", "warning"]
        if False
        else [sys.executable, "-m", "warroom", "serve", "--port", str(port)],
        env={**env, "WARROOM_LOG_LEVEL": "warning"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, keys


def add_silences(db: Database, n: int) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        if i % 10 == 9:
            matchers = [
                {"name": "instance", "value": f"other-{i}-.*", "isRegex": True, "isEqual": True},
                {"name": "job", "value": "batch|cron", "isRegex": True, "isEqual": True},
            ]
        else:
            matchers = [
                {"name": "alertname", "value": f"Deploy{i}", "isRegex": False, "isEqual": True},
                {"name": "instance", "value": "host-.*", "isRegex": True, "isEqual": True},
            ]
        rows.append(
            {
                "m": json.dumps(matchers),
                "s": now - timedelta(minutes=1),
                "e": now + timedelta(hours=2),
                "c": now,
            }
        )
    if rows:
        with db.session() as s:
            s.execute(
                text(
                    "INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment,"
                    " created_at, updated_at) VALUES (:m, :s, :e, 'bench', '', :c, :c)"
                ),
                rows,
            )


def count(db: Database, sql: str, **params: Any) -> int:
    with db.read_session() as s:
        return int(s.execute(text(sql), params).scalar_one())


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def one_run(url: str, seconds: float, connections: int, silences: int = 0) -> dict[str, float]:
    global PD_KEY
    port = free_port()
    proc, keys = start_server(url, port)
    PD_KEY = keys["pagerduty"]
    db = Database(url)
    add_silences(db, silences)
    try:
        am = run_load(
            "127.0.0.1",
            port,
            f"/integrations/alertmanager/{keys['alertmanager']}",
            am_body,
            threads=2,
            connections=connections,
            seconds=seconds,
        )
        am_ok = len(am["ok"])
        stored = count(db, "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'w%'")
        assert stored == am_ok * ALERTS_PER_BATCH, (stored, am_ok)
        pd = run_load(
            "127.0.0.1",
            port,
            "/v2/enqueue",
            pd_body,
            threads=2,
            connections=connections,
            seconds=seconds,
        )
        pd_ok = len(pd["ok"])
        stored_pd = count(db, "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'pd-%'")
        assert stored_pd == pd_ok, (stored_pd, pd_ok)
        return {
            "am_alerts_per_s": am_ok * ALERTS_PER_BATCH / am["elapsed"],
            "am_p50_ms": 1000 * percentile(am["latencies"], 0.5),
            "am_p99_ms": 1000 * percentile(am["latencies"], 0.99),
            "am_errors": sum(v for k, v in am["status"].items() if k >= 300),
            "pd_events_per_s": pd_ok / pd["elapsed"],
            "pd_p50_ms": 1000 * percentile(pd["latencies"], 0.5),
            "pd_p99_ms": 1000 * percentile(pd["latencies"], 0.99),
            "pd_errors": sum(v for k, v in pd["status"].items() if k >= 300),
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--connections",
        type=int,
        nargs="+",
        default=[1, 16],
        help="keep-alive connections per client process (requests in flight)",
    )
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file per run")
    parser.add_argument("--silences", type=int, default=0, help="active silences (none match)")
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    for connections in args.connections:
        runs = []
        for _ in range(args.runs):
            url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='wr-bench-')}/w.db"
            runs.append(one_run(url, args.seconds, connections, args.silences))
        print(
            f"\n2 client processes x {connections} connection(s), {args.runs} runs of "
            f"{args.seconds:.0f}s each, {args.silences} active silences; median (min-max):"
        )
        for key in runs[0]:
            values = [r[key] for r in runs]
            print(
                f"  {key:<18} {statistics.median(values):>10.1f}   "
                f"({min(values):.1f}-{max(values):.1f})"
            )
        print("  every acknowledged event was found in the database")


if __name__ == "__main__":
    main()
