"""SLA clocks: response (acknowledge) and resolution targets per priority, and how much is used.

Pure: every function takes `now` and reads nothing else; the metrics compute SLA compliance
with these same functions, so what the dashboard draws and what a report counts agree.

The rules (ServiceNow's "retroactive start"):

- Both clocks run from the incident's start (`triggered_at`: when the first signal opened it or
  a person declared it). The response clock stops at the first acknowledgement, the resolution
  clock at the resolution.
- A priority change re-targets both clocks to the new priority's budgets, still measured from
  the start: elapsed time is never reset, so a downgrade cannot turn a breach into "met in 0 s"
  and an upgrade can make a clock breached at once. Only the incident's current priority
  counts; the change itself is on the timeline (`sla_retargeted`).
- There are no paused states: a clock runs through mitigation and quiet hours alike. A reopened
  incident's resolution clock runs again from the start (the time it spent resolved counts),
  because reopening clears `resolved_at`; its response clock stays met or missed as it was.

The targets are the common baselines in wall-clock hours (P3's "3 business days" is 72 h here
and P4's "1 / 5 business days" 24 h / 120 h) until working calendars exist; P5 (planning) has
no clock.
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
# Oversight warns the commander at these shares of a budget and escalates at the breach
# (warroom/incidents/oversight.py).
WARNINGS = (0.5, 0.75)

# Running clocks: ok -> warning -> breached. Stopped clocks: met or missed.
CLOCK_STATES = ("ok", "warning", "breached", "met", "missed")
# The clock kinds, in the order `clocks` returns them; "response" in the oversight's words.
KINDS = ("acknowledge", "resolve")


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

    @property
    def breached(self) -> bool:
        """Past its budget: running and breached, or stopped too late (missed)."""
        return self.state in ("breached", "missed")


def clock(
    kind: str, target: timedelta, started_at: datetime, stopped_at: datetime | None, now: datetime
) -> Clock:
    """One clock of budget `target` from `started_at`, stopped at `stopped_at` if it was.

    At the deadline exactly the clock is still within budget; one instant later it is breached.
    """
    end = stopped_at if stopped_at is not None else now
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
    started_at: datetime,
    acknowledged_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
) -> list[Clock]:
    """The acknowledge and resolve clocks of an incident at its current priority, both from
    its start (`triggered_at`); none for a priority without targets (P5)."""
    targets = TARGETS.get(priority)
    if targets is None:
        return []
    return [
        clock("acknowledge", targets[0], started_at, acknowledged_at, now),
        clock("resolve", targets[1], started_at, resolved_at, now),
    ]


def deadlines(priority: int, started_at: datetime) -> tuple[datetime, datetime] | None:
    """(respond by, resolve by) for an incident of this priority that started then; None for P5."""
    targets = TARGETS.get(priority)
    if targets is None:
        return None
    return started_at + targets[0], started_at + targets[1]


def compliance(
    priority: int,
    started_at: datetime,
    acknowledged_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
) -> dict[str, bool | None]:
    """Per clock kind: True if met (stopped within budget), False if missed or already
    breached, None while it runs within budget. Empty for P5. For SLA-compliance metrics."""
    result: dict[str, bool | None] = {}
    for c in clocks(priority, started_at, acknowledged_at, resolved_at, now):
        result[c.kind] = None if c.state in ("ok", "warning") else c.state == "met"
    return result
