"""The engine on a fake clock: step 1 at once, step 2 after its delay, acknowledgement stops
paging, empty steps move on at once, failures fall back, mobilising pages more people."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import World
from warroom.catalog.models import Service
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.engine import oversight
from warroom.engine.runner import Engine
from warroom.instance import secret_key
from warroom.notify.channels import TRANSPORTS
from warroom.notify.models import ContactMethod, Notification, NotificationRule
from warroom.oncall.models import EscalationPolicy, EscalationStep, EscalationTarget
from warroom.timers.models import Timer

T0 = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def paging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paging alone: these tests trigger at the real time and run the engine's clock in 2030,
    where oversight would rightly warn, page the breach and nudge; its own tests are in
    tests/engine/test_oversight.py."""

    def finish(session: object, timer: Timer, now: datetime, *args: object) -> None:
        timer.done_at = now

    monkeypatch.setattr(oversight, "look", finish)


@pytest.fixture
def local_outbox() -> Iterator[list[tuple[str, str]]]:
    transport = TRANSPORTS["local"]
    transport.outbox.clear()  # type: ignore[attr-defined]
    yield transport.outbox  # type: ignore[attr-defined]
    transport.outbox.clear()  # type: ignore[attr-defined]


def policy(
    db: Database, service_id: int, steps: list[tuple[int, list[tuple[str, int]]]], repeat: int = 0
) -> int:
    with db.session() as s:
        p = EscalationPolicy(name=f"policy-{service_id}", repeat=repeat)
        s.add(p)
        s.flush()
        for position, (delay, targets) in enumerate(steps):
            step = EscalationStep(policy_id=p.id, position=position, delay_seconds=delay)
            s.add(step)
            s.flush()
            for kind, ident in targets:
                s.add(EscalationTarget(step_id=step.id, target_type=kind, target_id=ident))
        s.get(Service, service_id).escalation_policy_id = p.id  # type: ignore[union-attr]
        return p.id


def contact(
    db: Database,
    user_id: int,
    channel: str = "local",
    address: str = "console",
    delay: int = 0,
    secret: str | None = None,
) -> int:
    with db.session() as s:
        cm = ContactMethod(user_id=user_id, channel=channel, address=address, secret=secret)
        s.add(cm)
        s.flush()
        s.add(
            NotificationRule(
                user_id=user_id, contact_method_id=cm.id, urgency="high", delay_seconds=delay
            )
        )
        return cm.id


def make_engine(db: Database, settings: Settings, clock: Clock) -> Engine:
    return Engine(db, settings, secret_key(db), clock=clock)


def trigger(client: TestClient, world: World, key: str = "disk") -> None:
    r = client.post(
        "/v2/enqueue",
        json={
            "routing_key": world.pagerduty_key,
            "event_action": "trigger",
            "dedup_key": key,
            "payload": {"summary": "Disk full", "source": "db-1", "severity": "critical"},
        },
    )
    assert r.status_code == 202, r.text


def paged(outbox: list) -> list[str]:  # type: ignore[type-arg]
    return [d.message.subject for d in outbox]


def timeline(client: TestClient, world: World) -> list[str]:
    items = client.get("/api/v1/incidents/1/timeline", headers=world.auth()).json()["items"]
    return [e["message"] for e in items]


def test_escalates_step_by_step_and_acknowledgement_stops_it(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    policy(
        db,
        world.database_id,
        [(300, [("user", world.responder_id)]), (300, [("user", world.admin_id)])],
        repeat=1,
    )
    contact(db, world.responder_id)
    contact(db, world.admin_id)
    clock = Clock()
    engine = make_engine(db, settings, clock)
    trigger(quiet_client, world)
    clock.now = T0
    engine.run_once(T0, wait=True)
    assert len(local_outbox) == 1 and local_outbox[0].message.subject.startswith("[P1 critical]")
    engine.run_once(T0 + timedelta(minutes=4), wait=True)
    assert len(local_outbox) == 1, "step 2 waits for its 5-minute delay"
    engine.run_once(T0 + timedelta(minutes=5, seconds=1), wait=True)
    assert len(local_outbox) == 2
    r = quiet_client.post("/api/v1/incidents/1/acknowledge", headers=world.auth())
    assert r.status_code == 200
    engine.run_once(T0 + timedelta(hours=1), wait=True)
    assert len(local_outbox) == 2, "acknowledged: the repeat must not page again"
    with db.read_session() as s:
        # Paging stopped; only the update reminder of the open incident is still planned.
        pending = s.scalars(select(Timer.kind).where(Timer.done_at.is_(None))).all()
        assert pending == ["update_due"]
    story = timeline(quiet_client, world)
    assert any(m.startswith("Paging step 1") and "Bob" in m for m in story)
    assert any(m.startswith("Paging step 2") and "Alice" in m for m in story)
    assert "Notified Bob via console (page)" in story


def test_a_step_that_resolves_to_nobody_moves_on_at_once(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    from warroom.catalog.models import Team

    with db.session() as s:
        empty = Team(name="nobody home")
        s.add(empty)
        s.flush()
        empty_id = empty.id
    policy(
        db, world.database_id, [(900, [("team", empty_id)]), (900, [("user", world.responder_id)])]
    )
    contact(db, world.responder_id)
    engine = make_engine(db, settings, Clock())
    trigger(quiet_client, world)
    engine.run_once(T0, wait=True)
    engine.run_once(T0, wait=True)  # the next step is due at once, not after 15 minutes
    assert len(local_outbox) == 1
    assert any("resolved to nobody" in m for m in timeline(quiet_client, world))


def test_resolve_cancels_pages_not_yet_sent(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    policy(db, world.database_id, [(300, [("user", world.responder_id)])])
    contact(db, world.responder_id, delay=0)
    contact(db, world.responder_id, delay=120)  # "SMS after 2 minutes"
    engine = make_engine(db, settings, Clock())
    trigger(quiet_client, world)
    engine.run_once(T0, wait=True)
    assert len(local_outbox) == 1
    quiet_client.post("/api/v1/incidents/1/resolve", headers=world.auth())
    engine.run_once(T0 + timedelta(minutes=3), wait=True)
    assert len(local_outbox) == 1
    with db.read_session() as s:
        statuses = sorted(s.scalars(select(Notification.status)))
    assert statuses == ["cancelled", "sent"]


@contextmanager
def receiver(
    status: int,
    delay: float = 0.0,
    arrived: threading.Event | None = None,
    gate: threading.Event | None = None,
) -> Iterator[str]:
    """A real HTTP server answering every POST with `status` after `delay` seconds; with
    `gate`, only once the test opens it (`arrived` is set when a request is in)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if arrived is not None:
                arrived.set()
            if gate is not None:
                gate.wait(10)
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        if gate is not None:
            gate.set()
        server.shutdown()


def test_a_permanently_failing_channel_falls_back_to_the_next_method(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    with receiver(404) as url:
        policy(db, world.database_id, [(300, [("user", world.responder_id)])])
        contact(
            db,
            world.responder_id,
            "webhook",
            url,
            secret="s3cret",
        )
        with db.session() as s:  # a second method without a rule: the fallback
            s.add(ContactMethod(user_id=world.responder_id, channel="local", address="console"))
        allowed = settings.model_copy(update={"outbound_allow_networks": ["127.0.0.0/8"]})
        engine = make_engine(db, allowed, Clock())
        trigger(quiet_client, world)
        # One pass: the escalation step's webhook answers 404 (permanent), the fallback is
        # queued at once and goes out in the same pass's second delivery round.
        engine.run_once(T0, wait=True)
        assert len(local_outbox) == 1
        engine.run_once(T0, wait=True)
        assert len(local_outbox) == 1  # and only once
        story = timeline(quiet_client, world)
        assert any("via webhook failed for good: HTTP 404" in m for m in story)
        assert "Notified Bob via console (page)" in story


def test_mobilise_pages_a_team_with_a_message(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    from warroom.catalog.models import Team, User

    with db.session() as s:
        team = Team(name="db-experts")
        team.members = [s.get(User, world.admin_id)]  # type: ignore[list-item]
        s.add(team)
        s.flush()
        team_id = team.id
    contact(db, world.admin_id)
    engine = make_engine(db, settings, Clock())
    trigger(quiet_client, world)
    r = quiet_client.post(
        "/api/v1/incidents/1/mobilise",
        headers=world.auth(),
        json={"team_ids": [team_id], "message": "need a DBA on the bridge"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["paged"] == ["Alice"]
    engine.run_once(T0, wait=True)
    assert len(local_outbox) == 1
    assert "need a DBA on the bridge" in local_outbox[0].message.text
    assert any("mobilised Alice: need a DBA" in m for m in timeline(quiet_client, world))
    # Stakeholders cannot mobilise; an empty request is refused with a reason.
    assert (
        quiet_client.post(
            "/api/v1/incidents/1/mobilise",
            headers=world.auth("stakeholder"),
            json={"user_ids": [world.admin_id]},
        ).status_code
        == 403
    )
    assert (
        quiet_client.post("/api/v1/incidents/1/mobilise", headers=world.auth(), json={}).status_code
        == 422
    )


def test_a_hanging_channel_does_not_hold_up_the_others(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    # Hangs longer than the test is willing to wait for the other channel.
    with receiver(200, delay=3) as url:
        policy(
            db, world.database_id, [(300, [("user", world.responder_id), ("user", world.admin_id)])]
        )
        contact(
            db,
            world.responder_id,
            "webhook",
            url,
            secret="s3cret",
        )
        contact(db, world.admin_id)
        allowed = settings.model_copy(update={"outbound_allow_networks": ["127.0.0.0/8"]})
        engine = make_engine(db, allowed, Clock())
        trigger(quiet_client, world)
        started = time.monotonic()
        engine.run_once(T0)  # deliveries run in parallel; do not wait for them
        deadline = started + 2
        while not local_outbox and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(local_outbox) == 1, "the console page must not wait for the slow webhook"
        assert time.monotonic() - started < 2
        engine.stop()


@contextmanager
def gated_receiver() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A webhook receiver whose answers wait until the test opens the gate."""
    arrived, gate = threading.Event(), threading.Event()
    with receiver(200, arrived=arrived, gate=gate) as url:
        yield url, arrived, gate


def pending_kinds(db: Database) -> list[str]:
    with db.read_session() as s:
        return sorted(s.scalars(select(Timer.kind).where(Timer.done_at.is_(None))))


def test_while_a_page_is_on_the_wire_the_rest_waits_for_it_but_not_for_long(
    quiet_client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    """A new incident's oversight look and comms check are CPU work in the engine's thread: they
    wait until its page is sent (the sending worker needs the GIL), for at most PAGES_FIRST_MAX."""
    from warroom.engine.runner import PAGES_FIRST_MAX

    with gated_receiver() as (url, arrived, gate):
        policy(db, world.database_id, [(300, [("user", world.responder_id)])])
        contact(db, world.responder_id, "webhook", url, secret="s3cret")
        allowed = settings.model_copy(update={"outbound_allow_networks": ["127.0.0.0/8"]})
        engine = make_engine(db, allowed, Clock())
        try:
            trigger(quiet_client, world)
            assert pending_kinds(db) == ["comms_check", "escalate", "oversight"]
            engine.run_once(T0)
            assert arrived.wait(5), "the page went out first"
            # The page is on the wire: the escalation step fired, the rest is held back.
            with db.read_session() as s:
                assert s.scalar(select(Timer.done_at).where(Timer.kind == "escalate")) == T0
            assert {"comms_check", "oversight"} <= set(pending_kinds(db))
            engine.run_once(T0 + PAGES_FIRST_MAX / 2)
            assert {"comms_check", "oversight"} <= set(pending_kinds(db))
            # A page that does not come back holds the rest for PAGES_FIRST_MAX, not longer.
            engine.run_once(T0 + PAGES_FIRST_MAX)
            assert not {"comms_check", "oversight"} & set(pending_kinds(db))
        finally:
            gate.set()
            engine.stop()


def test_held_back_work_runs_as_soon_as_the_page_is_sent(
    quiet_client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    from warroom.engine.runner import DELIVERY_WORKERS

    with gated_receiver() as (url, arrived, gate):
        policy(db, world.database_id, [(300, [("user", world.responder_id)])])
        contact(db, world.responder_id, "webhook", url, secret="s3cret")
        allowed = settings.model_copy(update={"outbound_allow_networks": ["127.0.0.0/8"]})
        engine = make_engine(db, allowed, Clock())
        try:
            trigger(quiet_client, world)
            engine.run_once(T0)
            assert arrived.wait(5)
            engine.run_once(T0)
            assert {"comms_check", "oversight"} <= set(pending_kinds(db))
            gate.set()
            deadline = time.monotonic() + 5
            while engine.free_workers() < DELIVERY_WORKERS and time.monotonic() < deadline:
                time.sleep(0.01)  # the worker records the page on its own thread
            with db.read_session() as s:
                assert list(s.scalars(select(Notification.status))) == ["sent"]
            engine.run_once(T0)  # no time has passed on the engine's clock
            assert not {"comms_check", "oversight"} & set(pending_kinds(db))
        finally:
            engine.stop()
