"""Warroom's generic JSON events: the documented format, lists, strict keys, ack/resolve by key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.conftest import World, count_rows
from warroom.db.engine import Database

JSON = {"Content-Type": "application/json"}


def send(client: TestClient, world: World, body: Any) -> httpx.Response:
    return client.post(f"/integrations/generic/{world.generic_key}", json=body)


def alerts(client: TestClient, world: World) -> dict[str, dict[str, Any]]:
    items = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    return {a["dedup_key"]: a for a in items}


def one_incident(client: TestClient, world: World) -> dict[str, Any]:
    [inc] = client.get("/api/v1/incidents", headers=world.auth()).json()["items"]
    return inc  # type: ignore[no-any-return]


def test_the_documented_event_with_every_field(
    client: TestClient, world: World, db: Database
) -> None:
    event = {
        "summary": "Deploy 2026.11.27-3 failed its smoke test",
        "severity": "error",
        "action": "trigger",
        "dedup_key": "deploy-2026.11.27-3",
        "source": "deploy-bot",
        "details": {"commit": "a1b2c3d", "stage": "smoke"},
        "links": [{"href": "https://ci.example.com/runs/42", "text": "CI run"}],
        "started_at": "2026-11-27T09:00:00Z",
    }
    r = send(client, world, event)
    assert r.status_code == 202
    assert r.json() == {
        "status": "accepted",
        "events": [{"dedup_key": "deploy-2026.11.27-3", "result": "opened"}],
        "rejected": [],
    }
    alert = alerts(client, world)["deploy-2026.11.27-3"]
    assert alert["summary"] == event["summary"]
    assert alert["severity"] == "error" and alert["status"] == "triggered"
    assert alert["source"] == "deploy-bot"
    assert alert["details"] == {"commit": "a1b2c3d", "stage": "smoke"}
    assert alert["links"] == [{"href": "https://ci.example.com/runs/42", "text": "CI run"}]
    assert datetime.fromisoformat(alert["started_at"].replace("Z", "+00:00")) == datetime(
        2026, 11, 27, 9, 0, tzinfo=UTC
    )
    inc = one_incident(client, world)
    assert inc["title"] == event["summary"]
    assert inc["service_ids"] == [world.checkout_id]
    assert inc["urgency"] == 1  # error pages now


def test_only_summary_and_severity_are_needed_and_a_key_is_made(
    client: TestClient, world: World
) -> None:
    r = send(client, world, {"summary": "Backup job failed", "severity": "warning"})
    assert r.status_code == 202
    [outcome] = r.json()["events"]
    assert outcome["result"] == "opened" and len(outcome["dedup_key"]) >= 16
    assert set(alerts(client, world)) == {outcome["dedup_key"]}


def test_a_list_of_events_acts_in_order(client: TestClient, world: World, db: Database) -> None:
    r = send(
        client,
        world,
        [
            {"summary": "Queue depth high", "severity": "warning", "dedup_key": "queue"},
            {"summary": "Queue depth very high", "severity": "critical", "dedup_key": "queue"},
            {"summary": "Cache misses", "severity": "info", "dedup_key": "cache"},
            {"action": "resolve", "dedup_key": "cache"},
            {"action": "acknowledge", "dedup_key": "never-seen"},
        ],
    )
    assert r.status_code == 202
    assert [(e["dedup_key"], e["result"]) for e in r.json()["events"]] == [
        ("queue", "opened"),
        ("queue", "updated"),
        ("cache", "opened"),
        ("cache", "resolved"),
        ("never-seen", "ignored"),
    ]
    found = alerts(client, world)
    assert found["queue"]["event_count"] == 2
    assert found["queue"]["summary"] == "Queue depth very high"
    assert found["cache"]["status"] == "resolved"
    assert count_rows(db, "alerts") == 2
    inc = one_incident(client, world)
    assert inc["alert_count"] == 2 and inc["status"] == "triggered"
    # The queue alert opened as a warning (P3 on tier-2 checkout-api) and turned critical:
    # the incident shows the worst severity and its urgency rose with it.
    assert inc["severity"] == "critical"
    assert (inc["impact"], inc["urgency"], inc["priority"]) == (2, 1, 2)
    timeline = client.get(f"/api/v1/incidents/{inc['id']}/timeline", headers=world.auth()).json()[
        "items"
    ]
    assert any(e["kind"] == "priority_changed" and e["after"]["priority"] == 2 for e in timeline)


def test_a_warning_alert_turning_critical_across_requests_raises_the_incident(
    client: TestClient, world: World
) -> None:
    send(client, world, {"summary": "Latency high", "severity": "warning", "dedup_key": "lat"})
    assert one_incident(client, world)["priority"] == 3
    send(
        client, world, {"summary": "Latency very high", "severity": "critical", "dedup_key": "lat"}
    )
    inc = one_incident(client, world)
    assert (inc["severity"], inc["urgency"], inc["priority"]) == ("critical", 1, 2)
    # Calming down again does not lower it: a person decides that.
    send(client, world, {"summary": "Latency high", "severity": "warning", "dedup_key": "lat"})
    inc = one_incident(client, world)
    assert (inc["severity"], inc["urgency"], inc["priority"]) == ("critical", 1, 2)


def test_an_unknown_key_is_refused_by_name(client: TestClient, world: World, db: Database) -> None:
    r = send(client, world, {"summary": "Disk full", "severty": "critical"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["message"] == "Event is invalid"
    assert any("unknown field(s): severty" in d for d in error["details"])
    assert count_rows(db, "alerts") == 0

    # In a list, the one event with a typo is refused and named by its index; the rest count.
    r = send(
        client,
        world,
        [
            {"summary": "Disk full", "severity": "critical"},
            {"summary": "Disk full", "severity": "critical", "sumary": "x"},
        ],
    )
    assert r.status_code == 202
    [rejected] = r.json()["rejected"]
    assert rejected["index"] == 1
    assert any("sumary" in e for e in rejected["errors"])
    assert count_rows(db, "alerts") == 1


def test_acknowledge_and_resolve_by_dedup_key(
    client: TestClient, world: World, db: Database
) -> None:
    send(client, world, {"summary": "API 5xx", "severity": "critical", "dedup_key": "api-5xx"})
    r = send(client, world, {"action": "acknowledge", "dedup_key": "api-5xx"})
    assert r.status_code == 202 and r.json()["events"][0]["result"] == "acknowledged"
    alert = alerts(client, world)["api-5xx"]
    assert alert["status"] == "acknowledged" and alert["acknowledged_at"]
    inc = one_incident(client, world)
    assert inc["status"] == "acknowledged" and inc["acknowledged_at"]

    r = send(client, world, {"action": "resolve", "dedup_key": "api-5xx"})
    assert r.json()["events"][0]["result"] == "resolved"
    inc = one_incident(client, world)
    assert inc["status"] == "resolved" and inc["resolved_at"]

    # Resolved: acknowledge and resolve again are accepted and ignored.
    for action in ("acknowledge", "resolve"):
        r = send(client, world, {"action": action, "dedup_key": "api-5xx"})
        assert r.status_code == 202 and r.json()["events"][0]["result"] == "ignored"
    assert count_rows(db, "alerts") == 1

    # Acknowledge without a key cannot say which alert: refused.
    r = send(client, world, {"action": "acknowledge"})
    assert r.status_code == 400
    assert "'dedup_key' is required to acknowledge or resolve" in r.json()["error"]["details"]


def test_routing_key_as_bearer_header(client: TestClient, world: World, db: Database) -> None:
    r = client.post(
        "/integrations/generic",
        json={"summary": "x", "severity": "info"},
        headers={"Authorization": f"Bearer {world.generic_key}"},
    )
    assert r.status_code == 202
    assert count_rows(db, "alerts") == 1
