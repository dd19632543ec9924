"""The metrics API and the page's CSV over stored incidents, hand-computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.api.helpers import assert_error, declare
from tests.conftest import World
from warroom.db.engine import Database
from warroom.incidents.models import Incident
from warroom.notify.models import Notification

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
PERIOD = {"since": "2026-11-01T00:00:00Z", "until": "2026-11-08T00:00:00Z"}


def _set(db: Database, incident_id: int, **values: object) -> None:
    with db.session() as s:
        s.execute(update(Incident).where(Incident.id == incident_id).values(**values))


def seed(client: TestClient, world: World, db: Database) -> list[int]:
    ids = [declare(client, world, title=f"Disk {n}0% full on db-{n}")["id"] for n in range(1, 5)]
    m = timedelta(minutes=1)
    _set(
        db,
        ids[0],
        triggered_at=T0,
        impact_started_at=T0 - 6 * m,
        acknowledged_at=T0 + 4 * m,
        resolved_at=T0 + 60 * m,
        status="resolved",
        priority=2,
    )
    _set(
        db,
        ids[1],
        triggered_at=T0 + 24 * 60 * m,
        impact_started_at=None,
        acknowledged_at=T0 + 24 * 60 * m + 8 * m,
        resolved_at=T0 + 24 * 60 * m + 120 * m,
        status="resolved",
        priority=2,
    )
    # Unacknowledged, resolved.
    _set(
        db,
        ids[2],
        triggered_at=T0 + 2 * 24 * 60 * m,
        impact_started_at=None,
        acknowledged_at=None,
        resolved_at=T0 + 2 * 24 * 60 * m + 30 * m,
        status="resolved",
        priority=3,
    )
    # Merged into the first: not counted.
    _set(
        db,
        ids[3],
        triggered_at=T0 + 5 * m,
        merged_into_id=ids[0],
        status="closed",
        resolved_at=T0 + 6 * m,
        priority=2,
    )
    # Two pages to Bob (one of them to two contact methods), out of hours in New York once.
    with db.session() as s:
        for key, at in (
            ("esc-1-0-0-u2-r0-cm1", T0),  # 05:00 EST: out of hours
            ("esc-1-0-0-u2-r1-cm2", T0 + 2 * m),  # the same page, second method
            ("esc-2-0-0-u2-r0-cm1", T0 + 24 * 60 * m + 5 * 60 * m),  # 10:00 EST: in hours
        ):
            s.add(
                Notification(
                    idempotency_key=key,
                    incident_id=ids[0],
                    user_id=world.responder_id,
                    channel="local",
                    target="x",
                    kind="page",
                    subject="s",
                    body="b",
                    next_attempt_at=at,
                    created_at=at,
                    status="sent",
                )
            )
    return ids


def test_summary_by_hand(client: TestClient, world: World, db: Database) -> None:
    seed(client, world, db)
    r = client.get("/api/v1/metrics/summary", params=PERIOD, headers=world.auth("stakeholder"))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["incidents"] == 3
    assert s["by_priority"] == {"P2": 2, "P3": 1}
    # MTTA: (4 + 8) / 2 = 6 min over the two acknowledged; the third is excluded.
    assert (s["mtta"]["mean_seconds"], s["mtta"]["count"], s["mtta"]["excluded"]) == (360, 2, 1)
    # MTTR: (60 + 120 + 30) / 3 = 70 min.
    assert s["mttr"]["mean_seconds"] == 70 * 60 and s["mttr"]["median_seconds"] == 60 * 60
    assert s["mttd"]["mean_seconds"] == 6 * 60 and s["mttd"]["count"] == 1
    assert s["previous_incidents"] == 0 and s["incidents_trend"] is None
    assert "triggered → first acknowledged" in s["definitions"]["mtta"]
    load = client.get("/api/v1/metrics/on-call-load", params=PERIOD, headers=world.auth()).json()
    assert load == [{"user_id": world.responder_id, "name": "Bob", "pages": 2, "out_of_hours": 1}]
    rec = client.get("/api/v1/metrics/recurring", params=PERIOD, headers=world.auth()).json()
    assert rec == [] or all(len(g["incident_ids"]) > 1 for g in rec)
    # A narrower filter: priority 3 only.
    r = client.get(
        "/api/v1/metrics/summary", params={**PERIOD, "priority": 3}, headers=world.auth()
    )
    assert r.json()["incidents"] == 1 and r.json()["mtta"]["count"] == 0


def test_bad_periods_are_refused(client: TestClient, world: World) -> None:
    auth = world.auth("stakeholder")
    r = client.get(
        "/api/v1/metrics/summary",
        params={"since": "2026-11-08T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
        headers=auth,
    )
    assert_error(r, 422)
    r = client.get(
        "/api/v1/metrics/summary",
        params={"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=auth,
    )
    assert_error(r, 422)
    assert_error(
        client.get("/api/v1/metrics/summary", params={"since": "yesterday"}, headers=auth), 422
    )
