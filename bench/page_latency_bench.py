"""Page latency: from the intake POST to the first notification received by a local webhook.

    python bench/page_latency_bench.py [--pages 200] [--background 1000] [--fanout 10000]

A real `warroom serve` (SQLite) pages one person through a signed webhook to a local HTTP
server for every new incident (grouping off, so each event opens an incident). Measured idle,
then while a second process sends --background events/s of unrelated traffic. Medians and
p99 go to docs/performance.md. With --fanout N, also measured while a public status update
fans out to N status-page webhook subscribers (served by the same receiver) through the outbox.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.intake_bench import free_port  # noqa: E402
from warroom.catalog import service as catalog  # noqa: E402
from warroom.db import migrate  # noqa: E402
from warroom.db.engine import Database  # noqa: E402
from warroom.notify.models import ContactMethod, NotificationRule  # noqa: E402
from warroom.oncall.models import EscalationPolicy, EscalationStep, EscalationTarget  # noqa: E402

# The receiver runs in a process of its own, like a real webhook consumer: sharing the load
# generator's process (and its GIL) would time the benchmark rather than Warroom.
RECEIVED_LOG = Path(tempfile.mkdtemp(prefix="wr-hooks-")) / "received"


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        at = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/sub"):  # a status-page subscriber's notice
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        # The subject ends with the incident title, "page N": match on N, not on incident ids
        # (background traffic opens incidents too).
        with RECEIVED_LOG.open("a") as log:
            log.write(f"{json.loads(body)['subject'].rsplit(' ', 1)[1]} {at}\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def seed(url: str, hook_url: str) -> tuple[str, str]:
    db = Database(url)
    migrate.upgrade(db)
    with db.session() as s:
        user = catalog.create_user(s, username="oncall", name="On Call")
        cm = ContactMethod(user_id=user.id, channel="webhook", address=hook_url, secret="s")
        policy = EscalationPolicy(name="bench")
        s.add_all([cm, policy])
        s.flush()
        s.add(NotificationRule(user_id=user.id, contact_method_id=cm.id, urgency="high"))
        step = EscalationStep(policy_id=policy.id, position=0, delay_seconds=300)
        s.add(step)
        s.flush()
        s.add(EscalationTarget(step_id=step.id, target_type="user", target_id=user.id))
        paged = catalog.create_service(s, name="paged", tier=1, grouping_window_seconds=0)
        paged.escalation_policy_id = policy.id
        quiet = catalog.create_service(s, name="background", tier=3)
        key = catalog.create_integration(s, paged.id, "pagerduty", "bench").routing_key
        noise = catalog.create_integration(s, quiet.id, "pagerduty", "noise").routing_key
    db.dispose()
    return key, noise


BACKGROUND: dict[str, Any] = {}


def background_body(worker: int, seq: int) -> bytes:
    time.sleep(BACKGROUND["interval"])  # pacing: run_load sends as fast as it gets bodies
    return (
        '{"routing_key":"%s","event_action":"trigger","dedup_key":"bg-%d-%d",'
        '"payload":{"summary":"noise","source":"bench","severity":"info"}}'
        % (BACKGROUND["key"], worker, seq)
    ).encode()


def background(port: int, key: str, rate: float, stop_at: float) -> None:
    from bench.loadclient import run_load

    BACKGROUND.update(key=key, interval=2.0 / rate)  # two client processes share the rate
    run_load(
        "127.0.0.1",
        port,
        "/v2/enqueue",
        background_body,
        threads=2,
        connections=1,
        seconds=stop_at - time.time(),
    )


ANSWERS: list[float] = []  # ms from each POST to its 202, for the split of the latency


def measure(port: int, key: str, pages: int, first_id: int, gap: float = 0.05) -> list[float]:
    sent: dict[int, float] = {}
    ANSWERS.clear()
    with httpx.Client() as client:
        for n in range(pages):
            sent[first_id + n] = time.time()
            r = client.post(
                f"http://127.0.0.1:{port}/v2/enqueue",
                json={
                    "routing_key": key,
                    "event_action": "trigger",
                    "dedup_key": f"p{first_id + n}",
                    "payload": {
                        "summary": f"page {first_id + n}",
                        "source": "bench",
                        "severity": "critical",
                    },
                },
            )
            ANSWERS.append(1000 * (time.time() - sent[first_id + n]))
            assert r.status_code == 202, r.text
            time.sleep(gap)
    deadline = time.time() + 10
    while time.time() < deadline and not all(i in _received() for i in sent):
        time.sleep(0.05)
    received = _received()
    missing = [i for i in sent if i not in received]
    assert not missing, f"pages never arrived for incidents {missing[:5]}"
    return sorted(1000 * (received[i] - sent[i]) for i in sent)


def _received() -> dict[int, float]:
    first: dict[int, float] = {}
    if RECEIVED_LOG.exists():
        for line in RECEIVED_LOG.read_text().splitlines():
            n, at = line.split()
            first.setdefault(int(n), float(at))
    return first


def _serve_hooks(server: ThreadingHTTPServer) -> None:
    server.serve_forever()


def cpu_seconds(pid: int) -> float:
    """User + system CPU the server process has used (Linux /proc): CPU per page barely moves
    with the machine's load, unlike wall-clock latency, so it compares checkouts on a busy day."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def fanout_run(url: str, port: int, key: str, args: Any, hook_base: str) -> None:
    """Pages measured while a public update fans out to `args.fanout` webhook subscribers."""
    from datetime import UTC, datetime

    from sqlalchemy import func, insert, select

    from warroom.incidents.models import Incident, StatusUpdate
    from warroom.notify.models import Notification
    from warroom.statuspage.models import StatusSubscriber
    from warroom.timers.models import Timer

    db = Database(url)
    now = datetime.now(UTC)
    with db.session() as s:
        s.execute(
            insert(StatusSubscriber),
            [
                {
                    "channel": "webhook",
                    "address": f"{hook_base}/sub/{i}",
                    "secret": "s",
                    "confirmed_at": now,
                    "created_at": now,
                }
                for i in range(args.fanout)
            ],
        )
        incident_id = s.scalar(select(func.min(Incident.id)))
        update_id = s.execute(
            insert(StatusUpdate).returning(StatusUpdate.id),
            {
                "incident_id": incident_id,
                "visibility": "public",
                "stage": "identified",
                "message": "bench",
                "impact": "",
                "created_at": now,
                "revision": 1,
            },
        ).scalar_one()
        s.add(Timer(kind="status_page_fanout", due_at=now, payload={"update_id": update_id}))
    started = time.time()
    time.sleep(0.5)
    busy = measure(port, key, args.pages, args.pages + 1)

    def sent() -> int:
        with db.read_session() as s:
            return int(
                s.scalar(
                    select(func.count(Notification.id)).where(
                        Notification.kind == "subscriber", Notification.status == "sent"
                    )
                )
                or 0
            )

    during = sent()
    while sent() < args.fanout and time.time() - started < 600:
        time.sleep(0.5)
    took = time.time() - started
    print(
        f"fan-out:    p50 {statistics.median(busy):6.1f} ms   p99 {pct(busy, 0.99):6.1f} ms"
        f"   ({len(busy)} pages while {args.fanout} subscriber webhooks went out; "
        f"{during} sent by the last page, all {sent()} after {took:.0f} s)"
    )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--background", type=float, default=1000.0)
    parser.add_argument("--fanout", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    receiver = mp.get_context("fork").Process(target=_serve_hooks, args=(server,), daemon=True)
    receiver.start()
    server.socket.close()  # the child serves it
    url = f"sqlite:///{tempfile.mkdtemp(prefix='wr-page-')}/w.db"
    key, noise = seed(url, f"http://127.0.0.1:{server.server_address[1]}/hook")
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
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"machine: {platform.platform()}, {os.cpu_count()} cpus")
        # Warm-up (first imports, caches), as a server that has been up a while would be.
        measure(port, key, 10, 10_000)
        cpu_before = cpu_seconds(proc.pid)
        idle = measure(port, key, args.pages, 1)
        cpu_per_page = 1000 * (cpu_seconds(proc.pid) - cpu_before) / args.pages
        slowest = ", ".join(f"{x:.0f}" for x in idle[-5:])
        print(
            f"idle:       p50 {statistics.median(idle):6.1f} ms   p99 {pct(idle, 0.99):6.1f} ms"
            f"   ({len(idle)} pages; slowest {slowest} ms)"
        )
        print(
            f"            202 answered at p50 {statistics.median(ANSWERS):6.1f} ms; server CPU"
            f" {cpu_per_page:.1f} ms a page (includes its idle passes between pages)"
        )
        if args.fanout:
            fanout_run(url, port, key, args, f"http://127.0.0.1:{server.server_address[1]}")
            return
        duration = args.pages * 0.06 + 5
        load = mp.get_context("fork").Process(
            target=background, args=(port, noise, args.background, time.time() + duration)
        )
        load.start()
        time.sleep(1)
        busy = measure(port, key, args.pages, args.pages + 1)
        load.join()
        print(
            f"background: p50 {statistics.median(busy):6.1f} ms   p99 {pct(busy, 0.99):6.1f} ms"
            f"   ({len(busy)} pages, ~{args.background:.0f} events/s of other traffic)"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        receiver.terminate()


if __name__ == "__main__":
    main()
