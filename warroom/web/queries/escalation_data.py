"""What the war room's escalation panel reads: the policy paging for the incident, the last
step that fired and whom it paged, the step due next and when, and why nobody is paged."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service
from warroom.incidents.models import Incident, TimelineEvent
from warroom.incidents.paging import ESCALATE
from warroom.notify.models import Notification
from warroom.oncall import policies
from warroom.oncall.models import EscalationPolicy
from warroom.oncall.schemas import PolicyOut
from warroom.timers.models import Timer


@dataclass
class NextStep:
    number: int  # 1-based
    cycle: int
    due_at: datetime
    targets: list[str]


@dataclass
class Escalation:
    policy: PolicyOut | None
    last: TimelineEvent | None  # the last "escalated" event: which step, whom
    next: NextStep | None
    warnings: list[str] = field(default_factory=list)
    paging: bool = False  # pages are pending or were sent and the incident is still triggered


def escalation(session: Session, incident: Incident, now: datetime) -> Escalation:
    policy_row = None
    service = session.get(Service, incident.service_id) if incident.service_id else None
    timer = session.scalars(
        select(Timer)
        .where(Timer.incident_id == incident.id, Timer.kind == ESCALATE, Timer.done_at.is_(None))
        .order_by(Timer.due_at)
        .limit(1)
    ).first()
    if timer is not None:
        policy_row = session.get(EscalationPolicy, timer.payload.get("policy_id"))
    elif service is not None and service.escalation_policy_id is not None:
        policy_row = session.get(EscalationPolicy, service.escalation_policy_id)
    policy = policies.policy_outs(session, [policy_row], now)[0] if policy_row else None
    last = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "escalated")
        .order_by(TimelineEvent.id.desc())
        .limit(1)
    ).first()
    nxt = None
    if timer is not None and policy is not None:
        level = int(timer.payload.get("level", 0))
        if level < len(policy.steps):
            step = policy.steps[level]
            nxt = NextStep(
                level + 1,
                int(timer.payload.get("cycle", 0)),
                timer.due_at,
                [t.name or f"{t.type} {t.id}" for t in step.targets],
            )
    live_pages = session.scalar(
        select(Notification.id)
        .where(
            Notification.incident_id == incident.id,
            Notification.kind == "page",
            Notification.status.in_(("pending", "sent")),
        )
        .limit(1)
    )
    state = Escalation(policy, last, nxt, paging=live_pages is not None or nxt is not None)
    if incident.status == "triggered" and not state.paging:
        if incident.service_id is None:
            state.warnings.append("Nobody is paged: the incident has no service, so no policy.")
        elif policy is None:
            state.warnings.append(
                "Nobody is paged: the service has no escalation policy. Choose one on the "
                "service's page, or mobilise people."
            )
        else:
            state.warnings.append(
                "Nobody is being paged now: every step has run (or paged nobody). Mobilise "
                "people, or acknowledge."
            )
        for event in session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "paging_warning")
            .order_by(TimelineEvent.id.desc())
            .limit(3)
        ):
            state.warnings.append(event.message + ".")
    return state
