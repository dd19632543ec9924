"""Inhibition rules and flap detection end to end through the intake endpoints, the REST API
and the engine's release timer: held alerts are stored and shown as such, never page, and page
when what held them ends; bad rules are refused with a reason and store nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from tests.api.helpers import assert_error
from tests.conftest import World, count_rows
from tests.web.conftest import set_session_cookie
from warroom.catalog.models import User
from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.engine import runner
from warroom.web.sessions import start_session

AM = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.25.0"}


def am(client: TestClient, world: World, *alerts: dict[str, Any]) -> None:
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": a.get("status", "firing"),
                "labels": a["labels"],
                "annotations": {"summary": a.get("summary", a["labels"]["alertname"])},
                "startsAt": "2026-12-02T08:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": a["fp"],
            }
            for a in alerts
        ],
    }
    r = client.post(
        f"/integrations/alertmanager/{world.alertmanager_key}", content=json.dumps(body), headers=AM
    )
    assert r.status_code == 200, r.text


def open_alert(client: TestClient, world: World, key: str) -> dict[str, Any]:
    items = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    [found] = [a for a in items if a["dedup_key"] == key and a["status"] != "resolved"]
    return found  # type: ignore[no-any-return]


def fire_timers(db: Database, settings: Settings, after: timedelta) -> None:
    runner.Engine(db, settings, "secret").fire_due_timers(utcnow() + after)


NODE_RULE: dict[str, Any] = {
    "name": "a node down mutes its pods",
    "source_matchers": [{"name": "alertname", "value": "NodeDown"}],
    "target_matchers": [{"name": "alertname", "value": "Pod.*", "isRegex": True}],
    "equal": ["node"],
    "comment": "the node alert says it all",
}


def test_a_rule_holds_targets_while_the_source_fires_and_they_page_when_it_resolves(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    r = client.post("/api/v1/inhibit-rules", json=NODE_RULE, headers=world.auth())
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["created_by"] == "Bob" and rule["equal"] == ["node"]

    down = {"labels": {"alertname": "NodeDown", "node": "n1"}, "fp": "down-n1"}
    pod1 = {"labels": {"alertname": "PodCrash", "node": "n1"}, "fp": "pod-n1"}
    pod2 = {"labels": {"alertname": "PodCrash", "node": "n2"}, "fp": "pod-n2"}
    am(client, world, down)
    incidents_before = count_rows(db, "incidents")
    am(client, world, pod1, pod2)
    held = open_alert(client, world, "pod-n1")
    source = open_alert(client, world, "down-n1")
    assert held["suppression"] == "inhibited" and held["incident_id"] is None
    assert held["suppressed_by"]["rule_id"] == rule["id"]
    assert held["suppressed_by"]["source_alert_id"] == source["id"]
    # Another node's pod is not muted (it joins the open incident of the service).
    assert open_alert(client, world, "pod-n2")["suppression"] is None
    assert count_rows(db, "incidents") == incidents_before
    listed = client.get("/api/v1/inhibit-rules", headers=world.auth()).json()
    assert [(x["id"], x["inhibiting"]) for x in listed] == [(rule["id"], 1)]

    # The alert page says why it does not page, and names the rule and the source.
    signed_in(client, db)
    page = client.get(f"/alerts/{held['id']}", follow_redirects=False)
    assert "Inhibited by rule" in page.text and "a node down mutes its pods" in page.text

    # The source resolves: the release timer puts the still-firing pod alert in an incident.
    am(client, world, {**down, "status": "resolved"})
    fire_timers(db, settings, timedelta(seconds=1))
    released = open_alert(client, world, "pod-n1")
    assert released["suppression"] is None and released["incident_id"] is not None
    # A new pod alert on n1 is no longer held.
    am(client, world, {"labels": {"alertname": "PodOOM", "node": "n1"}, "fp": "oom-n1"})
    assert open_alert(client, world, "oom-n1")["suppression"] is None


def test_a_rule_created_while_the_source_fires_applies_and_deleting_it_releases(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    am(client, world, {"labels": {"alertname": "NodeDown", "node": "n1"}, "fp": "down-n1"})
    rule = client.post("/api/v1/inhibit-rules", json=NODE_RULE, headers=world.auth()).json()
    am(client, world, {"labels": {"alertname": "PodCrash", "node": "n1"}, "fp": "pod-n1"})
    assert open_alert(client, world, "pod-n1")["suppression"] == "inhibited"
    r = client.delete(f"/api/v1/inhibit-rules/{rule['id']}", headers=world.auth())
    assert r.status_code == 204
    assert_error(client.delete(f"/api/v1/inhibit-rules/{rule['id']}", headers=world.auth()), 404)
    fire_timers(db, settings, timedelta(seconds=1))
    assert open_alert(client, world, "pod-n1")["incident_id"] is not None


def test_a_source_resolved_by_resolving_its_incident_releases_at_the_next_look(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    client.post("/api/v1/inhibit-rules", json=NODE_RULE, headers=world.auth())
    am(client, world, {"labels": {"alertname": "NodeDown", "node": "n1"}, "fp": "down-n1"})
    am(client, world, {"labels": {"alertname": "PodCrash", "node": "n1"}, "fp": "pod-n1"})
    incident = open_alert(client, world, "down-n1")["incident_id"]
    r = client.post(
        f"/api/v1/incidents/{incident}/resolve", json={}, headers=world.auth("responder")
    )
    assert r.status_code == 200, r.text
    assert open_alert(client, world, "pod-n1")["suppression"] == "inhibited"
    fire_timers(db, settings, timedelta(minutes=6))
    assert open_alert(client, world, "pod-n1")["incident_id"] is not None


def test_bad_rules_are_refused_with_a_reason_and_nothing_is_stored(
    client: TestClient, world: World, db: Database
) -> None:
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"source_matchers": [{"name": "job", "value": ".*", "isRegex": True}]}, "every alert"),
        ({"target_matchers": [{"name": "job", "value": "", "isEqual": True}]}, "every alert"),
        ({"source_matchers": [{"name": "a", "value": "(x)\\1", "isRegex": True}]}, "RE2"),
        ({"equal": ["not a label"]}, "not a label name"),
        ({"target_matchers": []}, None),
        ({"name": ""}, None),
        ({"unknown": 1}, None),
    ]
    for body, why in cases:
        err = assert_error(
            client.post("/api/v1/inhibit-rules", json={**NODE_RULE, **body}, headers=world.auth()),
            422,
        )
        if why:
            assert why in err["message"], (body, err)
    assert count_rows(db, "inhibit_rules") == 0
    assert_error(client.get("/api/v1/inhibit-rules/9", headers=world.auth()), 404)
    assert_error(
        client.post("/api/v1/inhibit-rules", json=NODE_RULE, headers=world.auth("stakeholder")),
        403,
    )
    assert client.get("/api/v1/inhibit-rules", headers=world.auth("stakeholder")).json() == []


# --- flapping --------------------------------------------------------------------------------


def generic(client: TestClient, world: World, key: str, action: str = "trigger") -> str:
    body = {"summary": f"{key} failing", "severity": "error", "dedup_key": key, "action": action}
    r = client.post(f"/integrations/generic/{world.generic_key}", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["events"][0]["result"])


def test_a_flapping_alert_is_held_summarised_and_pages_once_when_stable(
    client: TestClient, world: World, db: Database, settings: Settings
) -> None:
    # Tighter than the default for checkout-api: more than 3 changes in 30 minutes.
    r = client.patch(
        f"/api/v1/services/{world.checkout_id}",
        json={"flap_threshold": 3, "flap_window_minutes": 30},
        headers=world.auth("admin"),
    )
    assert r.status_code == 200 and r.json()["flap_threshold"] == 3, r.text
    results = []
    for _ in range(3):
        results.append(generic(client, world, "flappy"))
        results.append(generic(client, world, "flappy", "resolve"))
    assert results == ["opened", "resolved"] * 2 + ["suppressed", "resolved"]
    paged = count_rows(db, "incidents")
    assert paged == 2  # the first two openings paged; the third (5th change) was held
    assert generic(client, world, "flappy") == "suppressed"
    held = open_alert(client, world, "flappy")
    assert held["suppression"] == "flapping" and held["incident_id"] is None
    assert held["suppressed_by"]["summary"] == "flapping: 7 changes in 30 min"
    signed_in(client, db)
    page = client.get(f"/alerts/{held['id']}", follow_redirects=False)
    assert "flapping: 7 changes in 30 min" in page.text

    # Half an hour later: not yet stable.
    fire_timers(db, settings, timedelta(minutes=20))
    assert open_alert(client, world, "flappy")["incident_id"] is None
    # Stable for the window and still firing: it pages, once, with the summary on the timeline.
    fire_timers(db, settings, timedelta(minutes=31))
    released = open_alert(client, world, "flappy")
    assert released["suppression"] is None and released["incident_id"] is not None
    assert count_rows(db, "incidents") == paged + 1
    with db.read_session() as s:
        messages = s.execute(
            text("SELECT message FROM timeline_events WHERE kind = 'alert_flapping'")
        ).scalars()
        assert any("flapping: 7 changes in 30 min" in m for m in messages)

    # Back to the default; 0 turns it off.
    r = client.patch(
        f"/api/v1/services/{world.checkout_id}",
        json={"flap_threshold": None, "flap_window_minutes": None},
        headers=world.auth("admin"),
    )
    assert r.json()["flap_threshold"] is None
    assert_error(
        client.patch(
            f"/api/v1/services/{world.checkout_id}",
            json={"flap_threshold": -1},
            headers=world.auth("admin"),
        ),
        422,
    )


def test_flap_detection_off_for_a_service_pages_every_time(
    client: TestClient, world: World, db: Database
) -> None:
    client.patch(
        f"/api/v1/services/{world.checkout_id}",
        json={"flap_threshold": 0},
        headers=world.auth("admin"),
    )
    for _ in range(5):
        assert generic(client, world, "k") == "opened"
        generic(client, world, "k", "resolve")
    assert count_rows(db, "alert_flaps") == 0


def signed_in(client: TestClient, db: Database) -> None:
    """Bob's browser session (made directly, as the web tests do)."""
    with db.session() as s:
        user = s.scalars(select(User).where(User.username == "bob")).one()
        token = start_session(s, user, datetime.now(UTC)).token
    set_session_cookie(client, token)
