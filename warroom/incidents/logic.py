"""Pure incident decisions: priority from impact x urgency, urgency from severity, lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

Matrix = list[list[int]]

DEFAULT_MATRIX: Matrix = [[1, 2, 3], [2, 3, 4], [3, 4, 4]]
PRIORITY_NAMES = {1: "critical", 2: "high", 3: "moderate", 4: "low", 5: "planning"}

# PagerDuty's dynamic-urgency rule, with warning as the middle of the ITIL scale.
SEVERITY_URGENCY = {"critical": 1, "error": 1, "warning": 2, "info": 3}
SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def priority_for(impact: int, urgency: int, matrix: Matrix = DEFAULT_MATRIX) -> int:
    if not (1 <= impact <= 3 and 1 <= urgency <= 3):
        raise ValueError("impact and urgency are 1 (high) to 3 (low)")
    return matrix[impact - 1][urgency - 1]


def urgency_for_severity(severity: str) -> int:
    return SEVERITY_URGENCY[severity]


def impact_for_tier(tier: int) -> int:
    """A tier-1 service down is a high-impact disruption; tier 3 is low."""
    return min(max(tier, 1), 3)


@dataclass(frozen=True)
class Dependant:
    """A service that depends (directly or not) on an affected one, as the catalog says."""

    name: str
    tier: int


# Dependants that raise an incident's impact one level, whatever their tiers.
WIDE_BLAST_RADIUS = 3


def catalog_impact(name: str, tier: int, dependants: tuple[Dependant, ...] = ()) -> tuple[int, str]:
    """Impact from the affected service's tier and its blast radius, with the reason.

    The tier gives the impact (tier 1 high ... tier 3 low); it is raised one level when a
    tier-1 service depends on the affected one, or when WIDE_BLAST_RADIUS or more services do.
    """
    impact = impact_for_tier(tier)
    tier_one = [d for d in dependants if d.tier == 1]
    reason = f"tier-{tier} {name} affected"
    if dependants:
        noun = "service depends" if len(dependants) == 1 else "services depend"
        reason += f"; {len(dependants)} {noun} on it"
        if tier_one:
            reason += f", {len(tier_one)} of them tier 1"
        if impact > 1 and (tier_one or len(dependants) >= WIDE_BLAST_RADIUS):
            impact -= 1
            reason += f" (impact raised to {IMPACT_NAMES[impact]})"
    return impact, reason


IMPACT_NAMES = {1: "high", 2: "medium", 3: "low"}


def worst_severity(a: str | None, b: str) -> str:
    if a is None or SEVERITY_RANK[b] < SEVERITY_RANK[a]:
        return b
    return a


@dataclass
class IncidentState:
    """An open incident as the alert batch planner sees it: loaded (ref = its id) or opened in
    this batch (ref negative). The planner decides; :mod:`warroom.incidents.bulk` stores."""

    ref: int
    service_id: int | None
    status: str
    impact: int
    urgency: int
    priority: int
    priority_source: str
    severity: str | None
    alert_count: int
    open_alerts: int
    triggered_alerts: int
    last_alert_at: datetime | None
    title: str = ""
    triggered_at: datetime | None = None
    impact_started_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    # The incident on a dependency this one is caused by (an id, or the ref of one opened in the
    # same batch): it joined that one and does not page.
    caused_by_ref: int | None = None
    # The group key of the alerts that opened it (alerts/grouping.py; "" by default).
    grouping_key: str = ""
    # Services whose alerts joined it in this batch besides its own (dependency-aware grouping):
    # stored among its affected services.
    joined_services: list[int] = field(default_factory=list)
    changed: bool = False

    @property
    def is_new(self) -> bool:
        return self.ref < 0


class TransitionError(ValueError):
    """An action that the incident's current status does not allow; the message says why."""


@dataclass(frozen=True)
class Lifecycle:
    """The status and the transition timestamps that the metrics read."""

    status: str
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None


ACTIONS = ("acknowledge", "mitigate", "resolve", "reopen", "close")

_ALLOWED: dict[str, tuple[str, ...]] = {
    "acknowledge": ("triggered",),
    "mitigate": ("triggered", "acknowledged"),
    "resolve": ("triggered", "acknowledged", "mitigated"),
    "reopen": ("resolved",),
    "close": ("resolved",),
}

_REFUSALS: dict[tuple[str, str], str] = {
    ("acknowledge", "acknowledged"): "the incident is already acknowledged",
    ("acknowledge", "mitigated"): "the incident is already mitigated",
    ("mitigate", "mitigated"): "the incident is already mitigated",
    ("resolve", "resolved"): "the incident is already resolved",
    ("close", "closed"): "the incident is already closed",
    ("reopen", "closed"): "a closed incident cannot be reopened; declare a new incident",
}


def transition(current: Lifecycle, action: str, now: datetime) -> Lifecycle:
    """The lifecycle after `action` at `now`, or TransitionError saying why not."""
    if action not in _ALLOWED:
        raise TransitionError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if current.status not in _ALLOWED[action]:
        reason = _REFUSALS.get((action, current.status))
        if reason is None:
            if current.status in ("resolved", "closed"):
                reason = f"the incident is {current.status}; reopen it first"
            else:
                done = "reopened" if action == "reopen" else "closed"
                reason = f"the incident is {current.status}; only a resolved incident can be {done}"
        raise TransitionError(f"cannot {action}: {reason}")
    if action == "acknowledge":
        return Lifecycle("acknowledged", now, current.mitigated_at, None, None)
    if action == "mitigate":
        return Lifecycle("mitigated", current.acknowledged_at, now, None, None)
    if action == "resolve":
        return Lifecycle("resolved", current.acknowledged_at, current.mitigated_at, now, None)
    if action == "close":
        return Lifecycle(
            "closed", current.acknowledged_at, current.mitigated_at, current.resolved_at, now
        )
    # Reopen: someone is looking at it, so it comes back acknowledged; it is no longer mitigated
    # or resolved, and the next resolve stamps the time the metrics will use.
    return Lifecycle("acknowledged", current.acknowledged_at or now, None, None, None)
