"""The intake's catalog cache (ADR 13): what other connections change is seen by the next batch."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.alerts.test_service import event, incident_of
from tests.conftest import World, count_rows
from warroom.db.engine import Database


def _write(db: Database, sql: str, **params: Any) -> None:
    """A change by another connection than the intake writer's (an API call, the CLI)."""
    with db.session() as s:
        s.execute(text(sql), params)


def test_a_service_rule_changed_elsewhere_applies_to_the_next_batch(
    client: TestClient, world: World, db: Database
) -> None:
    event(client, world, "a")
    event(client, world, "b")  # grouped: the window is open
    assert incident_of(client, world, "a")["id"] == incident_of(client, world, "b")["id"]
    _write(
        db, "UPDATE services SET grouping_window_seconds = 0 WHERE id = :id", id=world.checkout_id
    )
    event(client, world, "c")  # no grouping now: an incident of its own
    assert incident_of(client, world, "c")["id"] != incident_of(client, world, "a")["id"]
    assert count_rows(db, "incidents") == 2


def test_a_routing_key_changed_elsewhere_is_refused_at_once(
    client: TestClient, world: World, db: Database
) -> None:
    event(client, world, "a")
    _write(
        db,
        "UPDATE integrations SET routing_key = :new WHERE routing_key = :old",
        new="f" * 32,
        old=world.generic_key,
    )
    body = {"summary": "x", "severity": "error", "dedup_key": "b"}
    r = client.post(f"/integrations/generic/{world.generic_key}", json=body)
    assert r.status_code == 404, r.text
    r = client.post(f"/integrations/generic/{'f' * 32}", json=body)
    assert r.status_code == 202, r.text


def test_batches_with_no_other_writer_in_between_use_the_cache(
    client: TestClient, world: World, db: Database
) -> None:
    cache = client.app.state.committer.cache  # type: ignore[attr-defined]
    event(client, world, "a")
    hits = cache.hits
    for key in ("b", "c", "d"):
        event(client, world, key)
    if db.is_sqlite:
        assert cache.hits == hits + 3
    else:  # several API processes write on PostgreSQL: nothing is cached there
        assert cache.hits == 0
    # The cached rows gave the same decisions: one incident, four alerts in it.
    assert count_rows(db, "incidents") == 1
    assert incident_of(client, world, "d")["alert_count"] == 4
