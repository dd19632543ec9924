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


_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_NTH = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _day_words(part: str) -> str | None:
    """'SU' -> 'Sunday', '1MO' -> 'first Monday', '-1FR' -> 'last Friday'; None if unusual."""
    day = _DAYS.get(part[-2:])
    if day is None:
        return None
    if len(part) == 2:
        return day
    try:
        nth = _NTH.get(int(part[:-2]))
    except ValueError:
        return None
    return f"{nth} {day}" if nth else None


def _rule_words(rule_text: str) -> str | None:
    """The common shapes of a rule in words ('every Sunday', 'every 2 weeks on Monday',
    'every month on the first Monday', 'every day'); None for anything less common, which is
    then shown as the rule itself."""
    parts = dict(p.split("=", 1) for p in rule_text.upper().split(";") if "=" in p)
    freq = parts.pop("FREQ", "")
    interval_text = parts.pop("INTERVAL", "1")
    interval = int(interval_text) if interval_text.isdigit() else 0
    parts.pop("WKST", None)
    parts.pop("COUNT", None)  # the series' length is said apart
    parts.pop("UNTIL", None)  # the series' end is said apart
    unit = _UNITS.get(freq)
    if unit is None or interval < 1:
        return None
    every = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    days = [_day_words(d) for d in parts.pop("BYDAY", "").split(",") if d]
    monthdays = [m for m in parts.pop("BYMONTHDAY", "").split(",") if m]
    if parts or None in days or (days and monthdays):
        return None
    names = ", ".join(d for d in days if d)
    if freq == "WEEKLY" and days and all(d in _DAYS.values() for d in days):
        text = f"every {names}" if interval == 1 else f"{every} on {names}"
    elif freq == "DAILY" and not days and not monthdays:
        text = every
    elif freq == "MONTHLY" and days:
        text = f"{every} on the {names}"
    elif freq == "MONTHLY" and monthdays and all(m.isdigit() for m in monthdays):
        text = f"{every} on the " + ", ".join(_ordinal(int(m)) for m in monthdays)
    elif freq in ("WEEKLY", "YEARLY") and not days and not monthdays:
        text = every
    else:
        return None
    return text


def describe(w: WindowSpec) -> str:
    """A recurring window in words for the public: 'every Sunday 02:00–04:00 Europe/Berlin',
    with the series' end if it has one ('' for a one-off window). Times are the occurrences'
    wall-clock times in the window's zone, which is what stays fixed across DST."""
    if not w.rrule:
        return ""
    zone = known_zone(w.time_zone) or ZoneInfo("UTC")
    start = w.starts_at.astimezone(zone)
    end = start + (w.ends_at - w.starts_at)
    rule = w.rrule[6:] if w.rrule.upper().startswith("RRULE:") else w.rrule
    words = _rule_words(rule)
    if words is None:
        minutes = int((w.ends_at - w.starts_at).total_seconds() // 60)
        length = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
        text = f"repeating by the rule {rule}, {length} each from {start:%H:%M} {w.time_zone}"
    else:
        span = f"{start:%H:%M}–{end:%H:%M}"
        if end.date() != start.date():
            days = (end.date() - start.date()).days
            span += f" (+{days} day{'s' if days > 1 else ''})"
        text = f"{words} {span} {w.time_zone}"
    count = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p).get("COUNT")
    if count is not None and count.isdigit():
        text += f", {count} times"
    if w.recur_until is not None:
        text += f", until {w.recur_until.astimezone(zone):%Y-%m-%d}"
    return text
