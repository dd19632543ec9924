"""The catalog through the REST API: teams, users, services, dependencies, integrations, tokens."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import assert_error, fields, pd_event, send_pd
from tests.conftest import World, count_rows
from warroom.db.engine import Database

HEX32 = re.compile(r"^[0-9a-f]{32,}$")


def _service(client: TestClient, world: World, name: str, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/services", json={"name": name, **body}, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _get_service(client: TestClient, world: World, sid: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/services/{sid}", headers=world.auth("stakeholder"))
    assert r.status_code == 200, r.text
    return dict(r.json())


# --- teams and users ---------------------------------------------------------------------------


def test_teams_with_members(client: TestClient, world: World, db: Database) -> None:
    admin = world.auth("admin")
    r = client.post(
        "/api/v1/teams",
        json={
            "name": "DBA",
            "description": "databases",
            "member_ids": [world.responder_id, world.admin_id],
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    team = r.json()
    assert team["name"] == "DBA" and sorted(team["member_ids"]) == sorted(
        [world.responder_id, world.admin_id]
    )
    assert (
        client.get(f"/api/v1/teams/{team['id']}", headers=world.auth("stakeholder")).json() == team
    )
    bob = client.get(f"/api/v1/users/{world.responder_id}", headers=admin).json()
    assert bob["team_ids"] == [team["id"]]

    r = client.patch(
        f"/api/v1/teams/{team['id']}", json={"member_ids": [world.stakeholder_id]}, headers=admin
    )
    assert r.status_code == 200 and r.json()["member_ids"] == [world.stakeholder_id]
    assert client.get(f"/api/v1/users/{world.responder_id}", headers=admin).json()["team_ids"] == []

    # Unknown members and duplicate names are refused; nothing is stored.
    assert_error(
        client.post("/api/v1/teams", json={"name": "Ops", "member_ids": [99999]}, headers=admin),
        422,
    )
    assert_error(client.post("/api/v1/teams", json={"name": "DBA"}, headers=admin), 409)
    other = client.post("/api/v1/teams", json={"name": "Net"}, headers=admin).json()
    assert_error(
        client.patch(f"/api/v1/teams/{other['id']}", json={"name": "DBA"}, headers=admin), 409
    )
    assert_error(
        client.patch(
            f"/api/v1/teams/{other['id']}",
            json={"name": "DBA", "member_ids": [world.admin_id]},
            headers=admin,
        ),
        409,
    )
    assert client.get(f"/api/v1/teams/{other['id']}", headers=admin).json() == other
    assert_error(
        client.patch(
            f"/api/v1/teams/{team['id']}",
            json={"name": "Renamed", "member_ids": [99999]},
            headers=admin,
        ),
        422,
    )
    assert count_rows(db, "teams") == 2
    assert client.get(f"/api/v1/teams/{team['id']}", headers=admin).json()["name"] == "DBA"
    assert count_rows(db, "team_members") == 1
    listed = client.get("/api/v1/teams", headers=world.auth()).json()
    assert [t["id"] for t in listed["items"]] == [other["id"], team["id"]]
    assert_error(client.get("/api/v1/teams/99999", headers=admin), 404)


def test_users(client: TestClient, world: World, db: Database) -> None:
    admin = world.auth("admin")
    r = client.post(
        "/api/v1/users",
        json={
            "username": "dave",
            "name": "Dave",
            "email": "dave@example.com",
            "time_zone": "Asia/Kathmandu",
            "role": "stakeholder",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    dave = r.json()
    assert (dave["username"], dave["time_zone"], dave["role"], dave["active"]) == (
        "dave",
        "Asia/Kathmandu",
        "stakeholder",
        True,
    )
    assert "password" not in r.text and "password_hash" not in r.text
    assert client.get(f"/api/v1/users/{dave['id']}", headers=world.auth()).json() == dave

    users = count_rows(db, "users")
    err = assert_error(
        client.post(
            "/api/v1/users", json={"username": "erin", "time_zone": "Mars/Olympus"}, headers=admin
        ),
        422,
    )
    assert "time_zone" in fields(err)
    err = assert_error(
        client.post("/api/v1/users", json={"username": "erin", "role": "root"}, headers=admin), 422
    )
    assert "role" in fields(err)
    err = assert_error(client.post("/api/v1/users", json={"username": "dave"}, headers=admin), 409)
    assert "user" in err["message"]
    assert_error(client.post("/api/v1/users", json={"username": "bad name"}, headers=admin), 422)
    # Longer than the columns: refused on both backends (SQLite would store it, PostgreSQL fail).
    err = assert_error(
        client.post("/api/v1/users", json={"username": "erin", "name": "E" * 201}, headers=admin),
        422,
    )
    assert fields(err) == ["name"]
    err = assert_error(
        client.post(
            "/api/v1/users", json={"username": "erin", "email": "e" * 250 + "@x.io"}, headers=admin
        ),
        422,
    )
    assert fields(err) == ["email"]
    assert_error(
        client.patch(
            f"/api/v1/users/{world.responder_id}", json={"name": "B" * 201}, headers=admin
        ),
        422,
    )
    assert count_rows(db, "users") == users

    # Everyone may change their own name and time zone, only that; admins anything.
    me = world.auth("responder")
    r = client.patch(
        f"/api/v1/users/{world.responder_id}",
        json={"name": "Robert", "time_zone": "Europe/Berlin"},
        headers=me,
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/users/me", headers=me).json()["name"] == "Robert"
    err = assert_error(
        client.patch(
            f"/api/v1/users/{world.responder_id}", json={"time_zone": "Nowhere/Land"}, headers=me
        ),
        422,
    )
    assert "time_zone" in fields(err)
    assert_error(
        client.patch(f"/api/v1/users/{world.responder_id}", json={"role": "admin"}, headers=me), 403
    )
    assert_error(
        client.patch(f"/api/v1/users/{world.admin_id}", json={"name": "x"}, headers=me), 403
    )
    bob = client.get("/api/v1/users/me", headers=me).json()
    assert (bob["role"], bob["time_zone"]) == ("responder", "Europe/Berlin")
    r = client.patch(f"/api/v1/users/{dave['id']}", json={"role": "responder"}, headers=admin)
    assert r.status_code == 200 and r.json()["role"] == "responder"


# --- services ----------------------------------------------------------------------------------


def test_services_and_dependencies(client: TestClient, world: World, db: Database) -> None:
    admin = world.auth("admin")
    web = _service(client, world, "web", tier=3, depends_on_ids=[world.checkout_id])
    assert web["depends_on_ids"] == [world.checkout_id] and web["dependant_ids"] == []
    assert web["tier"] == 3
    checkout = _get_service(client, world, world.checkout_id)
    assert checkout["depends_on_ids"] == [world.database_id]
    assert checkout["dependant_ids"] == [web["id"]]
    assert _get_service(client, world, world.database_id)["dependant_ids"] == [world.checkout_id]

    def refused(sid: int, body: dict[str, Any], words: str) -> None:
        before = _get_service(client, world, sid)
        edges = count_rows(db, "service_dependencies")
        err = assert_error(client.patch(f"/api/v1/services/{sid}", json=body, headers=admin), 422)
        assert words in err["message"], err
        assert _get_service(client, world, sid) == before
        assert count_rows(db, "service_dependencies") == edges

    refused(web["id"], {"depends_on_ids": [web["id"]]}, "itself")
    # payments-db <- checkout-api <- web: payments-db depending on web closes a loop.
    refused(world.database_id, {"depends_on_ids": [web["id"]]}, "cycle")
    refused(world.database_id, {"name": "renamed", "depends_on_ids": [world.checkout_id]}, "cycle")
    refused(web["id"], {"depends_on_ids": [99999]}, "99999")

    # Replacing the dependencies of a service.
    r = client.patch(
        f"/api/v1/services/{web['id']}", json={"depends_on_ids": [world.database_id]}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["depends_on_ids"] == [world.database_id]
    assert _get_service(client, world, world.checkout_id)["dependant_ids"] == []
    assert _get_service(client, world, world.database_id)["dependant_ids"] == sorted(
        [world.checkout_id, web["id"]]
    )

    services = count_rows(db, "services")
    assert_error(
        client.post(
            "/api/v1/services", json={"name": "x", "depends_on_ids": [99999]}, headers=admin
        ),
        422,
    )
    assert_error(client.post("/api/v1/services", json={"name": "web"}, headers=admin), 409)
    assert_error(client.post("/api/v1/services", json={"name": "y", "tier": 4}, headers=admin), 422)
    assert_error(
        client.post("/api/v1/services", json={"name": "z", "team_id": 99999}, headers=admin), 422
    )
    assert count_rows(db, "services") == services
    assert_error(
        client.patch(f"/api/v1/services/{web['id']}", json={"name": "checkout-api"}, headers=admin),
        409,
    )
    # A rename clash is a 409 even when dependencies or a team come in the same change.
    assert_error(
        client.patch(
            f"/api/v1/services/{web['id']}",
            json={"name": "checkout-api", "depends_on_ids": [world.database_id]},
            headers=admin,
        ),
        409,
    )
    err = assert_error(
        client.patch(
            f"/api/v1/services/{web['id']}",
            json={"description": "front", "team_id": 99999},
            headers=admin,
        ),
        422,
    )
    assert "team" in err["message"]
    after = _get_service(client, world, web["id"])
    assert (after["name"], after["description"], after["team_id"]) == ("web", "", None)
    r = client.post("/api/v1/teams", json={"name": "Web"}, headers=admin)
    r = client.patch(
        f"/api/v1/services/{web['id']}", json={"team_id": r.json()["id"]}, headers=admin
    )
    assert r.status_code == 200 and r.json()["team_id"]
    r = client.patch(f"/api/v1/services/{web['id']}", json={"team_id": None}, headers=admin)
    assert r.status_code == 200 and r.json()["team_id"] is None

    listed = client.get("/api/v1/services", headers=world.auth("stakeholder")).json()["items"]
    assert {s["name"] for s in listed} == {"web", "checkout-api", "payments-db"}


# --- integrations ------------------------------------------------------------------------------


def test_routing_keys_are_visible_to_admins_only(client: TestClient, world: World) -> None:
    admin = client.get("/api/v1/integrations", headers=world.auth("admin")).json()
    keys = {i["type"]: i["routing_key"] for i in admin}
    assert keys == {
        "pagerduty": world.pagerduty_key,
        "alertmanager": world.alertmanager_key,
        "generic": world.generic_key,
    }
    for who in ("responder", "stakeholder"):
        r = client.get("/api/v1/integrations", headers=world.auth(who))
        assert r.status_code == 200
        assert [i["routing_key"] for i in r.json()] == [None, None, None]
        for secret in (world.alertmanager_key, world.generic_key, world.pagerduty_key):
            assert secret not in r.text
        for integ in r.json():
            one = client.get(f"/api/v1/integrations/{integ['id']}", headers=world.auth(who))
            assert one.status_code == 200 and one.json()["routing_key"] is None
            assert not any(k in one.text for k in keys.values())
    am = next(i for i in admin if i["type"] == "alertmanager")
    assert am["url"] == f"http://warroom.test/integrations/alertmanager/{world.alertmanager_key}"


def test_new_routing_keys_carry_128_bits(client: TestClient, world: World) -> None:
    made = []
    for kind in ("pagerduty", "alertmanager", "generic"):
        r = client.post(
            "/api/v1/integrations",
            json={"service_id": world.checkout_id, "type": kind, "name": kind},
            headers=world.auth("admin"),
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["routing_key"])
    assert all(HEX32.match(k) for k in made), made
    assert all(HEX32.match(k) for k in (world.alertmanager_key, world.generic_key))
    assert len(set(made)) == 3
    assert_error(
        client.post(
            "/api/v1/integrations",
            json={"service_id": 99999, "type": "generic"},
            headers=world.auth("admin"),
        ),
        404,
    )
    assert_error(
        client.post(
            "/api/v1/integrations",
            json={"service_id": world.checkout_id, "type": "nagios"},
            headers=world.auth("admin"),
        ),
        422,
    )


def _generic(client: TestClient, key: str) -> int:
    r = client.post(
        f"/integrations/generic/{key}", json={"summary": "queue backlog", "severity": "warning"}
    )
    return int(r.status_code)


def test_rotating_a_key_stops_the_old_one_at_once(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.auth("admin")
    integrations = client.get("/api/v1/integrations", headers=admin).json()
    by_type = {i["type"]: i for i in integrations}
    assert _generic(client, world.generic_key) == 202

    r = client.post(f"/api/v1/integrations/{by_type['generic']['id']}/rotate", headers=admin)
    assert r.status_code == 200, r.text
    new_key = r.json()["routing_key"]
    assert HEX32.match(new_key) and new_key != world.generic_key
    assert r.json()["rotated_at"]
    alerts = count_rows(db, "alerts")
    assert _generic(client, world.generic_key) == 404
    r = client.post(
        "/integrations/generic",
        json={"summary": "x", "severity": "info"},
        headers={"Authorization": f"Bearer {world.generic_key}"},
    )
    assert_error(r, 404)
    assert count_rows(db, "alerts") == alerts
    assert _generic(client, new_key) == 202
    assert count_rows(db, "alerts") == alerts + 1
    assert (
        client.get(f"/api/v1/integrations/{by_type['generic']['id']}", headers=admin).json()[
            "routing_key"
        ]
        == new_key
    )

    # PagerDuty's endpoint answers an unknown routing key with its own 400.
    r = client.post(f"/api/v1/integrations/{by_type['pagerduty']['id']}/rotate", headers=admin)
    pd_key = r.json()["routing_key"]
    r = send_pd(client, pd_event(world.pagerduty_key))
    assert r.status_code == 400 and "routing_key" in r.text
    assert send_pd(client, pd_event(pd_key)).status_code == 202

    # Alertmanager, key in the URL.
    r = client.post(f"/api/v1/integrations/{by_type['alertmanager']['id']}/rotate", headers=admin)
    am_key = r.json()["routing_key"]
    hook = {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": "g",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down", "severity": "critical"},
                "annotations": {"summary": "down"},
                "fingerprint": "f1",
                "startsAt": "2026-01-01T00:00:00Z",
            }
        ],
    }
    assert (
        client.post(f"/integrations/alertmanager/{world.alertmanager_key}", json=hook).status_code
        == 404
    )
    assert client.post(f"/integrations/alertmanager/{am_key}", json=hook).status_code == 200

    assert_error(client.post("/api/v1/integrations/99999/rotate", headers=admin), 404)


def test_deleting_an_integration_that_has_alerts_is_refused(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.auth("admin")
    by_type = {i["type"]: i for i in client.get("/api/v1/integrations", headers=admin).json()}
    assert _generic(client, world.generic_key) == 202
    assert_error(
        client.delete(f"/api/v1/integrations/{by_type['generic']['id']}", headers=admin), 409
    )
    assert count_rows(db, "integrations") == 3
    r = client.delete(f"/api/v1/integrations/{by_type['alertmanager']['id']}", headers=admin)
    assert r.status_code == 204
    assert_error(
        client.get(f"/api/v1/integrations/{by_type['alertmanager']['id']}", headers=admin), 404
    )
    assert count_rows(db, "integrations") == 2


# --- tokens ------------------------------------------------------------------------------------


def test_tokens_create_list_revoke(client: TestClient, world: World) -> None:
    me = world.auth("responder")
    r = client.post("/api/v1/tokens", json={"name": "laptop"}, headers=me)
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert token.startswith(created["prefix"]) and len(token) >= 40
    new = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/users/me", headers=new).json()["username"] == "bob"

    listed = client.get("/api/v1/tokens", headers=me)
    assert listed.status_code == 200
    assert token not in listed.text  # shown once
    assert all("token" not in t for t in listed.json())
    assert [t["name"] for t in listed.json()] == ["test", "laptop"]
    row = next(t for t in listed.json() if t["id"] == created["id"])
    assert row["revoked_at"] is None and row["last_used_at"]

    # Only one's own tokens are listed, and another user's token cannot be revoked.
    assert [
        t["name"] for t in client.get("/api/v1/tokens", headers=world.auth("stakeholder")).json()
    ] == ["test"]
    assert_error(
        client.delete(f"/api/v1/tokens/{created['id']}", headers=world.auth("stakeholder")), 404
    )
    assert client.get("/api/v1/users/me", headers=new).status_code == 200

    r = client.delete(f"/api/v1/tokens/{created['id']}", headers=me)
    assert r.status_code == 204
    err = assert_error(client.get("/api/v1/users/me", headers=new), 401, "unauthorized")
    assert "revoked" in err["message"]
    assert client.get("/api/v1/users/me", headers=me).status_code == 200
    row = next(
        t for t in client.get("/api/v1/tokens", headers=me).json() if t["id"] == created["id"]
    )
    assert row["revoked_at"]
    assert_error(client.delete("/api/v1/tokens/99999", headers=me), 404)


def test_an_admin_can_revoke_anyones_token(client: TestClient, world: World) -> None:
    carol_tokens = client.get("/api/v1/tokens", headers=world.auth("stakeholder")).json()
    r = client.delete(f"/api/v1/tokens/{carol_tokens[0]['id']}", headers=world.auth("admin"))
    assert r.status_code == 204
    assert_error(client.get("/api/v1/users/me", headers=world.auth("stakeholder")), 401)


def test_a_deactivated_users_tokens_stop_working(client: TestClient, world: World) -> None:
    r = client.patch(
        f"/api/v1/users/{world.responder_id}", json={"active": False}, headers=world.auth("admin")
    )
    assert r.status_code == 200
    assert_error(client.get("/api/v1/incidents", headers=world.auth("responder")), 401)
