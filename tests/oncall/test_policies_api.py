"""Escalation policies through the REST API, a service's policy, and resolve_targets: who one
step pages (users, whoever is on call on a schedule, whole teams) at a fixed instant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from tests.api.helpers import assert_error, fields
from tests.conftest import World, count_rows
from tests.oncall.helpers import API, make_schedule, weekly_layer
from warroom.catalog.models import User
from warroom.db.engine import Database
from warroom.oncall.models import EscalationTarget
from warroom.oncall.policies import Target, resolve_targets


def team(client: TestClient, world: World, *member_ids: int) -> int:
    r = client.post(
        f"{API}/teams", json={"name": "SRE", "member_ids": list(member_ids)},
        headers=world.auth("admin"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def user(client: TestClient, world: World, username: str) -> int:
    r = client.post(f"{API}/users", json={"username": username}, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def step(*targets: tuple[str, int], delay: int = 300) -> dict[str, Any]:
    return {"delay_seconds": delay, "targets": [{"type": t, "id": i} for t, i in targets]}


def post_policy(client: TestClient, world: World, **body: Any) -> Any:
    payload = {"name": "Checkout", **body}
    return client.post(f"{API}/escalation-policies", json=payload, headers=world.auth("admin"))


def test_policy_crud_and_the_service_it_pages_for(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.auth("admin")
    # Started long ago, so someone is on call whenever the test runs: no warnings.
    layer = weekly_layer(world.admin_id, world.responder_id, start="2000-01-03T09:00")
    sid = make_schedule(client, world, layers=[layer])["id"]
    tid = team(client, world, world.responder_id, world.stakeholder_id)
    r = post_policy(
        client, world, repeat=1,
        steps=[step(("schedule", sid)), step(("user", world.admin_id), ("team", tid), delay=600)],
    )  # fmt: skip
    assert r.status_code == 201, r.text
    policy = r.json()
    pid = policy["id"]
    assert (policy["repeat"], policy["service_ids"], policy["warnings"]) == (1, [], [])
    assert [(s["position"], s["delay_seconds"]) for s in policy["steps"]] == [(0, 300), (1, 600)]
    assert policy["steps"][1]["targets"] == [
        {"type": "user", "id": world.admin_id, "name": "Alice"},
        {"type": "team", "id": tid, "name": "SRE"},
    ]
    carol = world.auth("stakeholder")
    assert client.get(f"{API}/escalation-policies/{pid}", headers=carol).json() == policy
    assert [p["id"] for p in client.get(f"{API}/escalation-policies", headers=carol).json()[
        "items"]] == [pid]  # fmt: skip

    # The service's policy: PUT to set or detach, GET to read.
    url = f"{API}/services/{world.checkout_id}/escalation-policy"
    assert client.get(url, headers=carol).json()["escalation_policy_id"] is None
    r = client.put(url, json={"escalation_policy_id": pid}, headers=admin)
    assert r.json() == {"service_id": world.checkout_id, "escalation_policy_id": pid}
    assert client.get(url, headers=carol).json()["escalation_policy_id"] == pid
    got = client.get(f"{API}/escalation-policies/{pid}", headers=carol).json()
    assert got["service_ids"] == [world.checkout_id]
    assert_error(client.put(url, json={"escalation_policy_id": 99999}, headers=admin), 422)
    assert_error(client.put(url, json={"escalation_policy_id": pid}, headers=carol), 403)
    assert_error(client.put(f"{API}/services/99999/escalation-policy",
                            json={"escalation_policy_id": pid}, headers=admin), 404)  # fmt: skip

    # Steps are replaced as a whole.
    r = client.patch(
        f"{API}/escalation-policies/{pid}",
        json={"repeat": 0, "steps": [step(("user", world.responder_id), delay=0)]},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["repeat"] == 0 and len(r.json()["steps"]) == 1
    assert count_rows(db, "escalation_steps") == 1 and count_rows(db, "escalation_targets") == 1
    r = client.patch(
        f"{API}/escalation-policies/{pid}", json={"name": "Renamed", "steps": []}, headers=admin
    )
    assert_error(r, 422)
    assert (
        client.get(f"{API}/escalation-policies/{pid}", headers=carol).json()["name"] == "Checkout"
    )

    # A schedule or policy something pages through cannot just vanish.
    r = client.patch(f"{API}/escalation-policies/{pid}", json={"steps": [step(("schedule", sid))]},
                     headers=admin)  # fmt: skip
    assert r.status_code == 200
    err = assert_error(client.delete(f"{API}/schedules/{sid}", headers=admin), 409)
    assert "'Checkout'" in err["message"]
    err = assert_error(client.delete(f"{API}/escalation-policies/{pid}", headers=admin), 409)
    assert "'checkout-api'" in err["message"]
    client.put(url, json={"escalation_policy_id": None}, headers=admin)
    assert client.delete(f"{API}/escalation-policies/{pid}", headers=admin).status_code == 204
    assert_error(client.get(f"{API}/escalation-policies/{pid}", headers=admin), 404)
    assert count_rows(db, "escalation_steps") == 0 and count_rows(db, "escalation_targets") == 0
    assert client.delete(f"{API}/schedules/{sid}", headers=admin).status_code == 204


def test_bad_policies_are_refused(client: TestClient, world: World, db: Database) -> None:
    def refused(status: int = 422, **body: Any) -> dict[str, Any]:
        body.setdefault("steps", [step(("user", world.admin_id))])
        return assert_error(post_policy(client, world, **body), status)

    assert fields(refused(steps=[])) == ["steps"]
    assert fields(refused(repeat=10)) == ["repeat"]
    assert fields(refused(repeat=-1)) == ["repeat"]
    assert fields(refused(steps=[step(("user", world.admin_id), delay=-1)])) == [
        "steps.0.delay_seconds"
    ]
    assert fields(refused(steps=[{"targets": []}])) == ["steps.0.targets"]
    assert fields(refused(steps=[step(("service", 1))])) == ["steps.0.targets.0.type"]
    err = refused(steps=[step(("user", world.admin_id)), step(("user", 99999), ("schedule", 7),
                                                             ("team", 8))])  # fmt: skip
    assert "step 2: user 99999 does not exist" in err["message"]
    assert (
        "schedule 7 does not exist" in err["message"] and "team 8 does not exist" in err["message"]
    )
    assert fields(err) == ["steps.1.targets.0", "steps.1.targets.1", "steps.1.targets.2"]
    dave = user(client, world, "dave")
    client.patch(f"{API}/users/{dave}", json={"active": False}, headers=world.auth("admin"))
    assert f"user {dave} is deactivated" in refused(steps=[step(("user", dave))])["message"]
    assert "team 99999" in refused(team_id=99999)["message"]
    assert post_policy(client, world, steps=[step(("user", world.admin_id))]).status_code == 201
    assert "already exists" in refused(status=409)["message"]
    assert count_rows(db, "escalation_policies") == 1 and count_rows(db, "escalation_steps") == 1
    assert_error(post_policy(client, world, steps=[step(("user", world.admin_id))],
                             **{"loop": True}), 422)  # fmt: skip


def test_targets_deactivated_or_deleted_later_are_warned_about(
    client: TestClient, world: World, db: Database
) -> None:
    admin = world.auth("admin")
    dave, erin = user(client, world, "dave"), user(client, world, "erin")
    r = post_policy(client, world, steps=[step(("user", dave)), step(("user", erin), ("user",
                    world.admin_id))])  # fmt: skip
    assert r.status_code == 201 and r.json()["warnings"] == []
    pid = r.json()["id"]
    client.patch(f"{API}/users/{dave}", json={"active": False}, headers=admin)
    with db.session() as s:
        s.execute(delete(User).where(User.id == erin))
    policy = client.get(f"{API}/escalation-policies/{pid}", headers=admin).json()
    assert policy["warnings"] == [
        f"step 1: dave (user {dave}) is deactivated",
        "step 1 would page nobody now",
        f"step 2: user {erin} no longer exists",
    ]
    assert policy["steps"][1]["targets"][0] == {"type": "user", "id": erin, "name": ""}
    warnings = client.get(f"{API}/on-call", headers=admin).json()["warnings"]
    assert "policy 'Checkout': step 1 would page nobody now" in warnings


# --- resolve_targets ---------------------------------------------------------------------------

AT = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)  # Alice's week on the Primary schedule


def test_resolve_targets_for_users_schedules_and_teams(
    client: TestClient, world: World, db: Database
) -> None:
    alice, bob, carol = world.admin_id, world.responder_id, world.stakeholder_id
    sid = make_schedule(client, world)["id"]
    tid = team(client, world, carol, bob)
    with db.read_session() as s:
        assert resolve_targets(s, [("user", bob)], AT) == [bob]
        assert resolve_targets(s, [("schedule", sid)], AT) == [alice]
        assert resolve_targets(s, [("schedule", sid)], datetime(2026, 1, 12, 9, tzinfo=UTC)) == [
            bob
        ]
        assert resolve_targets(s, [("team", tid)], AT) == [bob, carol]  # by id
        # In the order of the targets, each person once.
        assert resolve_targets(s, [("schedule", sid), ("team", tid), ("user", alice)], AT) == [
            alice, bob, carol,
        ]  # fmt: skip
        assert resolve_targets(s, [Target("team", tid), Target("user", bob)], AT) == [bob, carol]
        # Unknown things page nobody rather than failing the step.
        assert resolve_targets(s, [("user", 99999), ("schedule", 99999), ("team", 99999)], AT) == []
        assert resolve_targets(s, [], AT) == []
        # Before the rotation starts nobody is on call.
        assert resolve_targets(s, [("schedule", sid)], datetime(2025, 1, 1, tzinfo=UTC)) == []
        with pytest.raises(ValueError, match="service"):
            resolve_targets(s, [("service", 1)], AT)

    # Overrides count: Carol covers Alice.
    r = client.post(
        f"{API}/schedules/{sid}/overrides",
        json={"kind": "replace", "user_id": alice, "replacement_id": carol,
              "start": "2026-01-07T00:00:00Z", "end": "2026-01-08T00:00:00Z"},
        headers=world.auth(),
    )  # fmt: skip
    assert r.status_code == 201
    # Escalation target rows are taken as they are, as the engine loads them.
    policy = post_policy(client, world, steps=[step(("schedule", sid), ("team", tid))]).json()
    with db.read_session() as s:
        rows = list(
            s.scalars(
                select(EscalationTarget)
                .where(EscalationTarget.step_id == policy["steps"][0]["id"])
                .order_by(EscalationTarget.id)
            )
        )
        assert resolve_targets(s, rows, AT) == [carol, bob]

    # Deactivated people are never paged, wherever they come from.
    client.patch(f"{API}/users/{carol}", json={"active": False}, headers=world.auth("admin"))
    with db.read_session() as s:
        assert resolve_targets(s, [("user", carol)], AT) == []
        assert resolve_targets(s, [("schedule", sid)], AT) == []
        assert resolve_targets(s, [("team", tid)], AT) == [bob]
