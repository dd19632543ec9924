"""Tests for warroom.oncall.schedule: DST rules, overrides, restrictions, precedence, gaps."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warroom.oncall.schedule import (
    Layer,
    OverlappingOverridesError,
    Override,
    OverrideKind,
    Restriction,
    Rotation,
    Schedule,
    ScheduleError,
    Shift,
    gaps,
    next_on_call,
    on_call_at,
    shifts,
    validate,
    with_override,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
HOUR = timedelta(hours=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def at_local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0
) -> datetime:
    """The UTC instant of a wall-clock time (fold=1 picks the second of a repeated time)."""
    local = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)
    return local.astimezone(UTC)


def wall(zone: str, instant: datetime) -> datetime:
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None, fold=0)


def one_layer(zone: str, layer: Layer, *overrides: Override) -> Schedule:
    return Schedule(zone, (layer,), overrides)


def handoffs(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    return sorted({s.start for s in shifts(schedule, start, end)} - {start})


# --------------------------------------------------------------------------------------------
# Wall-clock rotations across DST changes

# zone, the day clocks go forward, the day they go back (2024), size of the change
DST_ZONES = [
    ("America/New_York", date(2024, 3, 10), date(2024, 11, 3), HOUR),
    ("Europe/London", date(2024, 3, 31), date(2024, 10, 27), HOUR),
    ("Australia/Sydney", date(2024, 10, 6), date(2024, 4, 7), HOUR),
    ("Australia/Lord_Howe", date(2024, 10, 6), date(2024, 4, 7), HOUR / 2),
    ("Pacific/Chatham", date(2024, 9, 29), date(2024, 4, 7), HOUR),
]


@pytest.mark.parametrize(("zone", "forward", "back", "change"), DST_ZONES)
def test_daily_0900_handoff_stays_at_0900_local_all_year(
    zone: str, forward: date, back: date, change: timedelta
) -> None:
    schedule = one_layer(zone, Layer(datetime(2024, 1, 1, 9), Rotation.DAILY, (1, 2)))
    found = handoffs(schedule, utc(2024, 1, 1), utc(2025, 1, 1))
    assert len(found) >= 365
    assert {wall(zone, instant).time() for instant in found} == {time(9)}
    lengths = {b - a for a, b in zip(found, found[1:], strict=False)}
    # The shift spanning each change is shorter or longer in real time, by the change.
    assert lengths == {timedelta(days=1), timedelta(days=1) - change, timedelta(days=1) + change}
    # The shift spanning a change is the one handed over at 09:00 the day before.
    by_day = {wall(zone, a).date(): b - a for a, b in zip(found, found[1:], strict=False)}
    assert by_day[back - timedelta(days=1)] == timedelta(days=1) + change
    assert by_day[forward - timedelta(days=1)] == timedelta(days=1) - change


def test_new_york_0230_handoff_on_spring_forward_day_happens_at_0330() -> None:
    schedule = one_layer(
        "America/New_York", Layer(datetime(2024, 3, 1, 2, 30), Rotation.DAILY, (1, 2))
    )
    # 2024-03-10 is day 9 after the anchor: user 1 hands over to user 2 at 03:30 EDT.
    assert on_call_at(schedule, utc(2024, 3, 10, 7, 29)) == {1}
    assert on_call_at(schedule, utc(2024, 3, 10, 7, 30)) == {2}
    assert next_on_call(schedule, utc(2024, 3, 10, 6)) == (utc(2024, 3, 10, 7, 30), frozenset({2}))
    found = handoffs(schedule, utc(2024, 3, 9), utc(2024, 3, 12))
    assert [wall("America/New_York", h) for h in found] == [
        datetime(2024, 3, 9, 2, 30),
        datetime(2024, 3, 10, 3, 30),
        datetime(2024, 3, 11, 2, 30),
    ]
    assert gaps(schedule, utc(2024, 3, 9), utc(2024, 3, 12)) == []


def test_new_york_0130_handoff_on_fall_back_day_has_both_on_call_in_repeated_hour() -> None:
    zone = "America/New_York"
    schedule = one_layer(zone, Layer(datetime(2024, 11, 1, 1, 30), Rotation.DAILY, (1, 2)))
    first = at_local(zone, 2024, 11, 3, 1, 30)
    second = at_local(zone, 2024, 11, 3, 1, 30, fold=1)
    assert (first, second) == (utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6, 30))
    assert on_call_at(schedule, first - timedelta(seconds=1)) == {2}
    assert on_call_at(schedule, first) == {1, 2}
    assert on_call_at(schedule, second - timedelta(microseconds=1)) == {1, 2}
    assert on_call_at(schedule, second) == {1}
    assert next_on_call(schedule, utc(2024, 11, 3, 5)) == (first, frozenset({1, 2}))
    assert next_on_call(schedule, first) == (second, frozenset({1}))
    assert gaps(schedule, utc(2024, 11, 2), utc(2024, 11, 5)) == []


def test_new_york_fall_back_shifts_are_one_hour_longer_and_overlap() -> None:
    zone = "America/New_York"
    schedule = one_layer(zone, Layer(datetime(2024, 11, 1, 1, 30), Rotation.DAILY, (1, 2)))
    result = shifts(schedule, utc(2024, 11, 2, 12), utc(2024, 11, 3, 12))
    assert result == [
        Shift(2, utc(2024, 11, 2, 12), utc(2024, 11, 3, 6, 30), 0),
        Shift(1, utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 12), 0),
    ]


@pytest.mark.parametrize(
    ("zone", "local_handoff", "expected"),
    [
        # 01:00 -> 02:00 jump: 01:30 becomes 02:30 BST.
        ("Europe/London", datetime(2024, 3, 31, 1, 30), utc(2024, 3, 31, 1, 30)),
        # 02:00 -> 03:00 jump: 02:30 becomes 03:30 AEDT.
        ("Australia/Sydney", datetime(2024, 10, 6, 2, 30), utc(2024, 10, 5, 16, 30)),
        # 30-minute jump 02:00 -> 02:30: 02:15 becomes 02:45 (+11:00).
        ("Australia/Lord_Howe", datetime(2024, 10, 6, 2, 15), utc(2024, 10, 5, 15, 45)),
        # 02:45 -> 03:45 jump: 03:00 becomes 04:00 (+13:45).
        ("Pacific/Chatham", datetime(2024, 9, 29, 3, 0), utc(2024, 9, 28, 14, 15)),
        ("America/New_York", datetime(2024, 3, 10, 2, 0), utc(2024, 3, 10, 7, 0)),
    ],
)
def test_nonexistent_handoff_moves_forward_by_the_gap(
    zone: str, local_handoff: datetime, expected: datetime
) -> None:
    anchor = local_handoff - timedelta(days=3)
    schedule = one_layer(zone, Layer(anchor, Rotation.DAILY, (1, 2)))
    # Day 3 after the anchor belongs to user 2.
    assert on_call_at(schedule, expected - timedelta(microseconds=1)) == {1}
    assert on_call_at(schedule, expected) == {2}
    assert expected == dateutil_tz.resolve_imaginary(
        local_handoff.replace(tzinfo=ZoneInfo(zone))
    ).astimezone(UTC)
    # The next day the handoff is back at the anchor's wall-clock time.
    next_day = local_handoff + timedelta(days=1)
    assert next_on_call(schedule, expected) == (
        at_local(zone, next_day.year, next_day.month, next_day.day, next_day.hour, next_day.minute),
        frozenset({1}),
    )


@pytest.mark.parametrize(
    ("zone", "local_handoff", "first", "last"),
    [
        ("Europe/London", datetime(2024, 10, 27, 1, 30), utc(2024, 10, 27, 0, 30),
         utc(2024, 10, 27, 1, 30)),
        ("Australia/Sydney", datetime(2024, 4, 7, 2, 30), utc(2024, 4, 6, 15, 30),
         utc(2024, 4, 6, 16, 30)),
        # Lord Howe repeats only half an hour (02:00 -> 01:30).
        ("Australia/Lord_Howe", datetime(2024, 4, 7, 1, 45), utc(2024, 4, 6, 14, 45),
         utc(2024, 4, 6, 15, 15)),
        ("Pacific/Chatham", datetime(2024, 4, 7, 3, 0), utc(2024, 4, 6, 13, 15),
         utc(2024, 4, 6, 14, 15)),
    ],
)  # fmt: skip
def test_ambiguous_handoff_starts_at_first_and_ends_at_last_occurrence(
    zone: str, local_handoff: datetime, first: datetime, last: datetime
) -> None:
    anchor = local_handoff - timedelta(days=3)
    schedule = one_layer(zone, Layer(anchor, Rotation.DAILY, (1, 2)))
    assert on_call_at(schedule, first - timedelta(microseconds=1)) == {1}
    assert on_call_at(schedule, first) == {1, 2}
    assert on_call_at(schedule, last - timedelta(microseconds=1)) == {1, 2}
    assert on_call_at(schedule, last) == {2}
    assert gaps(schedule, first - HOUR * 5, last + HOUR * 5) == []


def test_kathmandu_0545_offset() -> None:
    zone = "Asia/Kathmandu"
    schedule = one_layer(zone, Layer(datetime(2024, 1, 1, 9), Rotation.WEEKLY, (1, 2, 3)))
    found = handoffs(schedule, utc(2024, 1, 1), utc(2024, 12, 31))
    assert {(h.hour, h.minute) for h in found} == {(3, 15)}
    assert all(b - a == timedelta(weeks=1) for a, b in zip(found, found[1:], strict=False))
    assert on_call_at(schedule, utc(2024, 1, 22, 3, 14)) == {3}
    assert on_call_at(schedule, utc(2024, 1, 22, 3, 15)) == {1}


def test_chatham_1245_offset_both_seasons() -> None:
    zone = "Pacific/Chatham"
    schedule = one_layer(zone, Layer(datetime(2024, 1, 1, 9), Rotation.DAILY, (1, 2)))
    winter = handoffs(schedule, utc(2024, 6, 10), utc(2024, 6, 12))
    summer = handoffs(schedule, utc(2024, 1, 10), utc(2024, 1, 12))
    assert {(h.hour, h.minute) for h in winter} == {(20, 15)}  # +12:45
    assert {(h.hour, h.minute) for h in summer} == {(19, 15)}  # +13:45


def test_hourly_rotation_skips_the_nonexistent_hour_and_doubles_in_the_repeated_one() -> None:
    zone = "America/New_York"
    spring = one_layer(zone, Layer(datetime(2024, 3, 10), Rotation.HOURLY, (1, 2, 3)))
    # 00:00 user 1, 01:00 user 2, 02:00 user 3 (does not exist: zero real length), 03:00 user 1.
    assert on_call_at(spring, utc(2024, 3, 10, 6, 59)) == {2}
    assert on_call_at(spring, utc(2024, 3, 10, 7)) == {1}
    window = shifts(spring, utc(2024, 3, 10, 5), utc(2024, 3, 10, 9))
    assert [(s.user_id, s.end - s.start) for s in window] == [
        (1, HOUR),
        (2, HOUR),
        (1, HOUR),
        (2, HOUR),
    ]
    assert gaps(spring, utc(2024, 3, 10, 5), utc(2024, 3, 11)) == []

    fall = one_layer(zone, Layer(datetime(2024, 11, 3), Rotation.HOURLY, (1, 2, 3)))
    # 00:00-01:00 ends at the second 01:00 and 01:00-02:00 starts at the first one.
    assert on_call_at(fall, utc(2024, 11, 3, 4, 59)) == {1}
    assert on_call_at(fall, utc(2024, 11, 3, 5, 30)) == {1, 2}
    assert on_call_at(fall, utc(2024, 11, 3, 6, 30)) == {2}
    assert on_call_at(fall, utc(2024, 11, 3, 7)) == {3}


@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Lord_Howe", "Europe/London"])
def test_shifts_shorter_than_the_gap_never_overlap_or_leave_a_gap(zone: str) -> None:
    forward = {"America/New_York": date(2024, 3, 10), "Europe/London": date(2024, 3, 31)}.get(
        zone, date(2024, 10, 6)
    )
    # 25-minute shifts, shorter than the gap, among four members: shifts
    # wrongly surviving inside the gap would show up as a second person on call.
    layer = Layer(datetime.combine(forward, time(0, 5)), timedelta(minutes=25), (1, 2, 3, 4))
    schedule = one_layer(zone, layer)
    start = at_local(zone, forward.year, forward.month, forward.day, 1)
    instant = start
    while instant < start + 4 * HOUR:
        assert len(on_call_at(schedule, instant)) == 1
        instant += timedelta(minutes=5)
    assert gaps(schedule, start, start + 4 * HOUR) == []
    found = shifts(schedule, start, start + 4 * HOUR)
    assert all(a.end == b.start for a, b in zip(found, found[1:], strict=False))


def test_rotation_index_is_arithmetic_from_an_old_anchor() -> None:
    zone = "Europe/London"
    weekly = one_layer(zone, Layer(datetime(2015, 1, 5, 9), Rotation.WEEKLY, (1, 2, 3)))
    weeks = (date(2024, 6, 10) - date(2015, 1, 5)).days // 7
    assert on_call_at(weekly, at_local(zone, 2024, 6, 12, 12)) == {(1, 2, 3)[weeks % 3]}
    daily = one_layer(zone, Layer(datetime(2010, 1, 1, 9), Rotation.DAILY, (1, 2, 3, 4, 5)))
    days = (date(2024, 6, 12) - date(2010, 1, 1)).days
    assert on_call_at(daily, at_local(zone, 2024, 6, 12, 8, 59)) == {(days - 1) % 5 + 1}
    assert on_call_at(daily, at_local(zone, 2024, 6, 12, 9)) == {days % 5 + 1}
    # Two-day shifts with a custom length count wall-clock time too.
    custom = one_layer(zone, Layer(datetime(2010, 1, 1, 9), timedelta(days=2), (1, 2)))
    assert on_call_at(custom, at_local(zone, 2024, 6, 12, 9)) == {(1, 2)[days // 2 % 2]}


def test_custom_twelve_hour_shifts_keep_wall_clock_handoffs() -> None:
    zone = "America/New_York"
    schedule = one_layer(zone, Layer(datetime(2024, 3, 1, 8), timedelta(hours=12), (1, 2)))
    found = handoffs(schedule, utc(2024, 3, 8), utc(2024, 3, 14))
    assert {wall(zone, h).time() for h in found} == {time(8), time(20)}


def test_layer_start_and_end_bound_the_rotation() -> None:
    zone = "UTC"
    layer = Layer(datetime(2024, 5, 1, 9), Rotation.DAILY, (1, 2), end=datetime(2024, 5, 3, 21))
    schedule = one_layer(zone, layer)
    assert on_call_at(schedule, utc(2024, 5, 1, 8, 59)) == frozenset()
    assert shifts(schedule, utc(2024, 5, 1), utc(2024, 5, 4)) == [
        Shift(1, utc(2024, 5, 1, 9), utc(2024, 5, 2, 9), 0),
        Shift(2, utc(2024, 5, 2, 9), utc(2024, 5, 3, 9), 0),
        Shift(1, utc(2024, 5, 3, 9), utc(2024, 5, 3, 21), 0),
    ]
    assert gaps(schedule, utc(2024, 5, 1), utc(2024, 5, 4)) == [
        (utc(2024, 5, 1), utc(2024, 5, 1, 9)),
        (utc(2024, 5, 3, 21), utc(2024, 5, 4)),
    ]


def test_contiguous_shifts_of_one_user_are_merged() -> None:
    solo = one_layer("UTC", Layer(datetime(2024, 1, 1), Rotation.DAILY, (7,)))
    assert shifts(solo, utc(2024, 1, 3, 12), utc(2024, 2, 1)) == [
        Shift(7, utc(2024, 1, 3, 12), utc(2024, 2, 1), 0)
    ]
    repeated = one_layer("UTC", Layer(datetime(2024, 1, 1), Rotation.DAILY, (1, 1, 2)))
    assert shifts(repeated, utc(2024, 1, 1), utc(2024, 1, 4)) == [
        Shift(1, utc(2024, 1, 1), utc(2024, 1, 3), 0),
        Shift(2, utc(2024, 1, 3), utc(2024, 1, 4), 0),
    ]


def test_shifts_are_clipped_to_the_range_and_sorted() -> None:
    schedule = one_layer("UTC", Layer(datetime(2024, 1, 1, 9), Rotation.DAILY, (1, 2, 3)))
    result = shifts(schedule, utc(2024, 1, 2, 12), utc(2024, 1, 4, 12))
    assert result[0].start == utc(2024, 1, 2, 12)
    assert result[-1].end == utc(2024, 1, 4, 12)
    assert result == sorted(result, key=lambda s: (s.start, s.end, s.user_id))
    assert shifts(schedule, utc(2024, 1, 2), utc(2024, 1, 2)) == []
    with pytest.raises(ValueError, match="before start"):
        shifts(schedule, utc(2024, 1, 2), utc(2024, 1, 1))


# --------------------------------------------------------------------------------------------
# Layers, restrictions, overrides


def business_hours() -> tuple[Restriction, ...]:
    return (Restriction(frozenset({MON, TUE, WED, THU, FRI}), time(9), time(17)),)


def test_highest_layer_with_someone_on_call_wins() -> None:
    zone = "Europe/London"
    base = Layer(datetime(2024, 1, 1, 9), Rotation.WEEKLY, (1,))
    daytime = Layer(datetime(2024, 1, 1, 9), Rotation.DAILY, (2, 3), business_hours())
    schedule = Schedule(zone, (base, daytime))
    assert on_call_at(schedule, at_local(zone, 2024, 7, 1, 10)) == {2}  # Monday, BST
    assert on_call_at(schedule, at_local(zone, 2024, 7, 1, 17)) == {1}
    assert on_call_at(schedule, at_local(zone, 2024, 7, 6, 10)) == {1}  # Saturday
    monday = shifts(schedule, at_local(zone, 2024, 7, 1), at_local(zone, 2024, 7, 2))
    assert monday == [
        Shift(1, at_local(zone, 2024, 7, 1), at_local(zone, 2024, 7, 1, 9), 0),
        Shift(2, at_local(zone, 2024, 7, 1, 9), at_local(zone, 2024, 7, 1, 17), 1),
        Shift(1, at_local(zone, 2024, 7, 1, 17), at_local(zone, 2024, 7, 2), 0),
    ]


def test_restriction_across_midnight() -> None:
    zone = "America/New_York"
    nights = (Restriction(frozenset({FRI}), time(22), time(6)),)
    schedule = one_layer(zone, Layer(datetime(2024, 1, 1), Rotation.WEEKLY, (5,), nights))
    # 2024-06-07 is a Friday.
    assert on_call_at(schedule, at_local(zone, 2024, 6, 7, 21, 59)) == frozenset()
    assert on_call_at(schedule, at_local(zone, 2024, 6, 7, 22)) == {5}
    assert on_call_at(schedule, at_local(zone, 2024, 6, 8, 5, 59)) == {5}
    assert on_call_at(schedule, at_local(zone, 2024, 6, 8, 6)) == frozenset()
    assert on_call_at(schedule, at_local(zone, 2024, 6, 8, 23)) == frozenset()
    week = (at_local(zone, 2024, 6, 3), at_local(zone, 2024, 6, 10))
    assert shifts(schedule, *week) == [
        Shift(5, at_local(zone, 2024, 6, 7, 22), at_local(zone, 2024, 6, 8, 6), 0)
    ]
    assert gaps(schedule, *week) == [
        (week[0], at_local(zone, 2024, 6, 7, 22)),
        (at_local(zone, 2024, 6, 8, 6), week[1]),
    ]


def test_restriction_window_across_a_dst_change_is_shorter_in_real_time() -> None:
    zone = "America/New_York"
    nights = (Restriction(frozenset({SAT}), time(22), time(6)),)
    schedule = one_layer(zone, Layer(datetime(2024, 1, 1), Rotation.DAILY, (5,), nights))
    found = shifts(schedule, utc(2024, 3, 9), utc(2024, 3, 11))
    assert found == [Shift(5, utc(2024, 3, 10, 3), utc(2024, 3, 10, 10), 0)]  # 7 real hours


def test_restriction_splits_a_shift_between_members() -> None:
    zone = "UTC"
    layer = Layer(datetime(2024, 1, 1, 12), Rotation.DAILY, (1, 2), business_hours())
    schedule = one_layer(zone, layer)
    assert shifts(schedule, utc(2024, 1, 2), utc(2024, 1, 3)) == [
        Shift(1, utc(2024, 1, 2, 9), utc(2024, 1, 2, 12), 0),
        Shift(2, utc(2024, 1, 2, 12), utc(2024, 1, 2, 17), 0),
    ]


def test_gaps_are_reported() -> None:
    schedule = one_layer(
        "UTC", Layer(datetime(2024, 1, 1), Rotation.DAILY, (1, 2), business_hours())
    )
    found = gaps(schedule, utc(2024, 1, 5), utc(2024, 1, 9))  # Friday to Monday night
    assert found == [
        (utc(2024, 1, 5), utc(2024, 1, 5, 9)),
        (utc(2024, 1, 5, 17), utc(2024, 1, 8, 9)),
        (utc(2024, 1, 8, 17), utc(2024, 1, 9)),
    ]
    assert next_on_call(schedule, utc(2024, 1, 5, 12)) == (utc(2024, 1, 5, 17), frozenset())
    empty = Schedule("UTC", ())
    assert gaps(empty, utc(2024, 1, 1), utc(2024, 1, 2)) == [(utc(2024, 1, 1), utc(2024, 1, 2))]


def rotation_1_2() -> Layer:
    return Layer(datetime(2024, 1, 1), Rotation.DAILY, (1, 2))  # UTC: user 1 on 2024-01-01


def test_override_add() -> None:
    schedule = one_layer(
        "UTC", rotation_1_2(), Override.add(3, utc(2024, 1, 1, 10), utc(2024, 1, 1, 12))
    )
    assert on_call_at(schedule, utc(2024, 1, 1, 9)) == {1}
    assert on_call_at(schedule, utc(2024, 1, 1, 10)) == {1, 3}
    assert on_call_at(schedule, utc(2024, 1, 1, 12)) == {1}
    assert Shift(3, utc(2024, 1, 1, 10), utc(2024, 1, 1, 12), None) in shifts(
        schedule, utc(2024, 1, 1), utc(2024, 1, 2)
    )


def test_override_remove_leaves_a_gap() -> None:
    schedule = one_layer(
        "UTC", rotation_1_2(), Override.remove(1, utc(2024, 1, 1, 10), utc(2024, 1, 1, 12))
    )
    assert on_call_at(schedule, utc(2024, 1, 1, 11)) == frozenset()
    assert gaps(schedule, utc(2024, 1, 1), utc(2024, 1, 2)) == [
        (utc(2024, 1, 1, 10), utc(2024, 1, 1, 12))
    ]
    assert shifts(schedule, utc(2024, 1, 1), utc(2024, 1, 2)) == [
        Shift(1, utc(2024, 1, 1), utc(2024, 1, 1, 10), 0),
        Shift(1, utc(2024, 1, 1, 12), utc(2024, 1, 2), 0),
    ]


def test_override_replace_only_where_the_user_is_on_call() -> None:
    schedule = one_layer(
        "UTC", rotation_1_2(), Override.replace(1, 4, utc(2024, 1, 1, 20), utc(2024, 1, 2, 4))
    )
    assert on_call_at(schedule, utc(2024, 1, 1, 21)) == {4}
    assert on_call_at(schedule, utc(2024, 1, 2, 1)) == {2}  # user 1 is off: nothing to replace
    assert shifts(schedule, utc(2024, 1, 1, 12), utc(2024, 1, 2, 12)) == [
        Shift(1, utc(2024, 1, 1, 12), utc(2024, 1, 1, 20), 0),
        Shift(4, utc(2024, 1, 1, 20), utc(2024, 1, 2), None),
        Shift(2, utc(2024, 1, 2), utc(2024, 1, 2, 12), 0),
    ]


def test_override_for_someone_already_on_call_keeps_their_layer() -> None:
    schedule = one_layer(
        "UTC", rotation_1_2(), Override.add(1, utc(2024, 1, 1, 10), utc(2024, 1, 1, 12))
    )
    assert shifts(schedule, utc(2024, 1, 1), utc(2024, 1, 2)) == [
        Shift(1, utc(2024, 1, 1), utc(2024, 1, 2), 0)
    ]


def test_overrides_apply_after_layer_precedence() -> None:
    base = Layer(datetime(2024, 1, 1), Rotation.DAILY, (1,))
    top = Layer(datetime(2024, 1, 1), Rotation.DAILY, (2,))
    schedule = Schedule(
        "UTC", (base, top), (Override.remove(2, utc(2024, 1, 1, 10), utc(2024, 1, 1, 11)),)
    )
    # Removing the top layer's user does not let the lower layer show through.
    assert on_call_at(schedule, utc(2024, 1, 1, 10, 30)) == frozenset()


def test_overlapping_overrides_are_rejected() -> None:
    first = Override.add(3, utc(2024, 1, 1, 10), utc(2024, 1, 1, 12))
    clash = Override.replace(1, 3, utc(2024, 1, 1, 11), utc(2024, 1, 1, 13))
    schedule = one_layer("UTC", rotation_1_2(), first, clash)
    problems = validate(schedule)
    assert problems == [
        "overrides 0 and 1 overlap: both involve user 3 and "
        "[2024-01-01T10:00:00+00:00, 2024-01-01T12:00:00+00:00) intersects "
        "[2024-01-01T11:00:00+00:00, 2024-01-01T13:00:00+00:00)"
    ]
    with pytest.raises(ScheduleError, match="overlap"):
        on_call_at(schedule, utc(2024, 1, 1))
    with pytest.raises(OverlappingOverridesError, match="involve user 3"):
        with_override(one_layer("UTC", rotation_1_2(), first), clash)
    assert isinstance(OverlappingOverridesError(["x"]), ValueError)


def test_touching_or_unrelated_overrides_are_allowed() -> None:
    schedule = one_layer(
        "UTC", rotation_1_2(), Override.add(3, utc(2024, 1, 1, 10), utc(2024, 1, 1, 12))
    )
    schedule = with_override(schedule, Override.remove(3, utc(2024, 1, 1, 12), utc(2024, 1, 1, 14)))
    schedule = with_override(
        schedule, Override.replace(1, 4, utc(2024, 1, 1, 11), utc(2024, 1, 1, 13))
    )
    assert validate(schedule) == []
    assert on_call_at(schedule, utc(2024, 1, 1, 11)) == {3, 4}
    assert on_call_at(schedule, utc(2024, 1, 1, 12)) == {4}


# --------------------------------------------------------------------------------------------
# Validation and inputs


def test_validate_reports_every_problem_clearly() -> None:
    bad = Schedule(
        "Mars/Olympus_Mons",
        (
            Layer(datetime(2024, 1, 1), timedelta(0), ()),
            Layer(
                datetime(2024, 1, 1),
                timedelta(hours=-1),
                (1,),
                (Restriction(frozenset({MON}), time(9), time(9)),),
            ),
        ),
        (
            Override.add(1, utc(2024, 1, 2), utc(2024, 1, 2)),
            Override.remove(1, utc(2024, 1, 3), utc(2024, 1, 1)),
        ),
    )
    problems = validate(bad)
    assert problems == [
        "unknown time zone 'Mars/Olympus_Mons'",
        "layer 0: shift length must be positive, got 0:00:00",
        "layer 0: members must not be empty",
        "layer 1: shift length must be positive, got -1 day, 23:00:00",
        "layer 1 restriction 0: start and end are both 09:00:00; a window must have a positive "
        "length (cover a whole day with two windows)",
        "override 0: end 2024-01-02T00:00:00+00:00 must be after start 2024-01-02T00:00:00+00:00",
        "override 1: end 2024-01-01T00:00:00+00:00 must be after start 2024-01-03T00:00:00+00:00",
    ]
    with pytest.raises(ScheduleError) as raised:
        shifts(bad, utc(2024, 1, 1), utc(2024, 1, 2))
    assert raised.value.problems == tuple(problems)
    assert isinstance(raised.value, ValueError)


def test_validate_other_problems() -> None:
    schedule = Schedule(
        "Europe/London",
        (
            Layer(datetime(2024, 1, 1, tzinfo=UTC), Rotation.DAILY, (1,)),
            Layer(datetime(2024, 1, 2), Rotation.DAILY, (1,), end=datetime(2024, 1, 1)),
            Layer(
                datetime(2024, 1, 2),
                Rotation.DAILY,
                (1,),
                (Restriction(frozenset(), time(1), time(2)),),
            ),
        ),
        (
            Override.add(1, datetime(2024, 1, 1), datetime(2024, 1, 2)),
            Override.replace(2, 2, utc(2024, 1, 1), utc(2024, 1, 2)),
        ),
    )
    assert validate(schedule) == [
        "layer 0: start must be a naive wall-clock datetime in the schedule's time zone, got "
        "datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)",
        "layer 1: end 2024-01-01 00:00:00 must be after start 2024-01-02 00:00:00",
        "layer 2 restriction 0: weekdays must not be empty",
        "override 0: start and end must be timezone-aware datetimes",
        "override 1: replace needs a replacement different from user 2",
    ]
    assert validate(one_layer("UTC", rotation_1_2())) == []


def test_naive_instants_are_refused() -> None:
    schedule = one_layer("UTC", rotation_1_2())
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call_at(schedule, datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        gaps(schedule, datetime(2024, 1, 1), utc(2024, 1, 2))


def test_results_are_utc_for_any_aware_input() -> None:
    zone = ZoneInfo("Asia/Kathmandu")
    schedule = one_layer("UTC", rotation_1_2())
    result = shifts(schedule, datetime(2024, 1, 1, 5, 45, tzinfo=zone), utc(2024, 1, 2))
    assert result[0].start == utc(2024, 1, 1) and result[0].start.tzinfo is UTC


def test_next_on_call_none_when_nothing_ever_changes() -> None:
    solo = one_layer("UTC", Layer(datetime(2024, 1, 1), Rotation.DAILY, (7,)))
    assert next_on_call(solo, utc(2024, 6, 1)) is None
    weekly = one_layer("UTC", Layer(datetime(2024, 1, 1), timedelta(days=40), (1, 2)))
    assert next_on_call(weekly, utc(2024, 1, 1)) == (utc(2024, 2, 10), frozenset({2}))


# --------------------------------------------------------------------------------------------
# Property tests

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Sao_Paulo",  # changed at midnight until 2019
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "UTC",
]


@cache
def changes(zone: str) -> tuple[datetime, ...]:
    """Instants (UTC, to the hour) at which the zone's offset changes, 2010-2026."""
    info = ZoneInfo(zone)
    found: list[datetime] = []
    instant = utc(2010, 1, 1)
    previous = instant.astimezone(info).utcoffset()
    while instant < utc(2026, 1, 1):
        instant += timedelta(hours=6)
        offset = instant.astimezone(info).utcoffset()
        if offset != previous:
            found.append(instant)
            previous = offset
    return tuple(found) or (utc(2024, 3, 10, 12),)


WALL_TIMES = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
ROTATION_CHOICES: list[Rotation | timedelta] = [
    Rotation.HOURLY,
    Rotation.DAILY,
    Rotation.WEEKLY,
    timedelta(minutes=20),
    timedelta(minutes=45),
    timedelta(minutes=90),
    timedelta(hours=5),
    timedelta(hours=12),
    timedelta(days=2, hours=1),
]
ROTATIONS = st.sampled_from(ROTATION_CHOICES)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Schedule, datetime, datetime]:
    """A random valid schedule and a query range around one of its zone's changes."""
    zone = draw(st.sampled_from(ZONES))
    change = draw(st.sampled_from(changes(zone)))
    local_change = wall(zone, change)
    layers: list[Layer] = []
    for _ in range(draw(st.integers(1, 3))):
        anchor_day = local_change.date() - timedelta(days=draw(st.integers(0, 30)))
        anchor = datetime.combine(anchor_day, draw(WALL_TIMES))
        restrictions: list[Restriction] = []
        for _ in range(draw(st.integers(0, 2))):
            window_start = draw(WALL_TIMES)
            window_end = draw(WALL_TIMES.filter(window_start.__ne__))
            weekdays = frozenset(draw(st.sets(st.integers(0, 6), min_size=1)))
            restrictions.append(Restriction(weekdays, window_start, window_end))
        end = None
        if draw(st.booleans()):
            end = anchor + timedelta(minutes=15) * draw(st.integers(1, 4000))
        layers.append(
            Layer(
                anchor,
                draw(ROTATIONS),
                tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))),
                tuple(restrictions),
                end,
            )
        )
    schedule = Schedule(zone, tuple(layers))
    for _ in range(draw(st.integers(0, 4))):
        start = change + timedelta(minutes=15) * draw(st.integers(-200, 200))
        end = start + timedelta(minutes=15) * draw(st.integers(1, 200))
        kind = draw(st.sampled_from(OverrideKind))
        user = draw(st.integers(1, 6))
        replacement = draw(st.integers(1, 6).filter(user.__ne__))
        override = Override(
            kind, user, start, end, replacement if kind is OverrideKind.REPLACE else None
        )
        # Overlapping draws are simply dropped: the properties are about valid schedules.
        with contextlib.suppress(OverlappingOverridesError):
            schedule = with_override(schedule, override)
    start = change - timedelta(minutes=draw(st.integers(0, 72 * 60)))
    end = start + timedelta(minutes=draw(st.integers(1, 120 * 60)))
    return schedule, start, end


def elementary(
    found_shifts: list[Shift],
    found_gaps: list[tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
) -> list[datetime]:
    points = {start, end}
    for shift in found_shifts:
        points.update((shift.start, shift.end))
    for gap_start, gap_end in found_gaps:
        points.update((gap_start, gap_end))
    return sorted(points)


PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(scenarios(), st.lists(st.floats(0, 1), max_size=5))
def test_shifts_and_gaps_partition_the_range_and_agree_with_on_call_at(
    scenario: tuple[Schedule, datetime, datetime], fractions: list[float]
) -> None:
    schedule, start, end = scenario
    assert validate(schedule) == []
    found_shifts = shifts(schedule, start, end)
    found_gaps = gaps(schedule, start, end)

    assert found_shifts == sorted(
        found_shifts,
        key=lambda s: (s.start, s.end, s.user_id, -1 if s.layer_index is None else s.layer_index),
    )
    for shift in found_shifts:
        assert start <= shift.start < shift.end <= end
        assert shift.start.tzinfo is UTC
    for (_, a_end), (b_start, _) in zip(found_gaps, found_gaps[1:], strict=False):
        assert a_end < b_start  # sorted, disjoint and merged
    for gap_start, gap_end in found_gaps:
        assert start <= gap_start < gap_end <= end
    by_source: dict[tuple[int, int | None], list[Shift]] = {}
    for shift in found_shifts:
        by_source.setdefault((shift.user_id, shift.layer_index), []).append(shift)
    for same in by_source.values():
        for a, b in zip(same, same[1:], strict=False):
            assert a.end < b.start  # merged: never touching nor overlapping

    points = elementary(found_shifts, found_gaps, start, end)
    samples = [*points[:-1]]
    samples += [a + (b - a) / 2 for a, b in zip(points, points[1:], strict=False)]
    samples += [start + (end - start) * f for f in fractions if start + (end - start) * f < end]
    for instant in samples:
        expected = {s.user_id for s in found_shifts if s.start <= instant < s.end}
        in_gap = any(g_start <= instant < g_end for g_start, g_end in found_gaps)
        assert in_gap == (not expected), instant
        assert on_call_at(schedule, instant) == expected, instant


@PROPERTY_SETTINGS
@given(scenarios())
def test_next_on_call_is_the_first_change(scenario: tuple[Schedule, datetime, datetime]) -> None:
    schedule, start, end = scenario
    found_shifts = shifts(schedule, start, end)
    points = elementary(found_shifts, gaps(schedule, start, end), start, end)
    current = on_call_at(schedule, start)
    expected = next(
        (p for p in points[1:-1] if on_call_at(schedule, p) != current),
        None,
    )
    result = next_on_call(schedule, start)
    if expected is not None:
        assert result == (expected, on_call_at(schedule, expected))
    elif result is not None:
        assert result[0] >= end
        assert result[1] != current


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.data(),
    ROTATIONS,
    WALL_TIMES,
    st.integers(0, 20),
)
def test_single_layer_never_leaves_a_gap_and_doubles_only_in_repeated_hours(
    zone: str, data: st.DataObject, rotation: Rotation | timedelta, handoff: time, days: int
) -> None:
    change = data.draw(st.sampled_from(changes(zone)))
    anchor = datetime.combine(wall(zone, change).date() - timedelta(days=days), handoff)
    schedule = one_layer(zone, Layer(anchor, rotation, (1, 2, 3, 4)))
    opens = shifts(schedule, change - timedelta(days=40), change + timedelta(days=3))[0].start
    start, end = max(opens, change - timedelta(days=2)), change + timedelta(days=2)
    assert gaps(schedule, start, end) == []
    info = ZoneInfo(zone)
    for shift in shifts(schedule, start, end):
        for instant in (shift.start, shift.end - timedelta(microseconds=1)):
            if len(on_call_at(schedule, instant)) > 1:
                local = instant.astimezone(info).replace(tzinfo=None)
                ambiguous = (
                    local.replace(tzinfo=info, fold=0).utcoffset()
                    != local.replace(tzinfo=info, fold=1).utcoffset()
                )
                assert ambiguous, instant


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ZONES), st.data(), st.sampled_from([1, 7]), WALL_TIMES, st.integers(0, 20))
def test_daily_and_weekly_handoffs_match_dateutil(
    zone: str, data: st.DataObject, days_per_shift: int, handoff: time, days_before: int
) -> None:
    """Each handoff starts at the first occurrence of the wall-clock time (moved forward when it
    does not exist, as dateutil's resolve_imaginary does) and the previous shift ends at the
    last occurrence."""
    change = data.draw(st.sampled_from(changes(zone)))
    info = ZoneInfo(zone)
    anchor = datetime.combine(wall(zone, change).date() - timedelta(days=days_before), handoff)
    rotation = Rotation.DAILY if days_per_shift == 1 else Rotation.WEEKLY
    schedule = one_layer(zone, Layer(anchor, rotation, (1, 2)))
    start, end = change - timedelta(days=10), change + timedelta(days=10)

    def first(local: datetime) -> datetime:
        resolved: datetime = dateutil_tz.resolve_imaginary(local.replace(tzinfo=info))
        return resolved.astimezone(UTC)

    def last(local: datetime) -> datetime:
        resolved: datetime = dateutil_tz.resolve_imaginary(local.replace(tzinfo=info))
        return (
            resolved.replace(fold=1).astimezone(UTC)
            if dateutil_tz.datetime_ambiguous(resolved)
            else resolved.astimezone(UTC)
        )

    expected: list[tuple[int, datetime, datetime]] = []
    index = 0
    while True:
        shift_start = first(anchor + timedelta(days=days_per_shift * index))
        shift_end = last(anchor + timedelta(days=days_per_shift * (index + 1)))
        if shift_start >= end:
            break
        if shift_end > start and shift_start < shift_end:
            user, clipped = index % 2 + 1, (max(start, shift_start), min(end, shift_end))
            if expected and expected[-1][0] == user and expected[-1][2] == clipped[0]:
                # A skipped day empties one shift and brings the same user back to back.
                expected[-1] = (user, expected[-1][1], clipped[1])
            else:
                expected.append((user, *clipped))
        index += 1
    assert [(s.user_id, s.start, s.end) for s in shifts(schedule, start, end)] == expected
