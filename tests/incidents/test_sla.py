"""SLA clocks per priority: targets, amber at 75 % of the budget, red when breached, restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from warroom.incidents.sla import TARGETS, WARN_AT, clock, clocks

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def states(priority: int, now: datetime, **kw: datetime | None) -> list[str]:
    return [
        c.state for c in clocks(priority, T0, kw.get("ack"), kw.get("res"), now, kw.get("changed"))
    ]


def test_targets_per_priority() -> None:
    assert TARGETS[1] == (15 * MIN, 4 * 60 * MIN)
    assert TARGETS[2] == (30 * MIN, 8 * 60 * MIN)
    assert TARGETS[3] == (4 * 60 * MIN, 72 * 60 * MIN)
    assert TARGETS[4] == (24 * 60 * MIN, 120 * 60 * MIN)
    assert clocks(5, T0, None, None, T0 + timedelta(days=30)) == []  # planning: no clock


def test_a_p1_goes_amber_at_75_percent_and_red_when_breached() -> None:
    assert states(1, T0 + 11 * MIN) == ["ok", "ok"]
    assert states(1, T0 + 11 * MIN + timedelta(seconds=15)) == ["warning", "ok"]  # 75 %
    assert states(1, T0 + 15 * MIN) == ["warning", "ok"]  # at the deadline, not past it
    assert states(1, T0 + 15 * MIN + timedelta(seconds=1)) == ["breached", "ok"]
    assert states(1, T0 + 181 * MIN, ack=T0 + 14 * MIN) == ["met", "warning"]
    assert states(1, T0 + 5 * 60 * MIN, ack=T0 + 16 * MIN) == ["missed", "breached"]
    assert states(1, T0 + 9 * 60 * MIN, ack=T0 + MIN, res=T0 + 3 * 60 * MIN) == ["met", "met"]


def test_changing_the_priority_restarts_the_clocks() -> None:
    changed = T0 + 60 * MIN
    # P2 an hour in: its 30 minutes run from the change, not from the trigger.
    assert states(2, T0 + 70 * MIN, changed=changed) == ["ok", "ok"]
    assert states(2, T0 + 91 * MIN + timedelta(seconds=1), changed=changed)[0] == "breached"
    # Acknowledged before the change: that clock was met.
    assert states(2, T0 + 70 * MIN, ack=T0 + 5 * MIN, changed=changed)[0] == "met"
    c = clocks(2, T0, None, None, T0 + 70 * MIN, changed)[1]
    assert (c.started_at, c.deadline) == (changed, changed + 8 * 60 * MIN)


@given(
    priority=st.integers(1, 4),
    minutes=st.integers(0, 10 * 24 * 60),
    ack_after=st.one_of(st.none(), st.integers(0, 10 * 24 * 60)),
)
def test_a_clock_is_amber_or_red_exactly_by_its_budget(
    priority: int, minutes: int, ack_after: int | None
) -> None:
    now = T0 + minutes * MIN
    ack = T0 + ack_after * MIN if ack_after is not None and ack_after <= minutes else None
    target = TARGETS[priority][0]
    c = clock("acknowledge", target, T0, ack, now)
    elapsed = (ack or now) - T0
    assert c.elapsed == elapsed and c.deadline == T0 + target
    if ack is not None:
        assert c.state == ("met" if elapsed <= target else "missed") and not c.running
    elif elapsed > target:
        assert c.state == "breached" and c.used > 1
    elif elapsed / target >= WARN_AT:
        assert c.state == "warning"
    else:
        assert c.state == "ok" and c.remaining > target * (1 - WARN_AT)
