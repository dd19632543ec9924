"""Once-only delivery on a fake clock: a page waiting past its lease is not claimed and sent
again, pages stop at the acknowledgement even when they were already claimed, a failure after
the acknowledgement is neither retried nor fallen back, the last check before sending cancels
what is no longer wanted, and the engine does not spin while a delivery is in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.conftest import World
from tests.engine.test_engine import T0, Clock, make_engine
from warroom.catalog.models import User
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.engine import delivery
from warroom.incidents.models import Incident, TimelineEvent
from warroom.notify.models import ContactMethod, Notification


@dataclass
class Arrival:
    key: str
    incident_id: int
    acked_before: bool  # had the test seen the incident's acknowledgement commit by then?


class GatedReceiver:
    """A real webhook receiver that holds every request until the test opens the gate, and
    notes for each arrival whether its incident's acknowledgement had already committed."""

    def __init__(self, status: int = 200) -> None:
        self.arrivals: list[Arrival] = []
        self.acked: set[int] = set()
        self.gate = threading.Event()
        self.changed = threading.Condition()
        box = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers["Idempotency-Key"]
                incident_id = int(key.split("-")[1])
                with box.changed:
                    box.arrivals.append(Arrival(key, incident_id, incident_id in box.acked))
                    box.changed.notify_all()
                box.gate.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for_arrivals(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.arrivals) >= count, 10), self.arrivals

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()


@pytest.fixture
def gated() -> Iterator[GatedReceiver]:
    box = GatedReceiver()
    yield box
    box.close()


@pytest.fixture
def failing() -> Iterator[GatedReceiver]:
    box = GatedReceiver(status=500)
    yield box
    box.close()


def allow_loopback(settings: Settings, **more: object) -> Settings:
    return settings.model_copy(update={"outbound_allow_networks": ["127.0.0.0/8"], **more})


def pages(db: Database, user_id: int, url: str, count: int, kind: str = "page") -> list[int]:
    """`count` triggered incidents, each with one pending webhook page to `url`."""
    with db.session() as s:
        cm = ContactMethod(user_id=user_id, channel="webhook", address=url, secret="s3cret")
        s.add(cm)
        s.flush()
        ids = []
        for n in range(count):
            incident = Incident(
                title=f"incident {n}", impact=1, urgency=1, priority=1, triggered_at=T0
            )
            s.add(incident)
            s.flush()
            ids.append(incident.id)
            s.add(
                Notification(
                    idempotency_key=f"inc-{incident.id}-page",
                    incident_id=incident.id,
                    user_id=user_id,
                    contact_method_id=cm.id,
                    channel="webhook",
                    target=url,
                    kind=kind,
                    subject=f"incident {n}",
                    body="",
                    links={},
                    next_attempt_at=T0,
                    created_at=T0,
                )
            )
        return ids


def wait_idle(engine: object) -> None:
    deadline = time.monotonic() + 10
    while engine.free_workers() < 8:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "deliveries did not finish"
        time.sleep(0.01)


def rows(db: Database) -> dict[int, tuple[str, int]]:
    with db.read_session() as s:
        return {
            iid: (status, attempts)
            for iid, status, attempts in s.execute(
                select(Notification.incident_id, Notification.status, Notification.attempts)
            )
        }


def test_pages_queued_past_their_lease_go_out_once_and_never_after_the_acknowledgement(
    quiet_client: TestClient, world: World, db: Database, settings: Settings, gated: GatedReceiver
) -> None:
    """The issue's measurement in miniature: more pages than workers to a slow receiver, a
    lease shorter than the queue takes to drain, half the incidents acknowledged meanwhile."""
    incidents = pages(db, world.responder_id, gated.url, 24)
    clock = Clock()
    engine = make_engine(db, allow_loopback(settings, delivery_lease_seconds=15), clock)
    try:
        engine.run_once(T0)
        gated.wait_for_arrivals(8)  # every worker is now inside the slow receiver
        # Past the lease of everything claimed so far: a claim must not be taken again.
        clock.now = T0 + timedelta(seconds=20)
        engine.run_once(clock.now)
        acked = incidents[::2]
        for iid in acked:
            r = quiet_client.post(f"/api/v1/incidents/{iid}/acknowledge", headers=world.auth())
            assert r.status_code == 200, r.text
            gated.acked.add(iid)  # committed: nothing for it may arrive from now on
        gated.gate.set()
        for _ in range(10):  # drain on the fake clock, a bounded number of passes
            wait_idle(engine)
            clock.now += timedelta(seconds=1)
            if not engine.run_once(clock.now, wait=True):
                break
        wait_idle(engine)
    finally:
        engine.stop()
    keys = [a.key for a in gated.arrivals]
    assert len(keys) == len(set(keys)), f"{len(keys) - len(set(keys))} pages sent twice"
    late = [a.incident_id for a in gated.arrivals if a.acked_before]
    assert late == [], f"paged after the acknowledgement committed: {late}"
    first_eight = {a.incident_id for a in gated.arrivals[:8]}
    assert len(gated.arrivals) == 12 + len(first_eight & set(acked))
    state = rows(db)
    for iid in incidents:
        if iid in acked and iid not in first_eight:
            assert state[iid] == ("cancelled", 0)
        else:
            assert state[iid] == ("sent", 1), (iid, state[iid])


@pytest.mark.parametrize("change", ["acknowledged", "person deactivated"])
def test_a_failure_after_paging_stopped_is_not_retried_or_fallen_back(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    failing: GatedReceiver,
    change: str,
) -> None:
    [iid] = pages(db, world.responder_id, failing.url, 1)
    with db.session() as s:  # a second method: the fallback a final failure would queue
        s.add(ContactMethod(user_id=world.responder_id, channel="local", address="console"))
    clock = Clock()
    engine = make_engine(db, allow_loopback(settings, delivery_max_attempts=1), clock)
    try:
        engine.run_once(T0)
        failing.wait_for_arrivals(1)
        if change == "acknowledged":
            r = quiet_client.post(f"/api/v1/incidents/{iid}/acknowledge", headers=world.auth())
        else:
            r = quiet_client.patch(
                f"/api/v1/users/{world.responder_id}",
                headers=world.auth("admin"),
                json={"active": False},
            )
        assert r.status_code == 200, r.text
        failing.gate.set()  # the attempt now fails with a 500
        wait_idle(engine)
        for minutes in (1, 10, 60):
            engine.run_once(T0 + timedelta(minutes=minutes), wait=True)
    finally:
        engine.stop()
    assert len(failing.arrivals) == 1
    with db.read_session() as s:
        notes = s.execute(
            select(Notification.channel, Notification.status, Notification.last_error)
        ).all()
        story = list(
            s.scalars(select(TimelineEvent.message).where(TimelineEvent.incident_id == iid))
        )
    assert len(notes) == 1, f"a fallback was queued: {notes}"
    channel, status, error = notes[0]
    assert (channel, status) == ("webhook", "cancelled")
    assert "HTTP 500" in error and "not retried" in error
    assert any("failed (attempt 1): HTTP 500" in m and "not retried" in m for m in story)


def test_the_engine_does_not_spin_while_a_delivery_is_in_flight(
    world: World, db: Database, settings: Settings, gated: GatedReceiver
) -> None:
    pages(db, world.responder_id, gated.url, 1)
    engine = make_engine(db, allow_loopback(settings), Clock())
    try:
        assert engine.next_due() == T0
        engine.run_once(T0)
        gated.wait_for_arrivals(1)
        # Being delivered: due again only if its lease runs out, not on every pass.
        assert engine.next_due() == T0 + engine.lease
    finally:
        gated.gate.set()
        engine.stop()


def test_no_more_rows_are_claimed_than_there_are_free_workers(
    world: World, db: Database, settings: Settings, gated: GatedReceiver
) -> None:
    pages(db, world.responder_id, gated.url, 12)
    engine = make_engine(db, allow_loopback(settings), Clock())
    try:
        assert engine.run_once(T0) == 8
        gated.wait_for_arrivals(8)
        assert engine.run_once(T0 + timedelta(minutes=5)) == 0
        with db.read_session() as s:
            claimed = s.scalars(
                select(Notification.id).where(Notification.lease_token.is_not(None))
            ).all()
        assert len(claimed) == 8
        assert engine.next_due() is None or engine.next_due() > T0 + timedelta(minutes=5)
    finally:
        gated.gate.set()
        engine.stop()


@pytest.mark.parametrize(
    "change", ["acknowledged", "person deactivated", "contact method disabled", "merged"]
)
def test_the_last_check_before_sending_cancels_what_is_no_longer_wanted(
    world: World, db: Database, settings: Settings, change: str
) -> None:
    [iid] = pages(db, world.responder_id, "http://127.0.0.1:9/never", 1)
    [job] = delivery.claim_due(db, T0, "test", timedelta(seconds=60))
    with db.session() as s:
        if change == "acknowledged":
            s.execute(update(Incident).values(status="acknowledged"))
        elif change == "person deactivated":
            s.execute(update(User).where(User.id == world.responder_id).values(active=False))
        elif change == "contact method disabled":
            s.execute(update(ContactMethod).values(disabled_at=T0))
        else:
            other = Incident(title="main", impact=1, urgency=1, priority=1, triggered_at=T0)
            s.add(other)
            s.flush()
            s.execute(
                update(Incident)
                .where(Incident.id == iid)
                .values(status="closed", merged_into_id=other.id)
            )
    assert delivery.still_ours_and_wanted(db, job, T0 + timedelta(seconds=1)) is False
    with db.read_session() as s:
        row = s.scalars(select(Notification)).one()
        assert row.status == "cancelled" and row.lease_token is None
        assert row.last_error.startswith("not sent: ")


def test_a_mobilisation_of_an_acknowledged_incident_is_still_sent(
    world: World, db: Database, settings: Settings
) -> None:
    pages(db, world.responder_id, "http://127.0.0.1:9/never", 1, kind="mobilise")
    with db.session() as s:
        s.execute(update(Incident).values(status="acknowledged"))
    [job] = delivery.claim_due(db, T0, "test", timedelta(seconds=60))
    assert delivery.still_ours_and_wanted(db, job, T0) is True


def test_a_claim_that_lost_its_lease_neither_sends_nor_records(
    world: World, db: Database, settings: Settings
) -> None:
    [iid] = pages(db, world.responder_id, "http://127.0.0.1:9/never", 1)
    lease = timedelta(seconds=15)
    [first] = delivery.claim_due(db, T0, "engine-a", lease)
    # The same engine (or another) claims it again once the lease has run out.
    [second] = delivery.claim_due(db, T0 + timedelta(seconds=20), "engine-a", lease)
    assert first.lease_token != second.lease_token
    later = T0 + timedelta(seconds=21)
    assert delivery.still_ours_and_wanted(db, first, later) is False
    ok = delivery.DeliveryResult.success()
    assert delivery.record(db, first, ok, later) is False
    with db.read_session() as s:
        row = s.scalars(select(Notification)).one()
        assert (row.status, row.attempts, row.lease_token) == ("pending", 0, second.lease_token)
    assert delivery.still_ours_and_wanted(db, second, later) is True
    # A lease that ran out is not ours to send on either, even if nobody took it yet.
    assert delivery.still_ours_and_wanted(db, second, T0 + timedelta(seconds=40)) is False
    delivery.record(db, second, ok, later)
    assert rows(db) == {iid: ("sent", 1)}
