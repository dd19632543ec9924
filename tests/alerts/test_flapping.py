"""Flap detection (pure): the decision over a key's recent changes with a fake clock, its
properties under hypothesis, and plan_batch holding a flapping alert and paging it once it has
been stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.alerts import flapping
from warroom.alerts.flapping import KEEP, FlapRule, Record
from warroom.alerts.logic import AlertState, ServiceRule, Signal, Submission, plan_batch

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
HOUR = FlapRule(5, timedelta(minutes=60))


def history(*minutes: float, rule: FlapRule = HOUR) -> Record | None:
    record: Record | None = None
    for m in minutes:
        record = flapping.changed(record, T0 + timedelta(minutes=m), rule)
    return record


def test_more_than_n_changes_within_the_window_is_flapping_and_says_so() -> None:
    record = history(0, 5, 10, 15, 20)
    assert flapping.state(record, T0 + timedelta(minutes=21), HOUR) is None  # 5: not more than 5
    record = history(0, 5, 10, 15, 20, 25, 30)
    found = flapping.state(record, T0 + timedelta(minutes=31), HOUR)
    assert found is not None
    assert found.summary() == "flapping: 7 changes in 60 min"
    assert found.since == T0 + timedelta(minutes=25)  # the sixth change
    assert found.until == T0 + timedelta(minutes=90)  # stable for an hour after the last


def test_changes_spread_wider_than_the_window_are_not_flapping() -> None:
    assert (
        flapping.state(history(0, 15, 30, 45, 60, 75, 90), T0 + timedelta(minutes=91), HOUR) is None
    )


def test_the_hold_lasts_until_stable_for_a_whole_window_even_as_changes_thin_out() -> None:
    record = history(0, 1, 2, 3, 4, 5, 50, 100)  # flapping at 5; then one change per 50 min
    assert record is not None and record.since == T0 + timedelta(minutes=5)
    assert flapping.state(record, T0 + timedelta(minutes=101), HOUR) is not None
    assert flapping.state(record, T0 + timedelta(minutes=159), HOUR) is not None
    assert flapping.state(record, T0 + timedelta(minutes=160), HOUR) is None


def test_threshold_zero_turns_it_off() -> None:
    off = FlapRule(0, timedelta(minutes=60))
    assert flapping.state(history(*range(20), rule=off), T0 + timedelta(minutes=20), off) is None


def test_the_record_survives_its_json() -> None:
    record = history(0, 1, 2, 3, 4, 5, 6)
    assert record is not None
    assert Record.from_json(record.to_json()) == record
    assert Record.from_json({"t": ["x"]}) is None  # unreadable: start afresh


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 600), min_size=1, max_size=80),
    st.integers(0, 8),
    st.integers(1, 120),
    st.integers(0, 200),
)
def test_properties_of_the_decision(
    gaps: list[int], threshold: int, window_minutes: int, later: int
) -> None:
    rule = FlapRule(threshold, timedelta(minutes=window_minutes))
    times = []
    at = T0
    for g in gaps:
        at += timedelta(seconds=g * 10)
        times.append(at)
    record: Record | None = None
    for t in times:
        record = flapping.changed(record, t, rule)
    assert record is not None
    now = times[-1] + timedelta(minutes=later)
    found = flapping.state(record, now, rule)
    # Compact: sorted, at most KEEP, all within a window of the last change.
    assert list(record.changes) == sorted(record.changes) and len(record.changes) <= KEEP
    assert all(times[-1] - c < rule.window for c in record.changes)
    if threshold == 0 or now - times[-1] >= rule.window:
        assert found is None  # off, or stable for a whole window
        return
    recent = [t for t in times if now - rule.window < t <= now]
    if len(recent) > threshold:
        assert found is not None  # more than N changes in the window
    if found is not None:
        assert found.until == times[-1] + rule.window
        # It started flapping when some change had more than N within a window before it.
        assert any(len([u for u in times if t - rule.window < u <= t]) > threshold for t in times)


# --- in the batch plan -----------------------------------------------------------------------

RULES = {1: ServiceRule(tier=2, grouping_window_seconds=0, auto_resolve=True, flap=HOUR)}


def test_a_flapping_key_is_held_then_pages_once_stable() -> None:
    """Seven changes within minutes (open, resolve, ...): the fourth opening, the seventh
    change, is held as flapping (no incident); the release at its end, an hour after the last
    change, pages it."""
    memory: dict[tuple[int, str], Record] = {}
    opened_incidents = 0
    held: AlertState | None = None
    for n in range(4):
        now = T0 + timedelta(minutes=2 * n)
        p = plan_batch(
            [Submission(10, "script", 1, (Signal("trigger", "k", summary="disk"),))],
            {},
            {},
            {},
            dict(RULES),
            now,
            flap_memory=dict(memory),
        )
        [alert] = p.new_alerts
        opened_incidents += len(p.new_incidents)
        if n == 3:
            held = alert
            break
        alert.id = n + 1
        r = plan_batch(
            [Submission(10, "script", 1, (Signal("resolve", "k"),))],
            {(10, "k"): alert},
            {},
            {},
            dict(RULES),
            now + timedelta(minutes=1),
            flap_memory={},
        )
        [(iid, key, state, expires)] = r.flap_memory
        assert expires == now + timedelta(minutes=61)
        memory[(iid, key)] = Record.from_json(state)  # type: ignore[assignment]
    assert opened_incidents == 3  # the first three pages before it was known to flap
    assert held is not None
    assert held.suppression == "flapping" and held.incident_ref is None
    assert held.suppressed_by is not None
    assert held.suppressed_by["summary"] == "flapping: 7 changes in 60 min"
    assert held.flap is not None and len(held.flap["t"]) == 7
    assert p.release_at == {T0 + timedelta(minutes=66)}
    assert [o.result for o in p.outcomes[0]] == ["suppressed"]

    # Still firing an hour after its last change: the release puts it in an incident, once.
    held.id, held.loaded = 9, ("triggered",) + (None,) * 8
    released = plan_batch(
        [Submission(10, "script", 1, (Signal("release", "k", summary="disk"),))],
        {(10, "k"): held},
        {},
        {},
        dict(RULES),
        T0 + timedelta(minutes=66),
    )
    assert held.suppression is None and held.incident_ref is not None
    assert len(released.new_incidents) == 1
    [event] = [e for e in released.timeline if e["kind"] == "alert_flapping"]
    assert "flapping: 7 changes in 60 min" in event["message"]

    # Released too early (another timer): still held.
    held2 = AlertState(
        id=10,
        integration_id=10,
        service_id=1,
        dedup_key="j",
        status="triggered",
        severity="error",
        incident_ref=None,
        suppression="flapping",
        suppressed_by={"summary": "flapping"},
        flap=memory[(10, "k")].to_json(),
        created_at=T0,
    )
    early = plan_batch(
        [Submission(10, "script", 1, (Signal("release", "j"),))],
        {(10, "j"): held2},
        {},
        {},
        dict(RULES),
        T0 + timedelta(minutes=20),
    )
    assert held2.suppression == "flapping" and not early.new_incidents
