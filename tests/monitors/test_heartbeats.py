"""Heartbeats end to end in the app: create, ping (GET/POST/HEAD, start, fail, exit status),
silence opens an alert and an incident after the grace, the next success resolves them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assert_error
from tests.conftest import World, count_rows
from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.monitors.runner import MonitorLoop


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client


def make_heartbeat(client: TestClient, world: World, **extra: Any) -> dict[str, Any]:
    body = {"service_id": world.checkout_id, "name": "nightly backup", "period_seconds": 3600}
    body.update(extra)
    r = client.post("/api/v1/heartbeats", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def path_of(hb: dict[str, Any]) -> str:
    return "/ping/" + str(hb["ping_url"]).rsplit("/ping/", 1)[1]


def alerts(client: TestClient, world: World) -> list[dict[str, Any]]:
    r = client.get("/api/v1/alerts", headers=world.auth("admin"))
    return list(r.json()["items"])


def test_silence_alerts_after_the_grace_and_a_ping_resolves(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    hb = make_heartbeat(client, world, grace_seconds=600)
    assert hb["status"] == "new" and hb["alert_after"] is None
    ping = path_of(hb)
    assert client.get(ping).text == "OK"
    got = client.get(f"/api/v1/heartbeats/{hb['id']}", headers=world.auth("stakeholder")).json()
    assert got["status"] == "up" and got["pings"] == 1
    assert got["ping_url"] is None  # the key is for admins only

    loop = MonitorLoop(db, settings)
    now = utcnow()
    assert loop.sweep(now + timedelta(minutes=69)) == 0
    assert loop.sweep(now + timedelta(minutes=71)) == 1
    [alert] = alerts(client, world)
    assert alert["status"] == "triggered" and "nightly backup" in alert["summary"]
    assert alert["dedup_key"] == f"heartbeat:{hb['id']}"
    assert alert["incident_id"] is not None
    # A second sweep sends nothing more (down already).
    assert loop.sweep(now + timedelta(minutes=200)) == 0
    assert len(alerts(client, world)) == 1

    assert client.post(ping, content=b"backup done, 3 GB").status_code == 200
    [alert] = alerts(client, world)
    assert alert["status"] == "resolved"
    incident = client.get(
        f"/api/v1/incidents/{alert['incident_id']}", headers=world.auth("admin")
    ).json()
    assert incident["status"] == "resolved"  # auto-resolve: its last alert resolved
    pings = client.get(f"/api/v1/heartbeats/{hb['id']}/pings", headers=world.auth()).json()
    assert [p["kind"] for p in pings] == ["success", "success"]
    assert pings[0]["body"] == "backup done, 3 GB" and pings[0]["method"] == "POST"


def test_start_fail_exit_status_and_head(client: TestClient, world: World) -> None:
    hb = make_heartbeat(client, world)
    ping = path_of(hb)
    assert client.head(ping + "/start").status_code == 200
    got = client.get(f"/api/v1/heartbeats/{hb['id']}", headers=world.auth()).json()
    assert got["status"] == "started"
    assert client.get(ping + "/0").status_code == 200
    got = client.get(f"/api/v1/heartbeats/{hb['id']}", headers=world.auth()).json()
    assert got["status"] == "up" and got["last_duration_seconds"] >= 0
    assert client.post(ping + "/fail", content=b"disk full").status_code == 200
    [alert] = alerts(client, world)
    assert alert["status"] == "triggered" and "failure" in alert["summary"]
    assert client.get(ping + "/2").status_code == 200  # still down: no second alert
    assert len(alerts(client, world)) == 1
    assert client.get(ping + "/0").status_code == 200
    assert alerts(client, world)[0]["status"] == "resolved"


def test_bad_pings_store_nothing(client: TestClient, world: World, db: Database) -> None:
    hb = make_heartbeat(client, world)
    assert_error(client.get("/ping/not-a-key"), 404)
    assert_error(client.post("/ping/not-a-key/fail", content=b"x"), 404)
    assert_error(client.get(path_of(hb) + "/256"), 404)
    assert_error(client.get(path_of(hb) + "/-1"), 404)
    assert count_rows(db, "heartbeat_pings") == 0
    # A large body is cut, not refused.
    assert client.post(path_of(hb), content=b"x" * 300_000).status_code == 200
    [p] = client.get(f"/api/v1/heartbeats/{hb['id']}/pings", headers=world.auth()).json()
    assert len(p["body"]) == 10_000 and p["body_truncated"]


def test_cron_heartbeats_and_bad_definitions(client: TestClient, world: World) -> None:
    hb = make_heartbeat(
        client, world, period_seconds=None, cron="30 2 * * *", time_zone="Europe/London"
    )
    assert hb["cron"] == "30 2 * * *"
    admin = world.auth("admin")
    base = {"service_id": world.checkout_id, "name": "x"}
    for body, status in (
        ({**base, "cron": "61 * * * *"}, 422),
        ({**base}, 422),  # neither period nor cron
        ({**base, "period_seconds": 60, "cron": "* * * * *"}, 422),
        ({**base, "period_seconds": 10}, 422),
        ({**base, "period_seconds": 60, "service_id": 999_999}, 422),
        ({**base, "period_seconds": 60, "typo": 1}, 422),
    ):
        assert_error(client.post("/api/v1/heartbeats", json=body, headers=admin), status)
    assert_error(
        client.post(
            "/api/v1/heartbeats", json={**base, "period_seconds": 60}, headers=world.auth()
        ),
        403,
    )


def test_deleting_a_down_heartbeat_resolves_its_alert(client: TestClient, world: World) -> None:
    hb = make_heartbeat(client, world)
    client.get(path_of(hb) + "/fail")
    assert alerts(client, world)[0]["status"] == "triggered"
    r = client.delete(f"/api/v1/heartbeats/{hb['id']}", headers=world.auth("admin"))
    assert r.status_code == 204
    assert alerts(client, world)[0]["status"] == "resolved"
    assert_error(client.get(path_of(hb)), 404)
