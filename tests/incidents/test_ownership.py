"""Incidents own their rows: intake's batch path hands its decisions to incidents, which alone
writes incidents, affected services and the timeline, and says "nobody is paged" once."""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

import warroom
from tests.conftest import World
from warroom.alerts import service as alert_service
from warroom.db.engine import Database
from warroom.incidents.timeline import NOBODY_PAGED

PACKAGE = Path(warroom.__file__).resolve().parent
WRITE = re.compile(r"^\s*(?:INSERT INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)
INCIDENT_TABLES = {"incidents", "incident_services", "timeline_events"}


def _writer() -> str:
    """The warroom module (path under warroom/) nearest the statement being executed."""
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(PACKAGE):
            return path.relative_to(PACKAGE).as_posix()
    return "?"


@pytest.fixture
def writes(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(table, module) of every INSERT and UPDATE the app sends while the test runs."""
    seen: list[tuple[str, str]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        found = WRITE.match(statement)
        if found:
            seen.append((found.group(1).lower(), _writer()))

    event.listen(db.engine, "before_cursor_execute", listen)
    # The alert batch path's own SQL goes straight to the driver's cursor (alerts/service.py
    # _Driver), past SQLAlchemy's events: its statements are seen where they are sent.
    driver = alert_service._Driver
    sent_rows, sent_many = driver.rows, driver.executemany

    def rows(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        listen(None, None, sql)
        return sent_rows(self, sql, *args, **kwargs)

    def executemany(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        listen(None, None, sql)
        return sent_many(self, sql, *args, **kwargs)

    monkeypatch.setattr(driver, "rows", rows)
    monkeypatch.setattr(driver, "executemany", executemany)
    yield seen
    event.remove(db.engine, "before_cursor_execute", listen)


def post(client: TestClient, world: World, body: Any) -> None:
    r = client.post(f"/integrations/generic/{world.generic_key}", json=body)
    assert r.status_code == 202, r.text


def test_the_alert_batch_path_leaves_incident_rows_to_incidents(
    client: TestClient, world: World, writes: list[tuple[str, str]]
) -> None:
    # Open an incident, raise its urgency, acknowledge and resolve it from the source: every
    # kind of incident write the batch path makes (new, changed, timeline, paging stopped).
    post(client, world, {"summary": "disk filling", "severity": "warning", "dedup_key": "a"})
    post(client, world, {"summary": "disk full", "severity": "critical", "dedup_key": "b"})
    post(client, world, [{"action": "acknowledge", "dedup_key": "a"}])
    post(client, world, [{"action": "resolve", "dedup_key": k} for k in ("a", "b")])
    tables = {table for table, _ in writes}
    assert tables >= INCIDENT_TABLES and "alerts" in tables
    by_others = sorted(
        {(t, m) for t, m in writes if t in INCIDENT_TABLES and not m.startswith("incidents/")}
    )
    assert by_others == []
    # And alerts only writes its own tables (alert_flaps: a resolved key's recent changes).
    assert sorted({t for t, m in writes if m.startswith("alerts/")}) == ["alert_flaps", "alerts"]


def test_nobody_is_paged_is_said_once_for_alert_born_and_declared_incidents(
    client: TestClient, world: World
) -> None:
    # The world's services have no escalation policy.
    post(client, world, {"summary": "checkout down", "severity": "error", "dedup_key": "x"})
    alerts = client.get("/api/v1/alerts", headers=world.auth()).json()["items"]
    alert_born = alerts[0]["incident_id"]
    r = client.post(
        "/api/v1/incidents",
        headers=world.auth(),
        json={
            "title": "Payments fail",
            "impact": 1,
            "urgency": 1,
            "service_ids": [world.database_id],
        },
    )
    assert r.status_code == 201, r.text
    for incident_id in (alert_born, r.json()["id"]):
        timeline = client.get(
            f"/api/v1/incidents/{incident_id}/timeline", headers=world.auth()
        ).json()["items"]
        warnings = [e for e in timeline if e["kind"] == "paging_warning"]
        assert [w["message"] for w in warnings] == [NOBODY_PAGED]
        assert warnings[0]["actor_type"] == "system"
        # Said after what opened the incident, never before it.
        assert timeline[0]["kind"] != "paging_warning"
