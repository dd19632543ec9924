"""The text form of an update cadence ("1=30,2=60": minutes between status updates per
priority), read by the settings and by the incidents domain alike."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

# PagerDuty's practice: a major incident gets an update at least every 20-30 minutes.
DEFAULT_CADENCE = "1=30,2=60"


class CadenceError(ValueError):
    pass


def parse_cadence(text: str) -> dict[int, timedelta]:
    """ "1=30,2=60" (minutes per priority) -> {1: 30 min, 2: 60 min}; "" means no reminders."""
    found: dict[int, timedelta] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        priority, sep, minutes = part.partition("=")
        if not sep:
            raise CadenceError(f"{part!r} is not <priority>=<minutes>")
        try:
            p, m = int(priority), int(minutes)
        except ValueError:
            raise CadenceError(f"{part!r} is not <priority>=<minutes>") from None
        if not 1 <= p <= 5 or not 1 <= m <= 24 * 60:
            raise CadenceError(f"{part!r}: priority 1..5, minutes 1..1440")
        found[p] = timedelta(minutes=m)
    return found


def format_cadence(cadence: Mapping[int, timedelta]) -> str:
    return ",".join(f"{p}={int(d.total_seconds() // 60)}" for p, d in sorted(cadence.items()))
