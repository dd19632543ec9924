"""Major incidents through the REST API, on both databases: a P1 on a tier-1 service is
proposed; the commander or an admin accepts (the incident is major, the major-incident policy's
first step is paged: an outbox row) or rejects with a reason (not proposed again for it)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import assert_error, declare, fields, pd_event, send_pd, timeline
from tests.conftest import World


def a_policy(client: TestClient, world: World) -> int:
    """The incident commanders' rota: Bob first, Alice ten minutes later."""
    r = client.post(
        "/api/v1/escalation-policies",
        json={
            "name": "incident commanders",
            "steps": [
                {"delay_seconds": 600, "targets": [{"type": "user", "id": world.responder_id}]},
                {"delay_seconds": 600, "targets": [{"type": "user", "id": world.admin_id}]},
            ],
        },
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def rules(client: TestClient, world: World, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "on_tier_one": True,
        "on_priority_one": True,
        "alert_burst": None,
        "burst_minutes": 10,
        "escalation_policy_id": None,
    }
    body.update(changes)
    r = client.put("/api/v1/major-incidents/settings", json=body, headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def major(client: TestClient, world: World, incident_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/incidents/{incident_id}/major", headers=world.auth("stakeholder"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def decide(
    client: TestClient, world: World, incident_id: int, who: str = "admin", **body: Any
) -> Any:
    return client.post(f"/api/v1/incidents/{incident_id}/major", json=body, headers=world.auth(who))


def test_a_p1_on_a_tier_one_service_is_proposed_and_accepting_pages_the_commanders_rota(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    r = client.post(
        f"/api/v1/users/{world.responder_id}/contact-methods",
        json={"channel": "email", "address": "bob@example.com"},
        headers=world.auth("responder"),
    )
    assert r.status_code == 201, r.text
    rules(client, world, escalation_policy_id=a_policy(client, world))
    assert send_pd(client, pd_event(world.pagerduty_key)).status_code == 202
    incident = client.get("/api/v1/incidents", headers=admin).json()["items"][0]
    assert incident["priority"] == 1 and incident["major"] is False

    proposal = major(client, world, incident["id"])
    assert proposal["proposed"] is True and proposal["major"] is False
    assert [(x["kind"], x["text"]) for x in proposal["reasons"]] == [
        ("tier_one", "tier-1 payments-db affected"),
        ("priority_one", "priority P1"),
    ]
    # Bob is a responder but not the commander; a blank reason is refused; nothing is stored.
    assert_error(decide(client, world, incident["id"], "responder", accept=True, reason="x"), 403)
    err = assert_error(decide(client, world, incident["id"], accept=True, reason="  "), 422)
    assert "reason" in fields(err)
    assert_error(decide(client, world, incident["id"], accept=True), 422)
    assert major(client, world, incident["id"])["proposed"] is True

    # Once Bob is the commander, he decides.
    r = client.put(
        f"/api/v1/incidents/{incident['id']}/roles/commander",
        json={"user_id": world.responder_id},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    r = decide(client, world, incident["id"], "responder", accept=True, reason="payments are down")
    assert r.status_code == 200, r.text
    assert r.json()["major"] is True and r.json()["proposed"] is False
    assert r.json()["paged"] == ["Bob"]

    assert client.get(f"/api/v1/incidents/{incident['id']}", headers=admin).json()["major"]
    notes = client.get(
        "/api/v1/notifications", params={"incident_id": incident["id"]}, headers=admin
    ).json()["items"]
    paged = [n for n in notes if n["kind"] == "mobilise"]
    assert [(n["user_id"], n["channel"], n["status"]) for n in paged] == [
        (world.responder_id, "email", "pending")
    ]  # the first step only: Alice (step 2) is not paged
    events = {e["kind"]: e for e in timeline(client, world, incident["id"])}
    accepted = events["major_accepted"]
    assert "payments are down" in accepted["message"] and "Bob" in accepted["message"]
    assert accepted["after"]["reasons"] == ["tier_one", "priority_one"]
    assert "incident commanders" in events["mobilised"]["message"]

    # Decided: a second decision is a conflict.
    assert_error(decide(client, world, incident["id"], accept=False, reason="no"), 409)


def test_rejecting_records_the_reason_and_only_a_new_reason_proposes_again(
    client: TestClient, world: World
) -> None:
    incident = declare(client, world, impact=2, urgency=2, service_ids=[world.database_id])
    assert incident["priority"] == 3
    assert [x["kind"] for x in major(client, world, incident["id"])["reasons"]] == ["tier_one"]

    r = decide(client, world, incident["id"], accept=False, reason="only the replica is slow")
    assert r.status_code == 200, r.text
    assert r.json()["major"] is False and r.json()["proposed"] is False and r.json()["paged"] == []
    rejected = [e for e in timeline(client, world, incident["id"]) if e["kind"] == "major_rejected"]
    assert len(rejected) == 1 and "only the replica is slow" in rejected[0]["message"]
    assert major(client, world, incident["id"])["proposed"] is False
    assert_error(decide(client, world, incident["id"], accept=True, reason="changed my mind"), 409)

    # Raised to P1: proposed again, for being P1 only.
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/priority",
        json={"impact": 1, "urgency": 1, "reason": "customers cannot pay"},
        headers=world.auth("responder"),
    )
    assert r.status_code == 200, r.text
    again = major(client, world, incident["id"])
    assert [x["kind"] for x in again["reasons"]] == ["priority_one"]
    # Accepted with no major-incident policy set: marked, nobody more paged, the timeline says so.
    r = decide(client, world, incident["id"], accept=True, reason="now it is")
    assert r.status_code == 200 and r.json()["paged"] == []
    kinds = [e["kind"] for e in timeline(client, world, incident["id"])]
    assert kinds[-2:] == ["major_accepted", "paging_warning"]


def test_no_proposal_is_a_conflict_and_switched_off_rules_propose_nothing(
    client: TestClient, world: World
) -> None:
    rules(client, world, on_tier_one=False, on_priority_one=False)
    incident = declare(client, world, impact=1, urgency=1, service_ids=[world.database_id])
    assert major(client, world, incident["id"]) == {
        "incident_id": incident["id"],
        "major": False,
        "proposed": False,
        "reasons": [],
    }
    err = assert_error(decide(client, world, incident["id"], accept=True, reason="x"), 409)
    assert "no major incident is proposed" in err["message"]
    assert_error(decide(client, world, 999_999, accept=True, reason="x"), 404)


def test_settings_are_admin_only_and_bad_ones_are_refused_with_nothing_stored(
    client: TestClient, world: World
) -> None:
    before = client.get("/api/v1/major-incidents/settings", headers=world.auth("stakeholder"))
    assert before.json() == {
        "on_tier_one": True,
        "on_priority_one": True,
        "alert_burst": None,
        "burst_minutes": 10,
        "escalation_policy_id": None,
    }
    body = {**before.json(), "alert_burst": 50}
    r = client.put("/api/v1/major-incidents/settings", json=body, headers=world.auth())
    assert_error(r, 403)
    for bad, field in (
        ({"escalation_policy_id": 4242}, "escalation_policy_id"),
        ({"burst_minutes": 0}, "burst_minutes"),
        ({"alert_burst": 0}, "alert_burst"),
        ({"surprise": 1}, "surprise"),
    ):
        r = client.put(
            "/api/v1/major-incidents/settings",
            json={**body, **bad},
            headers=world.auth("admin"),
        )
        err = assert_error(r, 422)
        assert any(field in f for f in fields(err)), (bad, err)
    after = client.get("/api/v1/major-incidents/settings", headers=world.auth("stakeholder"))
    assert after.json() == before.json()
    saved = rules(client, world, alert_burst=50, burst_minutes=5)
    assert saved["alert_burst"] == 50 and saved["burst_minutes"] == 5


def test_more_than_n_new_alerts_within_the_window_is_proposed_repeats_do_not_count(
    client: TestClient, world: World
) -> None:
    rules(client, world, on_tier_one=False, on_priority_one=False, alert_burst=3)
    for n in range(3):
        event = pd_event(world.pagerduty_key, dedup_key=f"disk-{n}", severity="warning")
        assert send_pd(client, event).status_code == 202
    # The same key again updates its alert: it is no new arrival.
    event = pd_event(world.pagerduty_key, dedup_key="disk-0", severity="warning")
    assert send_pd(client, event).status_code == 202
    incident = client.get("/api/v1/incidents", headers=world.auth("admin")).json()["items"][0]
    assert incident["priority"] != 1
    assert major(client, world, incident["id"])["proposed"] is False
    event = pd_event(world.pagerduty_key, dedup_key="disk-3", severity="warning")
    assert send_pd(client, event).status_code == 202
    found = major(client, world, incident["id"])
    assert [(x["kind"], x["text"]) for x in found["reasons"]] == [
        ("alert_burst", "4 alerts within 10 min (more than 3)")
    ]
