"""Reminders through the engine (timers, then outbox rows) and the signed webhook of action
items, received by a real local HTTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import declare
from tests.conftest import World
from tests.engine.test_engine import Clock, contact, local_outbox, make_engine
from tests.notify.conftest import LocalHTTPServer, http_server
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.notify.models import Notification
from warroom.notify.signing import SIGNATURE_HEADER, verify_webhook_signature
from warroom.timers.models import Timer

__all__ = ["http_server", "local_outbox"]  # fixtures shared with the engine and notify tests


def _resolved(client: TestClient, world: World) -> int:
    iid = int(declare(client, world, title="Checkout down")["id"])
    assert client.post(f"/api/v1/incidents/{iid}/resolve", headers=world.auth()).status_code == 200
    return iid


def _due(db: Database, kind: str) -> list[datetime]:
    with db.read_session() as s:
        return sorted(
            s.scalars(select(Timer.due_at).where(Timer.kind == kind, Timer.done_at.is_(None)))
        )


def _fyi(db: Database) -> list[Notification]:
    with db.read_session() as s:
        return list(
            s.scalars(
                select(Notification).where(Notification.kind == "fyi").order_by(Notification.id)
            )
        )


def test_review_and_action_item_reminders_reach_people_until_done(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    client, bob = quiet_client, world.auth()
    contact(db, world.responder_id)  # Bob reads the console
    iid = _resolved(client, world)
    review = client.post(f"/api/v1/incidents/{iid}/review", headers=bob).json()
    due = datetime.now(UTC) + timedelta(days=3)
    r = client.post(
        f"/api/v1/incidents/{iid}/action-items",
        json={
            "title": "Add a disk alert",
            "owner_id": world.responder_id,
            "due_at": due.isoformat(),
        },
        headers=bob,
    )
    assert r.status_code == 201
    item = r.json()
    review_times = _due(db, "review_reminder")
    item_times = _due(db, "action_item_reminder")
    assert len(review_times) == 4 and len(item_times) == 4
    clock = Clock()
    engine = make_engine(db, settings, clock)

    def run(at: datetime) -> None:
        clock.now = at + timedelta(seconds=1)
        engine.run_once(clock.now, wait=True)

    # The day before the action item is due: one reminder to its owner; then it is done.
    run(item_times[0])
    assert [d.message.subject for d in local_outbox] == [
        f"Action item due {due:%Y-%m-%d}: Add a disk alert"
    ]
    r = client.patch(f"/api/v1/action-items/{item['id']}", json={"status": "done"}, headers=bob)
    assert r.status_code == 200
    assert _due(db, "action_item_reminder") == []
    # The day before the review is due: one reminder to Bob, who started it.
    run(review_times[0])
    assert local_outbox[-1].message.subject.startswith(f"Review of #{iid} due")
    assert len(local_outbox) == 2
    # Publishing stops the rest of the review's reminders.
    assert (
        client.post(f"/api/v1/reviews/{review['id']}/actions/publish", headers=bob).status_code
        == 200
    )
    assert _due(db, "review_reminder") == []
    run(review_times[-1])
    assert len(local_outbox) == 2
    assert [n.status for n in _fyi(db)] == ["sent", "sent"]


def test_a_deactivated_owner_is_not_reminded(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    client, admin = quiet_client, world.auth("admin")
    contact(db, world.responder_id)
    iid = _resolved(client, world)
    due = datetime.now(UTC) + timedelta(days=2)
    r = client.post(
        f"/api/v1/incidents/{iid}/action-items",
        json={"title": "x", "owner_id": world.responder_id, "due_at": due.isoformat()},
        headers=admin,
    )
    assert r.status_code == 201
    assert (
        client.patch(
            f"/api/v1/users/{world.responder_id}", json={"active": False}, headers=admin
        ).status_code
        == 200
    )
    make_engine(db, settings, Clock()).run_once(
        _due(db, "action_item_reminder")[0] + timedelta(seconds=1), wait=True
    )
    assert _fyi(db) == [] and list(local_outbox) == []


def test_action_items_created_and_done_are_signed_webhooks(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    http_server: LocalHTTPServer,
) -> None:
    secret = "mirror-secret"
    hooked = settings.model_copy(
        update={
            "event_webhook_url": f"{http_server.url}/tickets",
            "event_webhook_secret": secret,
            "outbound_allow_networks": ["127.0.0.0/8"],
        }
    )
    quiet_client.app.state.settings = hooked  # type: ignore[attr-defined]
    iid = _resolved(quiet_client, world)
    bob = world.auth()
    item = quiet_client.post(
        f"/api/v1/incidents/{iid}/action-items",
        json={"title": "Mirror <me>", "priority": 2},
        headers=bob,
    ).json()
    assert (
        quiet_client.patch(
            f"/api/v1/action-items/{item['id']}", json={"status": "done"}, headers=bob
        ).status_code
        == 200
    )
    clock = Clock()
    clock.now = datetime.now(UTC) + timedelta(seconds=1)
    make_engine(db, hooked, clock).run_once(clock.now, wait=True)
    assert [r.path for r in http_server.requests] == ["/tickets", "/tickets"]
    kinds = []
    for req in http_server.requests:
        verify_webhook_signature(secret, req.headers[SIGNATURE_HEADER], req.body, datetime.now(UTC))
        payload = json.loads(req.body)
        assert payload["data"]["id"] == item["id"] and payload["data"]["title"] == "Mirror <me>"
        assert req.headers["Idempotency-Key"] == payload["idempotency_key"]
        kinds.append(payload["type"])
    assert sorted(kinds) == ["action_item.created", "action_item.done"]
    with db.read_session() as s:
        assert {
            n.status for n in s.scalars(select(Notification).where(Notification.kind == "event"))
        } == {"sent"}
