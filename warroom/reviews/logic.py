"""Pure decisions of reviews: due dates, the workflow, reminders, and what the record says.

Nothing here reads the clock or the database: the draft's derived parts (key times and the
durations between them, time at each priority, who held which role when) are computed from
plain facts, so a corrected impact start moves every duration the next time the draft is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# priority -> (amount, business days?) until the review is due, counted from the resolve.
REVIEW_DUE: dict[int, tuple[int, bool]] = {
    1: (3, False),
    2: (5, True),
    3: (10, True),
    4: (20, True),
    5: (20, True),
}
# Reminders relative to the due time: the day before, at the time, then after it is overdue.
REVIEW_REMINDERS = (timedelta(days=-1), timedelta(0), timedelta(days=1), timedelta(days=3))
ACTION_ITEM_REMINDERS = (timedelta(days=-1), timedelta(0), timedelta(days=2), timedelta(days=7))

# action -> (statuses it may start from, status it leads to)
WORKFLOW: dict[str, tuple[tuple[str, ...], str]] = {
    "submit": (("draft",), "in_review"),
    "return": (("in_review",), "draft"),
    "publish": (("draft", "in_review"), "published"),
}
STATUS_LABELS = {"draft": "Draft", "in_review": "In review", "published": "Published"}
ACTION_ITEM_LABELS = {"open": "Open", "in_progress": "In progress", "done": "Done"}


class ReviewError(ValueError):
    """A refusal with the sentence to show (the service maps it to 409 or 422)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def add_business_days(start: datetime, days: int) -> datetime:
    """`days` working days (Monday-Friday, UTC) after `start`, at the same time of day."""
    moment = start
    left = days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def due_for(priority: int, resolved_at: datetime) -> datetime:
    amount, business = REVIEW_DUE.get(priority, REVIEW_DUE[5])
    if business:
        return add_business_days(resolved_at, amount)
    return resolved_at + timedelta(days=amount)


def next_status(status: str, action: str) -> str:
    if action not in WORKFLOW:
        raise ReviewError(f"unknown review action {action!r}", 422)
    sources, target = WORKFLOW[action]
    if status == "published":
        raise ReviewError("the review is published; a published review cannot change")
    if status not in sources:
        label = STATUS_LABELS.get(status, status).lower()
        raise ReviewError(f"cannot {action} a review that is {label}")
    return target


def reminder_times(due_at: datetime, now: datetime, offsets: Sequence[timedelta]) -> list[datetime]:
    """The reminder moments still ahead of `now`."""
    return [due_at + o for o in offsets if due_at + o > now]


def overdue(due_at: datetime | None, done: bool, now: datetime) -> bool:
    return due_at is not None and not done and due_at < now


def check_due(due_at: datetime, not_before: datetime, what: str) -> None:
    if due_at < not_before:
        raise ReviewError(f"the due date is before {what}", 422)


# --- what the record says -------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    kind: str
    actor_name: str
    message: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class KeyTime:
    name: str  # impact_start | detected | acknowledged | mitigated | resolved
    label: str
    at: datetime | None


@dataclass(frozen=True)
class Step:
    """The time between two key times that both happened."""

    start: str
    end: str
    label: str
    duration: timedelta


@dataclass(frozen=True)
class RoleHold:
    role: str
    user_id: int
    start: datetime
    end: datetime | None  # None: still held


@dataclass(frozen=True)
class PriorityHold:
    priority: int
    start: datetime
    end: datetime
    duration: timedelta


KEY_TIME_LABELS = {
    "impact_start": "Impact started",
    "detected": "Detected (triggered)",
    "acknowledged": "Acknowledged",
    "mitigated": "Mitigated",
    "resolved": "Resolved",
}
STEP_LABELS = {
    ("impact_start", "detected"): "Time to detect",
    ("detected", "acknowledged"): "Time to acknowledge",
    ("detected", "mitigated"): "Time to mitigate",
    ("detected", "resolved"): "Time to resolve",
    ("impact_start", "resolved"): "Impact duration",
}


def key_times(
    impact_started_at: datetime | None,
    triggered_at: datetime,
    acknowledged_at: datetime | None,
    mitigated_at: datetime | None,
    resolved_at: datetime | None,
) -> list[KeyTime]:
    values = {
        "impact_start": impact_started_at,
        "detected": triggered_at,
        "acknowledged": acknowledged_at,
        "mitigated": mitigated_at,
        "resolved": resolved_at,
    }
    return [KeyTime(n, KEY_TIME_LABELS[n], values[n]) for n in KEY_TIME_LABELS]


def steps(times: Sequence[KeyTime]) -> list[Step]:
    at = {t.name: t.at for t in times}
    found = []
    for (a, b), label in STEP_LABELS.items():
        start, end = at.get(a), at.get(b)
        if start is not None and end is not None and end >= start:
            found.append(Step(a, b, label, end - start))
    return found


def role_holds(events: Iterable[Event]) -> list[RoleHold]:
    """Who held which role from when to when, from the role_assigned/unassigned events."""
    current: dict[str, tuple[int, datetime]] = {}
    holds: list[RoleHold] = []
    for e in sorted(events, key=lambda e: (e.at, e.id)):
        if e.kind == "role_assigned" and e.after:
            role, uid = str(e.after.get("role")), int(e.after.get("user_id") or 0)
            if role in current:
                prev_uid, since = current[role]
                holds.append(RoleHold(role, prev_uid, since, e.at))
            current[role] = (uid, e.at)
        elif e.kind == "role_unassigned" and e.before:
            role = str(e.before.get("role"))
            if role in current:
                uid, since = current.pop(role)
                holds.append(RoleHold(role, uid, since, e.at))
    holds.extend(RoleHold(role, uid, since, None) for role, (uid, since) in current.items())
    return sorted(holds, key=lambda h: (h.start, h.role))


def priority_holds(
    initial: int, triggered_at: datetime, end: datetime, events: Iterable[Event]
) -> list[PriorityHold]:
    """How long the incident spent at each priority between the trigger and `end`."""
    changes = sorted(
        (e for e in events if e.kind == "priority_changed" and e.before and e.after),
        key=lambda e: (e.at, e.id),
    )
    first = int(changes[0].before["priority"]) if changes and changes[0].before else initial
    holds: list[PriorityHold] = []
    since, priority = triggered_at, first
    for e in changes:
        at = min(max(e.at, triggered_at), end)
        if at > since:
            holds.append(PriorityHold(priority, since, at, at - since))
        since, priority = max(since, at), int((e.after or {}).get("priority", priority))
    if end > since:
        holds.append(PriorityHold(priority, since, end, end - since))
    return holds


def time_at_priority(holds: Iterable[PriorityHold]) -> dict[int, timedelta]:
    total: dict[int, timedelta] = {}
    for h in holds:
        total[h.priority] = total.get(h.priority, timedelta(0)) + h.duration
    return dict(sorted(total.items()))


# Timeline kinds that are the response itself (pages, acknowledgements, escalation steps).
RESPONSE_KINDS = (
    "status_changed",
    "escalated",
    "notification_sent",
    "notification_failed",
    "paging_warning",
    "mobilised",
    "role_assigned",
    "role_unassigned",
    "priority_changed",
    "merged",
)
# Summarised in the alerts section instead of listed one by one.
ALERT_KINDS = ("alerts_grouped", "alerts_acknowledged", "alerts_resolved")
