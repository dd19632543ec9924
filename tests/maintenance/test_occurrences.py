"""Maintenance occurrences (pure): one-off, recurring in a time zone across DST, cancelled,
bounded; bad recurrences refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.maintenance.occurrences import (
    RecurrenceError,
    WindowSpec,
    check_recurrence,
    current,
    describe,
    in_maintenance,
    next_occurrence,
    occurrences,
)

START = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # Sunday 02:00 in Berlin (CET)
SUNDAYS = WindowSpec(
    1,
    "DB patching",
    START,
    START + timedelta(hours=1),
    "FREQ=WEEKLY;BYDAY=SU",
    None,
    "Europe/Berlin",
    None,
    frozenset({5}),
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_a_one_off_window_is_in_progress_between_its_start_and_end() -> None:
    w = WindowSpec(2, "once", at(2026, 5, 1, 10), at(2026, 5, 1, 12), service_ids=frozenset({5}))
    assert in_maintenance([w], 5, at(2026, 5, 1, 9, 59)) is None
    assert in_maintenance([w], 5, at(2026, 5, 1, 10)) is not None
    assert in_maintenance([w], 5, at(2026, 5, 1, 12)) is None
    assert in_maintenance([w], 6, at(2026, 5, 1, 11)) is None  # another service


def test_a_weekly_window_keeps_its_local_time_across_daylight_saving() -> None:
    # Before 29 March Berlin is UTC+1 (02:00 local = 01:00 UTC); after, UTC+2 (00:00 UTC).
    assert current(SUNDAYS, at(2026, 3, 8, 1, 30)) is not None
    occ = current(SUNDAYS, at(2026, 4, 5, 0, 30))
    assert occ is not None and (occ.starts_at, occ.ends_at) == (
        at(2026, 4, 5, 0),
        at(2026, 4, 5, 1),
    )
    assert current(SUNDAYS, at(2026, 4, 5, 1, 30)) is None
    nxt = next_occurrence(SUNDAYS, at(2026, 4, 5, 1, 30))
    assert nxt is not None and nxt.starts_at == at(2026, 4, 12, 0)


def test_recur_until_and_cancelling_end_the_series() -> None:
    bounded = WindowSpec(**{**SUNDAYS.__dict__, "recur_until": at(2026, 3, 16)})
    assert current(bounded, at(2026, 3, 15, 1, 30)) is not None
    assert current(bounded, at(2026, 3, 22, 1, 30)) is None
    cancelled = WindowSpec(**{**SUNDAYS.__dict__, "cancelled_at": at(2026, 3, 15, 1, 20)})
    occ = current(cancelled, at(2026, 3, 15, 1, 10))
    assert occ is not None and occ.ends_at == at(2026, 3, 15, 1, 20)  # cut short
    assert current(cancelled, at(2026, 3, 15, 1, 30)) is None
    assert next_occurrence(cancelled, at(2026, 3, 16)) is None


def test_bad_recurrences_are_refused() -> None:
    for bad, why in (
        ("FREQ=MINUTELY", "more often"),
        ("FREQ=SOMETIMES", "RRULE"),
        ("FREQ=DAILY;DTSTART=20260101T000000Z", "DTSTART"),
    ):
        with pytest.raises(RecurrenceError, match=why):
            check_recurrence(bad, START, "Europe/Berlin")
    with pytest.raises(RecurrenceError, match="time zone"):
        check_recurrence("FREQ=DAILY", START, "Mars/Olympus")
    check_recurrence("RRULE:FREQ=DAILY;COUNT=3", START, "UTC")


@settings(max_examples=100, deadline=None, database=None)
@given(minutes=st.integers(min_value=0, max_value=60 * 24 * 120))
def test_in_progress_agrees_with_the_listed_occurrences(minutes: int) -> None:
    now = START + timedelta(minutes=minutes)
    listed = list(occurrences(SUNDAYS, now - timedelta(days=8), now + timedelta(days=8)))
    running = [o for o in listed if o.starts_at <= now < o.ends_at]
    occ = current(SUNDAYS, now)
    assert (occ is not None) == bool(running)
    # Occurrences are an hour long, a week apart, and start on a Sunday in Berlin.
    for o in listed:
        assert o.ends_at - o.starts_at == timedelta(hours=1)
        assert (o.starts_at + timedelta(hours=2)).weekday() == 6


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("FREQ=WEEKLY;BYDAY=SU", "every Sunday 02:00–04:00 Europe/Berlin"),
        ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "every 2 weeks on Monday, Thursday 02:00"),
        ("FREQ=MONTHLY;BYDAY=1SU", "every month on the first Sunday 02:00–04:00"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "every month on the last Friday"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,22", "every month on the 1st, 22nd 02:00"),
        ("FREQ=DAILY;COUNT=3", "every day 02:00–04:00 Europe/Berlin, 3 times"),
        # Less common rules are shown as themselves, with the occurrences' length and start.
        ("FREQ=HOURLY;INTERVAL=6", "FREQ=HOURLY;INTERVAL=6, 2 h 00 min each from 02:00"),
        ("FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO", "by the rule FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO"),
    ],
)
def test_a_recurrence_in_words_keeps_its_wall_clock_times(rule: str, words: str) -> None:
    # The first occurrence in winter (CET); the words name local times, which hold in summer.
    spec = WindowSpec(1, "x", START, START + timedelta(hours=2), rule, None, "Europe/Berlin")
    assert words in describe(spec)
    summer = next_occurrence(spec, datetime(2026, 7, 1, tzinfo=UTC))
    if "COUNT" not in rule:
        assert summer is not None and summer.starts_at.hour == 0  # 02:00 CEST
    assert describe(replace(spec, rrule=None)) == ""
    until = replace(spec, recur_until=datetime(2026, 12, 31, 12, tzinfo=UTC))
    assert describe(until).endswith(", until 2026-12-31")
