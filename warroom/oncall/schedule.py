"""Pure on-call schedule computation: rotations, restrictions, overrides, final shifts and gaps.

This module owns the rules that turn a schedule definition into "who is on call when". It does
no I/O and never reads the clock: every question is asked at an explicit instant or over an
explicit range.

Time model
----------
* Instants passed in and returned are timezone-aware datetimes; results are always in UTC.
* A layer's ``start`` (the rotation anchor, which also carries the handoff time) and its
  optional ``end`` are *naive* wall-clock datetimes in the schedule's zone, and restriction
  windows are wall-clock times. Rotations step in wall-clock time, so a daily 09:00 handoff
  stays at 09:00 local all year and a shift across a DST change is an hour shorter or longer
  in real time.
* Hourly and custom-length rotations step in wall-clock time too (``anchor + k * length`` on
  the local calendar), so every zone change is handled by the two rules below. Consequence,
  chosen deliberately: in an hourly rotation over a skipped hour, the shift that would start at
  the nonexistent time is moved forward by the gap and therefore lasts zero real time (that
  member is skipped that once); over a repeated hour, shifts touching it are longer and
  overlap as described below. Shifts shorter than a gap whose wall-clock span lies inside the
  gap vanish instead of overlapping the shifts after it.
* A handoff at a local time that does not exist (clocks go forward) is moved forward by the
  length of the gap: 02:30 in a 02:00->03:00 jump becomes 03:30.
* A handoff at an ambiguous local time (clocks go back) *starts* the next shift at the first
  occurrence and *ends* the previous shift at the last occurrence, so both people are on call
  in between rather than nobody. Restriction windows follow the same two rules.

Final schedule
--------------
At each instant the highest layer (last in ``Schedule.layers``) that has someone on call
provides the on-call users; overrides are applied on top of that. Overrides do not make a
lower layer show through: removing everyone leaves a gap, and gaps are reported by
:func:`gaps`.

* ``ADD``: the user is on call for the interval in addition to whoever else is.
* ``REMOVE``: the user is taken off for the interval (wherever they came from).
* ``REPLACE``: wherever ``user_id`` would be on call during the interval, ``replacement_id``
  is on call instead; if ``user_id`` is not on call, the override changes nothing.

Two overrides of one schedule *overlap* when their half-open intervals intersect (touching
end-to-start is fine) and they involve a common user (``user_id`` or ``replacement_id``).
Overlapping overrides are rejected, which also makes the result independent of their order.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from warroom.common.zones import known_zone, wall_clock

__all__ = [
    "UTC",
    "Layer",
    "OverlappingOverridesError",
    "Override",
    "OverrideKind",
    "Restriction",
    "Rotation",
    "Schedule",
    "ScheduleError",
    "Shift",
    "check",
    "gaps",
    "next_on_call",
    "on_call_at",
    "shifts",
    "validate",
    "with_override",
]

_ONE_DAY = timedelta(days=1)
# Restriction windows are under a day of wall-clock time; in real time they can be longer only
# by repeated hours, so no window lasts this long.
_WINDOW_REACH = timedelta(hours=30)


class ScheduleError(ValueError):
    """A schedule definition that cannot be computed; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("invalid on-call schedule: " + "; ".join(self.problems))


class OverlappingOverridesError(ScheduleError):
    """An override that would overlap an existing override of the same schedule."""


class Rotation(enum.Enum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"


_ROTATION_LENGTH = {
    Rotation.HOURLY: timedelta(hours=1),
    Rotation.DAILY: timedelta(days=1),
    Rotation.WEEKLY: timedelta(weeks=1),
}


@dataclass(frozen=True)
class Restriction:
    """A recurring wall-clock window during which the layer's members may be on call.

    The window opens on each of ``weekdays`` (0 = Monday ... 6 = Sunday) at ``start`` and
    closes at ``end`` the same day, or the next day when ``end`` is earlier than ``start``
    (a window across midnight). ``start == end`` is rejected as ambiguous; a whole day is
    two windows, e.g. 00:00-12:00 and 12:00-00:00.
    """

    weekdays: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not isinstance(self.weekdays, frozenset):
            object.__setattr__(self, "weekdays", frozenset(self.weekdays))


@dataclass(frozen=True)
class Layer:
    """One rotation: members take turns, one shift each, starting at ``start``.

    ``start`` and ``end`` are naive wall-clock datetimes in the schedule's zone. ``start``
    anchors the rotation (its time of day is the handoff time) and nobody from this layer is
    on call before it; with ``end`` the last shift is cut short there. ``rotation`` is a
    :class:`Rotation` or a custom wall-clock shift length.
    """

    start: datetime
    rotation: Rotation | timedelta
    members: tuple[int, ...]
    restrictions: tuple[Restriction, ...] = ()
    end: datetime | None = None

    def __post_init__(self) -> None:
        # Accept lists for convenience but store tuples so layers stay hashable.
        if not isinstance(self.members, tuple):
            object.__setattr__(self, "members", tuple(self.members))
        if not isinstance(self.restrictions, tuple):
            object.__setattr__(self, "restrictions", tuple(self.restrictions))

    @property
    def shift_length(self) -> timedelta:
        """The wall-clock length of one shift."""
        if isinstance(self.rotation, Rotation):
            return _ROTATION_LENGTH[self.rotation]
        return self.rotation


class OverrideKind(enum.Enum):
    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


@dataclass(frozen=True)
class Override:
    """A one-off change to the final schedule for ``[start, end)`` (aware datetimes)."""

    kind: OverrideKind
    user_id: int
    start: datetime
    end: datetime
    replacement_id: int | None = None

    @classmethod
    def add(cls, user_id: int, start: datetime, end: datetime) -> Override:
        return cls(OverrideKind.ADD, user_id, start, end)

    @classmethod
    def remove(cls, user_id: int, start: datetime, end: datetime) -> Override:
        return cls(OverrideKind.REMOVE, user_id, start, end)

    @classmethod
    def replace(cls, user_id: int, replacement_id: int, start: datetime, end: datetime) -> Override:
        return cls(OverrideKind.REPLACE, user_id, start, end, replacement_id)

    @property
    def users(self) -> frozenset[int]:
        """Every user this override concerns (used by the overlap rule)."""
        if self.replacement_id is None:
            return frozenset((self.user_id,))
        return frozenset((self.user_id, self.replacement_id))


@dataclass(frozen=True)
class Shift:
    """A stretch of the final schedule during which ``user_id`` is on call.

    ``layer_index`` is the layer the user came from, or None when an override put them on.
    """

    user_id: int
    start: datetime
    end: datetime
    layer_index: int | None


@dataclass(frozen=True)
class Schedule:
    """An on-call schedule: a zone (IANA name), layers (lowest first) and overrides."""

    time_zone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.layers, tuple):
            object.__setattr__(self, "layers", tuple(self.layers))
        if not isinstance(self.overrides, tuple):
            object.__setattr__(self, "overrides", tuple(self.overrides))

    @cached_property
    def _plan(self) -> _Plan:
        # Validation and zone lookup happen once per (immutable) schedule, not once per query.
        check(self)
        return _Plan(self)


# --------------------------------------------------------------------------------------------
# Validation


def _is_user_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def _layer_problems(index: int, layer: Layer) -> Iterator[str]:
    where = f"layer {index}"
    start_ok = isinstance(layer.start, datetime) and layer.start.tzinfo is None
    if not start_ok:
        yield (
            f"{where}: start must be a naive wall-clock datetime in the schedule's time zone, "
            f"got {layer.start!r}"
        )
    if isinstance(layer.rotation, Rotation):
        pass
    elif isinstance(layer.rotation, timedelta):
        if layer.rotation <= timedelta(0):
            yield f"{where}: shift length must be positive, got {layer.rotation}"
    else:
        yield f"{where}: rotation must be hourly, daily, weekly or a timedelta shift length"
    if not layer.members:
        yield f"{where}: members must not be empty"
    for member in layer.members:
        if not _is_user_id(member):
            yield f"{where}: member ids must be integers, got {member!r}"
    if layer.end is not None:
        if not isinstance(layer.end, datetime) or layer.end.tzinfo is not None:
            yield (
                f"{where}: end must be a naive wall-clock datetime in the schedule's time "
                f"zone, got {layer.end!r}"
            )
        elif start_ok and layer.end <= layer.start:
            yield f"{where}: end {layer.end} must be after start {layer.start}"
    for r_index, restriction in enumerate(layer.restrictions):
        yield from _restriction_problems(f"{where} restriction {r_index}", restriction)


def _restriction_problems(where: str, restriction: Restriction) -> Iterator[str]:
    if not restriction.weekdays:
        yield f"{where}: weekdays must not be empty"
    for day in restriction.weekdays:
        if not _is_user_id(day) or not 0 <= day <= 6:
            yield f"{where}: weekdays are 0 (Monday) to 6 (Sunday), got {day!r}"
    times_ok = True
    for name, value in (("start", restriction.start), ("end", restriction.end)):
        if not isinstance(value, time) or value.tzinfo is not None:
            times_ok = False
            yield f"{where}: {name} must be a naive wall-clock time, got {value!r}"
    if times_ok and restriction.start == restriction.end:
        yield (
            f"{where}: start and end are both {restriction.start.isoformat()}; a window must "
            "have a positive length (cover a whole day with two windows)"
        )


def _override_problems(index: int, override: Override) -> Iterator[str]:
    where = f"override {index}"
    if not isinstance(override.kind, OverrideKind):
        yield f"{where}: kind must be add, remove or replace, got {override.kind!r}"
    if not _is_user_id(override.user_id):
        yield f"{where}: user id must be an integer, got {override.user_id!r}"
    if override.kind is OverrideKind.REPLACE:
        if not _is_user_id(override.replacement_id):
            yield f"{where}: replace needs an integer replacement user id"
        elif override.replacement_id == override.user_id:
            yield f"{where}: replace needs a replacement different from user {override.user_id}"
    elif override.replacement_id is not None:
        yield f"{where}: only replace overrides take a replacement user"
    if not (_is_aware(override.start) and _is_aware(override.end)):
        yield f"{where}: start and end must be timezone-aware datetimes"
    elif override.end <= override.start:
        yield (
            f"{where}: end {override.end.isoformat()} must be after start "
            f"{override.start.isoformat()}"
        )


def _overlap_problem(
    first_index: int, first: Override, second_index: int, second: Override
) -> str | None:
    if not (first.start < second.end and second.start < first.end):
        return None
    common = first.users & second.users
    if not common:
        return None
    users = ", ".join(str(user) for user in sorted(common))
    return (
        f"overrides {first_index} and {second_index} overlap: both involve user {users} and "
        f"[{_iso(first.start)}, {_iso(first.end)}) intersects "
        f"[{_iso(second.start)}, {_iso(second.end)})"
    )


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def _override_usable(override: Override) -> bool:
    return (
        _is_aware(override.start)
        and _is_aware(override.end)
        and override.start < override.end
        and _is_user_id(override.user_id)
        and (override.replacement_id is None or _is_user_id(override.replacement_id))
    )


def validate(schedule: Schedule) -> list[str]:
    """Every reason the schedule cannot be computed, as messages; empty when it is valid."""
    problems: list[str] = []
    if known_zone(schedule.time_zone) is None:
        problems.append(f"unknown time zone {schedule.time_zone!r}")
    for index, layer in enumerate(schedule.layers):
        problems.extend(_layer_problems(index, layer))
    usable: list[tuple[int, Override]] = []
    for index, override in enumerate(schedule.overrides):
        override_problems = list(_override_problems(index, override))
        problems.extend(override_problems)
        if not override_problems or _override_usable(override):
            usable.append((index, override))
    # Sorting by start lets the scan stop early; overrides per schedule are few anyway.
    usable.sort(key=lambda item: item[1].start)
    for position, (first_index, first) in enumerate(usable):
        for second_index, second in usable[position + 1 :]:
            if second.start >= first.end:
                break
            problem = _overlap_problem(
                min(first_index, second_index),
                first if first_index < second_index else second,
                max(first_index, second_index),
                second if first_index < second_index else first,
            )
            if problem:
                problems.append(problem)
    return problems


def check(schedule: Schedule) -> None:
    """Raise :class:`ScheduleError` listing every problem when the schedule is invalid."""
    problems = validate(schedule)
    if problems:
        raise ScheduleError(problems)


def with_override(schedule: Schedule, override: Override) -> Schedule:
    """A copy of the schedule with one more override.

    Raises :class:`OverlappingOverridesError` when it overlaps an existing override and
    :class:`ScheduleError` when the override itself is invalid.
    """
    index = len(schedule.overrides)
    own = list(_override_problems(index, override))
    if own:
        raise ScheduleError(own)
    clashes = [
        problem
        for other_index, other in enumerate(schedule.overrides)
        if _override_usable(other)
        and (problem := _overlap_problem(other_index, other, index, override))
    ]
    if clashes:
        raise OverlappingOverridesError(clashes)
    return replace(schedule, overrides=(*schedule.overrides, override))


# --------------------------------------------------------------------------------------------
# Computation. Internally every instant is a naive datetime in UTC: cheaper to compare and
# build than aware ones, and there is no doubt about which zone it belongs to.


def _naive_utc(instant: datetime, what: str) -> datetime:
    if not isinstance(instant, datetime) or instant.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {instant!r}")
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    return instant.replace(tzinfo=None)


def _aware(instant: datetime) -> datetime:
    return instant.replace(tzinfo=UTC)


class _Zone:
    """Wall-clock <-> UTC conversion with the schedule's rules for skipped and repeated times."""

    __slots__ = ("_info",)

    def __init__(self, info: ZoneInfo) -> None:
        self._info = info

    def local(self, instant: datetime) -> datetime:
        """The naive wall-clock time of a naive UTC instant."""
        return self._info.fromutc(instant.replace(tzinfo=self._info)).replace(tzinfo=None)

    def resolve(self, local: datetime) -> tuple[datetime, datetime, timedelta | None]:
        """(first, last, gap) for a wall-clock time.

        ``first`` is where something starting at ``local`` starts and ``last`` where something
        ending at ``local`` ends. For a skipped time both are moved forward by the gap, whose
        length is returned (None otherwise).
        """
        return wall_clock(local, self._info)


class _LayerPlan:
    """A validated layer, ready to answer "who from this layer, when"."""

    __slots__ = (
        "_anchor",
        "_closes",
        "_count",
        "_end",
        "_length",
        "_members",
        "_opens",
        "_restrictions",
        "_zone",
    )

    def __init__(self, layer: Layer, zone: _Zone) -> None:
        self._zone = zone
        self._anchor = layer.start
        self._length = layer.shift_length
        self._members = layer.members
        self._end = layer.end
        self._restrictions = layer.restrictions
        # Number of shifts, the last one possibly cut short by the layer's end (ceiling).
        self._count: int | None = None
        if layer.end is not None:
            self._count = -((layer.start - layer.end) // self._length)
        self._opens = self._boundary(0)[0]
        self._closes = None if self._count is None else self._boundary(self._count)[1]

    # Shift j runs from the first instant of boundary j to the last instant of boundary j + 1.

    def _boundary(self, index: int) -> tuple[datetime, datetime]:
        count = self._count
        if count is not None and index >= count:
            return self._end_instants()
        local = self._anchor + self._length * index
        first, last, gap = self._zone.resolve(local)
        if gap is not None and gap > self._length:
            # Shorter shifts than the gap: later handoffs within the gap's length land *before*
            # this moved-forward one in real time. Let them win so shifts never run backwards
            # or overlap; the shifts in between become empty.
            step = 1
            while self._length * step < gap and (count is None or index + step <= count):
                later = self._boundary_first(index + step)
                if later < first:
                    first = later
                step += 1
            last = first
        return first, last

    def _boundary_first(self, index: int) -> datetime:
        if self._count is not None and index >= self._count:
            return self._end_instants()[0]
        return self._zone.resolve(self._anchor + self._length * index)[0]

    def _end_instants(self) -> tuple[datetime, datetime]:
        assert self._end is not None
        first, last, _ = self._zone.resolve(self._end)
        return first, last

    def _guess(self, local: datetime) -> int:
        index = max(0, (local - self._anchor) // self._length)
        if self._count is not None:
            index = min(index, self._count - 1)
        return index

    def users_at(self, instant: datetime) -> list[int]:
        if instant < self._opens or (self._closes is not None and instant >= self._closes):
            return []
        if self._restrictions and not self._restricted_in(instant):
            return []
        local = self._zone.local(instant)
        boundaries: dict[int, tuple[datetime, datetime]] = {}

        def boundary(index: int) -> tuple[datetime, datetime]:
            found = boundaries.get(index)
            if found is None:
                found = boundaries[index] = self._boundary(index)
            return found

        # Shift starts and ends both increase with the index, so the shifts containing the
        # instant are the ones up to the last start <= instant whose end is still later.
        count = self._count
        last = self._guess(local)
        while last >= 0 and boundary(last)[0] > instant:
            last -= 1
        while (count is None or last + 1 < count) and boundary(last + 1)[0] <= instant:
            last += 1
        users: list[int] = []
        index = last
        while index >= 0 and boundary(index + 1)[1] > instant:
            users.append(self._members[index % len(self._members)])
            index -= 1
        return users

    def _window_days(self, start: datetime, end: datetime) -> list[date]:
        """Every day whose windows can reach into ``[start, end]``, latest first."""
        # A window opening instant can show a wall-clock day later than its own (moved forward
        # by a skipped day at most) or, across a repeated hour around midnight, earlier.
        first_day = self._zone.local(start - _WINDOW_REACH).date() - _ONE_DAY
        day = self._zone.local(end).date() + _ONE_DAY
        days: list[date] = []
        while day >= first_day:
            days.append(day)
            day -= _ONE_DAY
        return days

    @staticmethod
    def _window_wall(day: date, restriction: Restriction) -> tuple[datetime, datetime]:
        """The wall-clock opening and closing of a restriction's window opening on ``day``."""
        end_day = day if restriction.end > restriction.start else day + _ONE_DAY
        return datetime.combine(day, restriction.start), datetime.combine(end_day, restriction.end)

    def _restricted_in(self, instant: datetime) -> bool:
        for day in self._window_days(instant, instant):
            weekday = day.weekday()
            for restriction in self._restrictions:
                if weekday not in restriction.weekdays:
                    continue
                opens, closes = self._window_wall(day, restriction)
                # Resolve the closing time only for windows already open: the common miss
                # (a window later today) then costs one conversion.
                if self._zone.resolve(opens)[0] <= instant < self._zone.resolve(closes)[1]:
                    return True
        return False

    def _windows(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        windows: list[tuple[datetime, datetime]] = []
        for day in self._window_days(start, end):
            weekday = day.weekday()
            for restriction in self._restrictions:
                if weekday in restriction.weekdays:
                    opens_wall, closes_wall = self._window_wall(day, restriction)
                    opens = max(self._zone.resolve(opens_wall)[0], start)
                    closes = min(self._zone.resolve(closes_wall)[1], end)
                    if opens < closes:
                        windows.append((opens, closes))
        windows.sort()
        merged: list[tuple[datetime, datetime]] = []
        for opens, closes in windows:
            if merged and opens <= merged[-1][1]:
                if closes > merged[-1][1]:
                    merged[-1] = (merged[-1][0], closes)
            else:
                merged.append((opens, closes))
        return merged

    def _rotation_pieces(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[int, datetime, datetime]]:
        if end <= self._opens or (self._closes is not None and start >= self._closes):
            return
        count = self._count
        index = self._guess(self._zone.local(start))
        # Find the first shift still running at ``start`` (shift ends increase with the index).
        while index > 0 and self._boundary(index)[1] > start:
            index -= 1
        opening = self._boundary(index)
        while True:
            if count is not None and index >= count:
                return
            closing = self._boundary(index + 1)
            if opening[0] >= end:
                return
            if closing[1] > start and opening[0] < closing[1]:
                member = self._members[index % len(self._members)]
                yield member, max(opening[0], start), min(closing[1], end)
            opening = closing
            index += 1

    def pieces(self, start: datetime, end: datetime) -> list[tuple[int, datetime, datetime]]:
        """(user, start, end) stretches this layer has someone on call, clipped to the range."""
        rotation = list(self._rotation_pieces(start, end))
        if not self._restrictions or not rotation:
            return rotation
        windows = self._windows(start, end)
        window_starts = [opens for opens, _ in windows]
        clipped: list[tuple[int, datetime, datetime]] = []
        for user, piece_start, piece_end in rotation:
            position = max(0, bisect_right(window_starts, piece_start) - 1)
            while position < len(windows) and windows[position][0] < piece_end:
                opens = max(piece_start, windows[position][0])
                closes = min(piece_end, windows[position][1])
                if opens < closes:
                    clipped.append((user, opens, closes))
                position += 1
        return clipped


class _OverridePlan:
    __slots__ = ("end", "kind", "replacement_id", "start", "user_id")

    def __init__(self, override: Override) -> None:
        self.kind = override.kind
        self.user_id = override.user_id
        self.replacement_id = override.replacement_id
        self.start = _naive_utc(override.start, "override start")
        self.end = _naive_utc(override.end, "override end")


class _Plan:
    __slots__ = ("layers", "overrides")

    def __init__(self, schedule: Schedule) -> None:
        zone = known_zone(schedule.time_zone)
        assert zone is not None  # checked by validate()
        wrapped = _Zone(zone)
        self.layers = tuple(_LayerPlan(layer, wrapped) for layer in schedule.layers)
        self.overrides = tuple(_OverridePlan(override) for override in schedule.overrides)


def _apply_overrides(
    on_call: dict[int, int | None], overrides: Iterable[_OverridePlan]
) -> dict[int, int | None]:
    """Apply the overrides in force; ``on_call`` maps user -> layer index (None: override)."""
    # Overrides in force together share no user, so their order does not matter.
    for override in overrides:
        if override.kind is OverrideKind.ADD:
            on_call.setdefault(override.user_id, None)
        elif override.kind is OverrideKind.REMOVE:
            on_call.pop(override.user_id, None)
        elif override.user_id in on_call:
            del on_call[override.user_id]
            assert override.replacement_id is not None
            on_call.setdefault(override.replacement_id, None)
    return on_call


def _layers_at(plan: _Plan, instant: datetime) -> dict[int, int | None]:
    for index in range(len(plan.layers) - 1, -1, -1):
        users = plan.layers[index].users_at(instant)
        if users:
            return dict.fromkeys(users, index)
    return {}


def on_call_at(schedule: Schedule, at: datetime) -> frozenset[int]:
    """The user ids on call at the instant ``at`` in the final schedule."""
    plan = schedule._plan
    instant = _naive_utc(at, "at")
    on_call = _layers_at(plan, instant)
    if plan.overrides:
        in_force = [o for o in plan.overrides if o.start <= instant < o.end]
        if in_force:
            on_call = _apply_overrides(on_call, in_force)
    return frozenset(on_call)


_Segment = tuple[datetime, datetime, dict[int, int | None]]


def _timeline(plan: _Plan, start: datetime, end: datetime) -> list[_Segment]:
    """The range cut where anything changes, with who is on call (and from where) in each cut."""
    # (time, +1 on / -1 off, layer, user); counts handle a user's own overlapping shifts.
    events: list[tuple[datetime, int, int, int]] = []
    for layer_index, layer in enumerate(plan.layers):
        for user, piece_start, piece_end in layer.pieces(start, end):
            events.append((piece_start, 1, layer_index, user))
            events.append((piece_end, -1, layer_index, user))
    override_events: list[tuple[datetime, int, int]] = []
    for override_index, override in enumerate(plan.overrides):
        opens, closes = max(override.start, start), min(override.end, end)
        if opens < closes:
            override_events.append((opens, 1, override_index))
            override_events.append((closes, -1, override_index))
    events.sort(key=lambda event: event[0])
    override_events.sort(key=lambda event: event[0])
    cuts = sorted({start, end, *(e[0] for e in events), *(e[0] for e in override_events)})

    active: list[dict[int, int]] = [{} for _ in plan.layers]
    in_force: dict[int, _OverridePlan] = {}
    segments: list[_Segment] = []
    next_event = next_override = 0
    for cut_start, cut_end in zip(cuts, cuts[1:], strict=False):
        while next_event < len(events) and events[next_event][0] <= cut_start:
            _, delta, layer_index, user = events[next_event]
            counts = active[layer_index]
            remaining = counts.get(user, 0) + delta
            if remaining:
                counts[user] = remaining
            else:
                del counts[user]
            next_event += 1
        while (
            next_override < len(override_events) and override_events[next_override][0] <= cut_start
        ):
            _, delta, override_index = override_events[next_override]
            if delta > 0:
                in_force[override_index] = plan.overrides[override_index]
            else:
                del in_force[override_index]
            next_override += 1
        on_call: dict[int, int | None] = {}
        for layer_index in range(len(active) - 1, -1, -1):
            if active[layer_index]:
                on_call = dict.fromkeys(active[layer_index], layer_index)
                break
        if in_force:
            on_call = _apply_overrides(on_call, in_force.values())
        segments.append((cut_start, cut_end, on_call))
    return segments


def _range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    first, last = _naive_utc(start, "start"), _naive_utc(end, "end")
    if last < first:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    return first, last


def _shift_order(shift: Shift) -> tuple[datetime, datetime, int, int]:
    return (
        shift.start,
        shift.end,
        shift.user_id,
        -1 if shift.layer_index is None else shift.layer_index,
    )


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The final schedule over ``[start, end)`` as shifts clipped to that range.

    Contiguous or overlapping stretches of one user from the same source (the same layer, or
    overrides) are merged into one shift. Sorted by start, then end, user and layer.
    """
    plan = schedule._plan
    first, last = _range(start, end)
    result: list[Shift] = []
    running: dict[tuple[int, int | None], datetime] = {}
    for cut_start, _, on_call in _timeline(plan, first, last):
        for key in [key for key in running if on_call.get(key[0], -1) != key[1]]:
            result.append(Shift(key[0], _aware(running.pop(key)), _aware(cut_start), key[1]))
        for key in on_call.items():
            running.setdefault(key, cut_start)
    for (user, source), since in running.items():
        result.append(Shift(user, _aware(since), _aware(last), source))
    result.sort(key=_shift_order)
    return result


def gaps(schedule: Schedule, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches of ``[start, end)`` with nobody on call, merged and sorted."""
    plan = schedule._plan
    first, last = _range(start, end)
    found: list[tuple[datetime, datetime]] = []
    for cut_start, cut_end, on_call in _timeline(plan, first, last):
        if on_call:
            continue
        if found and found[-1][1] == cut_start:
            found[-1] = (found[-1][0], cut_end)
        else:
            found.append((cut_start, cut_end))
    return [(_aware(gap_start), _aware(gap_end)) for gap_start, gap_end in found]


def next_on_call(
    schedule: Schedule, at: datetime, *, horizon: timedelta = timedelta(days=366)
) -> tuple[datetime, frozenset[int]] | None:
    """The next handoff strictly after ``at``: when the set of on-call users next changes
    and who is on call from then (empty when a gap starts).

    Returns None when nothing changes within ``horizon`` after ``at``.
    """
    plan = schedule._plan
    instant = _naive_utc(at, "at")
    if horizon <= timedelta(0):
        raise ValueError(f"horizon must be positive, got {horizon}")
    current = on_call_at(schedule, at)
    limit = instant + horizon
    window = timedelta(days=2)
    # Most handoffs are within days; widen the search only when nothing changed yet.
    while True:
        stop = min(instant + window, limit)
        for cut_start, _, on_call in _timeline(plan, instant, stop):
            if cut_start > instant and frozenset(on_call) != current:
                return _aware(cut_start), frozenset(on_call)
        if stop >= limit:
            return None
        window *= 2
