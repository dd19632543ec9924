"""Pure paging decisions: where an escalation goes next and when each contact method fires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Position:
    """Where an escalation stands: step index in the policy and how many times it repeated."""

    level: int
    cycle: int


def next_position(current: Position, steps: int, repeat: int) -> Position | None:
    """The step after `current`; after the last step the policy starts over `repeat` times."""
    if current.level + 1 < steps:
        return Position(current.level + 1, current.cycle)
    if current.cycle < repeat and steps > 0:
        return Position(0, current.cycle + 1)
    return None


@dataclass(frozen=True)
class Rule:
    contact_method_id: int
    delay_seconds: int


def in_quiet_hours(now: datetime, zone: str, start: str | None, end: str | None) -> datetime | None:
    """If `now` falls in the person's quiet hours, when they end (UTC); otherwise None."""
    if not start or not end or start == end:
        return None
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    begin_t, end_t = time.fromisoformat(start), time.fromisoformat(end)
    today = local.date()
    for day in (today - timedelta(days=1), today):
        begin = datetime.combine(day, begin_t, tz)
        finish_day = day if end_t > begin_t else day + timedelta(days=1)
        finish = datetime.combine(finish_day, end_t, tz)
        if begin <= local < finish:
            return finish.astimezone(now.tzinfo)
    return None


def notification_times(
    rules: list[Rule],
    contact_methods: list[int],
    urgency: str,
    now: datetime,
    quiet_until: datetime | None,
) -> list[tuple[int, datetime]]:
    """(contact method, when) for one person paged at `now`.

    A person without rules for this urgency is still reached: every contact method at once,
    because a page that silently reaches nobody is the failure this tool exists to prevent.
    Low urgency waits out quiet hours; high urgency never does.
    """
    usable = set(contact_methods)
    plan = [
        (r.contact_method_id, now + timedelta(seconds=r.delay_seconds))
        for r in rules
        if r.contact_method_id in usable
    ]
    if not plan:
        plan = [(cm, now) for cm in contact_methods]
    if urgency == "low" and quiet_until is not None:
        plan = [(cm, max(at, quiet_until)) for cm, at in plan]
    return sorted(plan, key=lambda item: (item[1], item[0]))
