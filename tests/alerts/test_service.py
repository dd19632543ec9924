"""Intake against the database: grouping next to incidents people declared or resolved by hand."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import World, count_rows
from warroom.db.engine import Database


def event(client: TestClient, world: World, key: str, **extra: Any) -> dict[str, Any]:
    body = {"summary": f"{key} failing", "severity": "error", "dedup_key": key, **extra}
    r = client.post(f"/integrations/generic/{world.generic_key}", json=body)
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def incident_of(client: TestClient, world: World, key: str) -> dict[str, Any]:
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    [alert] = [a for a in alerts if a["dedup_key"] == key and a["status"] != "resolved"]
    r = client.get(f"/api/v1/incidents/{alert['incident_id']}", headers=world.auth())
    return r.json()  # type: ignore[no-any-return]


def test_a_declared_incident_does_not_break_grouping(
    client: TestClient, world: World, db: Database
) -> None:
    event(client, world, "a")
    first = incident_of(client, world, "a")
    r = client.post(
        "/api/v1/incidents",
        headers=world.auth(),
        json={
            "title": "Customers report failed payments",
            "impact": 2,
            "urgency": 1,
            "service_ids": [world.checkout_id],
        },
    )
    assert r.status_code == 201, r.text
    # A second alert of checkout-api, inside the grouping window of the first one's incident:
    # it joins that incident on every database, whatever else is open for the service.
    event(client, world, "b")
    assert incident_of(client, world, "b")["id"] == first["id"]
    assert count_rows(db, "incidents") == 2


def test_an_incident_resolved_by_hand_frees_its_alert_keys(
    client: TestClient, world: World, db: Database
) -> None:
    event(client, world, "a")
    inc = incident_of(client, world, "a")
    r = client.post(f"/api/v1/incidents/{inc['id']}/resolve", headers=world.auth(), json={})
    assert r.status_code == 200, r.text
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert [a["status"] for a in alerts] == ["resolved"]
    # The source still fires: that is a new alert, in a new incident.
    assert event(client, world, "a")["events"][0]["result"] == "opened"
    assert incident_of(client, world, "a")["id"] != inc["id"]
    assert count_rows(db, "alerts") == 2


def test_the_source_acknowledging_then_a_person_resolving(
    client: TestClient, world: World, db: Database
) -> None:
    event(client, world, "a")
    event(client, world, "b")
    inc = incident_of(client, world, "a")
    r = client.post(
        f"/integrations/generic/{world.generic_key}",
        json=[{"action": "acknowledge", "dedup_key": "a"}, {"action": "resolve", "dedup_key": "b"}],
    )
    assert [e["result"] for e in r.json()["events"]] == ["acknowledged", "resolved"]
    inc = client.get(f"/api/v1/incidents/{inc['id']}", headers=world.auth()).json()
    # Nothing is left for anyone to acknowledge: the incident no longer pages.
    assert inc["status"] == "acknowledged"
    r = client.post(f"/api/v1/incidents/{inc['id']}/resolve", headers=world.auth(), json={})
    assert r.status_code == 200
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert {a["status"] for a in alerts} == {"resolved"}


def test_a_resent_alert_is_counted_and_a_changed_one_rewritten(
    client: TestClient, world: World, db: Database
) -> None:
    """The store writes only what changed (ADR 13): the same event again moves the count and the
    last event time; a new summary or severity is stored too; an acknowledgement its status."""
    event(client, world, "a", details={"disk": "sda"})
    assert event(client, world, "a", details={"disk": "sda"})["events"][0]["result"] == "updated"
    with db.read_session() as s:
        row = s.execute(
            text("SELECT event_count, summary, severity, details, status FROM alerts")
        ).one()
    assert (row.event_count, row.summary, row.severity) == (2, "a failing", "error")
    details = json.loads(row.details) if isinstance(row.details, str) else row.details
    assert details["disk"] == "sda"
    event(client, world, "a", summary="a is down", severity="critical", details={"disk": "sdb"})
    r = client.post(
        f"/integrations/generic/{world.generic_key}",
        json={"action": "acknowledge", "dedup_key": "a"},
    )
    assert r.json()["events"][0]["result"] == "acknowledged"
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    [alert] = alerts
    assert (alert["summary"], alert["severity"], alert["status"]) == (
        "a is down",
        "critical",
        "acknowledged",
    )
    with db.read_session() as s:
        count, details = s.execute(text("SELECT event_count, details FROM alerts")).one()
    assert count == 3  # two re-sent triggers counted; the acknowledgement is not a trigger
    stored = json.loads(details) if isinstance(details, str) else details
    assert stored["disk"] == "sdb"
