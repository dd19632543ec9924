"""Major incidents' load-store: the installation's rules, the facts a proposal is derived from,
and the commander's decision (accept: the incident is marked major; reject: its reasons are not
proposed again), each on the timeline.

Paging the major-incident escalation policy after an accept is the caller's next step in the
same transaction (`warroom.engine.paging.page_major`), as mobilising is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service
from warroom.errors import ApiError
from warroom.incidents import major
from warroom.incidents.major import MajorFacts, MajorPolicy, Reason
from warroom.incidents.models import (
    IncidentRole,
    MajorIncidentSetting,
    TimelineEvent,
    incident_services,
)
from warroom.incidents.service import get_incident
from warroom.incidents.timeline import Actor, add_event

ACCEPTED_EVENT = "major_accepted"
REJECTED_EVENT = "major_rejected"
# The timeline events that say when alerts arrived: the trigger (one alert) and each batch's
# "N alerts grouped into this incident".
_ARRIVAL_EVENTS = ("incident_triggered", "alerts_grouped")
# A storm is one grouped event per batch; the newest are enough to see a burst.
ARRIVALS_LIMIT = 5_000
REASON_MAX = 2_000


# --- settings ------------------------------------------------------------------------------------


def load_policy(session: Session) -> MajorPolicy:
    row = session.get(MajorIncidentSetting, 1)
    if row is None:
        return MajorPolicy()
    return MajorPolicy(
        on_tier_one=row.on_tier_one,
        on_priority_one=row.on_priority_one,
        alert_burst=row.alert_burst,
        burst_minutes=row.burst_minutes,
        escalation_policy_id=row.escalation_policy_id,
    )


def put_policy(session: Session, policy: MajorPolicy, now: datetime) -> MajorPolicy:
    """Set the installation's major-incident rules as a whole."""
    from warroom.oncall.models import EscalationPolicy

    problems = []
    if policy.alert_burst is not None and not 1 <= policy.alert_burst <= 1_000_000:
        problems.append({"field": "alert_burst", "message": "1 to 1,000,000 alerts, or empty"})
    if not 1 <= policy.burst_minutes <= major.MAX_BURST_MINUTES:
        problems.append(
            {"field": "burst_minutes", "message": f"1 to {major.MAX_BURST_MINUTES} minutes"}
        )
    pid = policy.escalation_policy_id
    if pid is not None and session.get(EscalationPolicy, pid) is None:
        problems.append(
            {"field": "escalation_policy_id", "message": f"escalation policy {pid} does not exist"}
        )
    if problems:
        raise ApiError(422, "; ".join(p["message"] for p in problems), problems)
    row = session.scalars(
        select(MajorIncidentSetting).where(MajorIncidentSetting.id == 1).with_for_update()
    ).first()
    if row is None:
        row = MajorIncidentSetting(id=1)
        session.add(row)
    row.on_tier_one, row.on_priority_one = policy.on_tier_one, policy.on_priority_one
    row.alert_burst, row.burst_minutes = policy.alert_burst, policy.burst_minutes
    row.escalation_policy_id, row.updated_at = pid, now
    session.flush()
    return load_policy(session)


# --- proposals -----------------------------------------------------------------------------------


def facts(session: Session, incident_id: int) -> MajorFacts:
    incident = get_incident(session, incident_id)
    tier_one = tuple(
        session.scalars(
            select(Service.name)
            .join(incident_services, incident_services.c.service_id == Service.id)
            .where(incident_services.c.incident_id == incident_id, Service.tier == 1)
            .order_by(Service.name)
        )
    )
    arrivals: list[tuple[datetime, int]] = []
    rejected: set[str] = set()
    rows = session.execute(
        select(TimelineEvent.kind, TimelineEvent.at, TimelineEvent.after)
        .where(
            TimelineEvent.incident_id == incident_id,
            TimelineEvent.kind.in_((*_ARRIVAL_EVENTS, REJECTED_EVENT)),
        )
        .order_by(TimelineEvent.id.desc())
        .limit(ARRIVALS_LIMIT)
    )
    for kind, at, after in rows:
        if kind == REJECTED_EVENT:
            rejected.update(str(k) for k in (after or {}).get("reasons", []))
        elif kind == "incident_triggered":
            arrivals.append((at, 1))
        else:
            arrivals.append((at, int((after or {}).get("count", 0))))
    return MajorFacts(
        status=incident.status,
        priority=incident.priority,
        major=incident.major,
        tier_one=tier_one,
        arrivals=tuple(arrivals),
        rejected=frozenset(rejected),
    )


def proposal(session: Session, incident_id: int, policy: MajorPolicy) -> tuple[Reason, ...]:
    """Why this incident is proposed as a major one now (empty: it is not)."""
    return major.propose(facts(session, incident_id), policy)


def may_decide(session: Session, incident_id: int, user_id: int, is_admin: bool) -> bool:
    """The incident's commander or an admin accepts or rejects a proposal."""
    if is_admin:
        return True
    commander = session.scalar(
        select(IncidentRole.user_id).where(
            IncidentRole.incident_id == incident_id, IncidentRole.role == "commander"
        )
    )
    return commander == user_id


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reasons: tuple[Reason, ...]
    escalation_policy_id: int | None  # whose first step to page now (accepted; None: nobody)


def decide(
    session: Session,
    incident_id: int,
    actor: Actor,
    now: datetime,
    *,
    is_admin: bool,
    accept: bool,
    reason: str,
) -> Decision:
    """Accept (the incident becomes major) or reject the current proposal, with a reason.

    403 for anyone but the commander or an admin, 422 without a reason, 409 when the incident
    is already major or nothing is proposed. The incident row is locked, so two commanders
    deciding at once get one decision and one 409."""
    incident = get_incident(session, incident_id, lock=True)
    if actor.id is None or not may_decide(session, incident_id, actor.id, is_admin):
        raise ApiError(
            403, "only the incident's commander or an admin decides whether it is a major incident"
        )
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise ApiError(
            422,
            f"say why (1 to {REASON_MAX:,} characters); it goes on the timeline",
            [{"field": "reason", "message": "required"}],
        )
    if incident.major:
        raise ApiError(409, "the incident is already a major incident")
    policy = load_policy(session)
    found = proposal(session, incident_id, policy)
    if not found:
        raise ApiError(
            409,
            "no major incident is proposed for this incident"
            + (" (it is not open)" if incident.status not in major.OPEN else ""),
        )
    kinds = [r.kind for r in found]
    why = major.describe(found)
    if accept:
        incident.major = True
        incident.updated_at = now
        add_event(
            session,
            incident_id,
            ACCEPTED_EVENT,
            f"Major incident declared by {actor.name} ({why}): {reason}",
            now,
            actor=actor,
            before={"major": False},
            after={"major": True, "reasons": kinds, "reason": reason},
        )
        return Decision(True, found, policy.escalation_policy_id)
    add_event(
        session,
        incident_id,
        REJECTED_EVENT,
        f"Major incident proposal rejected by {actor.name} ({why}): {reason}",
        now,
        actor=actor,
        after={"major": False, "reasons": kinds, "reason": reason},
    )
    return Decision(False, found, None)
