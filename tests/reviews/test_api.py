"""A review from start to publish through the API, action items, feedback, and the refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import act, assert_error, declare, pd_event, send_pd, timeline, ts
from tests.conftest import World
from warroom.db.engine import Database
from warroom.timers.models import Timer


def resolved_incident(client: TestClient, world: World) -> dict[str, Any]:
    assert send_pd(client, pd_event(world.pagerduty_key)).status_code == 202
    for n in range(3):
        event = pd_event(world.pagerduty_key, dedup_key=f"db-{n}", summary="Disk full on db-1")
        assert send_pd(client, event).status_code == 202
    admin = world.auth("admin")
    incident = client.get("/api/v1/incidents", headers=admin).json()["items"][0]
    iid = incident["id"]
    r = client.put(
        f"/api/v1/incidents/{iid}/roles/commander",
        json={"user_id": world.responder_id},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert act(client, world, iid, "acknowledge").status_code == 200
    assert act(client, world, iid, "resolve").status_code == 200
    return dict(client.get(f"/api/v1/incidents/{iid}", headers=admin).json())


def test_review_from_start_to_publish(client: TestClient, world: World, db: Database) -> None:
    incident = resolved_incident(client, world)
    iid = incident["id"]
    bob = world.auth("responder")
    assert_error(client.get(f"/api/v1/incidents/{iid}/review", headers=bob), 404)
    r = client.post(f"/api/v1/incidents/{iid}/review", headers=bob)
    assert r.status_code == 201, r.text
    review = r.json()
    assert review["status"] == "draft"
    # P1 (tier-1 database, critical): due three days after the resolve.
    assert incident["priority"] == 1
    assert ts(review["due_at"]) == ts(incident["resolved_at"]) + timedelta(days=3)
    assert review["alert_total"] == 4
    assert review["alert_groups"][0]["count"] == 4
    assert [t["name"] for t in review["key_times"]][:2] == ["impact_start", "detected"]
    labels = {d["label"] for d in review["durations"]}
    assert {"Time to acknowledge", "Time to resolve"} <= labels
    assert review["roles"][0]["role"] == "commander" and review["roles"][0]["name"] == "Bob"
    # Reminders wait in the timer table for the engine.
    with db.read_session() as s:
        kinds = list(s.scalars(select(Timer.kind).where(Timer.kind == "review_reminder")))
    assert len(kinds) == 4
    # A second start is refused.
    assert_error(client.post(f"/api/v1/incidents/{iid}/review", headers=bob), 409)

    # Star two entries, write the template, correct the impact start.
    events = timeline(client, world, iid)
    for e in events[:2]:
        r = client.put(
            f"/api/v1/reviews/{review['id']}/stars/{e['id']}",
            json={"note": "<b>key</b>"},
            headers=bob,
        )
        assert r.status_code == 200, r.text
    start = ts(incident["triggered_at"]) - timedelta(minutes=10)
    r = client.patch(
        f"/api/v1/reviews/{review['id']}",
        json={
            "what_happened": "Disk filled <script>x</script>",
            "impact_started_at": start.isoformat(),
        },
        headers=bob,
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert len(patched["starred"]) == 2
    detect = next(d for d in patched["durations"] if d["label"] == "Time to detect")
    assert detect["seconds"] == 600
    # The export carries the text escaped.
    md = client.get(f"/api/v1/reviews/{review['id']}/export.md", headers=world.auth("stakeholder"))
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "\\<script\\>" in md.text and "<script>" not in md.text

    # Action items: one owned by a deactivated user is refused, nothing stored.
    admin = world.auth("admin")
    r = client.post(
        "/api/v1/users",
        json={"username": "gone", "name": "Gone", "role": "responder"},
        headers=admin,
    )
    gone = r.json()["id"]
    assert (
        client.patch(f"/api/v1/users/{gone}", json={"active": False}, headers=admin).status_code
        == 200
    )
    r = client.post(
        f"/api/v1/incidents/{iid}/action-items",
        json={"title": "Alert on disk at 80%", "owner_id": gone},
        headers=bob,
    )
    assert_error(r, 422)
    assert client.get("/api/v1/action-items", headers=bob).json()["items"] == []
    due = (ts(incident["resolved_at"]) + timedelta(days=7)).isoformat()
    r = client.post(
        f"/api/v1/incidents/{iid}/action-items",
        json={
            "title": "Alert on disk at 80%",
            "owner_id": world.responder_id,
            "due_at": due,
            "priority": 2,
        },
        headers=bob,
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["review_id"] == review["id"] and item["status"] == "open"
    early = (ts(incident["triggered_at"]) - timedelta(days=1)).isoformat()
    assert_error(
        client.patch(f"/api/v1/action-items/{item['id']}", json={"due_at": early}, headers=bob), 422
    )

    # Workflow: submit, publish; then nothing changes.
    r = client.post(f"/api/v1/reviews/{review['id']}/actions/submit", headers=bob)
    assert r.status_code == 200 and r.json()["status"] == "in_review"
    r = client.post(f"/api/v1/reviews/{review['id']}/actions/publish", headers=bob)
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert_error(
        client.patch(f"/api/v1/reviews/{review['id']}", json={"lessons": "more"}, headers=bob), 409
    )
    assert_error(client.post(f"/api/v1/reviews/{review['id']}/actions/return", headers=bob), 409)
    assert client.get(f"/api/v1/reviews/{review['id']}", headers=bob).json()["lessons"] == ""
    with db.read_session() as s:
        left = list(
            s.scalars(
                select(Timer.id).where(Timer.kind == "review_reminder", Timer.done_at.is_(None))
            )
        )
    assert left == []

    # The action item is still tracked to done.
    r = client.patch(f"/api/v1/action-items/{item['id']}", json={"status": "done"}, headers=bob)
    assert r.status_code == 200 and r.json()["done_at"] is not None


def test_review_refusals(client: TestClient, world: World) -> None:
    bob = world.auth("responder")
    open_incident = declare(client, world)
    r = client.post(f"/api/v1/incidents/{open_incident['id']}/review", headers=bob)
    err = assert_error(r, 409)
    assert "resolved" in err["message"]
    assert_error(
        client.put(
            f"/api/v1/incidents/{open_incident['id']}/feedback", json={"rating": 4}, headers=bob
        ),
        409,
    )
    incident = resolved_incident(client, world)
    review = client.post(f"/api/v1/incidents/{incident['id']}/review", headers=bob).json()
    later = ts(incident["triggered_at"]) + timedelta(hours=1)
    r = client.patch(
        f"/api/v1/reviews/{review['id']}",
        json={"impact_started_at": later.isoformat(), "lessons": "x"},
        headers=bob,
    )
    assert_error(r, 422)
    assert client.get(f"/api/v1/reviews/{review['id']}", headers=bob).json()["lessons"] == ""
    before = ts(incident["resolved_at"]) - timedelta(days=1)
    assert_error(
        client.patch(
            f"/api/v1/reviews/{review['id']}", json={"due_at": before.isoformat()}, headers=bob
        ),
        422,
    )
    assert_error(
        client.put(f"/api/v1/incidents/{incident['id']}/feedback", json={"rating": 6}, headers=bob),
        422,
    )
    r = client.put(
        f"/api/v1/incidents/{incident['id']}/feedback",
        json={"rating": 4, "comment": "paged fast"},
        headers=bob,
    )
    assert r.status_code == 200, r.text
    r = client.put(f"/api/v1/incidents/{incident['id']}/feedback", json={"rating": 5}, headers=bob)
    got = client.get(f"/api/v1/incidents/{incident['id']}/feedback", headers=bob).json()
    assert [(f["rating"], f["comment"]) for f in got] == [(5, "")]
    listed = client.get("/api/v1/reviews", headers=bob).json()
    assert [x["id"] for x in listed] == [review["id"]]
    assert client.get("/api/v1/reviews?overdue=true", headers=bob).json() == []
