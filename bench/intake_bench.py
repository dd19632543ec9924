"""Intake throughput of a real `warroom serve`, beside its durable ceiling and its peer, in one run.

    python bench/intake_bench.py [--seconds 5] [--runs 3] [--connections 1 16]
                                 [--workloads new single update] [--database-url URL] [--no-peer]
                                 [--silences N] [--grouping-rules N]
                                 [--inhibit-rules N]

For each workload and concurrency, one after the other on the same machine:

- **warroom**: a real `warroom serve` on a fresh SQLite file (`synchronous=FULL`), loaded by
  `bench/loadclient.py` (2 client processes x N keep-alive connections). Afterwards every
  acknowledged event is looked up in the database (a missing one fails the run).
- **ceiling**: plain `sqlite3` writing the same rows into Warroom's own `alerts` schema (created by
  its migrations: the same indexes, WAL, `synchronous=FULL`), as many rows per commit as the
  client has in flight: what the disk and the schema allow with no server at all.
- **peer**: Debian's `prometheus-alertmanager` (`POST /api/v2/alerts`, in memory, not durable)
  with the same client, alerts and concurrency; installed with apt-get if missing and possible.

Workloads: `new` (Alertmanager batches of 100 new alerts), `single` (one new alert per request:
a PagerDuty event for Warroom, a one-alert POST for Alertmanager), `update` (10,000 active alerts
re-sent in batches of 100: the same fingerprints again, as Alertmanager does every
group_interval). It prints each rate and the ratios warroom/peer and warroom/ceiling, per run and
as medians, with the load average, so a figure from any day compares with one from another.

--silences N: N active silences in Warroom that match none of the bench's alerts (every alert is
checked against them: the worst case), 9 in 10 with an equality matcher, 1 in 10 with regular
expressions only, as in issue 10's measurements.

--grouping-rules N: N global grouping rules (ADR 21), all but the last with a matcher no bench
alert passes (each alert is compared with every one of them: the worst case), the last grouping
every alert by labels.alertname. Only the measured Warroom gets them (a --base may predate them).

--inhibit-rules N: N Alertmanager-style inhibition rules (ADR 16) whose source no bench alert
matches, targeting warning/info alerts with an `equal` label: every batch loads and tries them.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.loadclient import BodyFactory, run_load  # noqa: E402
from warroom.db import migrate  # noqa: E402
from warroom.db.engine import Database  # noqa: E402

ALERTS_PER_BATCH = 100
ACTIVE = 10_000  # the update workload's active alerts
BLOCKS = ACTIVE // ALERTS_PER_BATCH
PEER = "prometheus-alertmanager"
STARTS_AT = "2026-11-27T09:32:30.33727958Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- request bodies: the same alerts for Warroom and for the peer --------------------------------


def _labels(instance: str) -> str:
    return (
        '{"alertname":"Bench","instance":"%s","severity":"warning","service":"checkout-api"}'
        % instance
    )


def _webhook(alerts: list[tuple[str, str]]) -> bytes:
    """The webhook message Alertmanager sends Warroom; alerts are (fingerprint, instance)."""
    body = ",".join(
        '{"status":"firing","labels":%s,"annotations":{"summary":"bench alert"},'
        '"startsAt":"%s","endsAt":"0001-01-01T00:00:00Z",'
        '"generatorURL":"http://prometheus/graph","fingerprint":"%s"}'
        % (_labels(instance), STARTS_AT, fp)
        for fp, instance in alerts
    )
    return (
        '{"receiver":"warroom","status":"firing","alerts":[%s],"groupLabels":{},'
        '"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","version":"4",'
        '"groupKey":"{}:{alertname=\\"Bench\\"}","truncatedAlerts":0}' % body
    ).encode()


def _peer_alerts(instances: list[str]) -> bytes:
    """The same alerts as Alertmanager's own API takes them (what Prometheus sends it)."""
    return (
        "["
        + ",".join(
            '{"labels":%s,"annotations":{"summary":"bench alert"},"startsAt":"%s",'
            '"generatorURL":"http://prometheus/graph"}' % (_labels(i), STARTS_AT)
            for i in instances
        )
        + "]"
    ).encode()


def _new_batch(worker: int, seq: int) -> list[tuple[str, str]]:
    return [(f"w{worker}-s{seq}-a{i}", f"host-{worker}-{seq}-{i}") for i in range(ALERTS_PER_BATCH)]


def _update_batch(worker: int, seq: int) -> list[tuple[str, str]]:
    block = (seq * 2 + worker) % BLOCKS
    first = block * ALERTS_PER_BATCH
    return [(f"u-{k}", f"upd-{k}") for k in range(first, first + ALERTS_PER_BATCH)]


def am_body(worker: int, seq: int) -> bytes:
    return _webhook(_new_batch(worker, seq))


def am_update_body(worker: int, seq: int) -> bytes:
    return _webhook(_update_batch(worker, seq))


PD_KEY = ""


def pd_body(worker: int, seq: int) -> bytes:
    return (
        '{"routing_key":"%s","event_action":"trigger","dedup_key":"pd-w%d-s%d",'
        '"payload":{"summary":"bench event %d","source":"bench","severity":"warning"}}'
        % (PD_KEY, worker, seq, seq)
    ).encode()


def peer_new_body(worker: int, seq: int) -> bytes:
    return _peer_alerts([i for _, i in _new_batch(worker, seq)])


def peer_single_body(worker: int, seq: int) -> bytes:
    return _peer_alerts([f"single-{worker}-{seq}"])


def peer_update_body(worker: int, seq: int) -> bytes:
    return _peer_alerts([i for _, i in _update_batch(worker, seq)])


# --- the three targets ----------------------------------------------------------------------------


def start_server(
    url: str, port: int, python: str | None = None
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """`warroom serve` of this checkout, or of the checkout whose venv `python` belongs to."""
    python = python or sys.executable
    cwd = str(Path(python).resolve().parents[2]) if python != sys.executable else None
    env = {**os.environ, "WARROOM_DATABASE_URL": url}
    keys = seed_demo(url, python, cwd)
    proc = subprocess.Popen(
        [python, "-m", "warroom", "serve", "--port", str(port)],
        env={**env, "WARROOM_LOG_LEVEL": "warning"},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/readyz")
    return proc, keys


def seed_demo(url: str, python: str | None = None, cwd: str | None = None) -> dict[str, str]:
    """`warroom demo` on the database; its integrations' routing keys by type."""
    out = subprocess.run(
        [python or sys.executable, "-m", "warroom", "demo"],
        env={**os.environ, "WARROOM_DATABASE_URL": url},
        check=True,
        capture_output=True,
        text=True,
        cwd=cwd,
    ).stdout
    return dict(
        re.findall(r"^\s+\S+\s+(pagerduty|alertmanager|generic)\s+([0-9a-f]{32})$", out, re.M)
    )


def wait_ready(url: str) -> None:
    for _ in range(150):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def ensure_peer() -> str | None:
    """The peer's executable, installing Debian's package if it is missing and we may."""
    found = shutil.which(PEER)
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        return None
    command = [apt, "install", "-y", "-q", PEER]
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None:
            return None
        command = [sudo, "-n", *command]
    print(f"installing {PEER}: {' '.join(command)}", flush=True)
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, env={**os.environ})
    return shutil.which(PEER)


def start_peer(executable: str) -> tuple[subprocess.Popen[bytes], int, str]:
    home = tempfile.mkdtemp(prefix="wr-peer-")
    config = Path(home) / "alertmanager.yml"
    config.write_text('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
    port = free_port()
    proc = subprocess.Popen(
        [
            executable,
            f"--config.file={config}",
            f"--storage.path={home}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/-/ready")
    return proc, port, home


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def count(db: Database, sql: str, **params: Any) -> int:
    with db.read_session() as s:
        return int(s.execute(text(sql), params).scalar_one() or 0)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _load(port: int, path: str, body: BodyFactory, connections: int, seconds: float) -> Any:
    return run_load(
        "127.0.0.1", port, path, body, threads=2, connections=connections, seconds=seconds
    )


def _errors(result: dict[str, Any]) -> int:
    return sum(v for k, v in result["status"].items() if k >= 300)


@dataclass
class Figure:
    rate: float  # alerts (or events) per second
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    errors: int = 0


def _figure(result: dict[str, Any], per_request: int) -> Figure:
    return Figure(
        len(result["ok"]) * per_request / result["elapsed"],
        1000 * percentile(result["latencies"], 0.5),
        1000 * percentile(result["latencies"], 0.99),
        _errors(result),
    )


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


def add_grouping_rules(db: Database, n: int) -> None:
    import json
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    rows = [
        {
            "k": json.dumps(
                ["labels.alertname", "labels.instance"] if i < n - 1 else ["labels.alertname"]
            ),
            "m": json.dumps(
                [{"name": "alertname", "value": f"Deploy{i}", "isRegex": False, "isEqual": True}]
                if i < n - 1
                else []
            ),
            "p": i,
            "c": now,
        }
        for i in range(n)
    ]
    if rows:
        with db.session() as s:
            s.execute(
                text(
                    "INSERT INTO grouping_rules (service_id, position, keys, matchers, "
                    "window_seconds, dependency_aware, comment, created_by, created_at, "
                    "updated_at) VALUES (NULL, :p, :k, :m, NULL, false, '', 'bench', :c, :c)"
                ),
                rows,
            )


def add_inhibit_rules(db: Database, n: int) -> None:
    """N inhibition rules whose sources no bench alert matches: each batch still looks them up."""
    import json
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    rows = [
        {
            "n": f"bench-{i}",
            "s": json.dumps(
                [{"name": "alertname", "value": f"Outage{i}", "isRegex": False, "isEqual": True}]
            ),
            "t": json.dumps(
                [{"name": "severity", "value": "warning|info", "isRegex": True, "isEqual": True}]
            ),
            "e": json.dumps(["cluster"]),
            "c": now,
        }
        for i in range(n)
    ]
    if rows:
        with db.session() as s:
            s.execute(
                text(
                    "INSERT INTO inhibit_rules (name, source_matchers, target_matchers, equal, "
                    "comment, created_by, created_at) VALUES (:n, :s, :t, :e, '', 'bench', :c)"
                ),
                rows,
            )


class Warroom:
    """One `warroom serve` for a run: every workload against it, each checked in the database."""

    def __init__(
        self,
        url: str,
        python: str | None = None,
        silences: int = 0,
        grouping_rules: int = 0,
        inhibit_rules: int = 0,
    ) -> None:
        self.port = free_port()
        self.proc, self.keys = start_server(url, self.port, python)
        self.db = Database(url)
        add_silences(self.db, silences)
        add_grouping_rules(self.db, grouping_rules)
        add_inhibit_rules(self.db, inhibit_rules)
        self.am_path = f"/integrations/alertmanager/{self.keys['alertmanager']}"
        self.prefilled = False

    def close(self) -> None:
        stop(self.proc)
        self.db.dispose()

    def run(self, workload: str, connections: int, seconds: float) -> Figure:
        global PD_KEY
        PD_KEY = self.keys["pagerduty"]
        if workload == "new":
            before = count(self.db, "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'w%'")
            r = _load(self.port, self.am_path, am_body, connections, seconds)
            stored = count(self.db, "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'w%'")
            # Sequence numbers restart per load: a rerun re-sends earlier fingerprints as updates.
            assert stored - before <= len(r["ok"]) * ALERTS_PER_BATCH
            assert stored >= len(r["ok"]) * ALERTS_PER_BATCH, (stored, len(r["ok"]))
            return _figure(r, ALERTS_PER_BATCH)
        if workload == "single":
            before = count(self.db, "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'pd-%'")
            r = _load(self.port, "/v2/enqueue", pd_body, connections, seconds)
            stored = count(self.db, "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'pd-%'")
            assert stored >= len(r["ok"]) and stored - before <= len(r["ok"]), (stored, r["ok"])
            return _figure(r, 1)
        if workload == "update":
            self._prefill()
            events = "SELECT sum(event_count) FROM alerts WHERE dedup_key LIKE 'u-%'"
            before = count(self.db, events)
            r = _load(self.port, self.am_path, am_update_body, connections, seconds)
            after = count(self.db, events)
            # Every acknowledged re-send is counted on its alert (event_count), none is lost.
            assert after - before == len(r["ok"]) * ALERTS_PER_BATCH, (after - before, r["ok"])
            opened = "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'u-%'"
            assert count(self.db, opened) == ACTIVE
            return _figure(r, ALERTS_PER_BATCH)
        raise ValueError(workload)

    def _prefill(self) -> None:
        if self.prefilled:
            return
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}") as client:
            for block in range(BLOCKS):
                body = am_update_body(block % 2, block // 2)
                reply = client.post(
                    self.am_path, content=body, headers={"Content-Type": "application/json"}
                )
                reply.raise_for_status()
        self.prefilled = True


class Peer:
    def __init__(self, executable: str) -> None:
        self.proc, self.port, self.home = start_peer(executable)
        self.prefilled = False

    def close(self) -> None:
        stop(self.proc)
        shutil.rmtree(self.home, ignore_errors=True)

    def run(self, workload: str, connections: int, seconds: float) -> Figure:
        body: Callable[[int, int], bytes]
        per = ALERTS_PER_BATCH
        if workload == "new":
            body = peer_new_body
        elif workload == "single":
            body, per = peer_single_body, 1
        else:
            body = peer_update_body
            if not self.prefilled:
                with httpx.Client(base_url=f"http://127.0.0.1:{self.port}") as client:
                    for block in range(BLOCKS):
                        client.post(
                            "/api/v2/alerts",
                            content=peer_update_body(block % 2, block // 2),
                            headers={"Content-Type": "application/json"},
                        ).raise_for_status()
                self.prefilled = True
        return _figure(_load(self.port, "/api/v2/alerts", body, connections, seconds), per)


# The ceiling: rows exactly as Warroom's intake writes them (the columns of
# warroom.alerts.service's insert), straight through sqlite3, timed end to end per commit.
_CEILING_COLUMNS = (
    "integration_id, service_id, incident_id, dedup_key, status, severity, summary, source, "
    "details, links, labels, group_key, event_count, started_at, created_at, last_event_at"
)


class Ceiling:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="wr-ceiling-")
        url = f"sqlite:///{self.dir}/c.db"
        db = Database(url)
        migrate.upgrade(db)
        db.dispose()
        self.con = sqlite3.connect(f"{self.dir}/c.db", isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=OFF"):
            self.con.execute(f"PRAGMA {pragma}")
        self.seq = 0
        self.active = False

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _row(self, key: str, instance: str, now: str) -> tuple[Any, ...]:
        labels = _labels(instance)
        return (
            1,
            1,
            None,
            key,
            "triggered",
            "warning",
            "bench alert",
            "prometheus",
            '{"annotations":{"summary":"bench alert"},"labels":%s}' % labels,
            '[{"href":"http://prometheus/graph","text":"Source"}]',
            labels,
            '{}:{alertname="Bench"}',
            1,
            now,
            now,
            now,
        )

    def run(self, workload: str, connections: int, seconds: float) -> Figure:
        in_flight = 2 * connections
        per_commit = in_flight if workload == "single" else in_flight * ALERTS_PER_BATCH
        per_commit = min(per_commit, 5000)
        insert = f"INSERT INTO alerts ({_CEILING_COLUMNS}) VALUES ({', '.join(['?'] * 16)})"  # noqa: S608
        update = (
            "UPDATE alerts SET event_count = event_count + 1, last_event_at = ? "
            "WHERE integration_id = 1 AND dedup_key = ? AND status <> 'resolved'"
        )
        if workload == "update" and not self.active:
            now = time.strftime("%Y-%m-%d %H:%M:%S.000000")
            self.con.execute("BEGIN IMMEDIATE")
            self.con.executemany(
                insert, [self._row(f"u-{k}", f"upd-{k}", now) for k in range(ACTIVE)]
            )
            self.con.execute("COMMIT")
            self.active = True
        rows = 0
        latencies: list[float] = []
        start = time.perf_counter()
        deadline = start + seconds
        cursor = 0
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            now = time.strftime("%Y-%m-%d %H:%M:%S.000000")
            self.con.execute("BEGIN IMMEDIATE")
            if workload == "update":
                keys = [(now, f"u-{(cursor + i) % ACTIVE}") for i in range(per_commit)]
                cursor += per_commit
                self.con.executemany(update, keys)
            else:
                batch = []
                for _ in range(per_commit):
                    self.seq += 1
                    batch.append(self._row(f"c-{self.seq}", f"c-{self.seq}", now))
                self.con.executemany(insert, batch)
            self.con.execute("COMMIT")
            rows += per_commit
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
        return Figure(
            rows / elapsed, 1000 * percentile(latencies, 0.5), 1000 * percentile(latencies, 0.99)
        )


# --- the run ------------------------------------------------------------------------------------


def load_average() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def one_run(
    workloads: list[str],
    connections: int,
    seconds: float,
    peer_exe: str | None,
    url: str | None = None,
    base_python: str | None = None,
    silences: int = 0,
    grouping_rules: int = 0,
    inhibit_rules: int = 0,
) -> dict[str, dict[str, Figure]]:
    """{workload: {"warroom": ..., "ceiling": ..., "peer": ..., "base": ...}} for one run."""

    def fresh() -> str:
        return url or f"sqlite:///{tempfile.mkdtemp(prefix='wr-bench-')}/w.db"

    warroom = Warroom(
        fresh(), silences=silences, grouping_rules=grouping_rules, inhibit_rules=inhibit_rules
    )
    base = Warroom(fresh(), base_python, silences) if base_python else None
    ceiling = Ceiling()
    peer = Peer(peer_exe) if peer_exe else None
    figures: dict[str, dict[str, Figure]] = {}
    try:
        for workload in workloads:
            row = figures[workload] = {}
            row["warroom"] = warroom.run(workload, connections, seconds)
            row["ceiling"] = ceiling.run(workload, connections, seconds)
            if peer is not None:
                row["peer"] = peer.run(workload, connections, seconds)
            if base is not None:
                row["base"] = base.run(workload, connections, seconds)
    finally:
        for target in (warroom, base, ceiling, peer):
            if target is not None:
                target.close()
    return figures


def _ratio(row: dict[str, Figure], other: str) -> float:
    return row["warroom"].rate / row[other].rate if other in row else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--connections",
        type=int,
        nargs="+",
        default=[1, 16],
        help="keep-alive connections per client process (requests in flight)",
    )
    parser.add_argument(
        "--workloads", nargs="+", default=["new", "single", "update"], choices=WORKLOADS
    )
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file per run")
    parser.add_argument("--no-peer", action="store_true", help="skip Prometheus Alertmanager")
    parser.add_argument(
        "--base",
        metavar="PYTHON",
        help="also run the Warroom of another checkout (the python of its venv) in each run, "
        "and print this checkout's ratio to it",
    )
    parser.add_argument("--silences", type=int, default=0, help="active silences (none match)")
    parser.add_argument(
        "--grouping-rules", type=int, default=0, help="global grouping rules (one applies)"
    )
    parser.add_argument(
        "--inhibit-rules", type=int, default=0, help="inhibition rules (no source fires)"
    )
    args = parser.parse_args()
    peer_exe = None if args.no_peer else ensure_peer()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    missing = "skipped (--no-peer)" if args.no_peer else "none (could not be installed)"
    print(f"peer: {peer_exe or missing}; ratios to the peer are shown when it ran")
    for connections in args.connections:
        runs: list[dict[str, dict[str, Figure]]] = []
        for n in range(args.runs):
            load = load_average()
            figures = one_run(
                args.workloads,
                connections,
                args.seconds,
                peer_exe,
                args.database_url,
                args.base,
                args.silences,
                args.grouping_rules,
                args.inhibit_rules,
            )
            runs.append(figures)
            print(f"\n2 x {connections} connection(s), run {n + 1}, load average {load}:")
            for workload, row in figures.items():
                print(
                    f"  {workload:<7} warroom {row['warroom'].rate:>9.0f}/s "
                    f"(p50 {row['warroom'].p50_ms:.1f} ms, p99 {row['warroom'].p99_ms:.1f} ms, "
                    f"{row['warroom'].errors} errors)  ceiling {row['ceiling'].rate:>9.0f}/s  "
                    + (f"peer {row['peer'].rate:>9.0f}/s  " if "peer" in row else "")
                    + (f"base {row['base'].rate:>9.0f}/s  " if "base" in row else "")
                    + f"x ceiling {_ratio(row, 'ceiling'):.2f}  x peer {_ratio(row, 'peer'):.2f}"
                    + (f"  x base {_ratio(row, 'base'):.2f}" if "base" in row else "")
                )
        print(
            f"\n2 client processes x {connections} connection(s), medians of {args.runs} runs of "
            f"{args.seconds:g} s, {args.silences} active silences, "
            f"{args.grouping_rules} grouping rules, {args.inhibit_rules} inhibition rules "
            f"(load average now {load_average()}):"
        )
        print(
            f"  {'workload':<8} {'warroom/s':>10} {'ceiling/s':>10} {'peer/s':>10} "
            f"{'x peer':>7} {'x ceiling':>9}  {'p50 ms':>7} {'p99 ms':>7}"
            + (f" {'base/s':>9} {'x base':>7}" if args.base else "")
        )
        for workload in args.workloads:

            def med(
                fn: Callable[[dict[str, Figure]], float],
                w: str = workload,
                runs: list[dict[str, dict[str, Figure]]] = runs,
            ) -> float:
                return statistics.median(fn(r[w]) for r in runs)

            print(
                f"  {workload:<8} {med(lambda r: r['warroom'].rate):>10.0f} "
                f"{med(lambda r: r['ceiling'].rate):>10.0f} "
                f"{med(lambda r: r['peer'].rate if 'peer' in r else float('nan')):>10.0f} "
                f"{med(lambda r: _ratio(r, 'peer')):>7.2f} "
                f"{med(lambda r: _ratio(r, 'ceiling')):>9.2f}  "
                f"{med(lambda r: r['warroom'].p50_ms):>7.1f} "
                f"{med(lambda r: r['warroom'].p99_ms):>7.1f}"
                + (
                    f" {med(lambda r: r['base'].rate):>9.0f}"
                    f" {med(lambda r: _ratio(r, 'base')):>7.2f}"
                    if args.base
                    else ""
                )
            )
        print("  every acknowledged event was found in the database")


WORKLOADS = ("new", "single", "update")

if __name__ == "__main__":
    main()
