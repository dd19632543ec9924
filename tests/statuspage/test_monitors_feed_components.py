"""Warroom's own monitors feed the status page (issue 11) through the one signal path: a check
against a real local HTTP server that the test turns off, or a silent heartbeat, opens an alert
and an incident on its service, the service's component shows the status that incident's
priority maps to and the engine's reconcile records it in the uptime history; recovery resolves
the incident and the component is operational again. A check that only warns opens a
lower-priority incident (a warning on a tier-2 service: P3, degraded performance); a check
failing inside a maintenance window is held, so the component shows maintenance, not an
outage. Fake clocks throughout: the monitor loop's and the engine's passes are given their
`now`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.monitors.conftest import Website, serve_website
from tests.statuspage.conftest import Driver
from tests.statuspage.helpers import component, window
from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.monitors.runner import MonitorLoop
from warroom.statuspage import logic, public


@pytest.fixture(autouse=True)
def read_the_version_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page reads its version at most once a second (a burst of readers costs no query);
    here each read follows the monitors' writes at once, as a second later would."""
    monkeypatch.setattr(public, "CHECK_EVERY", 0.0)


@pytest.fixture
def website() -> Iterator[Website]:
    with serve_website() as site:
        yield site


@contextmanager
def _back_up_on(port: int) -> Iterator[None]:
    """The website again, on the port the check is pointed at (HTTPServer reuses the address)."""

    class Healthy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _check(client: TestClient, world: World, service_id: int, target: str, **extra: Any) -> None:
    body = {
        "service_id": service_id,
        "name": "shop front",
        "kind": "http",
        "target": target,
        "confirm_failures": 1,
        "confirm_window": 1,
        "timeout_seconds": 2,
        **extra,
    }
    r = client.post("/api/v1/checks", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text


def _checks_run(loop: MonitorLoop, now: datetime) -> None:
    loop.start_checks(now, wait=True)
    loop.record_finished(now)


def _statuses(client: TestClient) -> dict[str, str]:
    body = client.get("/status/api/v2/components.json").json()
    return {c["name"]: c["status"] for c in body["components"]}


def test_a_failing_check_shows_on_its_component_and_in_the_uptime_until_it_recovers(
    client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    engine: Driver,
    website: Website,
) -> None:
    component(client, world, name="Checkout", service_id=world.checkout_id)
    _check(client, world, world.checkout_id, website.url)
    loop = MonitorLoop(db, settings)
    t0 = utcnow() + timedelta(seconds=1)
    _checks_run(loop, t0)
    engine.run(t0)
    assert _statuses(client) == {"Checkout": "operational"}

    port = website.port
    website.turn_off()
    t1 = t0 + timedelta(minutes=2)
    _checks_run(loop, t1)
    [alert] = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    incident = client.get(f"/api/v1/incidents/{alert['incident_id']}", headers=world.auth()).json()
    assert incident["priority"] == 2  # tier-2 service, an error: P2
    # The page derives at read time: no wait for the engine, no public update needed.
    assert _statuses(client) == {"Checkout": "partial_outage"}
    assert client.get("/status/api/v2/status.json").json()["status"]["indicator"] == "major"
    engine.run(t1)  # the engine's reconcile records the change in the history

    with _back_up_on(port):
        t2 = t1 + timedelta(minutes=2)
        _checks_run(loop, t2)
    assert client.get(f"/api/v1/incidents/{incident['id']}", headers=world.auth()).json()[
        "status"
    ] == ("resolved")
    assert _statuses(client) == {"Checkout": "operational"}
    engine.run(t2)

    with db.read_session() as s:
        snapshot = public.build(s, t2 + timedelta(minutes=1))
    [c] = snapshot.components
    days = [d for d in c.days if d.worst is not None]
    assert logic.PARTIAL in {d.worst for d in days}
    # Two minutes of partial outage weigh half: 60 seconds down.
    assert sum(d.down for d in days) == pytest.approx(60, abs=1)
    assert c.uptime is not None and c.uptime < 100.0


def test_a_silent_heartbeat_takes_its_component_down_and_a_ping_brings_it_back(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    component(client, world, name="Payments DB", service_id=world.database_id)
    r = client.post(
        "/api/v1/heartbeats",
        json={
            "service_id": world.database_id,
            "name": "replication",
            "period_seconds": 3600,
            "grace_seconds": 600,
        },
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    ping = "/ping/" + str(r.json()["ping_url"]).rsplit("/ping/", 1)[1]
    assert client.get(ping).text == "OK"
    loop = MonitorLoop(db, settings)
    assert loop.sweep(utcnow() + timedelta(minutes=71)) == 1
    assert _statuses(client) == {"Payments DB": "major_outage"}  # tier 1, an error: P1
    assert client.get(ping).text == "OK"
    assert _statuses(client) == {"Payments DB": "operational"}


def test_a_warning_shows_degraded_and_a_held_failure_shows_maintenance(
    client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    website: Website,
) -> None:
    component(client, world, name="Checkout", service_id=world.checkout_id)
    db_comp = component(client, world, name="Payments DB", service_id=world.database_id)
    _check(client, world, world.checkout_id, website.url, severity="warning")
    now = utcnow()
    # The database's check fails inside a maintenance window naming its service and component.
    window(
        client,
        world,
        title="Failover test",
        starts_at=(now - timedelta(minutes=1)).isoformat(),
        ends_at=(now + timedelta(hours=1)).isoformat(),
        component_ids=[db_comp["id"]],
        service_ids=[world.database_id],
    )
    _check(client, world, world.database_id, website.url, name="db proxy")
    website.turn_off()
    _checks_run(MonitorLoop(db, settings), now + timedelta(seconds=1))
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    by_key = {a["summary"].split("'")[1]: a for a in alerts}
    # The warning opened a P3 incident (tier 2, medium urgency): degraded performance.
    warned = by_key["shop front"]
    incident = client.get(f"/api/v1/incidents/{warned['incident_id']}", headers=world.auth())
    assert incident.json()["priority"] == 3
    # The held failure opened no incident: the component is under maintenance, not down.
    assert by_key["db proxy"]["incident_id"] is None
    assert _statuses(client) == {
        "Checkout": "degraded_performance",
        "Payments DB": "under_maintenance",
    }
