"""Incidents through the REST API: declaring, the lifecycle, alerts, priority, roles, tasks,
the timeline, list filters and pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.api.helpers import (
    act,
    assert_error,
    declare,
    fields,
    get_incident,
    pd_event,
    send_pd,
    timeline,
    ts,
    user_events,
)
from tests.conftest import World, count_rows
from warroom.db.engine import Database

MATRIX = {  # (impact, urgency) -> priority, the product's ITIL matrix
    (1, 1): 1,
    (1, 2): 2,
    (1, 3): 3,
    (2, 1): 2,
    (2, 2): 3,
    (2, 3): 4,
    (3, 1): 3,
    (3, 2): 4,
    (3, 3): 4,
}
NAMES = {1: "P1 critical", 2: "P2 high", 3: "P3 moderate", 4: "P4 low"}


# --- declaring ---------------------------------------------------------------------------------


def test_declared_incident_gets_priority_from_the_matrix(client: TestClient, world: World) -> None:
    for (impact, urgency), priority in MATRIX.items():
        inc = declare(client, world, title=f"i{impact} u{urgency}", impact=impact, urgency=urgency)
        assert (inc["impact"], inc["urgency"], inc["priority"]) == (impact, urgency, priority)
        assert inc["priority_name"] == NAMES[priority]
    inc = declare(
        client,
        world,
        title="Payments down",
        description="card payments fail",
        impact=2,
        urgency=1,
        service_ids=[world.checkout_id, world.database_id],
    )
    assert inc["priority"] == 2 and inc["priority_name"] == "P2 high"
    assert inc["status"] == "triggered" and inc["source"] == "declared"
    assert inc["priority_source"] == "manual"
    assert inc["service_ids"] == sorted([world.checkout_id, world.database_id])
    assert inc["description"] == "card payments fail"
    assert inc["triggered_at"] and inc["acknowledged_at"] is None and inc["roles"] == []
    # What the POST answered is what is stored.
    assert get_incident(client, world, inc["id"]) == inc
    events = user_events(client, world, inc["id"])
    assert [e["kind"] for e in events] == ["incident_declared"]
    assert events[0]["actor_name"] == "Bob" and events[0]["actor_id"] == world.responder_id
    assert events[0]["after"]["priority"] == 2


def test_declare_refuses_bad_input_and_stores_nothing(
    client: TestClient, world: World, db: Database
) -> None:
    auth = world.auth()
    for body, field in [
        ({"title": "x", "impact": 4, "urgency": 1}, "impact"),
        ({"title": "x", "impact": 1, "urgency": 0}, "urgency"),
        ({"title": "", "impact": 1, "urgency": 1}, "title"),
        ({"impact": 1, "urgency": 1}, "title"),
    ]:
        err = assert_error(client.post("/api/v1/incidents", json=body, headers=auth), 422)
        assert field in fields(err), err
    err = assert_error(
        client.post(
            "/api/v1/incidents",
            json={
                "title": "x",
                "impact": 1,
                "urgency": 1,
                "service_ids": [world.checkout_id, 99999],
            },
            headers=auth,
        ),
        422,
    )
    assert "99999" in err["message"]
    assert count_rows(db, "incidents") == 0
    assert count_rows(db, "timeline_events") == 0
    assert count_rows(db, "incident_services") == 0


# --- lifecycle ---------------------------------------------------------------------------------


def test_full_lifecycle_stores_each_transition_time(client: TestClient, world: World) -> None:
    inc = declare(client, world, impact=2, urgency=1)
    iid = inc["id"]

    r = act(client, world, iid, "acknowledge")
    assert r.status_code == 200, r.text
    acked = get_incident(client, world, iid)
    assert acked["status"] == "acknowledged"
    ack_at = ts(acked["acknowledged_at"])
    assert ack_at >= ts(inc["triggered_at"])

    r = act(client, world, iid, "mitigate", note="failed over to the replica")
    assert r.status_code == 200, r.text
    mitigated = get_incident(client, world, iid)
    assert mitigated["status"] == "mitigated"
    assert ts(mitigated["mitigated_at"]) >= ack_at
    assert ts(mitigated["acknowledged_at"]) == ack_at

    assert act(client, world, iid, "resolve").status_code == 200
    resolved = get_incident(client, world, iid)
    first_resolved_at = ts(resolved["resolved_at"])
    assert resolved["status"] == "resolved"
    assert first_resolved_at >= ts(mitigated["mitigated_at"])
    assert resolved["closed_at"] is None

    # Reopen: back to acknowledged, no longer mitigated/resolved; the first ack time stays.
    r = act(client, world, iid, "reopen")
    assert r.status_code == 200, r.text
    reopened = get_incident(client, world, iid)
    assert reopened["status"] == "acknowledged"
    assert ts(reopened["acknowledged_at"]) == ack_at
    assert reopened["mitigated_at"] is None and reopened["resolved_at"] is None

    assert act(client, world, iid, "resolve").status_code == 200
    resolved_again = get_incident(client, world, iid)
    assert resolved_again["status"] == "resolved"
    assert ts(resolved_again["resolved_at"]) > first_resolved_at

    r = act(client, world, iid, "close", who="admin")
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed == get_incident(client, world, iid)
    assert closed["status"] == "closed"
    assert ts(closed["closed_at"]) >= ts(resolved_again["resolved_at"])
    assert ts(closed["resolved_at"]) == ts(resolved_again["resolved_at"])
    assert ts(closed["acknowledged_at"]) == ack_at

    events = [e for e in timeline(client, world, iid) if e["kind"] == "status_changed"]
    assert [(e["before"]["status"], e["after"]["status"]) for e in events] == [
        ("triggered", "acknowledged"),
        ("acknowledged", "mitigated"),
        ("mitigated", "resolved"),
        ("resolved", "acknowledged"),
        ("acknowledged", "resolved"),
        ("resolved", "closed"),
    ]
    assert [e["actor_name"] for e in events] == ["Bob"] * 5 + ["Alice"]
    assert "failed over to the replica" in events[1]["message"]


def test_forbidden_transitions_are_409_and_change_nothing(client: TestClient, world: World) -> None:
    def refused(iid: int, action: str, words: str) -> None:
        before = get_incident(client, world, iid)
        events_before = timeline(client, world, iid)
        err = assert_error(act(client, world, iid, action), 409, "conflict")
        assert words in err["message"], err["message"]
        assert get_incident(client, world, iid) == before
        assert timeline(client, world, iid) == events_before

    iid = declare(client, world)["id"]
    refused(iid, "reopen", "only a resolved incident can be reopened")
    refused(iid, "close", "only a resolved incident can be closed")
    act(client, world, iid, "acknowledge")
    refused(iid, "acknowledge", "already acknowledged")
    act(client, world, iid, "mitigate")
    refused(iid, "mitigate", "already mitigated")
    refused(iid, "acknowledge", "already mitigated")
    act(client, world, iid, "resolve")
    refused(iid, "acknowledge", "reopen it first")
    refused(iid, "mitigate", "reopen it first")
    refused(iid, "resolve", "already resolved")
    act(client, world, iid, "close")
    refused(iid, "reopen", "cannot be reopened")
    refused(iid, "resolve", "closed")
    refused(iid, "close", "already closed")

    assert_error(act(client, world, 99999, "acknowledge"), 404, "not_found")


# --- alerts and incidents ----------------------------------------------------------------------


def test_resolving_an_incident_resolves_its_alerts_and_frees_the_key(
    client: TestClient, world: World, db: Database
) -> None:
    r = send_pd(client, pd_event(world.pagerduty_key, dedup_key="db-disk"))
    assert r.status_code == 202, r.text
    auth = world.auth()
    alert = client.get("/api/v1/alerts", headers=auth).json()["items"][0]
    assert alert["status"] == "triggered" and alert["incident_id"]
    iid = alert["incident_id"]
    inc = get_incident(client, world, iid)
    # payments-db is tier 1 and the event critical: P1.
    assert inc["priority"] == 1 and inc["alert_count"] == 1

    assert act(client, world, iid, "acknowledge").status_code == 200
    alert = client.get(f"/api/v1/alerts/{alert['id']}", headers=auth).json()
    assert alert["status"] == "acknowledged" and alert["acknowledged_at"]

    assert act(client, world, iid, "resolve").status_code == 200
    alert = client.get(f"/api/v1/alerts/{alert['id']}", headers=auth).json()
    assert alert["status"] == "resolved" and alert["resolved_at"]
    assert (
        client.get("/api/v1/alerts", params={"status": "triggered"}, headers=auth).json()["items"]
        == []
    )

    # The same key again: a new alert and a new incident; the old ones stay resolved.
    r = send_pd(client, pd_event(world.pagerduty_key, dedup_key="db-disk"))
    assert r.status_code == 202, r.text
    assert count_rows(db, "alerts") == 2
    assert count_rows(db, "incidents") == 2
    alerts = client.get("/api/v1/alerts", headers=auth).json()["items"]
    new = next(a for a in alerts if a["id"] != alert["id"])
    assert new["dedup_key"] == "db-disk" and new["status"] == "triggered"
    assert new["incident_id"] != iid
    assert get_incident(client, world, new["incident_id"])["status"] == "triggered"
    assert get_incident(client, world, iid)["status"] == "resolved"
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=auth).json()["status"] == "resolved"


def test_alerts_group_into_the_alert_born_incident_next_to_a_declared_one(
    client: TestClient, world: World, db: Database
) -> None:
    """A hand-declared incident for a service must not hide the service's alert-born incident
    from grouping: the second alert joins the first alert's incident on both backends
    (PostgreSQL sorts the declared incident's NULL last_alert_at first in DESC order)."""
    assert send_pd(client, pd_event(world.pagerduty_key, dedup_key="a")).status_code == 202
    first = client.get("/api/v1/incidents", headers=world.auth()).json()["items"][0]
    declare(client, world, title="Payments look odd", service_ids=[world.database_id])
    assert send_pd(client, pd_event(world.pagerduty_key, dedup_key="b")).status_code == 202
    assert count_rows(db, "incidents") == 2
    assert get_incident(client, world, first["id"])["alert_count"] == 2


def test_a_manual_priority_is_kept_when_more_severe_alerts_join(
    client: TestClient, world: World
) -> None:
    r = send_pd(client, pd_event(world.pagerduty_key, dedup_key="a", severity="info"))
    assert r.status_code == 202
    inc = client.get("/api/v1/incidents", headers=world.auth()).json()["items"][0]
    # payments-db is tier 1: impact 1 x urgency 3 (info) = P3.
    assert (inc["impact"], inc["urgency"], inc["priority"], inc["priority_source"]) == (
        1,
        3,
        3,
        "auto",
    )
    r = client.post(
        f"/api/v1/incidents/{inc['id']}/priority",
        json={"impact": 3, "reason": "staging replica only"},
        headers=world.auth(),
    )
    assert r.json()["priority"] == 4 and r.json()["priority_source"] == "manual"
    assert send_pd(client, pd_event(world.pagerduty_key, dedup_key="b")).status_code == 202
    after = get_incident(client, world, inc["id"])
    assert after["alert_count"] == 2  # grouped into the same incident
    assert (after["impact"], after["urgency"], after["priority"]) == (3, 3, 4)


# --- priority ----------------------------------------------------------------------------------


def test_priority_change_needs_a_reason_and_follows_the_matrix(
    client: TestClient, world: World
) -> None:
    inc = declare(client, world, impact=2, urgency=1)
    iid = inc["id"]
    url = f"/api/v1/incidents/{iid}/priority"
    auth = world.auth()

    err = assert_error(client.post(url, json={"urgency": 3}, headers=auth), 422)
    assert "reason" in fields(err)
    err = assert_error(client.post(url, json={"urgency": 3, "reason": "   "}, headers=auth), 422)
    assert "reason" in fields(err)
    assert_error(client.post(url, json={"reason": "why not"}, headers=auth), 422)
    err = assert_error(client.post(url, json={"impact": 0, "reason": "x"}, headers=auth), 422)
    assert "impact" in fields(err)
    assert_error(
        client.post(url, json={"impact": 2, "urgency": 1, "reason": "same"}, headers=auth), 409
    )
    assert get_incident(client, world, iid) == inc
    assert [e["kind"] for e in user_events(client, world, iid)] == ["incident_declared"]

    r = client.post(
        url, json={"urgency": 3, "reason": "only internal users affected"}, headers=auth
    )
    assert r.status_code == 200, r.text
    changed = get_incident(client, world, iid)
    assert (changed["impact"], changed["urgency"], changed["priority"]) == (2, 3, 4)
    assert changed["priority_name"] == "P4 low"

    r = client.post(
        url,
        json={"impact": 1, "urgency": 1, "reason": "all customers now"},
        headers=world.auth("admin"),
    )
    assert r.json()["priority"] == 1

    events = [e for e in timeline(client, world, iid) if e["kind"] == "priority_changed"]
    assert len(events) == 2
    assert events[0]["before"] == {"impact": 2, "urgency": 1, "priority": 2}
    assert events[0]["after"] == {
        "impact": 2,
        "urgency": 3,
        "priority": 4,
        "reason": "only internal users affected",
    }
    assert "only internal users affected" in events[0]["message"]
    assert events[0]["actor_name"] == "Bob"
    assert events[1]["before"] == {"impact": 2, "urgency": 3, "priority": 4}
    assert events[1]["after"]["priority"] == 1
    assert events[1]["actor_name"] == "Alice"


# --- notes and roles ---------------------------------------------------------------------------


def test_notes_are_kept_on_the_timeline(client: TestClient, world: World) -> None:
    iid = declare(client, world)["id"]
    r = client.post(
        f"/api/v1/incidents/{iid}/notes", json={"text": "Rolled back 4.2.1"}, headers=world.auth()
    )
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["kind"] == "note" and note["message"] == "Rolled back 4.2.1"
    assert note["actor_name"] == "Bob" and note["actor_type"] == "user"
    assert timeline(client, world, iid)[-1] == note
    err = assert_error(
        client.post(f"/api/v1/incidents/{iid}/notes", json={"text": ""}, headers=world.auth()), 422
    )
    assert "text" in fields(err)
    assert_error(
        client.post("/api/v1/incidents/99999/notes", json={"text": "x"}, headers=world.auth()), 404
    )
    assert [e["kind"] for e in user_events(client, world, iid)] == ["incident_declared", "note"]


def test_assigning_and_releasing_roles(client: TestClient, world: World, db: Database) -> None:
    iid = declare(client, world)["id"]
    auth = world.auth()

    def assign(role: str, user_id: int) -> dict:  # type: ignore[type-arg]
        r = client.put(
            f"/api/v1/incidents/{iid}/roles/{role}", json={"user_id": user_id}, headers=auth
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    assign("commander", world.admin_id)
    assign("communications_lead", world.stakeholder_id)
    assign("operations_lead", world.responder_id)
    inc = assign("scribe", world.admin_id)
    assert {(x["role"], x["user_id"]) for x in inc["roles"]} == {
        ("commander", world.admin_id),
        ("communications_lead", world.stakeholder_id),
        ("operations_lead", world.responder_id),
        ("scribe", world.admin_id),
    }
    assert get_incident(client, world, iid)["roles"] == inc["roles"]

    # Handing over the command records who had it.
    inc = assign("commander", world.responder_id)
    commander = [x for x in inc["roles"] if x["role"] == "commander"]
    assert [x["user_id"] for x in commander] == [world.responder_id]

    before = count_rows(db, "timeline_events")
    err = assert_error(
        client.put(
            f"/api/v1/incidents/{iid}/roles/janitor", json={"user_id": world.admin_id}, headers=auth
        ),
        422,
    )
    assert "role" in " ".join(fields(err))
    err = assert_error(
        client.put(f"/api/v1/incidents/{iid}/roles/scribe", json={"user_id": 99999}, headers=auth),
        422,
    )
    assert "user_id" in fields(err)
    assert_error(
        client.put(
            "/api/v1/incidents/99999/roles/scribe", json={"user_id": world.admin_id}, headers=auth
        ),
        404,
    )
    assert count_rows(db, "timeline_events") == before

    r = client.delete(f"/api/v1/incidents/{iid}/roles/scribe", headers=auth)
    assert r.status_code == 200, r.text
    assert "scribe" not in {x["role"] for x in r.json()["roles"]}
    assert "scribe" not in {x["role"] for x in get_incident(client, world, iid)["roles"]}
    assert_error(client.delete(f"/api/v1/incidents/{iid}/roles/scribe", headers=auth), 404)

    events = [e for e in timeline(client, world, iid) if e["kind"].startswith("role_")]
    assert [e["kind"] for e in events] == ["role_assigned"] * 5 + ["role_unassigned"]
    assert events[0]["before"] is None
    assert events[0]["after"] == {"role": "commander", "user_id": world.admin_id}
    assert events[4]["before"] == {"user_id": world.admin_id}
    assert events[4]["after"] == {"role": "commander", "user_id": world.responder_id}
    assert events[5]["before"] == {"role": "scribe", "user_id": world.admin_id}
    assert all(e["actor_name"] == "Bob" for e in events)


def test_deactivated_user_cannot_take_a_role(client: TestClient, world: World) -> None:
    iid = declare(client, world)["id"]
    r = client.post(
        "/api/v1/users", json={"username": "dave", "name": "Dave"}, headers=world.auth("admin")
    )
    dave = r.json()["id"]
    r = client.patch(f"/api/v1/users/{dave}", json={"active": False}, headers=world.auth("admin"))
    assert r.status_code == 200 and r.json()["active"] is False
    assert_error(
        client.put(
            f"/api/v1/incidents/{iid}/roles/commander", json={"user_id": dave}, headers=world.auth()
        ),
        422,
    )
    assert get_incident(client, world, iid)["roles"] == []


# --- tasks -------------------------------------------------------------------------------------


def test_tasks_with_owner_and_due_time(client: TestClient, world: World, db: Database) -> None:
    iid = declare(client, world)["id"]
    url = f"/api/v1/incidents/{iid}/tasks"
    auth = world.auth()

    r = client.post(
        url,
        json={
            "title": "Fail over the database",
            "owner_id": world.admin_id,
            "due_at": "2030-01-01T10:00:00+02:00",
        },
        headers=auth,
    )
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["status"] == "open" and task["done_at"] is None
    assert task["owner_id"] == world.admin_id
    assert ts(task["due_at"]) == datetime(2030, 1, 1, 8, 0, tzinfo=UTC)

    stored = client.get(url, headers=world.auth("stakeholder")).json()
    assert len(stored) == 1 and stored[0]["id"] == task["id"]
    assert ts(stored[0]["due_at"]) == datetime(2030, 1, 1, 8, 0, tzinfo=UTC)

    before = count_rows(db, "tasks")
    err = assert_error(
        client.post(url, json={"title": "x", "due_at": "2030-01-01T10:00:00"}, headers=auth), 422
    )
    assert "due_at" in fields(err)
    assert_error(client.post(url, json={"title": "x", "owner_id": 99999}, headers=auth), 422)
    assert_error(client.post(url, json={"title": ""}, headers=auth), 422)
    assert_error(
        client.patch(f"{url}/{task['id']}", json={"due_at": "2030-01-01T10:00:00"}, headers=auth),
        422,
    )
    assert_error(client.patch(f"{url}/{task['id']}", json={"status": "maybe"}, headers=auth), 422)
    assert count_rows(db, "tasks") == before

    r = client.patch(f"{url}/{task['id']}", json={"status": "done"}, headers=auth)
    assert r.status_code == 200, r.text
    done = client.get(url, headers=auth).json()[0]
    assert done["status"] == "done" and done["done_at"]
    r = client.patch(
        f"{url}/{task['id']}", json={"status": "open", "owner_id": world.responder_id}, headers=auth
    )
    reopened = client.get(url, headers=auth).json()[0]
    assert reopened["status"] == "open" and reopened["done_at"] is None
    assert reopened["owner_id"] == world.responder_id

    other = declare(client, world)["id"]
    assert_error(
        client.patch(
            f"/api/v1/incidents/{other}/tasks/{task['id']}", json={"status": "done"}, headers=auth
        ),
        404,
    )

    events = [e for e in timeline(client, world, iid) if e["kind"].startswith("task_")]
    assert [e["kind"] for e in events] == ["task_added", "task_updated", "task_updated"]
    assert events[0]["after"]["owner_id"] == world.admin_id
    assert ts(events[0]["after"]["due_at"]) == datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
    assert events[1]["before"] == {"task_id": task["id"], "status": "open"}
    assert events[1]["after"] == {"task_id": task["id"], "status": "done"}
    assert "completed" in events[1]["message"]
    assert events[2]["before"] == {
        "task_id": task["id"],
        "status": "done",
        "owner_id": world.admin_id,
    }


# --- the timeline ------------------------------------------------------------------------------


def test_timeline_lists_every_change_in_order(client: TestClient, world: World) -> None:
    iid = declare(client, world, impact=3, urgency=3)["id"]
    act(client, world, iid, "acknowledge")
    client.post(
        f"/api/v1/incidents/{iid}/priority",
        json={"impact": 1, "reason": "spreading"},
        headers=world.auth("admin"),
    )
    client.put(
        f"/api/v1/incidents/{iid}/roles/commander",
        json={"user_id": world.admin_id},
        headers=world.auth("admin"),
    )
    client.post(
        f"/api/v1/incidents/{iid}/notes", json={"text": "cache purged"}, headers=world.auth()
    )
    client.post(
        f"/api/v1/incidents/{iid}/tasks",
        json={"title": "Post to status page"},
        headers=world.auth(),
    )
    act(client, world, iid, "resolve")

    everything = timeline(client, world, iid)
    # Whatever the system adds (paging warnings...) is marked as the system's, not a person's.
    assert all(
        e["actor_type"] == "system" and e["actor_id"] is None
        for e in everything
        if e["actor_type"] != "user"
    )
    events = [e for e in everything if e["actor_type"] == "user"]
    assert [(e["kind"], e["actor_name"]) for e in events] == [
        ("incident_declared", "Bob"),
        ("status_changed", "Bob"),
        ("priority_changed", "Alice"),
        ("role_assigned", "Alice"),
        ("note", "Bob"),
        ("task_added", "Bob"),
        ("status_changed", "Bob"),
    ]
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids)
    times = [ts(e["at"]) for e in everything]
    assert times == sorted(times)
    assert events[2]["before"]["priority"] == 4 and events[2]["after"]["priority"] == 3
    assert events[1]["before"] == {"status": "triggered"}
    assert events[1]["after"] == {"status": "acknowledged"}
    assert events[3]["after"] == {"role": "commander", "user_id": world.admin_id}
    assert events[4]["message"] == "cache purged"
    assert events[5]["after"]["title"] == "Post to status page"

    # Reading on from a known event, a page at a time (the live view polls this way).
    url = f"/api/v1/incidents/{iid}/timeline"
    page = client.get(url, params={"limit": 3}, headers=world.auth()).json()
    assert [e["id"] for e in page["items"]] == ids[:3]
    assert page["next_cursor"] == str(ids[2])
    rest = client.get(url, params={"after": ids[2]}, headers=world.auth()).json()
    assert [e["id"] for e in rest["items"]] == ids[3:] and rest["next_cursor"] is None
    assert_error(client.get(url, params={"limit": 0}, headers=world.auth()), 422)
    assert_error(client.get("/api/v1/incidents/99999/timeline", headers=world.auth()), 404)


# --- lists -------------------------------------------------------------------------------------


def _ids(client: TestClient, world: World, **params: object) -> list[int]:
    r = client.get("/api/v1/incidents", params=params, headers=world.auth("stakeholder"))
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def test_list_filters(client: TestClient, world: World) -> None:
    a = declare(client, world, impact=1, urgency=1, service_ids=[world.checkout_id])
    b = declare(client, world, impact=2, urgency=2, service_ids=[world.database_id])
    c = declare(
        client, world, impact=3, urgency=3, service_ids=[world.database_id, world.checkout_id]
    )
    d = declare(client, world, impact=1, urgency=2)
    act(client, world, b["id"], "mitigate")
    act(client, world, c["id"], "resolve")
    act(client, world, d["id"], "resolve")
    act(client, world, d["id"], "close")
    A, B, C, D = a["id"], b["id"], c["id"], d["id"]

    assert _ids(client, world) == [D, C, B, A]  # newest first
    assert _ids(client, world, status="open") == [B, A]
    assert _ids(client, world, status="mitigated") == [B]
    assert _ids(client, world, status=["resolved", "closed"]) == [D, C]
    assert _ids(client, world, status=["open", "closed"]) == [D, B, A]
    assert _ids(client, world, service_id=world.checkout_id) == [C, A]
    assert _ids(client, world, service_id=world.database_id) == [C, B]
    assert _ids(client, world, priority=1) == [A]
    assert _ids(client, world, priority=[2, 4]) == [D, C]
    assert _ids(client, world, status="open", priority=[1, 3]) == [B, A]
    assert _ids(client, world, service_id=world.checkout_id, status="open") == [A]

    # since is inclusive, until exclusive, both on the trigger time; any UTC offset works.
    b_at = ts(b["triggered_at"])
    c_at = ts(c["triggered_at"])
    assert _ids(client, world, since=b_at.isoformat()) == [D, C, B]
    assert _ids(client, world, until=b_at.isoformat()) == [A]
    assert _ids(client, world, since=b_at.isoformat(), until=c_at.isoformat()) == [B]
    in_tokyo = b_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert _ids(client, world, since=in_tokyo.isoformat()) == [D, C, B]
    assert (
        _ids(
            client,
            world,
            since=(b_at - timedelta(days=1)).isoformat(),
            until=(b_at - timedelta(hours=1)).isoformat(),
        )
        == []
    )

    auth = world.auth()
    assert_error(client.get("/api/v1/incidents", params={"status": "sleeping"}, headers=auth), 422)
    assert_error(client.get("/api/v1/incidents", params={"priority": 9}, headers=auth), 422)
    err = assert_error(
        client.get("/api/v1/incidents", params={"since": "2026-01-01T00:00:00"}, headers=auth), 422
    )
    assert "since" in err["message"]
    assert_error(
        client.get(
            "/api/v1/incidents",
            params={"since": c_at.isoformat(), "until": b_at.isoformat()},
            headers=auth,
        ),
        422,
    )


def test_keyset_pagination(client: TestClient, world: World) -> None:
    made = [declare(client, world, title=f"incident {n}", impact=1 + n % 3)["id"] for n in range(5)]
    newest_first = made[::-1]
    auth = world.auth("stakeholder")

    seen: list[int] = []
    pages: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, object] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = client.get("/api/v1/incidents", params=params, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(len(body["items"]))
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10
    assert pages == [2, 2, 1]
    assert seen == newest_first

    # An exact multiple of the page size ends without an empty trailing page.
    r = client.get("/api/v1/incidents", params={"limit": 2, "cursor": str(made[3])}, headers=auth)
    body = r.json()
    assert [i["id"] for i in body["items"]] == [made[2], made[1]]
    r = client.get("/api/v1/incidents", params={"limit": 4}, headers=auth)
    assert len(r.json()["items"]) == 4 and r.json()["next_cursor"] is not None
    r = client.get("/api/v1/incidents", params={"limit": 5}, headers=auth)
    assert len(r.json()["items"]) == 5 and r.json()["next_cursor"] is None

    # A new incident declared while paging does not shift the pages already read.
    r = client.get("/api/v1/incidents", params={"limit": 2}, headers=auth)
    first = r.json()
    declare(client, world, title="late")
    r = client.get(
        "/api/v1/incidents", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth
    )
    assert [i["id"] for i in r.json()["items"]] == newest_first[2:4]

    # Pagination composes with filters: impact 1 x urgency 2 (P2) are made[0] and made[3].
    r = client.get("/api/v1/incidents", params={"limit": 1, "priority": 2}, headers=auth)
    body = r.json()
    assert [i["id"] for i in body["items"]] == [made[3]] and body["next_cursor"]
    r = client.get(
        "/api/v1/incidents",
        params={"limit": 1, "priority": 2, "cursor": body["next_cursor"]},
        headers=auth,
    )
    body = r.json()
    assert [i["id"] for i in body["items"]] == [made[0]] and body["next_cursor"] is None

    for bad in ("abc", "-1", "1.5", "' OR 1=1", "²", "9" * 30, "9" * 5000):
        err = assert_error(
            client.get("/api/v1/incidents", params={"cursor": bad}, headers=auth), 422
        )
        assert "cursor" in err["message"]
    # A cursor of the documented form (digits) beyond any id is before every row: the first
    # page, not an error (the document promises it is accepted; the database never sees it).
    top = client.get("/api/v1/incidents", headers=auth).json()["items"]
    for beyond in (str(2**31), "9" * 19):
        r = client.get("/api/v1/incidents", params={"cursor": beyond}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["items"] == top
    for limit in (0, 201, -3):
        assert_error(client.get("/api/v1/incidents", params={"limit": limit}, headers=auth), 422)


def test_merge_moves_alerts_and_closes_the_duplicate(client: TestClient, world: World) -> None:
    first = client.post(
        "/api/v1/incidents",
        headers=world.auth(),
        json={
            "title": "Checkout errors",
            "impact": 1,
            "urgency": 1,
            "service_ids": [world.checkout_id],
        },
    ).json()
    for key in ("a", "b"):
        assert (
            client.post(
                "/v2/enqueue",
                json={
                    "routing_key": world.pagerduty_key,
                    "event_action": "trigger",
                    "dedup_key": key,
                    "payload": {"summary": f"db {key}", "source": "db", "severity": "error"},
                },
            ).status_code
            == 202
        )
    dup = next(
        i
        for i in client.get("/api/v1/incidents", headers=world.auth()).json()["items"]
        if i["id"] != first["id"]
    )
    r = client.post(
        f"/api/v1/incidents/{dup['id']}/merge",
        headers=world.auth(),
        json={"into_id": first["id"], "reason": "same outage"},
    )
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["id"] == first["id"] and merged["alert_count"] == 2
    assert set(merged["service_ids"]) == {world.checkout_id, world.database_id}
    alerts = client.get(f"/api/v1/alerts?incident_id={first['id']}", headers=world.auth())
    assert len(alerts.json()["items"]) == 2
    closed = client.get(f"/api/v1/incidents/{dup['id']}", headers=world.auth()).json()
    assert closed["status"] == "closed" and closed["merged_into_id"] == first["id"]
    story = client.get(f"/api/v1/incidents/{first['id']}/timeline", headers=world.auth()).json()
    assert any(
        "merged into this incident" in e["message"] and "same outage" in e["message"]
        for e in story["items"]
    )
    # Refusals: into itself, into a closed incident, and a stakeholder may not merge.
    assert (
        client.post(
            f"/api/v1/incidents/{first['id']}/merge",
            headers=world.auth(),
            json={"into_id": first["id"], "reason": "x"},
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"/api/v1/incidents/{first['id']}/merge",
            headers=world.auth(),
            json={"into_id": dup["id"], "reason": "x"},
        ).status_code
        == 409
    )
    assert (
        client.post(
            f"/api/v1/incidents/{first['id']}/merge",
            headers=world.auth("stakeholder"),
            json={"into_id": dup["id"], "reason": "x"},
        ).status_code
        == 403
    )
