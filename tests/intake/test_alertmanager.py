"""Alertmanager webhook: the captured 0.25 requests make the alerts and incident a user expects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.conftest import World, count_rows, fixture_bytes
from warroom.catalog.models import Service
from warroom.db.engine import Database
from warroom.intake.alertmanager import fingerprint

JSON = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}
FIRST = "f5b1d9f3bf0ed0b8"  # checkout-1
SECOND = "f08caaa0498986d5"  # checkout-2
STARTS_AT = datetime(2026, 11, 27, 9, 32, 30, 337279, tzinfo=UTC)  # ...30.33727958Z, truncated
GROUP_KEY = '{}:{alertname="HighErrorRate", service="checkout-api"}'


def post(client: TestClient, world: World, body: bytes | str) -> httpx.Response:
    content = fixture_bytes(f"alertmanager/{body}") if isinstance(body, str) else body
    return client.post(
        f"/integrations/alertmanager/{world.alertmanager_key}", content=content, headers=JSON
    )


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_bytes(f"alertmanager/{name}"))
    return data


def alerts_by_key(client: TestClient, world: World) -> dict[str, list[dict[str, Any]]]:
    items = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    found: dict[str, list[dict[str, Any]]] = {}
    for a in sorted(items, key=lambda a: a["id"]):
        found.setdefault(a["dedup_key"], []).append(a)
    return found


def incidents(client: TestClient, world: World) -> list[dict[str, Any]]:
    items = client.get("/api/v1/incidents", headers=world.auth()).json()["items"]
    return sorted(items, key=lambda i: i["id"])


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_three_captured_requests_tell_the_story_of_one_incident(
    client: TestClient, world: World, db: Database
) -> None:
    r = post(client, world, "01-firing-two-alerts.json")
    assert r.status_code == 200
    assert r.json() == {"status": "success", "accepted": 2, "rejected": []}

    alerts = alerts_by_key(client, world)
    assert set(alerts) == {FIRST, SECOND}
    first, second = alerts[FIRST][0], alerts[SECOND][0]
    for alert in (first, second):
        assert alert["status"] == "triggered"
        # endsAt "0001-01-01T00:00:00Z" is Go's zero time: the alert has not ended.
        assert alert["resolved_at"] is None
        assert ts(alert["started_at"]) == STARTS_AT
        assert alert["group_key"] == GROUP_KEY
        assert alert["severity"] == "critical"
        assert alert["service_id"] == world.checkout_id
    assert first["labels"] == {
        "alertname": "HighErrorRate",
        "instance": "checkout-1:8080",
        "job": "checkout",
        "service": "checkout-api",
        "severity": "critical",
    }
    assert second["labels"]["instance"] == "checkout-2:8080"
    assert first["summary"] == "5xx error rate above 5% on checkout-api"
    assert {
        "href": "https://runbooks.example.com/checkout/high-error-rate",
        "text": "Runbook",
    } in first["links"]

    [inc] = incidents(client, world)
    assert first["incident_id"] == second["incident_id"] == inc["id"]
    assert inc["service_ids"] == [world.checkout_id]
    assert inc["status"] == "triggered" and inc["alert_count"] == 2
    assert ts(inc["impact_started_at"]) == STARTS_AT
    # checkout-api is tier 2 (impact 2), critical = urgency 1: P2.
    assert (inc["impact"], inc["urgency"], inc["priority"]) == (2, 1, 2)

    # 02: the group still fires, but checkout-1 resolved; only that alert resolves.
    r = post(client, world, "02-group-firing-one-resolved.json")
    assert r.status_code == 200 and r.json()["accepted"] == 2
    alerts = alerts_by_key(client, world)
    assert [a["status"] for a in alerts[FIRST]] == ["resolved"]
    assert alerts[FIRST][0]["resolved_at"] is not None
    assert [a["status"] for a in alerts[SECOND]] == ["triggered"]
    assert alerts[SECOND][0]["event_count"] == 2  # firing again = the same alert, counted
    [inc] = incidents(client, world)
    assert inc["status"] == "triggered" and inc["resolved_at"] is None

    # 03: the second resolves; no open alert is left, and checkout-api auto-resolves.
    assert post(client, world, "03-group-resolved.json").status_code == 200
    alerts = alerts_by_key(client, world)
    assert [a["status"] for a in alerts[SECOND]] == ["resolved"]
    [inc] = incidents(client, world)
    assert inc["status"] == "resolved" and inc["resolved_at"] is not None
    timeline = client.get(f"/api/v1/incidents/{inc['id']}/timeline", headers=world.auth()).json()[
        "items"
    ]
    assert any(
        e["kind"] == "status_changed" and e["after"] == {"status": "resolved"} for e in timeline
    )
    assert count_rows(db, "alerts") == 2

    # The same fingerprint firing again after the resolve is a new alert (and a new incident).
    assert post(client, world, "01-firing-two-alerts.json").status_code == 200
    alerts = alerts_by_key(client, world)
    assert [a["status"] for a in alerts[FIRST]] == ["resolved", "triggered"]
    assert [a["status"] for a in alerts[SECOND]] == ["resolved", "triggered"]
    old, new = incidents(client, world)
    assert old["status"] == "resolved"
    assert new["status"] == "triggered" and new["alert_count"] == 2
    assert alerts[FIRST][1]["incident_id"] == new["id"]


def test_without_auto_resolve_the_incident_waits_for_a_person(
    client: TestClient, world: World, db: Database
) -> None:
    with db.session() as s:
        s.execute(update(Service).where(Service.id == world.checkout_id).values(auto_resolve=False))
    for name in (
        "01-firing-two-alerts.json",
        "02-group-firing-one-resolved.json",
        "03-group-resolved.json",
    ):
        assert post(client, world, name).status_code == 200
    alerts = alerts_by_key(client, world)
    assert all(a["status"] == "resolved" for a in alerts[FIRST] + alerts[SECOND])
    [inc] = incidents(client, world)
    assert inc["status"] == "triggered" and inc["resolved_at"] is None


def test_routing_key_in_the_authorization_header(
    client: TestClient, world: World, db: Database
) -> None:
    body = fixture_bytes("alertmanager/01-firing-two-alerts.json")
    r = client.post(
        "/integrations/alertmanager",
        content=body,
        headers={**JSON, "Authorization": f"Bearer {world.alertmanager_key}"},
    )
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert count_rows(db, "alerts") == 2

    r = client.post("/integrations/alertmanager", content=body, headers=JSON)
    assert r.status_code == 401
    assert "Authorization: Bearer" in r.json()["error"]["message"]
    r = client.post(
        "/integrations/alertmanager",
        content=body,
        headers={**JSON, "Authorization": "Bearer 0123456789abcdef0123456789abcdef"},
    )
    assert r.status_code == 404
    assert "unknown routing key" in r.json()["error"]["message"]
    assert count_rows(db, "alerts") == 2


def test_a_batch_with_invalid_alerts_keeps_the_valid_ones(
    client: TestClient, world: World, db: Database
) -> None:
    message = fixture("01-firing-two-alerts.json")
    broken_status = {**message["alerts"][0], "status": "pending", "fingerprint": "aaaa"}
    broken_labels = {**message["alerts"][1], "labels": {"severity": 1}, "fingerprint": "bbbb"}
    broken_time = {**message["alerts"][1], "startsAt": "yesterday", "fingerprint": "cccc"}
    message["alerts"] = [
        broken_status,
        message["alerts"][0],
        broken_labels,
        message["alerts"][1],
        broken_time,
        "not an alert",
    ]
    r = post(client, world, json.dumps(message).encode())
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 2
    rejected = {x["index"]: x for x in body["rejected"]}
    assert sorted(rejected) == [0, 2, 4, 5]
    assert rejected[0]["fingerprint"] == "aaaa"
    assert any("status" in e for e in rejected[0]["errors"])
    assert any("labels" in e for e in rejected[2]["errors"])
    assert any("startsAt" in e and "yesterday" in e for e in rejected[4]["errors"])
    assert rejected[5]["errors"] == ["alert must be an object"]
    assert set(alerts_by_key(client, world)) == {FIRST, SECOND}
    assert count_rows(db, "alerts") == 2


def test_a_batch_of_only_invalid_alerts_is_refused_and_stores_nothing(
    client: TestClient, world: World, db: Database
) -> None:
    message = fixture("01-firing-two-alerts.json")
    for alert in message["alerts"]:
        alert["status"] = "unknown"
    r = post(client, world, json.dumps(message).encode())
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["message"] == "No valid alert in the message"
    assert error["details"] == [
        "alerts[0]: 'status' must be 'firing' or 'resolved'",
        "alerts[1]: 'status' must be 'firing' or 'resolved'",
    ]
    assert count_rows(db, "alerts") == count_rows(db, "incidents") == 0
    assert count_rows(db, "timeline_events") == 0


def test_fields_of_newer_alertmanagers_are_ignored(
    client: TestClient, world: World, db: Database
) -> None:
    message = fixture("01-firing-two-alerts.json")
    message["notification_reason"] = "firing"  # 0.32
    message["routeLabels"] = {"team": "payments"}  # 0.34
    message["version"] = "5"
    for alert in message["alerts"]:
        alert["silencedBy"] = []
        alert["someFutureField"] = {"nested": True}
    r = post(client, world, json.dumps(message).encode())
    assert r.status_code == 200
    assert r.json() == {"status": "success", "accepted": 2, "rejected": []}
    assert set(alerts_by_key(client, world)) == {FIRST, SECOND}


def test_an_alert_without_fingerprint_dedups_with_alertmanagers_own(
    client: TestClient, world: World, db: Database
) -> None:
    assert post(client, world, "01-firing-two-alerts.json").status_code == 200
    message = fixture("01-firing-two-alerts.json")
    for alert in message["alerts"]:
        del alert["fingerprint"]
    assert post(client, world, json.dumps(message).encode()).status_code == 200
    alerts = alerts_by_key(client, world)
    # Same label sets = Alertmanager's fingerprints: the open alerts are counted, not duplicated.
    assert set(alerts) == {FIRST, SECOND}
    assert [a["event_count"] for a in alerts[FIRST]] == [2]
    assert count_rows(db, "alerts") == 2


def test_fallback_fingerprint_is_alertmanagers() -> None:
    for alert in fixture("01-firing-two-alerts.json")["alerts"]:
        assert fingerprint(alert["labels"]) == alert["fingerprint"]
    # Go's labelSetToFingerprint of an empty set is the FNV-1a offset basis.
    assert fingerprint({}) == "cbf29ce484222325"
