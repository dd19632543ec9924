"""SLA clocks: response (acknowledge) and resolution targets per priority, and how much is used.

Pure: every function takes `now`. The targets are the common baselines in wall-clock hours
(P3's "3 business days" is 72 h here and P4's "1 / 5 business days" 24 h / 120 h) until working
calendars exist; P5 (planning) has no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# priority -> (acknowledge within, resolve within)
TARGETS: dict[int, tuple[timedelta, timedelta]] = {
    1: (timedelta(minutes=15), timedelta(hours=4)),
    2: (timedelta(minutes=30), timedelta(hours=8)),
    3: (timedelta(hours=4), timedelta(hours=72)),
    4: (timedelta(hours=24), timedelta(hours=120)),
}
# Amber from this share of the budget; red once the budget is spent.
WARN_AT = 0.75

# Running clocks: ok -> warning -> breached. Stopped clocks: met or missed.
CLOCK_STATES = ("ok", "warning", "breached", "met", "missed")


@dataclass(frozen=True)
class Clock:
    """One SLA clock of one incident."""

    kind: str  # "acknowledge" | "resolve"
    target: timedelta
    started_at: datetime
    deadline: datetime
    stopped_at: datetime | None  # when the clock was satisfied, if it was
    elapsed: timedelta
    used: float  # share of the budget spent, 0.0 .. (above 1.0 when breached)
    state: str

    @property
    def remaining(self) -> timedelta:
        return self.deadline - (self.stopped_at or self.started_at + self.elapsed)

    @property
    def running(self) -> bool:
        return self.stopped_at is None


def clock(
    kind: str, target: timedelta, started_at: datetime, stopped_at: datetime | None, now: datetime
) -> Clock:
    end = stopped_at if stopped_at is not None else now
    # An event before the clock (re)started, e.g. an acknowledgement before a priority change,
    # used none of the new budget.
    elapsed = max(end - started_at, timedelta(0))
    used = elapsed / target
    if stopped_at is not None:
        state = "met" if elapsed <= target else "missed"
    elif elapsed > target:
        state = "breached"
    elif used >= WARN_AT:
        state = "warning"
    else:
        state = "ok"
    return Clock(kind, target, started_at, started_at + target, stopped_at, elapsed, used, state)


def clocks(
    priority: int,
    triggered_at: datetime,
    acknowledged_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
    priority_changed_at: datetime | None = None,
) -> list[Clock]:
    """The acknowledge and resolve clocks of an incident; none for a priority without targets.

    Changing the priority restarts the clocks for the new priority's targets, so they run from
    the later of the trigger and the last priority change.
    """
    targets = TARGETS.get(priority)
    if targets is None:
        return []
    start = max(triggered_at, priority_changed_at) if priority_changed_at else triggered_at
    return [
        clock("acknowledge", targets[0], start, acknowledged_at, now),
        clock("resolve", targets[1], start, resolved_at, now),
    ]
