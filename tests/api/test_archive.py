"""Archiving a service through the API: admins only, refused while incidents are open (named),
its senders told in each tool's own error shape with nothing stored, left out of what can be
chosen, its history kept; unarchiving brings all of it back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import act, assert_error, declare, pd_event, send_pd
from tests.conftest import World, count_rows
from warroom.db.base import utcnow
from warroom.db.engine import Database

ALERTMANAGER = {
    "version": "4",
    "status": "firing",
    "receiver": "warroom",
    "groupKey": '{}:{alertname="HighLatency"}',
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "severity": "critical"},
            "annotations": {"summary": "p99 above 2 s"},
            "startsAt": "2026-12-02T10:00:00Z",
            "fingerprint": "abc123",
        }
    ],
}


GENERIC = {"summary": "x", "severity": "warning"}


def archive(client: TestClient, world: World, sid: int, who: str = "admin") -> Any:
    return client.post(f"/api/v1/services/{sid}/archive", headers=world.auth(who))


def unarchive(client: TestClient, world: World, sid: int, who: str = "admin") -> Any:
    return client.post(f"/api/v1/services/{sid}/unarchive", headers=world.auth(who))


def test_open_incidents_refuse_the_archive_by_number_then_it_archives_and_comes_back(
    client: TestClient, world: World
) -> None:
    a = declare(client, world, service_ids=[world.checkout_id])
    b = declare(client, world, title="Payments fail", service_ids=[world.checkout_id])
    err = assert_error(archive(client, world, world.checkout_id), 409)
    assert f"#{a['id']}" in err["message"] and f"#{b['id']}" in err["message"]
    assert "resolve them first" in err["message"]
    assert [d["field"] for d in err["details"]] == ["incident_ids"]
    svc = client.get(f"/api/v1/services/{world.checkout_id}", headers=world.auth()).json()
    assert svc["archived_at"] is None  # nothing changed

    for incident in (a, b):
        assert act(client, world, incident["id"], "resolve").status_code == 200
    r = archive(client, world, world.checkout_id)
    assert r.status_code == 200, r.text
    assert r.json()["archived_at"] is not None
    assert_error(archive(client, world, world.checkout_id), 409)  # already archived

    listed = client.get("/api/v1/services?archived=true", headers=world.auth()).json()["items"]
    assert [s["id"] for s in listed] == [world.checkout_id]
    in_use = client.get("/api/v1/services?archived=false", headers=world.auth()).json()["items"]
    assert world.checkout_id not in [s["id"] for s in in_use]
    everything = client.get("/api/v1/services", headers=world.auth()).json()["items"]
    assert world.checkout_id in [s["id"] for s in everything]

    # History stays: the incidents are still there and still name the service.
    got = client.get(f"/api/v1/incidents/{a['id']}", headers=world.auth("stakeholder")).json()
    assert got["status"] == "resolved" and world.checkout_id in got["service_ids"]

    r = unarchive(client, world, world.checkout_id)
    assert r.status_code == 200 and r.json()["archived_at"] is None
    assert_error(unarchive(client, world, world.checkout_id), 409)  # not archived
    declare(client, world, service_ids=[world.checkout_id])  # chosen again


def test_only_admins_archive(client: TestClient, world: World) -> None:
    team = client.post(
        "/api/v1/teams",
        json={"name": "Checkout", "member_ids": [world.responder_id]},
        headers=world.auth("admin"),
    ).json()
    client.patch(
        f"/api/v1/services/{world.checkout_id}",
        json={"team_id": team["id"]},
        headers=world.auth("admin"),
    )
    # The owning team's responder edits the service but does not archive it (ADR 10).
    assert_error(archive(client, world, world.checkout_id, "responder"), 403)
    assert_error(archive(client, world, world.checkout_id, "stakeholder"), 403)
    assert archive(client, world, world.checkout_id).status_code == 200
    assert_error(unarchive(client, world, world.checkout_id, "stakeholder"), 403)
    assert_error(unarchive(client, world, world.checkout_id, "responder"), 403)
    assert_error(archive(client, world, 999_999), 404)


def test_senders_of_an_archived_service_are_told_in_their_own_shape_and_nothing_is_stored(
    client: TestClient, world: World, db: Database
) -> None:
    # One event first: on SQLite the intake writer now holds this key in its cache, which the
    # archive (another connection's commit) must drop.
    assert send_pd(client, pd_event(world.pagerduty_key)).status_code == 202
    [incident] = client.get("/api/v1/incidents", headers=world.auth()).json()["items"]
    assert act(client, world, incident["id"], "resolve").status_code == 200
    assert archive(client, world, world.database_id).status_code == 200
    assert archive(client, world, world.checkout_id).status_code == 200
    alerts, incidents = count_rows(db, "alerts"), count_rows(db, "incidents")

    r = send_pd(client, pd_event(world.pagerduty_key, dedup_key="new-one"))
    assert r.status_code == 409
    body = r.json()
    assert set(body) == {"status", "message", "errors"}  # PagerDuty's error shape
    assert body["message"] == "Service is archived"
    assert "'payments-db' is archived" in body["errors"][0]
    assert body["errors"][0].startswith("'routing_key': ")

    for path in (
        f"/integrations/alertmanager/{world.alertmanager_key}",
        f"/integrations/generic/{world.generic_key}",
    ):
        payload: Any = ALERTMANAGER if "alertmanager" in path else GENERIC
        err = assert_error(client.post(path, json=payload), 409)
        assert "'checkout-api' is archived" in err["message"]
        assert "nothing was stored" in err["message"]
    # The key in the header: the same.
    r = client.post(
        "/integrations/generic",
        json=GENERIC,
        headers={"Authorization": f"Bearer {world.generic_key}"},
    )
    assert_error(r, 409)
    assert (count_rows(db, "alerts"), count_rows(db, "incidents")) == (alerts, incidents)

    assert unarchive(client, world, world.database_id).status_code == 200
    assert send_pd(client, pd_event(world.pagerduty_key, dedup_key="new-one")).status_code == 202
    assert count_rows(db, "alerts") == alerts + 1


def test_a_held_alert_is_resolved_by_the_archive(client: TestClient, world: World) -> None:
    ends = (utcnow() + timedelta(hours=2)).isoformat()
    r = client.post(
        "/api/v1/silences",
        json={
            "matchers": [{"name": "service", "value": "payments-db"}],
            "endsAt": ends,
            "comment": "deploy",
        },
        headers=world.auth(),
    )
    assert r.status_code == 201, r.text
    assert send_pd(client, pd_event(world.pagerduty_key)).status_code == 202
    [held] = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert held["incident_id"] is None and held["status"] == "triggered"
    assert archive(client, world, world.database_id).status_code == 200
    got = client.get(f"/api/v1/alerts/{held['id']}", headers=world.auth()).json()
    # No release timer can open an incident for it when the silence ends.
    assert got["status"] == "resolved"


def test_an_archived_service_cannot_be_chosen(client: TestClient, world: World) -> None:
    assert archive(client, world, world.database_id).status_code == 200
    admin = world.auth("admin")
    # Declaring an incident on it.
    r = client.post(
        "/api/v1/incidents",
        json={"title": "x", "impact": 2, "urgency": 2, "service_ids": [world.database_id]},
        headers=world.auth(),
    )
    err = assert_error(r, 422)
    assert "archived" in err["message"] and "payments-db" in err["message"]
    # Reporting a problem with it.
    r = client.post(
        "/api/v1/reports",
        json={"service_id": world.database_id, "description": "cannot pay at all"},
        headers=world.auth("stakeholder"),
    )
    assert_error(r, 422)
    # A new dependency on it; the one checkout-api had before the archive stays.
    r = client.post(
        "/api/v1/services",
        json={"name": "billing", "depends_on_ids": [world.database_id]},
        headers=admin,
    )
    assert_error(r, 422)
    r = client.patch(
        f"/api/v1/services/{world.checkout_id}",
        json={"depends_on_ids": [world.database_id], "tier": 1},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["depends_on_ids"] == [world.database_id]
    # Mapping a status page component to it.
    component = {"name": "Payments", "service_id": world.database_id}
    r = client.post("/api/v1/components", json=component, headers=admin)
    assert_error(r, 422)
    # A monitor on it.
    r = client.post(
        "/api/v1/heartbeats",
        json={"service_id": world.database_id, "name": "backup", "period_seconds": 3600},
        headers=admin,
    )
    assert_error(r, 409)
