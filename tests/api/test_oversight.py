"""Oversight settings through the REST API: the installation's and a team's, what applies, bad
input refused with nothing stored; a priority change's SLA re-targeting on the timeline."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from pydantic_settings import SettingsError

from tests.api.helpers import assert_error, declare, timeline
from tests.conftest import World
from warroom.config import Settings


def a_policy(client: TestClient, world: World, name: str = "incident managers") -> int:
    r = client.post(
        "/api/v1/escalation-policies",
        json={
            "name": name,
            "steps": [{"delay_seconds": 600, "targets": [{"type": "user", "id": world.admin_id}]}],
        },
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def overview(client: TestClient, world: World) -> dict[str, Any]:
    r = client.get("/api/v1/oversight", headers=world.auth("stakeholder"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_out_of_the_box_p1_and_p2_go_stale_and_nobody_is_the_oversight_policy(
    client: TestClient, world: World
) -> None:
    body = overview(client, world)
    assert body["installation"] == {
        "team_id": None,
        "escalation_policy_id": None,
        "stale_minutes": None,
    }
    assert body["effective"] == {
        "escalation_policy_id": None,
        "escalation_policy_from": "installation",
        "stale_minutes": {"1": 30, "2": 120, "3": 0, "4": 0, "5": 0},
    }
    assert body["defaults"] == {"1": 30, "2": 120}
    assert body["sla_targets"]["1"] == {"response_seconds": 900, "resolution_seconds": 14400}
    assert body["warn_at"] == [0.5, 0.75, 1.0] and body["teams"] == []


def test_the_installation_and_a_team_set_their_own_and_the_team_inherits_the_rest(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    managers = a_policy(client, world)
    payments = a_policy(client, world, "payments leads")
    r = client.put(
        "/api/v1/oversight",
        json={"escalation_policy_id": managers, "stale_minutes": {"1": 15, "3": 480}},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["effective"]["stale_minutes"] == {"1": 15, "2": 120, "3": 480, "4": 0, "5": 0}
    team = client.post("/api/v1/teams", json={"name": "payments"}, headers=admin).json()
    r = client.get(f"/api/v1/teams/{team['id']}/oversight", headers=world.auth("stakeholder"))
    assert r.json()["effective"]["escalation_policy_id"] == managers
    r = client.put(
        f"/api/v1/teams/{team['id']}/oversight",
        json={"escalation_policy_id": payments, "stale_minutes": {"2": 0}},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "setting": {
            "team_id": team["id"],
            "escalation_policy_id": payments,
            "stale_minutes": {"2": 0},
        },
        "effective": {
            "escalation_policy_id": payments,
            "escalation_policy_from": "team",
            "stale_minutes": {"1": 15, "2": 0, "3": 480, "4": 0, "5": 0},
        },
    }
    # null inherits again: the installation's policy applies to the team.
    r = client.put(
        f"/api/v1/teams/{team['id']}/oversight",
        json={"escalation_policy_id": None},
        headers=admin,
    )
    assert r.json()["effective"]["escalation_policy_from"] == "installation"
    assert [t["team_id"] for t in overview(client, world)["teams"]] == [team["id"]]


def test_bad_oversight_settings_are_refused_and_nothing_is_stored(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    before = overview(client, world)
    for body, status in (
        ({"escalation_policy_id": 999}, 422),  # no such policy
        ({"escalation_policy_id": None, "stale_minutes": {"6": 10}}, 422),  # no P6
        ({"escalation_policy_id": None, "stale_minutes": {"1": -1}}, 422),
        ({"escalation_policy_id": None, "stale_minutes": {"1": "30"}}, 422),  # strict ints
        ({"escalation_policy_id": None, "stale_after": 30}, 422),  # a typo is not a default
        ({}, 422),  # the policy must be said, even if null
    ):
        assert_error(client.put("/api/v1/oversight", json=body, headers=admin), status)
    assert_error(
        client.put(
            "/api/v1/teams/999/oversight", json={"escalation_policy_id": None}, headers=admin
        ),
        404,
    )
    assert_error(client.get("/api/v1/teams/999/oversight", headers=admin), 404)
    assert overview(client, world) == before


def test_a_priority_change_re_targets_the_sla_from_the_start_on_the_timeline(
    client: TestClient, world: World
) -> None:
    incident = declare(client, world, impact=1, urgency=3)  # P3
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/priority",
        json={"urgency": 1, "reason": "every customer <b>hit</b>"},
        headers=world.auth(),
    )
    assert r.status_code == 200, r.text
    events = timeline(client, world, incident["id"])
    kinds = [e["kind"] for e in events]
    assert kinds.index("priority_changed") < kinds.index("sla_retargeted")
    [retarget] = [e for e in events if e["kind"] == "sla_retargeted"]
    assert retarget["message"].startswith("SLA re-targeted P3 → P1, still measured from the start")
    assert retarget["after"]["started_at"] is not None
    assert retarget["after"]["priority"] == 1


def test_stale_minutes_come_from_the_environment_and_bad_ones_stop_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WARROOM_STALE_MINUTES", '{"1": 10, "3": 600}')
    assert Settings().stale_minutes == {1: 10, 3: 600}
    for bad in ('{"6": 10}', '{"1": -5}', "thirty"):
        monkeypatch.setenv("WARROOM_STALE_MINUTES", bad)
        with pytest.raises((ValidationError, SettingsError)):
            Settings()
