"""An archived service's own monitors stop alerting: heartbeat pings are refused (409, nothing
stored) and silence never pages, checks are not run, log rules are not loaded and their lines
are refused; unarchived, checks run at once and a heartbeat is watched from its next ping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assert_error
from tests.conftest import World, count_rows
from tests.monitors.test_checks import LOCAL, make_check
from tests.monitors.test_heartbeats import make_heartbeat, path_of
from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.monitors.logs import load_rules
from warroom.monitors.runner import MonitorLoop


@pytest.fixture
def client(quiet_client: TestClient) -> TestClient:
    return quiet_client


def archive(client: TestClient, world: World, action: str = "archive") -> None:
    r = client.post(f"/api/v1/services/{world.checkout_id}/{action}", headers=world.auth("admin"))
    assert r.status_code == 200, r.text


def heartbeat(client: TestClient, world: World, hb: dict[str, Any]) -> dict[str, Any]:
    r = client.get(f"/api/v1/heartbeats/{hb['id']}", headers=world.auth())
    return dict(r.json())


def test_a_heartbeat_of_an_archived_service_neither_records_pings_nor_pages(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    hb = make_heartbeat(client, world, grace_seconds=600)
    ping = path_of(hb)
    assert client.get(ping).text == "OK"
    assert heartbeat(client, world, hb)["status"] == "up"
    archive(client, world)
    got = heartbeat(client, world, hb)
    assert got["status"] == "new" and got["alert_after"] is None

    err = assert_error(client.get(ping), 409)
    assert "archived" in err["message"] and "not recorded" in err["message"]
    assert_error(client.post(f"{ping}/fail"), 409)
    assert heartbeat(client, world, hb)["pings"] == 1  # nothing stored
    loop = MonitorLoop(db, settings)
    assert loop.sweep(utcnow() + timedelta(days=3)) == 0
    assert count_rows(db, "alerts") == 0

    # Back in use: days of silence while archived do not page; the next ping starts it again.
    archive(client, world, "unarchive")
    assert loop.sweep(utcnow() + timedelta(days=3)) == 0
    assert client.get(ping).text == "OK"
    got = heartbeat(client, world, hb)
    assert got["status"] == "up" and got["alert_after"] is not None
    assert loop.sweep(utcnow() + timedelta(minutes=71)) == 1
    assert count_rows(db, "alerts") == 1


def test_checks_of_an_archived_service_do_not_run(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    check = make_check(client, world)
    loop = MonitorLoop(db, settings.model_copy(update={"outbound_allow_networks": LOCAL}))
    archive(client, world)
    later = utcnow() + timedelta(minutes=5)
    assert loop.start_checks(later, wait=True) == 0
    assert loop.next_due() is None  # the loop does not wake up for it either
    archive(client, world, "unarchive")
    got = client.get(f"/api/v1/checks/{check['id']}", headers=world.auth()).json()
    assert got["status"] == "unknown"
    assert loop.start_checks(utcnow() + timedelta(seconds=1), wait=True) == 1


def test_log_rules_of_an_archived_service_are_not_loaded_and_its_lines_refused(
    client: TestClient, world: World, db: Database
) -> None:
    r = client.post(
        "/api/v1/log-rules",
        json={
            "service_id": world.checkout_id,
            "name": "timeouts",
            "conditions": [{"field": "message", "op": "contains", "value": "timeout"}],
        },
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    key = next(
        i["routing_key"]
        for i in client.get(
            f"/api/v1/integrations?service_id={world.checkout_id}", headers=world.auth("admin")
        ).json()
        if i["type"] == "monitor"
    )
    archive(client, world)
    with db.read_session() as s:
        assert load_rules(s)[0] == []
    err = assert_error(client.post(f"/logs/{key}", json=[{"message": "read timeout"}]), 409)
    assert "archived" in err["message"]
    archive(client, world, "unarchive")
    with db.read_session() as s:
        assert [r.name for r in load_rules(s)[0]] == ["timeouts"]
