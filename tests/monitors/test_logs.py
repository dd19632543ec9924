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
