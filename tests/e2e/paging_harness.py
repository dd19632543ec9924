"""Real receivers and real processes for paging tests: an SMTP server, webhook servers (one
that records, one that misbehaves on purpose), and `warroom serve` processes (any role)
started on a database seeded with a paging setup, with their output watched."""

from __future__ import annotations

import email
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from tests.pgserver import free_port
from warroom.catalog import service as catalog
from warroom.db import migrate
from warroom.db.engine import Database
from warroom.notify.models import ContactMethod, NotificationRule
from warroom.oncall.models import EscalationPolicy, EscalationStep, EscalationTarget

ROOT = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Hook:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class WebhookReceiver:
    """A real HTTP server that records every POST."""

    def __init__(self) -> None:
        self.received: list[Hook] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.received.append(
                    Hook(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        time.monotonic(),
                    )
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Hook]:
        return [h for h in self.received if h.path == path]

    def close(self) -> None:
        self.server.shutdown()


class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                box.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


@dataclass
class Setup:
    routing_key: str
    alice: int
    bob: int
    secrets: dict[int, str] = field(default_factory=dict)


def seed(url: str, hooks: WebhookReceiver, step_delay: int, repeat: int = 0) -> Setup:
    """Alice (email + webhook) is step 1; Bob (webhook) is step 2 after `step_delay` seconds."""
    db = Database(url)
    migrate.upgrade(db)
    with db.session() as s:
        alice = catalog.create_user(s, username="alice", name="Alice", email="alice@example.com")
        bob = catalog.create_user(s, username="bob", name="Bob", email="bob@example.com")
        policy = EscalationPolicy(name="checkout on-call", repeat=repeat)
        s.add(policy)
        s.flush()
        for position, (user, delay) in enumerate(((alice, step_delay), (bob, step_delay))):
            step = EscalationStep(policy_id=policy.id, position=position, delay_seconds=delay)
            s.add(step)
            s.flush()
            s.add(EscalationTarget(step_id=step.id, target_type="user", target_id=user.id))
        secrets = {}
        for user, channels in ((alice, ("email", "webhook")), (bob, ("webhook",))):
            for channel in channels:
                secret = f"secret-{user.username}" if channel == "webhook" else None
                address = user.email if channel == "email" else hooks.url(f"/{user.username}")
                cm = ContactMethod(user_id=user.id, channel=channel, address=address, secret=secret)
                s.add(cm)
                s.flush()
                s.add(
                    NotificationRule(
                        user_id=user.id, contact_method_id=cm.id, urgency="high", delay_seconds=0
                    )
                )
                if secret:
                    secrets[user.id] = secret
        svc = catalog.create_service(s, name="checkout", tier=1)
        svc.escalation_policy_id = policy.id
        integ = catalog.create_integration(s, svc.id, "pagerduty", "pd")
        setup = Setup(integ.routing_key, alice.id, bob.id, secrets)
        token, _ = catalog.create_token(s, alice.id, "e2e")
        setup.secrets[0] = token  # the API token, under a key no user has
    db.dispose()
    return setup


def start(
    url: str, role: str, port: int, mailbox: Mailbox | None = None, **env: str
) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    environ.update(
        {
            "WARROOM_DATABASE_URL": url,
            "WARROOM_BASE_URL": f"http://127.0.0.1:{port}",
            "WARROOM_OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8",
            "WARROOM_DELIVERY_LEASE_SECONDS": "3",
            "WARROOM_DELIVERY_TIMEOUT_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
    )
    if mailbox is not None:
        environ["WARROOM_SMTP_HOST"] = "127.0.0.1"
        environ["WARROOM_SMTP_PORT"] = str(mailbox.port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--port", str(port), "--role", role],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if role != "engine":

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                return False

        try:
            wait_for(ready, 90, "the server to be ready")  # a cold start on a loaded CI machine
        except BaseException:
            proc.kill()  # never returned to the test, so nobody else would stop it
            proc.wait(timeout=10)
            raise
    return proc


def trigger(port: int, routing_key: str, dedup_key: str = "disk-full") -> None:
    r = httpx.post(
        f"http://127.0.0.1:{port}/v2/enqueue",
        json={
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical"},
        },
    )
    assert r.status_code == 202, r.text


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Output:
    """Reads a process's output in a thread (so its pipe never fills) and waits for lines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._seen = threading.Condition()
        assert proc.stdout is not None
        stream = proc.stdout

        def read() -> None:
            for line in stream:
                with self._seen:
                    self.lines.append(line.rstrip("\n"))
                    self._seen.notify_all()

        threading.Thread(target=read, daemon=True).start()

    def wait_for(self, text: str, timeout: float = 20) -> None:
        with self._seen:
            found = self._seen.wait_for(lambda: any(text in line for line in self.lines), timeout)
        assert found, f"no {text!r} in the output:\n" + "\n".join(self.lines[-40:])


@dataclass
class Arrival:
    path: str
    key: str
    at: float
    answered: bool = False  # a 2xx went back on a live connection


class FaultyReceiver:
    """A real webhook server whose paths misbehave as told: "ok" answers 200, "500" answers
    500, "reset" resets the connection, "hang" answers nothing for `hang_seconds`, and
    "hold" keeps the first request until release() and then drops it unanswered (the sender
    died meanwhile), answering later ones 200. Receivers that dedupe keep the first of each
    Idempotency-Key: `deduped()`."""

    def __init__(self, behaviour: dict[str, str], hang_seconds: float = 5) -> None:
        self.arrivals: list[Arrival] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        box = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                arrival = Arrival(
                    self.path, self.headers.get("Idempotency-Key", ""), time.monotonic()
                )
                with box._lock:
                    first = not any(a.path == self.path for a in box.arrivals)
                    box.arrivals.append(arrival)
                mode = behaviour.get(self.path, "ok")
                if mode == "hang":
                    box.released.wait(hang_seconds)
                    self.close_connection = True
                    return
                if mode == "hold" and first:
                    box.released.wait(30)
                    self._reset()
                    return
                if mode == "reset":
                    self._reset()
                    return
                self.send_response(500 if mode == "500" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                arrival.answered = mode != "500"

            def _reset(self) -> None:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a peer that went away is what these tests are about

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.path == path]

    def deduped(self, path: str) -> list[str]:
        return sorted({a.key for a in self.to(path) if a.answered})

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def seed_people(url: str, people: dict[str, list[tuple[str, bool]]], step_delay: int = 600) -> str:
    """One service whose policy pages everyone in `people` at step 1; each person has webhook
    contact methods (url, paged at once by a rule, or only a fallback). Returns the routing key."""
    db = Database(url)
    migrate.upgrade(db)
    with db.session() as s:
        policy = EscalationPolicy(name="everyone", repeat=0)
        s.add(policy)
        s.flush()
        step = EscalationStep(policy_id=policy.id, position=0, delay_seconds=step_delay)
        s.add(step)
        s.flush()
        for username, methods in people.items():
            user = catalog.create_user(s, username=username, name=username.title())
            s.add(EscalationTarget(step_id=step.id, target_type="user", target_id=user.id))
            for address, with_rule in methods:
                cm = ContactMethod(
                    user_id=user.id, channel="webhook", address=address, secret="s3cret"
                )
                s.add(cm)
                s.flush()
                if with_rule:
                    s.add(
                        NotificationRule(user_id=user.id, contact_method_id=cm.id, urgency="high")
                    )
        svc = catalog.create_service(s, name="checkout", tier=1)
        svc.escalation_policy_id = policy.id
        key = catalog.create_integration(s, svc.id, "pagerduty", "pd").routing_key
    db.dispose()
    return key
