"""Silences and maintenance end to end through the API and the engine's release timer: held
alerts are stored and shown as such, never page, and page when the hold ends; bad input is
refused with a reason and stores nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import assert_error, pd_event, send_pd
from tests.conftest import World, count_rows
from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.engine import runner


def generic(client: TestClient, world: World, key: str) -> str:
    body = {"summary": f"{key} failing", "severity": "error", "dedup_key": key}
    r = client.post(f"/integrations/generic/{world.generic_key}", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["events"][0]["result"])


def alert(client: TestClient, world: World, key: str) -> dict[str, Any]:
    items = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    [found] = [a for a in items if a["dedup_key"] == key and a["status"] != "resolved"]
    return found  # type: ignore[no-any-return]


def iso(delta: timedelta) -> str:
    return (utcnow() + delta).isoformat()


def incidents(db: Database) -> int:
    """Incidents opened (each pages its policy, or warns that nobody is paged)."""
    return count_rows(db, "incidents")


def silence(client: TestClient, world: World, **body: Any) -> Any:
    payload = {
        "matchers": [{"name": "service", "value": "checkout-api"}],
        "endsAt": iso(timedelta(hours=2)),
        "comment": "deploy",
        **body,
    }
    return client.post("/api/v1/silences", json=payload, headers=world.auth())


def test_a_silence_holds_matching_alerts_and_they_page_when_it_is_expired(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    r = silence(
        client,
        world,
        matchers=[
            {"name": "service", "value": "checkout-api"},
            {"name": "dedup_key", "value": "deploy-.*", "isRegex": True},
        ],
    )
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["status"]["state"] == "active" and s["createdBy"] == "Bob"
    assert s["matchers"][1] == {
        "name": "dedup_key",
        "value": "deploy-.*",
        "isRegex": True,
        "isEqual": True,
    }
    assert generic(client, world, "deploy-a") == "suppressed"
    assert generic(client, world, "b") == "opened"
    held = alert(client, world, "deploy-a")
    assert held["suppression"] == "silenced" and held["suppressed_by"] == {"silence_id": s["id"]}
    assert held["incident_id"] is None
    assert incidents(db) == 1  # only b's incident pages

    # Listing: active; Alertmanager's filter finds it by one of its matchers.
    listed = client.get(
        "/api/v1/silences", params={"filter": 'service="checkout-api"'}, headers=world.auth()
    ).json()
    assert [x["id"] for x in listed] == [s["id"]]
    assert client.get("/api/v1/silences?state=expired", headers=world.auth()).json() == []

    # Expire early: a's alert still fires, so the release timer puts it in an incident and it
    # pages (it joins b's open incident of the same service, within the grouping window).
    r = client.delete(f"/api/v1/silences/{s['id']}", headers=world.auth())
    assert r.status_code == 200 and r.json()["status"]["state"] == "expired"
    assert_error(client.delete(f"/api/v1/silences/{s['id']}", headers=world.auth()), 409)
    engine = runner.Engine(db, settings, "secret")
    engine.fire_due_timers(utcnow() + timedelta(seconds=1))
    released = alert(client, world, "deploy-a")
    assert released["suppression"] is None
    assert released["incident_id"] == alert(client, world, "b")["incident_id"]
    # A new alert of that kind is no longer held.
    assert generic(client, world, "deploy-c") == "opened"


def test_a_released_alert_on_a_quiet_service_opens_and_pages_its_own_incident(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    s = silence(client, world).json()
    assert generic(client, world, "a") == "suppressed"
    assert incidents(db) == 0
    client.delete(f"/api/v1/silences/{s['id']}", headers=world.auth())
    runner.Engine(db, settings, "secret").fire_due_timers(utcnow() + timedelta(seconds=1))
    assert alert(client, world, "a")["incident_id"] is not None
    assert incidents(db) == 1


def test_a_silenced_alert_that_resolves_meanwhile_never_pages(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    s = silence(client, world).json()
    generic(client, world, "a")
    r = client.post(
        f"/integrations/generic/{world.generic_key}",
        json={"summary": "ok", "severity": "info", "dedup_key": "a", "action": "resolve"},
    )
    assert r.status_code == 202, r.text
    client.delete(f"/api/v1/silences/{s['id']}", headers=world.auth())
    runner.Engine(db, settings, "secret").fire_due_timers(utcnow() + timedelta(seconds=1))
    assert count_rows(db, "incidents") == 0


def test_bad_silences_are_refused_with_a_reason_and_nothing_is_stored(
    client: TestClient, world: World, db: Database
) -> None:
    cases = [
        ({"endsAt": iso(timedelta(hours=-1)), "startsAt": iso(timedelta(0))}, "end after"),
        ({"matchers": [{"name": "job", "value": ".*", "isRegex": True}]}, "every alert"),
        ({"matchers": [{"name": "job", "value": "", "isEqual": True}]}, "every alert"),
        ({"matchers": [{"name": "job", "value": "(a)\\1", "isRegex": True}]}, "RE2"),
        ({"matchers": []}, None),
        ({"endsAt": "2026-12-02T10:00:00"}, "time zone"),
        ({"endsAt": iso(timedelta(days=-2)), "startsAt": iso(timedelta(days=-3))}, "past"),
        ({"createdBy": "mallory"}, None),
    ]
    for body, why in cases:
        err = assert_error(silence(client, world, **body), 422)
        if why:
            assert why in err["message"], (body, err)
    assert count_rows(db, "silences") == 0
    assert_error(client.get("/api/v1/silences/999", headers=world.auth()), 404)
    # Stakeholders read but do not silence.
    assert_error(
        silence(client, world)
        if False
        else client.post(
            "/api/v1/silences",
            json={"matchers": [{"name": "a", "value": "b"}], "endsAt": iso(timedelta(hours=1))},
            headers=world.auth("stakeholder"),
        ),
        403,
    )


def test_a_pending_silence_holds_nothing_until_it_starts(
    client: TestClient, world: World, db: Database
) -> None:
    r = silence(client, world, startsAt=iso(timedelta(hours=1)))
    assert r.json()["status"]["state"] == "pending"
    assert generic(client, world, "a") == "opened"
    # Expiring a pending silence works too.
    r = client.delete(f"/api/v1/silences/{r.json()['id']}", headers=world.auth())
    assert r.json()["status"]["state"] == "expired"


def test_a_maintenance_window_holds_a_service_and_its_end_releases_the_alerts(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    r = client.post(
        f"/api/v1/services/{world.checkout_id}/maintenance-windows",
        json={
            "title": "Checkout deploy",
            "starts_at": iso(timedelta(minutes=-1)),
            "ends_at": iso(timedelta(hours=1)),
        },
        headers=world.auth(),
    )
    assert r.status_code == 201, r.text
    w = r.json()
    assert w["in_progress"] and w["service_ids"] == [world.checkout_id]
    assert generic(client, world, "a") == "suppressed"
    assert alert(client, world, "a")["suppression"] == "maintenance"
    # Other services still page (payments-db is not in the window).
    assert send_pd(client, pd_event(world.pagerduty_key)).status_code == 202
    assert incidents(db) == 1
    listed = client.get(
        f"/api/v1/services/{world.checkout_id}/maintenance-windows", headers=world.auth()
    ).json()
    assert [x["id"] for x in listed] == [w["id"]]
    r = client.post(f"/api/v1/maintenance-windows/{w['id']}/cancel", headers=world.auth())
    assert r.status_code == 200 and r.json()["cancelled_at"] is not None
    assert_error(
        client.post(f"/api/v1/maintenance-windows/{w['id']}/cancel", headers=world.auth()), 409
    )
    runner.Engine(db, settings, "secret").fire_due_timers(utcnow() + timedelta(seconds=1))
    assert alert(client, world, "a")["incident_id"] is not None


def test_recurring_windows_and_bad_windows(client: TestClient, world: World, db: Database) -> None:
    url = f"/api/v1/services/{world.checkout_id}/maintenance-windows"
    r = client.post(
        url,
        json={
            "title": "Sunday patching",
            "starts_at": "2026-03-01T01:00:00Z",
            "ends_at": "2026-03-01T02:00:00Z",
            "rrule": "FREQ=WEEKLY;BYDAY=SU",
            "time_zone": "Europe/Berlin",
        },
        headers=world.auth(),
    )
    assert r.status_code == 201, r.text
    nxt = r.json()["next"]
    assert nxt is not None and nxt["starts_at"] > "2026-03-01"
    base = {"title": "x", "starts_at": iso(timedelta(0)), "ends_at": iso(timedelta(hours=1))}
    for body, why in (
        ({"starts_at": iso(timedelta(hours=2))}, "end after"),
        ({"rrule": "FREQ=SECONDLY"}, "more often"),
        ({"rrule": "nonsense"}, "RRULE"),
        ({"time_zone": "Mars/Base"}, "time zone"),
        ({"service_ids": [99999]}, "no such services"),
    ):
        err = assert_error(client.post(url, json={**base, **body}, headers=world.auth()), 422)
        assert why in err["message"], (body, err)
    assert count_rows(db, "maintenance_windows") == 1
    assert_error(
        client.post("/api/v1/services/99999/maintenance-windows", json=base, headers=world.auth()),
        404,
    )
