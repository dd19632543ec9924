"""PagerDuty Events API v2: the captured pdpyras requests produce the right alerts and incidents."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import World, count_rows, fixture_bytes
from warroom.db.engine import Database

JSON = {"Content-Type": "application/json", "User-Agent": "pdpyras/5.4.1"}


def post(client: TestClient, name: str):  # type: ignore[no-untyped-def]
    return client.post("/v2/enqueue", content=fixture_bytes(f"pagerduty/{name}"), headers=JSON)


def test_trigger_acknowledge_resolve_follow_pagerduty_semantics(
    client: TestClient, world: World, db: Database
) -> None:
    r = post(client, "01-trigger-with-dedup-key.json")
    assert r.status_code == 202
    assert r.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-db-primary-1",
    }
    incidents = client.get("/api/v1/incidents", headers=world.auth()).json()["items"]
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc["title"] == "Disk usage at 95% on db-primary-1"
    # payments-db is tier 1 and the event critical: impact 1 x urgency 1 = P1.
    assert (inc["impact"], inc["urgency"], inc["priority"]) == (1, 1, 1)
    assert inc["status"] == "triggered"
    alert = client.get("/api/v1/alerts", headers=world.auth()).json()["items"][0]
    assert alert["details"] == {"mount": "/var/lib/postgresql", "used_pct": 95.2}
    assert alert["links"] == [
        {"href": "https://grafana.example.com/d/disk", "text": "Disk dashboard"}
    ]

    # The same key again updates and counts the open alert.
    post(client, "01-trigger-with-dedup-key.json")
    alert = client.get(f"/api/v1/alerts/{alert['id']}", headers=world.auth()).json()
    assert alert["event_count"] == 2
    assert count_rows(db, "alerts") == 1

    assert post(client, "03-acknowledge.json").status_code == 202
    inc = client.get(f"/api/v1/incidents/{inc['id']}", headers=world.auth()).json()
    assert inc["status"] == "acknowledged" and inc["acknowledged_at"]

    assert post(client, "04-resolve.json").status_code == 202
    inc = client.get(f"/api/v1/incidents/{inc['id']}", headers=world.auth()).json()
    assert inc["status"] == "resolved" and inc["resolved_at"]

    # Resolved: acknowledge/resolve again are accepted and ignored; a trigger opens a new alert.
    assert post(client, "04-resolve.json").status_code == 202
    assert post(client, "03-acknowledge.json").status_code == 202
    assert count_rows(db, "alerts") == 1
    post(client, "01-trigger-with-dedup-key.json")
    assert count_rows(db, "alerts") == 2
    assert count_rows(db, "incidents") == 2


def test_trigger_without_key_gets_a_fresh_key(client: TestClient, world: World) -> None:
    first = post(client, "02-trigger-without-dedup-key.json").json()["dedup_key"]
    second = post(client, "02-trigger-without-dedup-key.json").json()["dedup_key"]
    assert first and second and first != second
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert {a["dedup_key"] for a in alerts} == {first, second}
    # Warning severity = medium urgency; both alerts land in one incident (grouping window).
    incidents = client.get("/api/v1/incidents", headers=world.auth()).json()["items"]
    assert len(incidents) == 1 and incidents[0]["urgency"] == 2
    assert incidents[0]["alert_count"] == 2
