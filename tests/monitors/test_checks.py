"""HTTP and TCP checks against a real local server that the test turns off: N-of-M confirmation
opens one alert, recovery resolves it; the address guard refuses loopback unless allowed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assert_error
from tests.conftest import World
from tests.monitors.conftest import Website
from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.monitors.probe import CheckSpec, probe, regex_problem
from warroom.monitors.runner import MonitorLoop

LOCAL = ["127.0.0.0/8"]


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client


def make_check(client: TestClient, world: World, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service_id": world.checkout_id,
        "name": "shop front",
        "kind": "http",
        "target": "http://127.0.0.1:9/",
        "confirm_failures": 2,
        "confirm_window": 3,
        "timeout_seconds": 2,
    }
    body.update(extra)
    r = client.post("/api/v1/checks", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def run(loop: MonitorLoop, minutes: float) -> None:
    now = utcnow() + timedelta(minutes=minutes)
    loop.start_checks(now, wait=True)
    loop.record_finished(now)


def test_http_check_confirms_an_outage_and_its_end(
    client: TestClient, world: World, db: Database, settings: Settings, website: Website
) -> None:
    check = make_check(client, world, target=website.url, body_contains="open")
    loop = MonitorLoop(db, settings.model_copy(update={"outbound_allow_networks": LOCAL}))
    run(loop, 0)
    got = client.get(f"/api/v1/checks/{check['id']}", headers=world.auth()).json()
    assert got["status"] == "up" and got["last_result"]["status_code"] == 200
    website.status = 503
    run(loop, 1)  # one failure of 2: nothing yet
    assert client.get("/api/v1/alerts", headers=world.auth()).json()["items"] == []
    website.turn_off()
    run(loop, 2)
    [alert] = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert alert["status"] == "triggered" and alert["dedup_key"] == f"check:{check['id']}"
    assert "shop front" in alert["summary"]
    run(loop, 3)  # still down: the same alert
    assert len(client.get("/api/v1/alerts", headers=world.auth()).json()["items"]) == 1
    results = client.get(f"/api/v1/checks/{check['id']}/results", headers=world.auth()).json()
    assert [r["ok"] for r in results] == [False, False, False, True]
    assert "503" in results[2]["error"]


def test_tcp_check_and_recovery(
    client: TestClient, world: World, db: Database, settings: Settings, website: Website
) -> None:
    check = make_check(
        client,
        world,
        kind="tcp",
        target=f"127.0.0.1:{website.port}",
        confirm_failures=1,
        confirm_window=1,
    )
    loop = MonitorLoop(db, settings.model_copy(update={"outbound_allow_networks": LOCAL}))
    run(loop, 0)
    assert (
        client.get(f"/api/v1/checks/{check['id']}", headers=world.auth()).json()["status"] == "up"
    )
    port = website.port
    website.turn_off()
    run(loop, 1)
    [alert] = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert alert["status"] == "triggered"
    # A run in flight when the check is disabled records nothing.
    claimed = loop.start_checks(utcnow() + timedelta(minutes=2), wait=True)
    assert claimed == 1
    # Disabled checks do not run, and a disabled down check's alert (and incident) resolve.
    r = client.patch(
        f"/api/v1/checks/{check['id']}", json={"enabled": False}, headers=world.auth("admin")
    )
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert r.json()["status"] == "unknown"
    loop.record_finished(utcnow() + timedelta(minutes=2))
    [alert] = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert alert["status"] == "resolved"
    incident = client.get(f"/api/v1/incidents/{alert['incident_id']}", headers=world.auth())
    assert incident.json()["status"] == "resolved"
    assert loop.start_checks(utcnow() + timedelta(minutes=5), wait=True) == 0
    # Enabled again it starts afresh: the next failure is confirmed anew (1 of 1 here).
    client.patch(
        f"/api/v1/checks/{check['id']}", json={"enabled": True}, headers=world.auth("admin")
    )
    run(loop, 6)
    items = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert sorted(a["status"] for a in items) == ["resolved", "triggered"]
    assert port


def test_loopback_is_refused_without_the_allow_list(
    client: TestClient, world: World, db: Database, settings: Settings, website: Website
) -> None:
    make_check(client, world, target=website.url, confirm_failures=1, confirm_window=1)
    loop = MonitorLoop(db, settings)
    run(loop, 0)
    [alert] = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert "refused by the outbound address guard" in alert["summary"]
    assert website.hits == []  # not one packet reached it


def test_probe_expectations(website: Website) -> None:
    spec = CheckSpec("http", website.url, timeout_seconds=2)
    assert probe(spec, LOCAL).ok
    assert not probe(CheckSpec("http", website.url, expected_status="301"), LOCAL).ok
    assert probe(CheckSpec("http", website.url, body_regex=r"shop\s+is"), LOCAL).ok
    assert not probe(CheckSpec("http", website.url, body_regex=r"closed"), LOCAL).ok
    slow = probe(CheckSpec("http", website.url, max_response_ms=1), LOCAL)
    assert slow.ok or slow.latency_ms is not None  # timing on a shared machine: either way
    assert not probe(CheckSpec("tcp", "metadata:80"), ()).ok
    blocked = probe(CheckSpec("http", "http://169.254.169.254/latest/meta-data/"), ())
    assert not blocked.ok and "metadata" in blocked.error


def test_bad_check_definitions_are_refused(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    base = {"service_id": world.checkout_id, "name": "x", "kind": "http", "target": "https://a.b"}
    for extra in (
        {"kind": "tcp", "target": "no-port"},
        {"target": "ftp://example.com"},
        {"expected_status": "ok"},
        {"body_regex": r"(a+)+\1"},  # a backreference: RE2 refuses it
        {"body_regex": r"(?=lookahead)"},
        {"confirm_failures": 4, "confirm_window": 3},
        {"interval_seconds": 1},
        {"unknown": True},
    ):
        assert_error(client.post("/api/v1/checks", json={**base, **extra}, headers=admin), 422)
    # Catastrophic backtracking patterns are fine: RE2 runs them in linear time.
    assert regex_problem(r"(a+)+$") is None
