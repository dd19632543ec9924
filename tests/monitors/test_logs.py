"""System logs in the app: syslog over UDP and TCP (octet counting, junk, 1 MB lines) and JSON
log lines over HTTP, counted by rules that open an alert with sample lines and resolve it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assert_error
from tests.conftest import World
from warroom.app import create_app
from warroom.config import Settings
from warroom.db.engine import Database


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    listening = settings.model_copy(update={"syslog_udp_port": 0, "syslog_tcp_port": 0})
    with TestClient(create_app(listening, db, run_engine=False)) as test_client:
        yield test_client


def make_rule(client: TestClient, world: World, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service_id": world.checkout_id,
        "name": "5xx per host",
        "conditions": [
            {"field": "app", "op": "eq", "value": "nginx"},
            {"field": "status", "op": "ge", "value": "500"},
        ],
        "threshold": 3,
        "window_seconds": 60,
        "group_by": "host",
    }
    body.update(extra)
    r = client.post("/api/v1/log-rules", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    client.app.state.logs.reload()  # type: ignore[attr-defined]
    return dict(r.json())


def monitor_key(client: TestClient, world: World) -> str:
    integrations = client.get(
        f"/api/v1/integrations?service_id={world.checkout_id}", headers=world.auth("admin")
    ).json()
    return next(i["routing_key"] for i in integrations if i["type"] == "monitor")


def wait_for_alerts(client: TestClient, world: World, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        items = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
        if len(items) >= count:
            return list(items)
        time.sleep(0.1)
    raise AssertionError(f"expected {count} alerts")


def line(host: str, status: int) -> bytes:
    return f'<13>1 2026-11-27T09:00:00Z {host} nginx - - [x status="{status}"] GET /pay'.encode()


def test_syslog_udp_and_tcp_lines_fire_a_rule_per_host(client: TestClient, world: World) -> None:
    rule = make_rule(client, world)
    logs = client.app.state.logs  # type: ignore[attr-defined]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for status in (503, 200, 500):
        udp.sendto(line("web-1", status), ("127.0.0.1", logs.udp_port))
    udp.sendto(line("web-2", 502), ("127.0.0.1", logs.udp_port))
    with socket.create_connection(("127.0.0.1", logs.tcp_port)) as tcp:
        frame = line("web-1", 504)
        tcp.sendall(b"%d %s" % (len(frame), frame))
        # A 1 MB line in the same stream is cut, and the stream goes on after it.
        big = b"<13>1 - web-9 nginx - - - " + b"x" * 1_000_000
        tcp.sendall(b"%d %s" % (len(big), big))
        tcp.sendall(b"%d %s" % (len(frame), frame))
    [alert] = wait_for_alerts(client, world, 1)
    assert alert["dedup_key"] == f"logrule:{rule['id']}:web-1"
    assert "host=web-1" in alert["summary"] and "3 matching lines" in alert["summary"]
    got = client.get(f"/api/v1/alerts/{alert['id']}", headers=world.auth()).json()
    assert len(got["details"]["sample_lines"]) == 3
    assert logs.counts.oversized == 1
    # Binary junk on the TCP port: the connection is closed, the receiver goes on.
    with socket.create_connection(("127.0.0.1", logs.tcp_port)) as junk:
        junk.sendall(b"99999999999 \x00\xff\xfe" * 10)
        junk.settimeout(5)
        assert junk.recv(10) == b""
    assert logs.counts.dropped_connections == 1
    udp.sendto(b"\xff\x00 not syslog at all", ("127.0.0.1", logs.udp_port))
    deadline = time.monotonic() + 5
    while logs.counts.malformed < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logs.counts.malformed >= 1


def test_json_lines_and_the_window_clearing(client: TestClient, world: World) -> None:
    make_rule(
        client,
        world,
        name="timeouts",
        conditions=[{"field": "message", "op": "regex", "value": r"time(d )?out"}],
        threshold=2,
        window_seconds=1,
        group_by=None,
    )
    key = monitor_key(client, world)
    body = b'{"message": "upstream timed out", "host": "web-1"}\n{"msg": "ok"}\n'
    r = client.post("/logs", content=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 202 and r.json()["accepted"] == 2, r.text
    r = client.post(f"/logs/{key}", json=[{"message": "read timeout", "status": 504}])
    assert r.status_code == 202 and r.json()["alerts"] == 1
    [alert] = wait_for_alerts(client, world, 1)
    assert alert["status"] == "triggered"
    # The window is 1 s: once it has passed, the receiver's tick clears the rule.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        alert = client.get(f"/api/v1/alerts/{alert['id']}", headers=world.auth()).json()
        if alert["status"] == "resolved":
            break
        time.sleep(0.2)
    assert alert["status"] == "resolved"


def test_bad_log_input(client: TestClient, world: World) -> None:
    make_rule(client, world)
    key = monitor_key(client, world)
    assert_error(client.post("/logs", content=b"{}"), 401)
    assert_error(client.post("/logs/not-a-key", content=b"{}"), 404)
    assert_error(client.post(f"/logs/{key}", content=b"[not json"), 400)
    assert_error(client.post(f"/logs/{key}", content=b"nope\nnada"), 400)
    assert_error(client.post(f"/logs/{key}", content=b"x" * 9_000_000), 413)
    admin = world.auth("admin")
    base = {"service_id": world.checkout_id, "name": "r"}
    for conditions in (
        [{"field": "message", "op": "regex", "value": r"(a)\1"}],
        [{"field": "message", "op": "like", "value": "a"}],
        [{"field": "status", "op": "gt", "value": "many"}],
        [],
    ):
        r = client.post("/api/v1/log-rules", json={**base, "conditions": conditions}, headers=admin)
        assert_error(r, 422)


def alerts_by_key(client: TestClient, world: World) -> dict[str, dict[str, Any]]:
    items = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    return {a["dedup_key"]: a for a in items}


def incident_status(client: TestClient, world: World, incident_id: int) -> str:
    got = client.get(f"/api/v1/incidents/{incident_id}", headers=world.auth()).json()
    return str(got["status"])


def test_deleting_or_disabling_a_rule_resolves_its_alerts_and_their_incident(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    per_host = make_rule(client, world, threshold=1)
    key = monitor_key(client, world)
    lines = [{"app": "nginx", "status": 502, "host": h, "message": "bad"} for h in ("a", "b")]
    assert client.post(f"/logs/{key}", json=lines).json()["alerts"] == 2
    fired = wait_for_alerts(client, world, 2)
    assert {a["status"] for a in fired} == {"triggered"}
    [incident_id] = {a["incident_id"] for a in fired}
    assert client.delete(f"/api/v1/log-rules/{per_host['id']}", headers=admin).status_code == 204
    # Both group keys' alerts are resolved through the alert path: the incident auto-resolves.
    assert {a["status"] for a in alerts_by_key(client, world).values()} == {"resolved"}
    assert incident_status(client, world, incident_id) == "resolved"
    assert_error(client.get(f"/api/v1/log-rules/{per_host['id']}", headers=admin), 404)

    # Disabling does the same, and leaves another rule's alert alone.
    timeouts = make_rule(
        client,
        world,
        name="timeouts",
        conditions=[{"field": "message", "op": "contains", "value": "timeout"}],
        threshold=1,
        group_by=None,
    )
    other = make_rule(
        client,
        world,
        name="panics",
        conditions=[{"field": "message", "op": "contains", "value": "panic"}],
        threshold=1,
        group_by=None,
    )
    client.post(f"/logs/{key}", json=[{"message": "timeout"}, {"message": "panic"}])
    wait_for_alerts(client, world, 4)
    r = client.patch(f"/api/v1/log-rules/{timeouts['id']}", json={"enabled": False}, headers=admin)
    assert r.status_code == 200 and r.json()["enabled"] is False
    now = alerts_by_key(client, world)
    assert now[f"logrule:{timeouts['id']}:"]["status"] == "resolved"
    assert now[f"logrule:{other['id']}:"]["status"] == "triggered"
    assert_error(
        client.patch(f"/api/v1/log-rules/{timeouts['id']}", json={"on": 1}, headers=admin), 422
    )
    assert_error(client.patch("/api/v1/log-rules/999999", json={}, headers=admin), 404)


def test_a_receiver_still_counting_a_deleted_rule_resolves_what_it_raised_at_reload(
    client: TestClient, world: World
) -> None:
    """Between the delete and the receiver's next reload the rule still counts here, and may
    fire once more; the reload clears that alert too."""
    rule = make_rule(
        client,
        world,
        conditions=[{"field": "message", "op": "contains", "value": "oops"}],
        threshold=2,
        group_by=None,
    )
    key = monitor_key(client, world)
    client.post(f"/logs/{key}", json=[{"message": "oops"}])
    assert client.delete(f"/api/v1/log-rules/{rule['id']}", headers=world.auth("admin")).status_code
    assert client.post(f"/logs/{key}", json=[{"message": "oops"}]).json()["alerts"] == 1
    [late] = wait_for_alerts(client, world, 1)
    assert late["status"] == "triggered"
    logs = client.app.state.logs  # type: ignore[attr-defined]
    assert [d.action for d in logs.reload()] == ["resolve"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        late = client.get(f"/api/v1/alerts/{late['id']}", headers=world.auth()).json()
        if late["status"] == "resolved":
            break
        time.sleep(0.05)
    assert late["status"] == "resolved"
    assert logs.reload() == []  # nothing left to clear
