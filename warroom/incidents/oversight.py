"""Oversight decisions (pure): when an open incident's SLA warnings, breach escalation and stale
nudges are due, and whether a queued one is still wanted.

The engine looks at an incident (a timer of kind ``oversight``), hands :func:`decide` what it
loaded and acts on the answer: at 50 % and 75 % of a running SLA budget the commander is warned,
at the breach the oversight escalation policy is paged, and an incident without a person's
timeline activity for its priority's stale time gets its commander nudged, once per stale
period. What was already done comes from the timeline (the record is the truth), keyed by the
priority it was done for, so a re-targeted clock warns afresh for its new budget and a
priority changed back and forth does not warn twice. Only the highest share crossed is acted
on: an upgrade that breaches at once pages the breach, not three messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warroom.incidents.sla import KINDS, TARGETS, WARNINGS

# The shares of a budget the oversight acts at; 1.0 is the breach.
SHARES = (*WARNINGS, 1.0)
# The outbox kinds oversight writes (notifications.kind).
WARNING_KIND = "sla_warning"
BREACH_KIND = "sla_breach"
NUDGE_KIND = "stale_nudge"
OUTBOX_KINDS = (WARNING_KIND, BREACH_KIND, NUDGE_KIND)
# The timeline kinds it writes; a person's events are the activity that keeps an incident fresh.
WARNED_EVENT = "sla_warning"
BREACHED_EVENT = "sla_breached"
STALE_EVENT = "stale"
RETARGETED_EVENT = "sla_retargeted"
# The clocks in the oversight's words.
CLOCK_LABELS = {"acknowledge": "response", "resolve": "resolution"}
# Stale after this long without a person's activity, by priority (WARROOM_STALE_MINUTES).
DEFAULT_STALE_MINUTES: dict[int, int] = {1: 30, 2: 120}
# The breach instant is the first whole second past the deadline (at the deadline exactly the
# clock is still within budget, see sla.clock).
BREACH_GRACE = timedelta(seconds=1)


@dataclass(frozen=True)
class Rules:
    """What oversight applies to one incident: the stale time per priority (none: never stale)."""

    stale_after: Mapping[int, timedelta] = field(default_factory=dict)

    @classmethod
    def from_minutes(cls, minutes: Mapping[int, int | None]) -> Rules:
        return cls({p: timedelta(minutes=m) for p, m in minutes.items() if m})


@dataclass(frozen=True)
class Watched:
    """An incident as oversight sees it.

    ``done`` holds (priority, clock kind, share) already acted on; ``last_activity_at`` is the
    last timeline event by a person (the start if none); ``last_nudge_at`` the last stale nudge.
    """

    priority: int
    status: str
    started_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    merged: bool = False
    last_activity_at: datetime | None = None
    last_nudge_at: datetime | None = None
    done: frozenset[tuple[int, str, float]] = frozenset()

    @property
    def open(self) -> bool:
        return self.status in ("triggered", "acknowledged", "mitigated") and not self.merged

    def running(self, kind: str) -> bool:
        """The response clock runs until someone acts (acknowledges, mitigates, resolves); the
        resolution clock until the incident is resolved."""
        if kind == "acknowledge":
            return self.status == "triggered" and self.acknowledged_at is None
        return self.open and self.resolved_at is None


@dataclass(frozen=True)
class Action:
    """One thing to do now: warn (a share below 1), page the breach (share 1.0), or nudge."""

    kind: str  # WARNING_KIND | BREACH_KIND | NUDGE_KIND
    priority: int
    clock: str | None = None  # "acknowledge" | "resolve" for SLA actions
    share: float | None = None
    deadline: datetime | None = None
    idle_since: datetime | None = None  # stale: the last activity

    def context(self) -> dict[str, Any]:
        """What the outbox row keeps for its last check before sending (see :func:`unwanted`)."""
        if self.kind == NUDGE_KIND:
            assert self.idle_since is not None
            return {"priority": self.priority, "idle_since": self.idle_since.isoformat()}
        return {"priority": self.priority, "clock": self.clock, "share": self.share}


@dataclass(frozen=True)
class Decision:
    actions: list[Action]
    next_look_at: datetime | None  # None: nothing more to watch (closed, or no rules apply)


def share_at(started_at: datetime, target: timedelta, share: float) -> datetime:
    """When a clock from `started_at` with budget `target` reaches `share` of it."""
    at = started_at + target * share
    return at + BREACH_GRACE if share >= 1.0 else at


def decide(w: Watched, now: datetime, rules: Rules) -> Decision:
    """What is due for this incident at `now`, and when to look again."""
    if not w.open:
        return Decision([], None)
    actions: list[Action] = []
    candidates: list[datetime] = []
    targets = TARGETS.get(w.priority)
    if targets is not None:
        for kind, target in zip(KINDS, targets, strict=True):
            if not w.running(kind):
                continue
            done = [s for p, k, s in w.done if p == w.priority and k == kind]
            handled = max(done, default=0.0)
            crossed = [s for s in SHARES if now >= share_at(w.started_at, target, s)]
            top = max(crossed, default=0.0)
            if top > handled:
                actions.append(
                    Action(
                        BREACH_KIND if top >= 1.0 else WARNING_KIND,
                        w.priority,
                        kind,
                        top,
                        deadline=w.started_at + target,
                    )
                )
                handled = top
            upcoming = [s for s in SHARES if s > handled]
            if upcoming:
                candidates.append(share_at(w.started_at, target, min(upcoming)))
    stale_after = rules.stale_after.get(w.priority)
    if stale_after:
        active = w.last_activity_at or w.started_at
        since = max(active, w.last_nudge_at) if w.last_nudge_at else active
        due = since + stale_after
        if now >= due:
            actions.append(Action(NUDGE_KIND, w.priority, idle_since=active))
            candidates.append(now + stale_after)
        else:
            candidates.append(due)
    return Decision(actions, min(candidates) if candidates else None)


def is_stale(
    status: str,
    priority: int,
    started_at: datetime,
    last_activity_at: datetime | None,
    now: datetime,
    rules: Rules,
) -> timedelta | None:
    """How long an open incident has been idle if that is at least its stale time, else None."""
    stale_after = rules.stale_after.get(priority)
    if not stale_after or status not in ("triggered", "acknowledged", "mitigated"):
        return None
    idle = now - (last_activity_at or started_at)
    return idle if idle >= stale_after else None


def unwanted(
    kind: str,
    context: Mapping[str, Any] | None,
    *,
    status: str,
    priority: int,
    merged_into_id: int | None,
    last_activity_at: datetime | None,
) -> str | None:
    """Why a queued oversight message should no longer be sent, or None while it is wanted.

    Asked when the incident moves on (the transition cancels what it makes unwanted) and again
    right before sending: everything stops once the incident is resolved or merged, a response
    warning or breach page once someone acknowledged, an SLA message once the priority it was
    for changed (the clock was re-targeted), a nudge once a person worked on the incident."""
    if merged_into_id is not None:
        return f"the incident was merged into #{merged_into_id}"
    if status in ("resolved", "closed"):
        return f"the incident is {status}"
    ctx = context or {}
    if kind in (WARNING_KIND, BREACH_KIND):
        if ctx.get("clock") == "acknowledge" and status != "triggered":
            return f"the incident is {status}"
        if ctx.get("priority") is not None and ctx["priority"] != priority:
            return f"the SLA was re-targeted to P{priority}"
    elif kind == NUDGE_KIND:
        idle_since = ctx.get("idle_since")
        if (
            idle_since is not None
            and last_activity_at is not None
            and last_activity_at > datetime.fromisoformat(idle_since)
        ):
            return "someone worked on the incident since"
    return None


# --- words -------------------------------------------------------------------------------------


def span(delta: timedelta) -> str:
    """A duration in words for messages: "7m 30s", "2h", "3d 4h"."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" * bool(days), f"{hours}h" * bool(hours), f"{minutes}m" * bool(minutes)]
    if not days and not hours:
        parts.append(f"{secs}s" * bool(secs))
    return " ".join(p for p in parts if p) or "0s"


def describe(action: Action, now: datetime) -> str:
    """The timeline and message text of one action."""
    if action.kind == NUDGE_KIND:
        assert action.idle_since is not None
        return (
            f"Stale: no activity for {span(now - action.idle_since)} on a P{action.priority} "
            f"incident"
        )
    assert action.clock is not None and action.deadline is not None and action.share is not None
    label = CLOCK_LABELS[action.clock]
    due = f"{action.deadline:%Y-%m-%d %H:%M:%S} UTC"
    if action.kind == BREACH_KIND:
        return f"P{action.priority} {label} SLA breached: it was due {due}"
    return (
        f"{int(action.share * 100)} % of the P{action.priority} {label} SLA used; "
        f"due {due} (in {span(action.deadline - now)})"
    )


def retarget_message(
    old_priority: int, new_priority: int, started_at: datetime, now: datetime
) -> tuple[str, dict[str, Any]]:
    """The timeline text and data of a priority change's SLA re-targeting."""
    targets = TARGETS.get(new_priority)
    start = f"{started_at:%Y-%m-%d %H:%M:%S} UTC"
    if targets is None:
        return (
            f"SLA re-targeted P{old_priority} → P{new_priority}: P{new_priority} has no SLA",
            {"priority": new_priority, "respond_by": None, "resolve_by": None},
        )
    respond_by, resolve_by = started_at + targets[0], started_at + targets[1]

    def state(deadline: datetime) -> str:
        return " (breached)" if now > deadline else ""

    return (
        f"SLA re-targeted P{old_priority} → P{new_priority}, still measured from the start "
        f"({start}): respond by {respond_by:%H:%M:%S}{state(respond_by)}, resolve by "
        f"{resolve_by:%Y-%m-%d %H:%M:%S} UTC{state(resolve_by)}",
        {
            "priority": new_priority,
            "started_at": started_at.isoformat(),
            "respond_by": respond_by.isoformat(),
            "resolve_by": resolve_by.isoformat(),
        },
    )
