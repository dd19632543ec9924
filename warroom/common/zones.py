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
