"""Intake under faults, with real processes: a seeded database, `warroom serve` started and
killed on it, client threads that remember which events were acknowledged (2xx), and the count of
those found in the database afterwards. Shared by tests/faults and bench/intake_faults.py."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tests.pgserver import PostgresServer, free_port
from warroom.catalog import service as catalog
from warroom.db import migrate
from warroom.db.engine import Database

ROOT = Path(__file__).resolve().parents[2]
PD_KEY = "fau1tsPAGERDUTY00000000000000001"
AM_KEY = "fau1tsALERTMANAGER00000000000001"
ALERTS_PER_BATCH = 20


def seed(url: str) -> None:
    """Migrate and create one service with a PagerDuty and an Alertmanager integration."""
    db = Database(url)
    migrate.upgrade(db)
    with db.session() as s:
        service = catalog.create_service(s, name="payments-db", tier=1)
        pd = catalog.create_integration(s, service.id, "pagerduty", "pd")
        pd.routing_key = PD_KEY
        am = catalog.create_integration(s, service.id, "alertmanager", "am")
        am.routing_key = AM_KEY
    db.dispose()


def stored_keys(url: str) -> set[str]:
    db = Database(url)
    try:
        with db.read_session() as s:
            return set(s.execute(text("SELECT dedup_key FROM alerts")).scalars())
    finally:
        db.dispose()


@dataclass
class Serve:
    """One `warroom serve` process; its output goes to a log file (a full pipe would stall it)."""

    url: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.port = free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
        environ.update({"PYTHONUNBUFFERED": "1", **self.env})
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "warroom",
                    "serve",
                    "--port",
                    str(self.port),
                    "--database-url",
                    self.url,
                ],  # fmt: skip
                cwd=ROOT,
                env=environ,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"serve did not become ready:\n{self.output()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def pd_event(key: str) -> dict[str, Any]:
    return {
        "routing_key": PD_KEY,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": f"Disk full ({key})", "source": "db-1", "severity": "critical"},
    }


def am_message(prefix: str, size: int = ALERTS_PER_BATCH, note: str = "") -> dict[str, Any]:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": f"{prefix}-{i}"},
            "annotations": {"summary": f"5xx errors on {prefix}-{i}", "note": note},
            "startsAt": "2026-11-27T09:32:30.33727958Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"{prefix}-{i}",
        }
        for i in range(size)
    ]
    return {"version": "4", "status": "firing", "groupKey": prefix, "alerts": alerts}


@dataclass
class Load:
    """Client threads sending PagerDuty events and Alertmanager batches until stopped."""

    base_url: Callable[[], str]  # asked again each request: the server moves on restart
    tag: str
    timeout: float = 30
    acked: set[str] = field(default_factory=set)  # dedup keys of events answered 2xx
    statuses: collections.Counter[int | str] = field(default_factory=collections.Counter)
    slowest: float = 0.0  # the longest wait for an answer (not counting connection errors)
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _send(self, client: httpx.Client, path: str, body: dict[str, Any], keys: list[str]) -> None:
        start = time.monotonic()
        try:
            r = client.post(f"{self.base_url()}{path}", json=body)
        except httpx.HTTPError as exc:  # killed or restarting: not acknowledged
            with self._lock:
                self.statuses[type(exc).__name__] += 1
            time.sleep(0.02)
            return
        elapsed = time.monotonic() - start
        with self._lock:
            self.statuses[r.status_code] += 1
            self.slowest = max(self.slowest, elapsed)
            if 200 <= r.status_code < 300:
                self.acked.update(keys)
        if r.status_code == 503:
            time.sleep(0.05)  # a client honours Retry-After; a short pause keeps the test quick

    def _pagerduty(self, worker: int) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            seq = 0
            while not self._stop.is_set():
                key = f"{self.tag}-pd{worker}-{seq}"
                self._send(client, "/v2/enqueue", pd_event(key), [key])
                seq += 1

    def _alertmanager(self, worker: int) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            seq = 0
            while not self._stop.is_set():
                message = am_message(f"{self.tag}-am{worker}-{seq}")
                keys = [a["fingerprint"] for a in message["alerts"]]
                self._send(client, f"/integrations/alertmanager/{AM_KEY}", message, keys)
                seq += 1

    def start(self, pagerduty: int = 2, alertmanager: int = 1) -> None:
        for i in range(pagerduty):
            self._threads.append(threading.Thread(target=self._pagerduty, args=(i,)))
        for i in range(alertmanager):
            self._threads.append(threading.Thread(target=self._alertmanager, args=(i,)))
        for t in self._threads:
            t.daemon = True
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_for_acks(self, more: int, timeout: float = 30) -> None:
        target = self.acked_count() + more
        deadline = time.monotonic() + timeout
        while self.acked_count() < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"load stalled: {dict(self.statuses)}")
            time.sleep(0.01)


class StoppablePostgres(PostgresServer):
    """The test's own PostgreSQL server, which can be stopped and started again on its data."""

    def options(self) -> str:
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )

    def halt(self) -> None:
        """Stop as an operator or a crash would: fast shutdown, connections cut."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-o", self.options(),
            "-l", str(self.root / "log"), "-w", "start",
        )  # fmt: skip


@contextmanager
def own_postgres() -> Iterator[tuple[StoppablePostgres, str]]:
    server = StoppablePostgres()
    server.start()
    try:
        yield server, server.create_database("warroom_faults")
    finally:
        server.stop()


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small filesystem of its own at path (root only); unmounted on exit."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise PermissionError(done.stderr.strip() or "mount failed")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(directory: Path) -> Path:
    """Writes a ballast file until the filesystem is full; removing it gives the space back."""
    ballast = directory / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1024 * 1024, 64 * 1024, 4096, 512, 1):  # down to the last byte
            try:
                while os.write(fd, b"\0" * size) == size:
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)
    return ballast


# --- the three faults, as the test and the benchmark run them --------------------------------


def kill_under_load(url: str, log: Path, kills: int, acks: int) -> tuple[Load, int]:
    """SIGKILLs the server `kills` times while clients send, restarting it on the same database
    each time; returns the load (what was acknowledged) and the kills done."""
    seed(url)
    serve = Serve(url, log)
    serve.start()
    load = Load(lambda: serve.base_url, tag="kill")
    load.start()
    done = 0
    try:
        for _ in range(kills):
            load.wait_for_acks(acks)  # requests are in flight right now
            serve.kill()
            done += 1
            serve.start()  # as a service manager restarts it
        load.wait_for_acks(acks)
    finally:
        load.stop()
        serve.stop()
    return load, done


@dataclass
class Outage:
    load: Load
    answered_while_down: collections.Counter[int | str]
    acked_while_down: int
    exit_code: int
    output: str


def postgres_outage(
    pg: StoppablePostgres, url: str, log: Path, down_for: float, deadline: float
) -> Outage:
    """Stops PostgreSQL under intake load for `down_for` seconds, starts it again and waits
    until intake acknowledges events again by itself."""
    seed(url)
    serve = Serve(url, log, env={"WARROOM_INTAKE_DEADLINE_SECONDS": str(deadline)})
    serve.start()
    load = Load(lambda: serve.base_url, tag="pg", timeout=deadline + 20)
    load.start()
    try:
        load.wait_for_acks(50)
        pg.halt()
        with load._lock:
            before = collections.Counter(load.statuses)
            acked_before = len(load.acked)
        time.sleep(down_for)  # the outage lasts this long, whatever the clients see
        with load._lock:
            during = collections.Counter(load.statuses)
            during.subtract(before)
            acked_while_down = len(load.acked) - acked_before
        pg.resume()
        load.wait_for_acks(50, timeout=60)  # no restart of Warroom: it recovers by itself
    finally:
        load.stop()
        code = serve.stop()
    return Outage(load, +during, acked_while_down, code, serve.output())


@dataclass
class DiskFull:
    refusal: dict[str, Any]  # the 503's error object
    retry_after: str
    statuses: list[int]  # of the large batches sent until the first refusal
    refused_keys: set[str]
    refused_stored_before_space_returned: int
    accepted_after: int
    stored: set[str]
    integrity: str
    exit_code: int
    output: str


def sqlite_disk_full(disk: Path, log: Path, batch_size: int = 300) -> DiskFull:
    """Fills the filesystem that holds the SQLite database, sends larger and larger batches
    until one is refused, gives the space back and sends the refused batch again."""
    import sqlite3

    url = f"sqlite:///{disk}/warroom.db"
    seed(url)
    serve = Serve(url, log)
    serve.start()
    try:
        with httpx.Client(base_url=serve.base_url, timeout=30) as client:
            r = client.post("/v2/enqueue", json=pd_event("before-full"))
            assert r.status_code == 202, r.text
            ballast = fill(disk)
            statuses: list[int] = []
            refusal: dict[str, Any] = {}
            retry_after = ""
            batch: dict[str, Any] = {}
            # Each batch is larger than anything written so far: it needs new space on disk.
            for i in range(10):
                batch = am_message(f"full{i}", size=batch_size, note="x" * 2000)
                r = client.post(f"/integrations/alertmanager/{AM_KEY}", json=batch)
                statuses.append(r.status_code)
                if r.status_code == 503:
                    refusal, retry_after = r.json()["error"], r.headers.get("Retry-After", "")
                    break
            refused_keys = {a["fingerprint"] for a in batch["alerts"]}
            early = len(refused_keys & stored_keys(url))
            ballast.unlink()  # the space returns
            r = client.post(f"/integrations/alertmanager/{AM_KEY}", json=batch)
            accepted = int(r.json().get("accepted", 0)) if r.status_code == 200 else -r.status_code
    finally:
        code = serve.stop()
    with sqlite3.connect(disk / "warroom.db") as conn:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    return DiskFull(
        refusal, retry_after, statuses, refused_keys, early, accepted, stored_keys(url),
        integrity, code, serve.output(),
    )  # fmt: skip
