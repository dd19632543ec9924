"""Major-incident rules (pure): whether to propose that an incident is a major one, and why.

A proposal is derived each time from what the incident is now (its affected services' tiers,
its priority, the alerts that arrived) and the installation's :class:`MajorPolicy`; nothing
stores it. A commander's rejection is recorded with the reasons it rejected, and those reasons
never propose again for that incident: only a new one does (a P3 on a tier-1 service rejected,
then raised to P1, is proposed again for being P1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

TIER_ONE = "tier_one"
PRIORITY_ONE = "priority_one"
ALERT_BURST = "alert_burst"
REASON_KINDS = (TIER_ONE, PRIORITY_ONE, ALERT_BURST)

OPEN = ("triggered", "acknowledged", "mitigated")
MAX_BURST_MINUTES = 1440


@dataclass(frozen=True)
class MajorPolicy:
    """When to propose a major incident, and whom to page when one is accepted."""

    on_tier_one: bool = True
    on_priority_one: bool = True
    # Propose when more than `alert_burst` alerts arrived within `burst_minutes` (None: never).
    alert_burst: int | None = None
    burst_minutes: int = 10
    escalation_policy_id: int | None = None


@dataclass(frozen=True)
class MajorFacts:
    """What the rules look at on one incident."""

    status: str
    priority: int
    major: bool
    tier_one: tuple[str, ...] = ()  # names of the affected tier-1 services
    # When alerts arrived and how many at once (the incident's trigger and each batch grouped).
    arrivals: tuple[tuple[datetime, int], ...] = ()
    rejected: frozenset[str] = frozenset()  # reason kinds a commander already rejected


@dataclass(frozen=True)
class Reason:
    kind: str
    text: str


def busiest_window(arrivals: Iterable[tuple[datetime, int]], minutes: int) -> int:
    """The most alerts that arrived within any span of `minutes` (both ends included)."""
    ordered = sorted((at, count) for at, count in arrivals if count > 0)
    span = timedelta(minutes=minutes)
    best = inside = start = 0
    for at, count in ordered:
        inside += count
        while ordered[start][0] < at - span:
            inside -= ordered[start][1]
            start += 1
        best = max(best, inside)
    return best


def reasons(facts: MajorFacts, policy: MajorPolicy) -> tuple[Reason, ...]:
    """Every rule the incident meets now, rejected or not."""
    found: list[Reason] = []
    if policy.on_tier_one and facts.tier_one:
        names = ", ".join(facts.tier_one)
        found.append(Reason(TIER_ONE, f"tier-1 {names} affected"))
    if policy.on_priority_one and facts.priority == 1:
        found.append(Reason(PRIORITY_ONE, "priority P1"))
    if policy.alert_burst is not None:
        busiest = busiest_window(facts.arrivals, policy.burst_minutes)
        if busiest > policy.alert_burst:
            found.append(
                Reason(
                    ALERT_BURST,
                    f"{busiest} alerts within {policy.burst_minutes} min "
                    f"(more than {policy.alert_burst})",
                )
            )
    return tuple(found)


def propose(facts: MajorFacts, policy: MajorPolicy) -> tuple[Reason, ...]:
    """The reasons to propose a major incident now; empty: no proposal.

    Only open incidents that are not major yet are proposed, and only for reasons no commander
    has rejected on this incident."""
    if facts.major or facts.status not in OPEN:
        return ()
    return tuple(r for r in reasons(facts, policy) if r.kind not in facts.rejected)


def describe(found: Iterable[Reason]) -> str:
    return "; ".join(r.text for r in found)
