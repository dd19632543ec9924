"""Page latency while Warroom's own monitors work: 1,000 heartbeats pinged every minute and 300
HTTP checks every 60 s, beside the same server idle.

    python bench/monitors_bench.py [--pages 200] [--heartbeats 1000] [--checks 300]

A real `warroom serve` (SQLite) pages one person through a signed webhook for every new
incident (bench/page_latency_bench.py). First measured idle; then the heartbeats and checks are
added (the checks spread over their minute, against a local HTTP server in a process of its own)
and a second process pings every heartbeat once a minute while the pages are measured again,
over more than a minute so every check runs at least once.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.intake_bench import free_port  # noqa: E402
from bench.page_latency_bench import Hook, _serve_hooks, measure, pct, seed  # noqa: E402
from warroom.catalog import service as catalog  # noqa: E402
from warroom.db.engine import Database  # noqa: E402
from warroom.monitors.models import Check, Heartbeat  # noqa: E402


class Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def add_monitors(url: str, site: str, heartbeats: int, checks: int) -> list[str]:
    db = Database(url)
    now = datetime.now(UTC)
    with db.session() as s:
        svc = catalog.create_service(s, name="monitored", tier=2)
        integ = catalog.monitor_integration(s, svc.id)
        keys = [secrets.token_urlsafe(16) for _ in range(heartbeats)]
        s.add_all(
            Heartbeat(
                service_id=svc.id,
                integration_id=integ.id,
                name=f"job {i}",
                ping_key=key,
                period_seconds=60,
                grace_seconds=60,
                status="new",
            )
            for i, key in enumerate(keys)
        )
        s.add_all(
            Check(
                service_id=svc.id,
                integration_id=integ.id,
                name=f"site {i}",
                kind="http",
                target=f"{site}/{i}",
                interval_seconds=60,
                timeout_seconds=5,
                next_run_at=now + timedelta(seconds=60 * i / checks),
            )
            for i in range(checks)
        )
    db.dispose()
    return keys


def pinger(port: int, keys: list[str], stop_at: float) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        gap = 60.0 / len(keys)
        i = 0
        while time.time() < stop_at:
            client.get(f"/ping/{keys[i % len(keys)]}")
            i += 1
            time.sleep(gap)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--heartbeats", type=int, default=1000)
    parser.add_argument("--checks", type=int, default=300)
    args = parser.parse_args()
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    receiver = mp.get_context("fork").Process(target=_serve_hooks, args=(hooks,), daemon=True)
    receiver.start()
    hooks.socket.close()
    site = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    site_proc = mp.get_context("fork").Process(target=_serve_hooks, args=(site,), daemon=True)
    site_proc.start()
    site.socket.close()
    url = f"sqlite:///{tempfile.mkdtemp(prefix='wr-mon-')}/w.db"
    key, _noise = seed(url, f"http://127.0.0.1:{hooks.server_address[1]}/hook")
    port = free_port()
    env = {
        **os.environ,
        "WARROOM_DATABASE_URL": url,
        "WARROOM_LOG_LEVEL": "warning",
        "WARROOM_OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gap = 0.35  # 200 pages over ~70 s: every check runs at least once while they are measured
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, load {os.getloadavg()}")
        measure(port, key, 10, 10_000)
        idle = measure(port, key, args.pages, 1, gap)
        print(
            f"idle:     p50 {statistics.median(idle):6.1f} ms   p99 {pct(idle, 0.99):6.1f} ms"
            f"   ({len(idle)} pages)"
        )
        site_url = f"http://127.0.0.1:{site.server_address[1]}"
        keys = add_monitors(url, site_url, args.heartbeats, args.checks)
        duration = args.pages * (gap + 0.02) + 15
        load = mp.get_context("fork").Process(
            target=pinger, args=(port, keys, time.time() + duration)
        )
        load.start()
        time.sleep(5)
        busy = measure(port, key, args.pages, args.pages + 1, gap)
        load.join()
        db = Database(url)
        with db.read_session() as s:
            from sqlalchemy import func, select

            from warroom.monitors.models import CheckResult

            runs = s.scalar(select(func.count()).select_from(CheckResult)) or 0
            up = s.scalar(
                select(func.count()).select_from(Heartbeat).where(Heartbeat.status == "up")
            )
        db.dispose()
        print(
            f"monitors: p50 {statistics.median(busy):6.1f} ms   p99 {pct(busy, 0.99):6.1f} ms"
            f"   ({len(busy)} pages; {args.heartbeats} heartbeats ({up} up), "
            f"{args.checks} HTTP checks, {runs} check runs)"
        )
        print(
            f"ratio monitors/idle: p50 {statistics.median(busy) / statistics.median(idle):.2f}x,"
            f" p99 {pct(busy, 0.99) / pct(idle, 0.99):.2f}x; load {os.getloadavg()}"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        receiver.terminate()
        site_proc.terminate()


if __name__ == "__main__":
    main()
