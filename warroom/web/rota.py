"""The week and month views of an on-call schedule, cut into days (pure: no I/O, no clock).

The on-call module answers in instants; people read a rota by day. This module cuts stretches
(the final shifts, the gaps, each layer's own shifts, the overrides) at the midnights of one
time zone and writes each piece's times in that zone and, where its clock differs, in a
second one: the schedule's zone and the reader's, whichever the days are not cut in.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from warroom.oncall import schedule as sch

VIEWS = ("week", "month")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The years the on-call module computes (see oncall.schedules.EARLIEST/LATEST), less a margin
# for a month view's end.
FIRST_YEAR, LAST_YEAR = 1970, 2198


@dataclass(frozen=True)
class Period:
    """The days a view shows: `days` days from `first`, cut at midnight in `zone`."""

    view: str
    first: date
    days: int
    zone: ZoneInfo

    def bounds(self) -> list[tuple[date, datetime, datetime]]:
        """(day, its first instant, the next day's first instant), in UTC."""
        found = []
        for n in range(self.days):
            day = self.first + timedelta(days=n)
            found.append((day, _midnight(day, self.zone), _midnight(day + _ONE_DAY, self.zone)))
        return found

    @property
    def since(self) -> datetime:
        return _midnight(self.first, self.zone)

    @property
    def until(self) -> datetime:
        return _midnight(self.first + timedelta(days=self.days), self.zone)

    @property
    def previous(self) -> date:
        if self.view == "month":
            return (self.first - _ONE_DAY).replace(day=1)
        return self.first - timedelta(days=7)

    @property
    def following(self) -> date:
        return self.first + timedelta(days=self.days)

    @property
    def title(self) -> str:
        if self.view == "month":
            return self.first.strftime("%B %Y")
        last = self.first + timedelta(days=self.days - 1)
        return f"{self.first:%a %d %b %Y} to {last:%a %d %b %Y}"


_ONE_DAY = timedelta(days=1)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    # A midnight that does not exist (a few zones change clocks at 00:00) resolves with the
    # offset before the change, as everywhere else in Warroom: days still follow each other.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def parse_day(value: str | None) -> date | None:
    """A `start=YYYY-MM-DD` query value within the computed years, or None."""
    if not value or len(value) != 10:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


def period(view: str, start: date | None, zone: ZoneInfo, now: datetime) -> Period:
    """The week from `start` (default: this week's Monday) or the month holding `start`
    (default: this month), today being the day of `now` in `zone`."""
    today = now.astimezone(zone).date()
    if view == "month":
        first = (start or today).replace(day=1)
        return Period("month", first, calendar.monthrange(first.year, first.month)[1], zone)
    first = start or today - timedelta(days=today.weekday())
    return Period("week", first, 7, zone)


# --- cutting stretches into days ---------------------------------------------------------------


@dataclass(frozen=True)
class Stretch:
    """Something with a start and an end to show: a shift, a gap or an override."""

    label: str
    kind: str  # shift, override-shift, gap, add, remove, replace
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Piece:
    """The part of a stretch within one day, its times written for reading."""

    label: str
    kind: str
    text: str  # "09:00–17:00" on the day's clock; "24:00" for the day's end
    other: str  # the same on the second clock ("Mon 04:00–Mon 12:00"), or "" if they agree
    before: bool  # began on an earlier day
    after: bool  # goes on into the next day


def _clock(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%H:%M")


def _piece(
    stretch: Stretch,
    day_start: datetime,
    day_end: datetime,
    zone: ZoneInfo,
    other: ZoneInfo | None,
) -> Piece:
    start, end = max(stretch.start, day_start), min(stretch.end, day_end)
    text = f"{_clock(start, zone)}–{'24:00' if end == day_end else _clock(end, zone)}"
    second = ""
    if other is not None and any(
        t.astimezone(zone).utcoffset() != t.astimezone(other).utcoffset() for t in (start, end)
    ):
        second = (
            f"{start.astimezone(other):%a %H:%M}–{end.astimezone(other):%a %H:%M} "
            f"{end.astimezone(other):%Z}"
        )
    return Piece(
        stretch.label, stretch.kind, text, second, stretch.start < day_start, stretch.end > day_end
    )


def cut(
    stretches: Iterable[Stretch],
    bounds: Sequence[tuple[date, datetime, datetime]],
    zone: ZoneInfo,
    other: ZoneInfo | None = None,
) -> list[list[Piece]]:
    """The pieces of each day, in order of start (then label)."""
    days: list[list[Piece]] = [[] for _ in bounds]
    for stretch in sorted(stretches, key=lambda s: (s.start, s.end, s.label)):
        for index, (_day, day_start, day_end) in enumerate(bounds):
            if stretch.start < day_end and stretch.end > day_start:
                days[index].append(_piece(stretch, day_start, day_end, zone, other))
    return days


# --- a schedule's view -------------------------------------------------------------------------


@dataclass
class DayRow:
    day: date
    final: list[Piece]  # who is paged, and the gaps, in time order
    layers: list[list[Piece]]  # each layer's own shifts (before the higher layers and overrides)
    overrides: list[Piece]

    @property
    def has_gap(self) -> bool:
        return any(p.kind == "gap" for p in self.final)

    @property
    def is_weekend(self) -> bool:
        return self.day.weekday() >= 5


@dataclass
class Rota:
    period: Period
    days: list[DayRow]
    gaps: list[tuple[datetime, datetime]]  # every gap of the period, whole
    layer_count: int
    notes: list[str] = field(default_factory=list)


def override_label(override: sch.Override, name: Callable[[int], str]) -> str:
    if override.kind is sch.OverrideKind.ADD:
        return f"+ {name(override.user_id)}"
    if override.kind is sch.OverrideKind.REMOVE:
        return f"− {name(override.user_id)}"
    return f"{name(override.user_id)} → {name(override.replacement_id or 0)}"


def build(
    schedule: sch.Schedule,
    view: Period,
    name: Callable[[int], str],
    other: ZoneInfo | None = None,
) -> Rota:
    """The rota of one period. Raises sch.ScheduleError for a schedule that cannot be computed."""
    since, until = view.since, view.until
    bounds = view.bounds()
    zone = view.zone
    final = [
        Stretch(
            name(s.user_id),
            "shift" if s.layer_index is not None else "override-shift",
            s.start,
            s.end,
        )
        for s in sch.shifts(schedule, since, until)
    ]
    holes = sch.gaps(schedule, since, until)
    final += [Stretch("Nobody on call", "gap", a, b) for a, b in holes]
    layers = []
    for layer in schedule.layers:
        # One layer alone, without overrides: who that rotation has on call, restrictions
        # applied, before higher layers and overrides decide who is finally paged.
        alone = sch.Schedule(schedule.time_zone, (layer,))
        layers.append(
            cut(
                (
                    Stretch(name(s.user_id), "shift", s.start, s.end)
                    for s in sch.shifts(alone, since, until)
                ),
                bounds,
                zone,
                other,
            )
        )
    overrides = cut(
        (
            Stretch(override_label(o, name), o.kind.value, o.start, o.end)
            for o in schedule.overrides
            if o.start < until and o.end > since
        ),
        bounds,
        zone,
        other,
    )
    finals = cut(final, bounds, zone, other)
    days = [
        DayRow(day, finals[i], [layer[i] for layer in layers], overrides[i])
        for i, (day, _a, _b) in enumerate(bounds)
    ]
    return Rota(view, days, holes, len(schedule.layers))


# --- describing a layer ------------------------------------------------------------------------


def describe_rotation(rotation: str, shift_seconds: int | None) -> str:
    if rotation == "custom" and shift_seconds:
        hours, rest = divmod(shift_seconds, 3600)
        if rest:
            return f"every {shift_seconds // 60} minutes"
        return f"every {hours} hour{'s' if hours != 1 else ''}"
    return {"hourly": "hourly", "daily": "daily", "weekly": "weekly"}.get(rotation, rotation)


def describe_restriction(raw: dict[str, Any]) -> str:
    """{"weekdays": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"} -> "Mon–Fri 09:00–17:00"."""
    days = sorted(set(raw.get("weekdays") or []))
    if days == list(range(7)):
        which = "every day"
    elif days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        which = f"{WEEKDAYS[days[0]]}–{WEEKDAYS[days[-1]]}"
    else:
        which = ", ".join(WEEKDAYS[d] for d in days if 0 <= d <= 6)
    return f"{which} {raw.get('start', '')}–{raw.get('end', '')}"


def describe_wall_clock(value: str | None) -> str:
    """A layer's stored wall-clock start or end ("2026-01-05T09:00") for reading."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%a %d %b %Y %H:%M")
    except ValueError:
        return value
