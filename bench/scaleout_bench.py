"""Intake scale-out on PostgreSQL: 1 -> 2 -> 3 `warroom serve --role api` processes on one database.

    python bench/scaleout_bench.py [--seconds 5] [--apis 1 2 3] [--connections 16]
                                   [--database-url URL]

Without --database-url it starts a throwaway PostgreSQL (tests/pgserver.py) with durable
settings (fsync and synchronous_commit on, as a production server runs). The client's
connections are spread evenly over the API processes (each on its own port: the balancing a
proxy in front would do, without the proxy's own cost). Workloads as bench/intake_bench.py:
Alertmanager batches of 100 new alerts and single PagerDuty events; every acknowledged event is
looked up in the database afterwards. Prints rates and the ratio to one API process.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import intake_bench as ib  # noqa: E402
from bench.loadclient import run_load  # noqa: E402
from warroom.db.engine import Database  # noqa: E402


def start_postgres() -> tuple[Any, str]:
    from tests.pgserver import PostgresServer

    server = PostgresServer()
    server.start()
    # The throwaway test server runs without fsync; a scale figure must pay for durability.
    conf = server.datadir / "postgresql.auto.conf"
    conf.write_text("fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n")
    server._run("pg_ctl", "-D", str(server.datadir), "reload")  # noqa: SLF001
    return server, server.create_database("scaleout")


def start_apis(url: str, n: int) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    procs, ports = [], []
    for _ in range(n):
        port = ib.free_port()
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "warroom", "serve", "--role", "api", "--port", str(port)],
                env={**os.environ, "WARROOM_DATABASE_URL": url, "WARROOM_LOG_LEVEL": "warning"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        ports.append(port)
    for port in ports:
        ib.wait_ready(f"http://127.0.0.1:{port}/readyz")
    return procs, ports


def _shifted(make: Any, offset: int, worker: int, seq: int) -> bytes:
    return make(worker + offset, seq)  # type: ignore[no-any-return]


def measure(url: str, keys: dict[str, str], n: int, conns: int, seconds: float) -> dict[str, float]:
    procs, ports = start_apis(url, n)
    db = Database(url)
    try:
        am_sql = "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'w%'"
        pd_sql = "SELECT count(*) FROM alerts WHERE dedup_key LIKE 'pd-%'"
        # Fresh keys per measurement: a prefix per API count (the sequence restarts).
        tag = f"n{n}"
        am_before, pd_before = ib.count(db, am_sql), ib.count(db, pd_sql)

        # Module-level functions (the client processes unpickle them), shifted to fresh keys.
        am_body = functools.partial(_shifted, ib.am_body, 100 * n)
        pd_body = functools.partial(_shifted, ib.pd_body, 100 * n)

        am = run_load(
            "127.0.0.1",
            ports,
            f"/integrations/alertmanager/{keys['alertmanager']}",
            am_body,
            threads=2,
            connections=conns,
            seconds=seconds,
        )
        stored = ib.count(db, am_sql) - am_before
        assert stored == len(am["ok"]) * ib.ALERTS_PER_BATCH, (tag, stored, len(am["ok"]))
        ib.PD_KEY = keys["pagerduty"]
        pd = run_load(
            "127.0.0.1",
            ports,
            "/v2/enqueue",
            pd_body,
            threads=2,
            connections=conns,
            seconds=seconds,
        )
        stored = ib.count(db, pd_sql) - pd_before
        assert stored == len(pd["ok"]), (tag, stored, len(pd["ok"]))
        return {
            "am": len(am["ok"]) * ib.ALERTS_PER_BATCH / am["elapsed"],
            "am_errors": ib._errors(am),  # noqa: SLF001
            "pd": len(pd["ok"]) / pd["elapsed"],
            "pd_errors": ib._errors(pd),  # noqa: SLF001
        }
    finally:
        for proc in procs:
            ib.stop(proc)
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--apis", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    server = None
    url = args.database_url
    if url is None:
        server, url = start_postgres()
    try:
        keys = ib.seed_demo(url)
        print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, PostgreSQL (durable)")
        results: dict[int, list[dict[str, float]]] = {n: [] for n in args.apis}
        for run in range(args.runs):
            for n in args.apis:
                load = "%.2f %.2f %.2f" % os.getloadavg()
                r = measure(url, keys, n, args.connections, args.seconds)
                results[n].append(r)
                print(
                    f"run {run + 1}, {n} api process(es), load average {load}: "
                    f"Alertmanager {r['am']:.0f} alerts/s ({r['am_errors']:.0f} errors), "
                    f"PagerDuty {r['pd']:.0f} events/s ({r['pd_errors']:.0f} errors)",
                    flush=True,
                )
                time.sleep(1)
        first = args.apis[0]
        print(f"\nmedians, 2 client processes x {args.connections} connections:")
        for n in args.apis:
            am = statistics.median(r["am"] for r in results[n])
            pd = statistics.median(r["pd"] for r in results[n])
            am1 = statistics.median(r["am"] for r in results[first])
            pd1 = statistics.median(r["pd"] for r in results[first])
            print(
                f"  {n} api: Alertmanager {am:>8.0f}/s (x{am / am1:.2f})   "
                f"PagerDuty {pd:>7.0f}/s (x{pd / pd1:.2f})"
            )
        print("  every acknowledged event was found in the database")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
