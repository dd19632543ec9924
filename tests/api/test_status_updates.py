"""Status updates through the API: post, edit keeping the history, list; the timers a public
update schedules for the status page and the stakeholder lists; bad input refused with nothing
written; stakeholder lists and the cadence setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import assert_error, declare
from tests.conftest import World, count_rows
from warroom.db.engine import Database
from warroom.incidents.updates import public_updates
from warroom.timers.models import Timer


def _soon(minutes: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def _post(client: TestClient, world: World, incident_id: int, **body: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"visibility": "public", "message": "Card payments fail"}
    payload.update(body)
    r = client.post(
        f"/api/v1/incidents/{incident_id}/status-updates", json=payload, headers=world.auth()
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _timers(db: Database, kind: str) -> list[Timer]:
    with db.read_session() as s:
        return list(s.scalars(select(Timer).where(Timer.kind == kind).order_by(Timer.id)))


def test_post_edit_and_list_keep_the_history(
    client: TestClient, world: World, db: Database
) -> None:
    incident = declare(client, world, impact=1, urgency=1)
    iid = incident["id"]
    eta = _soon(90)
    first = _post(
        client,
        world,
        iid,
        stage="identified",
        impact="Some customers cannot pay by card",
        estimated_resolution_at=eta,
        next_update_at=_soon(20),
    )
    assert first["stage"] == "identified" and first["revision"] == 1 and first["revisions"] == []
    assert first["author_name"] == "Bob"
    # The status page's contract: a fan-out timer for this update, in the same transaction.
    fanouts = _timers(db, "status_page_fanout")
    assert [t.payload for t in fanouts] == [{"update_id": first["id"]}]
    assert fanouts[0].incident_id == iid
    assert [t.payload for t in _timers(db, "stakeholder_notice")] == [{"update_id": first["id"]}]

    r = client.patch(
        f"/api/v1/incidents/{iid}/status-updates/{first['id']}",
        json={"message": "Card payments fail for Visa cards", "stage": "monitoring"},
        headers=world.auth(),
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["revision"] == 2 and edited["edited_at"]
    assert [(v["revision"], v["message"], v["stage"]) for v in edited["revisions"]] == [
        (1, "Card payments fail", "identified")
    ]
    # An edit of a public update tells the status page again, not the stakeholders again.
    assert len(_timers(db, "status_page_fanout")) == 2
    assert len(_timers(db, "stakeholder_notice")) == 1

    internal = _post(client, world, iid, visibility="internal", message="DB failover started")
    listed = client.get(f"/api/v1/incidents/{iid}/status-updates", headers=world.auth()).json()
    assert [u["id"] for u in listed] == [internal["id"], first["id"]]
    only_public = client.get(
        f"/api/v1/incidents/{iid}/status-updates?visibility=public", headers=world.auth()
    ).json()
    assert [u["id"] for u in only_public] == [first["id"]]
    with db.read_session() as s:
        public = public_updates(s, [iid])
    assert [u.id for u in public] == [first["id"]]  # internal updates never reach the page
    kinds = [
        e["kind"]
        for e in client.get(f"/api/v1/incidents/{iid}/timeline", headers=world.auth()).json()[
            "items"
        ]
    ]
    assert kinds.count("status_update") == 2 and kinds.count("status_update_edited") == 1


def test_publishing_an_internal_update_and_never_unpublishing(
    client: TestClient, world: World, db: Database
) -> None:
    iid = declare(client, world)["id"]
    draft = _post(client, world, iid, visibility="internal")
    assert _timers(db, "status_page_fanout") == []
    url = f"/api/v1/incidents/{iid}/status-updates/{draft['id']}"
    r = client.patch(url, json={"visibility": "public"}, headers=world.auth())
    assert r.status_code == 200 and r.json()["visibility"] == "public"
    assert len(_timers(db, "status_page_fanout")) == 1
    assert len(_timers(db, "stakeholder_notice")) == 1
    assert_error(client.patch(url, json={"visibility": "internal"}, headers=world.auth()), 409)
    assert_error(
        client.patch(url, json={"message": "Card payments fail"}, headers=world.auth()), 409
    )


def test_bad_input_is_refused_and_nothing_is_written(
    client: TestClient, world: World, db: Database
) -> None:
    iid = declare(client, world)["id"]
    url = f"/api/v1/incidents/{iid}/status-updates"
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    bad: list[dict[str, Any]] = [
        {"visibility": "public", "message": "x", "colour": "red"},  # unknown key
        {"visibility": "public", "message": 42},  # wrong type
        {"visibility": "everyone", "message": "x"},
        {"visibility": "public", "message": "x", "stage": "fixed"},
        {"visibility": "public", "message": "   "},
        {"visibility": "public"},
        {"visibility": "public", "message": "x", "estimated_resolution_at": past},
        {"visibility": "public", "message": "x", "next_update_at": past},
        {"visibility": "public", "message": "x", "next_update_at": 1900000000},
        {"visibility": "public", "message": "x", "next_update_at": "2030-01-01T10:00:00"},
        {"visibility": "public", "message": "x", "component_ids": [999]},
        {"visibility": "public", "message": "x", "component_ids": ["1"]},
        {"visibility": "public", "message": "x" * 5001},
    ]
    for body in bad:
        assert_error(client.post(url, json=body, headers=world.auth()), 422)
    assert_error(
        client.post(
            "/api/v1/incidents/999/status-updates",
            json={"visibility": "public", "message": "x"},
            headers=world.auth(),
        ),
        404,
    )
    assert count_rows(db, "status_updates") == 0
    assert _timers(db, "status_page_fanout") == []
    update = _post(client, world, iid)
    edit = f"{url}/{update['id']}"
    assert_error(client.patch(edit, json={}, headers=world.auth()), 422)
    assert_error(client.patch(edit, json={"message": None}, headers=world.auth()), 422)
    assert_error(client.patch(edit, json={"stage": "done"}, headers=world.auth()), 422)
    assert_error(client.patch(f"{url}/9999", json={"message": "y"}, headers=world.auth()), 404)
    assert count_rows(db, "status_update_revisions") == 0
    # A resolved stage may carry an ETA already behind us (it is over); a closed incident
    # takes no more updates.
    _post(client, world, iid, stage="resolved", estimated_resolution_at=past, message="Fixed")
    for action in ("resolve", "close"):
        assert (
            client.post(f"/api/v1/incidents/{iid}/{action}", headers=world.auth()).status_code
            == 200
        )
    assert_error(
        client.post(url, json={"visibility": "public", "message": "x"}, headers=world.auth()), 409
    )


def test_html_in_an_update_is_stored_as_text(client: TestClient, world: World) -> None:
    iid = declare(client, world)["id"]
    text = "<script>alert(1)</script> {{ 7*7 }} {services}"
    update = _post(client, world, iid, message=text, impact="<b>all</b>")
    assert update["message"] == text and update["impact"] == "<b>all</b>"


def test_stakeholders_read_updates_but_do_not_post(client: TestClient, world: World) -> None:
    iid = declare(client, world)["id"]
    _post(client, world, iid)
    carol = world.auth("stakeholder")
    assert client.get(f"/api/v1/incidents/{iid}/status-updates", headers=carol).status_code == 200
    r = client.post(
        f"/api/v1/incidents/{iid}/status-updates",
        json={"visibility": "public", "message": "hi"},
        headers=carol,
    )
    assert_error(r, 403)


def test_stakeholder_lists_check_addresses_like_contact_methods(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.auth("admin")
    r = client.post(
        "/api/v1/stakeholder-lists",
        json={"name": "Support", "service_id": world.checkout_id},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    lst = r.json()
    assert lst["min_priority"] == 2 and lst["members"] == []
    members = f"/api/v1/stakeholder-lists/{lst['id']}/members"
    for body in (
        {"channel": "email", "address": "not an address"},
        {"channel": "webhook", "address": "http://127.0.0.1:9/hook"},  # internal: refused
        {"channel": "apprise", "address": "mailto://x@example.com"},
        {"channel": "sms", "address": "+15551234567"},
        {"user_id": world.responder_id, "channel": "email", "address": "a@example.com"},
        {"user_id": 9999},
        {},
    ):
        assert_error(client.post(members, json=body, headers=admin), 422)
    ok = client.post(
        members, json={"channel": "email", "address": "ops@example.com"}, headers=admin
    )
    assert ok.status_code == 201 and ok.json()["secret"] is None
    hook = client.post(
        members,
        json={"channel": "webhook", "address": "https://hooks.example.com/w"},
        headers=admin,
    )
    assert hook.status_code == 201 and len(hook.json()["secret"]) == 64
    person = client.post(members, json={"user_id": world.stakeholder_id}, headers=admin)
    assert person.status_code == 201
    shown = client.get(f"/api/v1/stakeholder-lists/{lst['id']}", headers=admin).json()
    assert len(shown["members"]) == 3 and "secret" not in shown["members"][1]
    for body in (
        {"name": "x", "service_id": world.checkout_id, "team_id": 1},
        {"name": "x"},
        {"name": "x", "service_id": 999},
        {"name": "x", "service_id": world.checkout_id, "min_priority": 6},
    ):
        assert_error(client.post("/api/v1/stakeholder-lists", json=body, headers=admin), 422)
    assert_error(client.get("/api/v1/stakeholder-lists", headers=world.auth()), 403)
    r = client.patch(
        f"/api/v1/stakeholder-lists/{lst['id']}", json={"min_priority": 1}, headers=admin
    )
    assert r.status_code == 200 and r.json()["min_priority"] == 1
    assert client.delete(f"{members}/{person.json()['id']}", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/stakeholder-lists/{lst['id']}", headers=admin).status_code == 204
    assert count_rows(db, "stakeholder_members") == 0


def test_the_cadence_is_configurable_per_installation(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/update-cadence", headers=world.auth())
    assert r.json() == {"minutes": {"1": 30, "2": 60}, "text": "1=30,2=60"}
    admin = world.auth("admin")
    r = client.put("/api/v1/update-cadence", json={"minutes": {"1": 15, "3": 240}}, headers=admin)
    assert r.status_code == 200 and r.json()["text"] == "1=15,3=240"
    assert client.get("/api/v1/update-cadence", headers=admin).json()["minutes"] == {
        "1": 15,
        "3": 240,
    }
    assert_error(
        client.put("/api/v1/update-cadence", json={"minutes": {"1": 0}}, headers=admin), 422
    )
    assert_error(
        client.put("/api/v1/update-cadence", json={"minutes": {"9": 5}}, headers=admin), 422
    )
    assert_error(
        client.put("/api/v1/update-cadence", json={"minutes": {"1": 15}}, headers=world.auth()),
        403,
    )
