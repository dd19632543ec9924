"""Building a status page through the real API: components, incidents, updates, windows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import insert

from tests.conftest import World
from warroom.db.engine import Database
from warroom.incidents.models import StatusUpdate
from warroom.timers.models import Timer


def component(client: TestClient, world: World, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/components", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def window(client: TestClient, world: World, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/maintenance-windows", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def post_update(
    db: Database,
    incident_id: int,
    message: str,
    visibility: str = "public",
    stage: str = "investigating",
    at: datetime | None = None,
) -> int:
    """A status update as the updates' domain stores it (its API is another issue's), and the
    fan-out timer a public one schedules."""
    at = at or datetime.now(UTC)
    with db.session() as s:
        update_id = s.execute(
            insert(StatusUpdate).returning(StatusUpdate.id),
            {
                "incident_id": incident_id,
                "visibility": visibility,
                "stage": stage,
                "message": message,
                "impact": "",
                "created_at": at,
                "revision": 1,
            },
        ).scalar_one()
        if visibility == "public":
            s.add(Timer(kind="status_page_fanout", due_at=at, payload={"update_id": update_id}))
    return int(update_id)


TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def form_token(client: TestClient, path: str) -> str:
    """The signed token of the public form served at `path`."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = TOKEN.search(page.text)
    assert found, f"no form token on {path}"
    return found.group(1)


def subscribe(client: TestClient, data: dict[str, Any]) -> httpx.Response:
    """Send the status page's subscribe form as a browser does, with the form's token."""
    token = form_token(client, "/status/subscribe")
    return client.post("/status/subscribe", data={**data, "form_token": token})
