"""Time zones by IANA name, with one defined failure mode for names tzdata does not know.

Two questions, two answers:

* :func:`known_zone` -- for decisions (who is on call, quiet hours) and for validating input:
  None for an unknown name, so the caller refuses the input or reports the schedule as not
  computable. Paging must never guess a zone: guessing would page the wrong person.
* :func:`zone_named` -- for showing times: an unknown name falls back to UTC and logs one
  warning per name. Names are validated when stored, so an unknown one means tzdata dropped or
  renamed it after the fact; a page or a message must still render, and every time shown
  carries its zone abbreviation, so the reader sees that it is UTC.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger("warroom.zones")
UTC_ZONE = ZoneInfo("UTC")


@cache
def known_zone(name: object) -> ZoneInfo | None:
    """The zone of that IANA name, or None when it is not a zone tzdata knows."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_named(name: str) -> ZoneInfo:
    """The zone of that IANA name for display; UTC (with a logged warning) when unknown."""
    zone = known_zone(name)
    if zone is None:
        _warn_unknown(name)
        return UTC_ZONE
    return zone


@cache
def _warn_unknown(name: str) -> None:
    # Once per name and process: a stored zone that left tzdata would otherwise log on every page.
    log.warning("unknown time zone %r: showing times in UTC instead", name)


def wall_clock(local: datetime, zone: ZoneInfo) -> tuple[datetime, datetime, timedelta | None]:
    """(first, last, gap) of a naive wall-clock time in a zone, as naive UTC instants: the
    product guide's DST rules, the one implementation for schedules, the API and the forms.

    ``first`` is where something starting at ``local`` starts and ``last`` where something
    ending at ``local`` ends: in a repeated hour (clocks go back) the first and the last
    occurrence. A time that does not exist (clocks go forward) is moved forward by the length
    of the gap (02:30 in a 02:00→03:00 jump becomes 03:30), which is returned (None otherwise).
    """
    # PEP 495: fold=0 picks the offset before a transition, fold=1 the one after. In a gap
    # the offset before is the smaller one, so fold=0 moves the time forward by the gap.
    before = zone.utcoffset(local)
    after = zone.utcoffset(local.replace(fold=1))
    if before is None or after is None:  # pragma: no cover - ZoneInfo always has offsets
        raise AssertionError("zone without a UTC offset")
    if before == after:
        instant = local - before
        return instant, instant, None
    if before > after:  # repeated hour: first occurrence to start, last to end
        return local - before, local - after, None
    instant = local - before
    return instant, instant, after - before


def read_wall_clock(
    local: datetime, zone: ZoneInfo, *, ending: bool = False
) -> tuple[datetime, str | None]:
    """The UTC instant a typed wall-clock time stands for (a start, or an end when
    ``ending``), and a sentence saying how it was read when the time is skipped or repeated
    on that day, for the form to show back."""
    local = local.replace(tzinfo=None, fold=0)
    first, last, gap = wall_clock(local, zone)
    chosen = (last if ending else first).replace(tzinfo=UTC)
    shown = chosen.astimezone(zone).strftime("%H:%M %Z")
    typed = local.strftime("%d %b %Y %H:%M")
    if gap is not None:
        return chosen, (
            f"{typed} does not exist in {zone.key} (the clocks go forward); read as {shown}."
        )
    if first != last:
        which = "second" if ending else "first"
        return chosen, (
            f"{typed} happens twice in {zone.key} (the clocks go back); read as its {which} "
            f"occurrence, {shown}."
        )
    return chosen, None
