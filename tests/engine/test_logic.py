"""Pure paging decisions: escalation order with repeats, notification times, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from warroom.engine.logic import (
    Position,
    Rule,
    in_quiet_hours,
    next_position,
    notification_times,
)

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def test_steps_run_in_order_then_repeat_then_stop() -> None:
    order = []
    pos: Position | None = Position(0, 0)
    while pos is not None:
        order.append((pos.level, pos.cycle))
        pos = next_position(pos, steps=3, repeat=1)
    assert order == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]


@given(st.integers(1, 6), st.integers(0, 9))
def test_every_policy_ends_after_steps_times_runs(steps: int, repeat: int) -> None:
    seen = 0
    pos: Position | None = Position(0, 0)
    while pos is not None:
        seen += 1
        assert seen <= steps * (repeat + 1), "a repeat loop must end"
        pos = next_position(pos, steps, repeat)
    assert seen == steps * (repeat + 1)


def test_rules_fire_at_their_delay_and_people_without_rules_are_still_reached() -> None:
    plan = notification_times([Rule(1, 0), Rule(2, 120)], [1, 2], "high", NOW, None)
    assert plan == [(1, NOW), (2, NOW + timedelta(minutes=2))]
    # No rule for this urgency: every contact method at once rather than silence.
    assert notification_times([], [5, 6], "high", NOW, None) == [(5, NOW), (6, NOW)]
    # A rule pointing at a disabled/removed contact method is skipped.
    assert notification_times([Rule(9, 0)], [5], "high", NOW, None) == [(5, NOW)]


def test_quiet_hours_delay_low_urgency_only() -> None:
    # 03:00 UTC is 04:00 in Berlin: inside quiet hours 22:00-07:00, which end at 06:00 UTC.
    end = in_quiet_hours(NOW, "Europe/Berlin", "22:00", "07:00")
    assert end == datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    assert notification_times([Rule(1, 0)], [1], "low", NOW, end) == [(1, end)]
    assert notification_times([Rule(1, 0)], [1], "high", NOW, end) == [(1, NOW)]
    # 22:00 in New York: quiet from 22:00 means quiet now, until 07:00 local (12:00 UTC).
    assert in_quiet_hours(NOW, "America/New_York", "22:00", "07:00") == NOW + timedelta(hours=9)
    assert in_quiet_hours(NOW, "America/New_York", "22:30", "07:00") is None
    assert in_quiet_hours(NOW, "Asia/Tokyo", "22:00", "07:00") is None  # noon there
    assert in_quiet_hours(NOW, "UTC", None, None) is None
