"""Intake faults with real processes: SIGKILL of the server under load (repeatedly), PostgreSQL
stopped and started again under load, SQLite's disk full. Each counts the acknowledged events and
finds every one of them in the database afterwards. The long form is bench/intake_faults.py."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.faults.intake_harness import (
    ALERTS_PER_BATCH,
    kill_under_load,
    own_postgres,
    postgres_outage,
    sqlite_disk_full,
    stored_keys,
    tmpfs,
)

# uvicorn re-raises SIGTERM after its graceful shutdown; both mean a clean stop.
CLEAN_EXIT = (0, -signal.SIGTERM)
KILLS = 5
ACKS_PER_ROUND = 40  # events acknowledged between two kills


def server_errors(statuses: dict[int | str, int]) -> dict[int | str, int]:
    return {s: n for s, n in statuses.items() if isinstance(s, int) and s >= 500 and s != 503}


def test_sigkill_under_intake_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    """SQLite here; the benchmark's long form runs it on PostgreSQL too (--database-url)."""
    url = f"sqlite:///{tmp_path}/warroom.db"
    load, kills = kill_under_load(url, tmp_path / "serve.log", KILLS, ACKS_PER_ROUND)
    assert kills == KILLS
    acked_pd = {k for k in load.acked if "-pd" in k}
    acked_am = {k for k in load.acked if "-am" in k}
    # Both kinds were acknowledged in numbers: single events and whole batches of 20.
    assert len(acked_pd) >= 2 * KILLS
    assert len(acked_am) >= 20 * KILLS
    stored = stored_keys(url)
    assert load.acked - stored == set()  # every acknowledged event is stored, after 5 kills
    # In flight at a kill: connection errors, which the client retries; never a 5xx.
    assert server_errors(load.statuses) == {} and load.statuses[503] == 0, load.statuses


DEADLINE = 3.0
# At most one request in flight per client thread: two PagerDuty events, one batch.
IN_FLIGHT = 2 + ALERTS_PER_BATCH


def test_postgres_stopped_and_restarted_under_load(tmp_path: Path) -> None:
    with own_postgres() as (pg, url):
        outage = postgres_outage(pg, url, tmp_path / "serve.log", down_for=2.0, deadline=DEADLINE)
        stored = stored_keys(url)
    load = outage.load
    assert outage.exit_code in CLEAN_EXIT, outage.output[-3000:]
    # While it was down: 503s (the database refuses at once), and nothing acknowledged but
    # the few requests whose commit went through just before the stop.
    assert outage.answered_while_down[503] >= 20, outage.answered_while_down
    assert outage.acked_while_down <= IN_FLIGHT
    assert server_errors(load.statuses) == {}, load.statuses
    # Never a hang: no client timed out, and every answer came within the deadline.
    assert not [s for s in load.statuses if isinstance(s, str)], load.statuses
    assert load.slowest < DEADLINE + 5
    # Recovered by itself, and every acknowledged event, before and after, is stored.
    assert load.acked - stored == set()
    assert len(load.acked) >= 100


def test_sqlite_disk_full_answers_503_and_recovers_without_damage(tmp_path: Path) -> None:
    """A real full filesystem: a 24 MB tmpfs of the test's own (needs root to mount)."""
    try:
        mount = tmpfs(tmp_path / "disk", "24m")
        disk = mount.__enter__()
    except (PermissionError, FileNotFoundError) as exc:
        pytest.skip(f"a small filesystem of its own needs root (mount -t tmpfs): {exc}")
    try:
        full = sqlite_disk_full(disk, tmp_path / "serve.log", batch_size=300)
    finally:
        mount.__exit__(None, None, None)
    assert full.exit_code in CLEAN_EXIT, full.output[-3000:]
    # The first batch that needed new space: 503, saying why, and a Retry-After.
    assert full.statuses[-1] == 503 and set(full.statuses) <= {200, 503}, full.statuses
    assert "database is full" in full.refusal["message"]
    assert full.retry_after.isdigit()
    # All or nothing: not one alert of the refused batch; resent once space returned, all.
    assert full.refused_stored_before_space_returned == 0
    assert full.accepted_after == 300
    assert full.refused_keys <= full.stored
    assert len(full.stored) == 1 + 300 * full.statuses.count(200) + 300
    assert full.integrity == "ok"
