"""Incidents caused by an incident on a dependency (issue 10, ADR 11) once the cause resolves,
end to end through intake and the engine on a fake clock: a dependant still firing pages then
and says so on its timeline; one no longer firing, or already acknowledged, is not paged; a
reopen before the release keeps holding them; a merge hands the dependants over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import World
from tests.engine.test_engine import (
    T0,
    Clock,
    contact,
    local_outbox,
    make_engine,
    paging_alone,
    policy,
)
from warroom.catalog import service as catalog
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.timers.models import Timer

__all__ = ["local_outbox", "paging_alone"]


def pd(client: TestClient, world: World, action: str, key: str = "db-down") -> None:
    event: dict[str, Any] = {
        "routing_key": world.pagerduty_key,
        "event_action": action,
        "dedup_key": key,
    }
    if action == "trigger":
        event["payload"] = {"summary": "payments-db down", "source": "db-1", "severity": "critical"}
    assert client.post("/v2/enqueue", json=event).status_code == 202


def generic(client: TestClient, key: str, dedup: str, action: str = "trigger") -> str:
    body = {"summary": f"{dedup} failing", "severity": "error", "dedup_key": dedup}
    if action != "trigger":
        body["action"] = action
    r = client.post(f"/integrations/generic/{key}", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["events"][0]["result"])


def incident(client: TestClient, world: World, incident_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/incidents/{incident_id}", headers=world.auth())
    assert r.status_code == 200
    return dict(r.json())


def story(client: TestClient, world: World, incident_id: int) -> list[tuple[str, str]]:
    items = client.get(
        f"/api/v1/incidents/{incident_id}/timeline?limit=1000", headers=world.auth()
    ).json()["items"]
    return [(e["kind"], e["message"]) for e in items]


def open_incidents(client: TestClient, world: World) -> dict[int, dict[str, Any]]:
    items = client.get("/api/v1/incidents", headers=world.auth()).json()["items"]
    return {i["service_id"]: i for i in items if i["status"] != "resolved"}


def web_service(db: Database, world: World) -> tuple[int, str]:
    """A second dependant of payments-db, with its own generic integration."""
    with db.session() as s:
        web = catalog.create_service(s, name="web-shop", tier=2, depends_on_ids=[world.database_id])
        key = catalog.create_integration(s, web.id, "generic", "web").routing_key
        return web.id, key


def test_a_dependant_still_firing_pages_when_its_cause_resolves(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    client = quiet_client
    policy(db, world.checkout_id, [(300, [("user", world.responder_id)])])
    web_id, web_key = web_service(db, world)
    policy(db, web_id, [(300, [("user", world.admin_id)])])
    contact(db, world.responder_id)
    contact(db, world.admin_id)
    engine = make_engine(db, settings, Clock())

    pd(client, world, "trigger")
    assert generic(client, world.generic_key, "checkout-5xx") == "opened"
    assert generic(client, web_key, "web-5xx") == "opened"
    by_service = open_incidents(client, world)
    cause = by_service[world.database_id]["id"]
    checkout, web = by_service[world.checkout_id], by_service[web_id]
    assert checkout["caused_by_id"] == cause and web["caused_by_id"] == cause
    # The web shop's alert is acknowledged at its source: someone there is on it.
    assert generic(client, web_key, "web-5xx", "acknowledge") == "acknowledged"
    engine.run_once(T0, wait=True)
    assert list(local_outbox) == [], "caused by the open incident on payments-db: nobody is paged"

    # payments-db recovers: its incident auto-resolves; checkout-api still fires.
    pd(client, world, "resolve")
    assert incident(client, world, cause)["status"] == "resolved"
    engine.run_once(T0 + timedelta(seconds=1), wait=True)
    engine.run_once(T0 + timedelta(seconds=2), wait=True)
    [page] = local_outbox
    assert page.message.subject.endswith(f"#{checkout['id']} checkout-5xx failing")
    assert page.target == "console"
    after = incident(client, world, checkout["id"])
    assert after["caused_by_id"] is None and after["status"] == "triggered"
    assert (
        "cause_resolved",
        f"Cause #{cause} resolved; still firing (1 alert): paging now",
    ) in story(client, world, checkout["id"])
    assert any(k == "escalated" and "Bob" in m for k, m in story(client, world, checkout["id"]))
    # Its alert is no longer shown as inhibited.
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert {a["dedup_key"]: a["suppression"] for a in alerts if a["status"] != "resolved"} == {
        "checkout-5xx": None,
        "web-5xx": None,
    }
    # The acknowledged one is released but not paged.
    assert (
        "cause_resolved",
        f"Cause #{cause} resolved; this incident is acknowledged: not paged",
    ) in story(client, world, web["id"])
    assert incident(client, world, web["id"])["caused_by_id"] is None
    released = [m for k, m in story(client, world, cause) if k == "dependants_released"]
    assert released == [
        f"2 incidents caused by this one stand on their own now; paging #{checkout['id']} "
        "(still firing)"
    ]
    # Nothing more later: one release, no second page.
    engine.run_once(T0 + timedelta(seconds=3), wait=True)
    assert len(local_outbox) == 1
    # A new alert on checkout-api joins its incident as an ordinary one.
    assert generic(client, world.generic_key, "checkout-latency") == "opened"
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    assert {a["dedup_key"]: a["suppression"] for a in alerts}["checkout-latency"] is None


def test_a_dependant_no_longer_firing_is_not_paged(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    client = quiet_client
    policy(db, world.checkout_id, [(300, [("user", world.responder_id)])])
    contact(db, world.responder_id)
    with db.session() as s:
        service = catalog.get_service(s, world.checkout_id)
        service.auto_resolve = False  # its incident stays open after its alert resolved
    engine = make_engine(db, settings, Clock())
    pd(client, world, "trigger")
    generic(client, world.generic_key, "checkout-5xx")
    checkout = open_incidents(client, world)[world.checkout_id]
    generic(client, world.generic_key, "checkout-5xx", "resolve")
    pd(client, world, "resolve")
    engine.run_once(T0, wait=True)
    engine.run_once(T0 + timedelta(seconds=1), wait=True)
    assert list(local_outbox) == []
    assert any(
        m.endswith("resolved; nothing here is firing any more: not paged")
        for _, m in story(client, world, checkout["id"])
    )


def test_a_reopen_before_the_release_keeps_holding_and_a_merge_hands_dependants_over(
    quiet_client: TestClient,
    world: World,
    db: Database,
    settings: Settings,
    local_outbox: list,  # type: ignore[type-arg]
) -> None:
    client = quiet_client
    policy(db, world.checkout_id, [(300, [("user", world.responder_id)])])
    contact(db, world.responder_id)
    engine = make_engine(db, settings, Clock())
    pd(client, world, "trigger")
    generic(client, world.generic_key, "checkout-5xx")
    by_service = open_incidents(client, world)
    cause, checkout = by_service[world.database_id]["id"], by_service[world.checkout_id]["id"]
    auth = world.auth()
    assert client.post(f"/api/v1/incidents/{cause}/resolve", headers=auth).status_code == 200
    assert client.post(f"/api/v1/incidents/{cause}/reopen", headers=auth).status_code == 200
    engine.run_once(T0, wait=True)
    engine.run_once(T0 + timedelta(seconds=1), wait=True)
    assert list(local_outbox) == []
    assert incident(client, world, checkout)["caused_by_id"] == cause

    # The cause is merged into a declared incident on payments-db: that one holds them now.
    r = client.post(
        "/api/v1/incidents",
        json={
            "title": "Database cluster",
            "impact": 1,
            "urgency": 1,
            "service_ids": [world.database_id],
        },
        headers=auth,
    )
    survivor = r.json()["id"]
    r = client.post(
        f"/api/v1/incidents/{cause}/merge",
        json={"into_id": survivor, "reason": "same outage"},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    assert incident(client, world, checkout)["caused_by_id"] == survivor
    engine.run_once(T0 + timedelta(seconds=2), wait=True)
    assert list(local_outbox) == []
    assert client.post(f"/api/v1/incidents/{survivor}/resolve", headers=auth).status_code == 200
    engine.run_once(T0 + timedelta(seconds=3), wait=True)
    engine.run_once(T0 + timedelta(seconds=4), wait=True)
    assert len(local_outbox) == 1 and f"#{checkout} " in local_outbox[0].message.subject
    with db.read_session() as s:
        kinds = s.scalars(
            select(Timer.kind).where(Timer.kind == "release_dependants").order_by(Timer.id)
        ).all()
    assert len(kinds) == 2  # one per resolve that had dependants; the merge wrote none
