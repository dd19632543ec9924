"""Small helpers shared by the REST API tests: the error envelope, declaring, sending events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.conftest import World

JSON = {"Content-Type": "application/json"}


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is the one error format of the API; returns its "error" object."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"status", "code", "message", "details"}, err
    assert err["status"] == status
    if code is not None:
        assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"].strip()
    assert isinstance(err["details"], list)
    return dict(err)


def fields(err: dict[str, Any]) -> list[str]:
    return [d.get("field", "") for d in err["details"]]


def declare(
    client: TestClient, world: World, who: str = "responder", **body: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"title": "Checkout is slow", "impact": 2, "urgency": 2}
    payload.update(body)
    r = client.post("/api/v1/incidents", json=payload, headers=world.auth(who))
    assert r.status_code == 201, r.text
    return dict(r.json())


def act(
    client: TestClient,
    world: World,
    incident_id: int,
    action: str,
    who: str = "responder",
    **body: Any,
) -> httpx.Response:
    r: httpx.Response = client.post(
        f"/api/v1/incidents/{incident_id}/{action}", json=body or None, headers=world.auth(who)
    )
    return r


def get_incident(client: TestClient, world: World, incident_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/incidents/{incident_id}", headers=world.auth("stakeholder"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def timeline(client: TestClient, world: World, incident_id: int) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=world.auth("stakeholder"))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def user_events(client: TestClient, world: World, incident_id: int) -> list[dict[str, Any]]:
    """The timeline's events made by people (the system adds its own, e.g. paging warnings)."""
    return [e for e in timeline(client, world, incident_id) if e["actor_type"] == "user"]


def pd_event(
    routing_key: str,
    action: str = "trigger",
    dedup_key: str = "db-disk",
    summary: str = "Disk full on db-1",
    severity: str = "critical",
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key,
    }
    if action == "trigger":
        event["payload"] = {"summary": summary, "source": "db-1.prod", "severity": severity}
    return event


def send_pd(client: TestClient, event: dict[str, Any]) -> httpx.Response:
    r: httpx.Response = client.post("/v2/enqueue", json=event)
    return r


def ts(value: str | None) -> datetime:
    assert value, "timestamp missing"
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed
