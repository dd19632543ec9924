"""The real server process as a new user meets it: `serve --demo`, the banner, first events."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import httpx

from tests.conftest import FIXTURE_ROUTING_KEY, fixture_bytes
from tests.e2e.server import (
    Server,
    clean_env,
    run_server,
    stop,
)

# uvicorn (>= 0.29) shuts down gracefully on SIGTERM, then re-raises the signal so the exit status
# says why it stopped; service managers count SIGTERM as a clean stop.
CLEAN_EXIT = (0, -signal.SIGTERM)


def incidents(server: Server) -> list[dict[str, object]]:
    r = httpx.get(f"{server.base_url}/api/v1/incidents", headers=server.auth(), timeout=10)
    assert r.status_code == 200, r.text
    return sorted(r.json()["items"], key=lambda i: i["id"])  # type: ignore[no-any-return]


def test_demo_server_takes_first_events_and_stops_cleanly(own_database_url: str) -> None:
    with run_server(own_database_url, "--access-log") as server:
        # The banner gives everything needed: a token and one routing key per integration.
        assert server.token.startswith("wr_")
        assert server.password
        am_key = server.keys[("checkout-api", "alertmanager")]
        pd_key = server.keys[("payments-db", "pagerduty")]
        assert ("search", "generic") in server.keys
        assert all(len(k) == 32 for k in server.keys.values())
        assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}

        r = httpx.post(
            f"{server.base_url}/integrations/alertmanager/{am_key}",
            content=fixture_bytes("alertmanager/01-firing-two-alerts.json"),
            headers={"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 2

        event = json.loads(fixture_bytes("pagerduty/01-trigger-with-dedup-key.json"))
        assert event["routing_key"] == FIXTURE_ROUTING_KEY
        event["routing_key"] = pd_key
        r = httpx.post(
            f"{server.base_url}/v2/enqueue",
            content=json.dumps(event),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 202, r.text
        assert r.json()["dedup_key"] == "disk-db-primary-1"

        found = incidents(server)
        assert [i["title"] for i in found] == [
            "5xx error rate above 5% on checkout-api",
            "Disk usage at 95% on db-primary-1",
        ]
        checkout, payments = found
        assert checkout["alert_count"] == 2 and checkout["status"] == "triggered"
        # Both demo services are tier 1 and both events critical: P1.
        assert checkout["priority_name"] == payments["priority_name"] == "P1 critical"
        # Without the token the API refuses.
        assert httpx.get(f"{server.base_url}/api/v1/incidents").status_code == 401

        # The banner's own first-event command works as printed.
        send_line, list_line = server.commands
        assert pd_key in send_line and server.token in list_line
        done = subprocess.run(
            ["bash", "-c", send_line + " -w '\\n%{http_code}'"],
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env(),
        )
        assert done.returncode == 0, done.stderr
        body, status = done.stdout.rsplit("\n", 1)
        assert status == "202"
        assert json.loads(body)["status"] == "success"
        done = subprocess.run(
            ["bash", "-c", list_line], capture_output=True, text=True, timeout=30, env=clean_env()
        )
        assert done.returncode == 0, done.stderr
        listed = json.loads(done.stdout)["items"]
        # The banner's event (critical, payments-db) joined the open payments-db incident.
        payments_now = next(i for i in listed if i["id"] == payments["id"])
        assert payments_now["alert_count"] == 2
        assert len(listed) == 2

        assert stop(server) in CLEAN_EXIT
    log = server.output()  # complete: leaving run_server joined the output readers
    # Graceful: the lifespan shutdown ran (the group committer stopped) before the exit.
    assert "Application shutdown complete" in log
    assert "Finished server process" in log
    # The access log shows intake requests, but never a routing key from the URL.
    assert "/integrations/alertmanager/[redacted]" in log
    assert am_key not in "".join(server.stderr)


def test_a_second_start_keeps_the_data_and_the_same_credentials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    with run_server(url) as first:
        keys, token, password = dict(first.keys), first.token, first.password
        r = httpx.post(
            f"{first.base_url}/integrations/generic/{keys[('search', 'generic')]}",
            json={"summary": "Search index stale", "severity": "warning"},
        )
        assert r.status_code == 202
        assert stop(first) in CLEAN_EXIT
    with run_server(url) as second:
        # The demo is seeded once: same routing keys, the incident is still there.
        assert second.keys == keys
        # The demo admin's password and token are the same on every start (README).
        assert (second.token, second.password) == (token, password)
        assert [i["title"] for i in incidents(second)] == ["Search index stale"]
        # The token of the first start still works.
        r = httpx.get(
            f"{second.base_url}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200


def test_a_clean_stop_closes_the_database(tmp_path: Path) -> None:
    """SIGTERM: the lifespan closes every connection, so SQLite folds its write-ahead log back
    into the database and removes the -wal and -shm files (a copy of warroom.db alone is whole)."""
    path = tmp_path / "w.db"
    with run_server(f"sqlite:///{path}") as server:
        r = httpx.post(
            f"{server.base_url}/integrations/generic/{server.keys[('search', 'generic')]}",
            json={"summary": "Search index stale", "severity": "warning"},
        )
        assert r.status_code == 202
        wal, shm = path.with_name("w.db-wal"), path.with_name("w.db-shm")
        assert wal.exists() and shm.exists()  # open connections, in WAL mode
        assert stop(server) in CLEAN_EXIT
    assert "Application shutdown complete" in server.output()
    assert not wal.exists() and not shm.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (1,)
