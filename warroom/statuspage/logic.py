"""Pure decisions of the status page: a component's status, the page's overall status, uptime.

Nothing here reads the clock or the database: the service passes plain values and `now`.

A component's status, in this order:
1. a status set by hand (with its reason) wins;
2. otherwise the worst status its service's open incidents map to (`PRIORITY_STATUS`: P1 major
   outage, P2 partial outage, P3 degraded performance, P4/P5 leave the component operational;
   a mitigated incident's impact is contained, so it counts as degraded performance at worst);
3. otherwise "under maintenance" while a maintenance window for the component is in progress;
4. otherwise operational.

Uptime over a day (or 90 days) is `1 - down / counted`: `counted` is the time the component
existed and was not under maintenance; `down` weighs each status by `DOWN_WEIGHT` (major outage
1, partial outage 0.5, degraded performance and operational 0). Maintenance is neither up nor
down: it leaves `counted`. A day with nothing counted has no percentage (None).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from warroom.statuspage.models import COMPONENT_STATUSES

OPERATIONAL = "operational"
MAINTENANCE = "under_maintenance"
DEGRADED = "degraded_performance"
PARTIAL = "partial_outage"
MAJOR = "major_outage"

# Worse statuses have higher ranks; maintenance ranks just above operational.
RANK = {status: i for i, status in enumerate(COMPONENT_STATUSES)}
PRIORITY_STATUS = {1: MAJOR, 2: PARTIAL, 3: DEGRADED}
DOWN_WEIGHT = {OPERATIONAL: 0.0, DEGRADED: 0.0, PARTIAL: 0.5, MAJOR: 1.0}
LABELS = {
    OPERATIONAL: "Operational",
    MAINTENANCE: "Under maintenance",
    DEGRADED: "Degraded performance",
    PARTIAL: "Partial outage",
    MAJOR: "Major outage",
}
UPTIME_DAYS = 90


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=RANK.__getitem__, default=OPERATIONAL)


def incident_status(priority: int, incident_state: str) -> str:
    """What one open incident does to the components of its services."""
    status = PRIORITY_STATUS.get(priority, OPERATIONAL)
    if incident_state == "mitigated" and RANK[status] > RANK[DEGRADED]:
        return DEGRADED
    return status


@dataclass(frozen=True)
class Derived:
    status: str
    source: str  # "manual" | "incident" | "maintenance" | "none"
    reason: str = ""


def derive_status(
    manual_status: str | None,
    manual_reason: str,
    open_incidents: Sequence[tuple[int, str]],
    in_maintenance: bool,
) -> Derived:
    """A component's status from its manual setting, its service's open incidents
    ((priority, state) pairs) and whether a maintenance window for it is in progress."""
    if manual_status is not None:
        return Derived(manual_status, "manual", manual_reason)
    from_incidents = worst(incident_status(p, s) for p, s in open_incidents)
    if from_incidents != OPERATIONAL:
        return Derived(from_incidents, "incident")
    if in_maintenance:
        return Derived(MAINTENANCE, "maintenance")
    return Derived(OPERATIONAL, "none")


# Statuspage's overall indicator and words for the worst public component status.
OVERALL = {
    OPERATIONAL: ("none", "All Systems Operational"),
    MAINTENANCE: ("maintenance", "Service Under Maintenance"),
    DEGRADED: ("minor", "Minor Service Outage"),
    PARTIAL: ("major", "Partial System Outage"),
    MAJOR: ("critical", "Major System Outage"),
}


def overall(statuses: Iterable[str]) -> tuple[str, str]:
    """(indicator, description) of the page from its public components' statuses."""
    return OVERALL[worst(statuses)]


def incident_impact(priority: int) -> str:
    """Statuspage's incident impact (none, minor, major, critical) from a priority."""
    return {1: "critical", 2: "major", 3: "minor"}.get(priority, "none")


# --- uptime --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    # The worst status seen that day; None when the component did not exist yet.
    worst: str | None
    counted: float  # seconds the component existed, not under maintenance
    down: float  # weighted seconds down

    @property
    def uptime(self) -> float | None:
        return None if self.counted <= 0 else 1.0 - self.down / self.counted


def _intervals(
    changes: Sequence[tuple[datetime, str]], since: datetime, until: datetime
) -> list[tuple[datetime, datetime, str]]:
    """Status intervals within [since, until) from a change history sorted by time; before
    the first change the component is operational."""
    out: list[tuple[datetime, datetime, str]] = []
    current, start = OPERATIONAL, since
    for at, status in changes:
        if at <= since:
            current = status
            continue
        if at >= until:
            break
        if at > start:
            out.append((start, at, current))
        current, start = status, max(at, since)
    if until > start:
        out.append((start, until, current))
    return out


def uptime_days(
    changes: Sequence[tuple[datetime, str]],
    created_at: datetime,
    now: datetime,
    days: int = UPTIME_DAYS,
) -> list[Day]:
    """One `Day` per UTC day, oldest first, ending with today (up to `now`).

    `changes` are (at, status) sorted by `at`, including the last one before the period."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    result = []
    for i in range(days):
        day = first + timedelta(days=i)
        start = datetime.combine(day, time(), UTC)
        end = min(start + timedelta(days=1), now)
        lo = max(start, created_at)
        if end <= lo:
            result.append(Day(day, None, 0.0, 0.0))
            continue
        counted = down = 0.0
        seen: list[str] = []
        for a, b, status in _intervals(changes, lo, end):
            seen.append(status)
            if status == MAINTENANCE:
                continue
            seconds = (b - a).total_seconds()
            counted += seconds
            down += seconds * DOWN_WEIGHT[status]
        result.append(Day(day, worst(seen), counted, down))
    return result


def uptime_percent(days: Sequence[Day]) -> float | None:
    """The period's uptime in percent (weighted as above), None if nothing was counted."""
    counted = sum(d.counted for d in days)
    if counted <= 0:
        return None
    return 100.0 * (1.0 - sum(d.down for d in days) / counted)
