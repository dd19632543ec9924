"""When maintenance windows are in progress (pure; shared by paging suppression and the status
page).

A window is one-off (`starts_at`..`ends_at`) or recurring: an RFC 5545 RRULE read in the window's
time zone, whose occurrences start at `starts_at`'s local wall-clock time (so "every Sunday at
02:00 Europe/Berlin" stays at 02:00 across daylight saving changes) and last as long as the
first one, none starting after `recur_until`. Occurrences are computed, never stored; the
recurrence arithmetic is python-dateutil's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from warroom.common.zones import known_zone

# A recurrence that cannot name its next occurrence within this many is refused at save time
# (an RRULE like "every second" would make every check walk millions of occurrences).
MIN_PERIOD = timedelta(minutes=5)


class RecurrenceError(ValueError):
    """A recurrence rule that cannot be saved; the message says why."""


@dataclass(frozen=True)
class WindowSpec:
    """What the occurrence math reads of one window (a row of maintenance_windows)."""

    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    rrule: str | None = None
    recur_until: datetime | None = None
    time_zone: str = "UTC"
    cancelled_at: datetime | None = None
    service_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Occurrence:
    window_id: int
    title: str
    starts_at: datetime
    ends_at: datetime


def _rule(w: WindowSpec) -> rrule:
    zone = known_zone(w.time_zone) or ZoneInfo("UTC")
    local_start = w.starts_at.astimezone(zone)
    parsed = rrulestr(w.rrule or "", dtstart=local_start, forceset=False, ignoretz=False)
    if not isinstance(parsed, rrule):
        raise RecurrenceError("give one RRULE (no RDATE, EXRULE or several rules)")
    if w.recur_until is not None:
        parsed = parsed.replace(until=w.recur_until.astimezone(zone))
    return parsed


def check_recurrence(rule_text: str, starts_at: datetime, time_zone: str) -> None:
    """Refuses an RRULE that dateutil cannot read or that repeats more often than MIN_PERIOD."""
    if known_zone(time_zone) is None:
        raise RecurrenceError(f"unknown time zone {time_zone!r}")
    text = rule_text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "DTSTART" in text.upper():
        raise RecurrenceError("the rule starts at the window's start: leave DTSTART out")
    spec = WindowSpec(0, "", starts_at, starts_at + timedelta(minutes=1), text, None, time_zone)
    try:
        rule = _rule(spec)
        first_two = []
        for start in rule:
            first_two.append(start)
            if len(first_two) == 2:
                break
    except (ValueError, TypeError) as exc:
        raise RecurrenceError(f"not an RRULE dateutil can read: {exc}") from None
    if len(first_two) == 2 and first_two[1] - first_two[0] < MIN_PERIOD:
        raise RecurrenceError(f"occurrences repeat more often than every {MIN_PERIOD}")


def occurrences(w: WindowSpec, start: datetime, end: datetime) -> Iterator[Occurrence]:
    """The window's occurrences that overlap [start, end), in order (none once cancelled)."""
    if w.cancelled_at is not None and w.cancelled_at <= start:
        return
    duration = w.ends_at - w.starts_at
    if not w.rrule:
        if w.starts_at < end and w.ends_at > start:
            yield Occurrence(w.id, w.title, w.starts_at, _cut(w, w.ends_at))
        return
    rule = _rule(w)
    zone = known_zone(w.time_zone) or ZoneInfo("UTC")
    # The last occurrence starting at or before `start` may still be running.
    first = rule.before(start.astimezone(zone), inc=True)
    candidates = [first] if first is not None else []
    for s in candidates + list(rule.between(start.astimezone(zone), end.astimezone(zone))):
        begin = s.astimezone(UTC)
        if begin + duration > start and begin < end:
            if w.cancelled_at is not None and begin >= w.cancelled_at:
                return
            yield Occurrence(w.id, w.title, begin, _cut(w, begin + duration))


def _cut(w: WindowSpec, ends_at: datetime) -> datetime:
    return min(ends_at, w.cancelled_at) if w.cancelled_at is not None else ends_at


def current(w: WindowSpec, now: datetime) -> Occurrence | None:
    """The occurrence in progress at `now`, or None."""
    for occ in occurrences(w, now, now + timedelta(microseconds=1)):
        if occ.starts_at <= now < occ.ends_at:
            return occ
    return None


def next_occurrence(w: WindowSpec, now: datetime) -> Occurrence | None:
    """The occurrence in progress at `now`, else the next one to start (None: no more)."""
    running = current(w, now)
    if running is not None:
        return running
    if not w.rrule:
        return (
            Occurrence(w.id, w.title, w.starts_at, w.ends_at)
            if w.starts_at > now and w.cancelled_at is None
            else None
        )
    if w.cancelled_at is not None:
        return None
    rule = _rule(w)
    nxt = rule.after(now.astimezone(known_zone(w.time_zone) or ZoneInfo("UTC")))
    if nxt is None:
        return None
    begin = nxt.astimezone(UTC)
    return Occurrence(w.id, w.title, begin, begin + (w.ends_at - w.starts_at))


def in_maintenance(
    windows: Iterable[WindowSpec], service_id: int, now: datetime
) -> Occurrence | None:
    """The occurrence that suppresses paging for `service_id` at `now`: of the windows naming
    it, the one in progress that ends last; None if none is."""
    best: Occurrence | None = None
    for w in windows:
        if service_id not in w.service_ids:
            continue
        occ = current(w, now)
        if occ is not None and (best is None or occ.ends_at > best.ends_at):
            best = occ
    return best
