"""Helpers shared by the on-call API tests (and the route-authorization test's fixtures)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import World

API = "/api/v1"


def weekly_layer(*member_ids: int, start: str = "2026-01-05T09:00", **extra: Any) -> dict[str, Any]:
    return {"rotation": "weekly", "start": start, "member_ids": list(member_ids), **extra}


def make_schedule(
    client: TestClient,
    world: World,
    name: str = "Primary",
    zone: str = "Europe/London",
    layers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body = {
        "name": name,
        "time_zone": zone,
        "layers": layers or [weekly_layer(world.admin_id, world.responder_id)],
    }
    r = client.post(f"{API}/schedules", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def oncall_objects(client: TestClient, world: World) -> dict[str, Any]:
    """One of each on-call object, for the path parameters of the authorization probes.

    The contact method and rule belong to the responder, whom the probes use as "self".
    """
    admin, responder = world.auth("admin"), world.auth("responder")
    schedule = make_schedule(client, world, "Auth probe")
    override = client.post(
        f"{API}/schedules/{schedule['id']}/overrides",
        json={
            "kind": "add",
            "user_id": world.stakeholder_id,
            "start": "2026-02-01T00:00:00Z",
            "end": "2026-02-02T00:00:00Z",
        },
        headers=admin,
    ).json()
    policy = client.post(
        f"{API}/escalation-policies",
        json={
            "name": "Auth probe",
            "steps": [{"targets": [{"type": "user", "id": world.admin_id}]}],
        },
        headers=admin,
    ).json()
    method = client.post(
        f"{API}/users/{world.responder_id}/contact-methods",
        json={"channel": "local", "address": "console"},
        headers=responder,
    ).json()
    rule = client.post(
        f"{API}/users/{world.responder_id}/notification-rules",
        json={"contact_method_id": method["id"]},
        headers=responder,
    ).json()
    return {
        "schedule_id": schedule["id"],
        "override_id": override["id"],
        "policy_id": policy["id"],
        "method_id": method["id"],
        "rule_id": rule["id"],
    }
