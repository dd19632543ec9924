"""Firing an oversight look: warn at 50 % and 75 % of an SLA budget, page the oversight policy
at the breach, nudge when an incident went stale, and time the next look.

Runs in the engine's savepoint for the timer, so what was decided, its outbox rows, its
timeline events and the next look commit together. The decision is pure
(warroom/incidents/oversight.py); who hears it is resolved here, at the instant it fires.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service, User
from warroom.config import Settings
from warroom.engine.paging import page_users
from warroom.incidents import oversight, oversight_store, timeline
from warroom.incidents.models import Incident, IncidentRole
from warroom.incidents.oversight import BREACH_KIND, Action
from warroom.oncall.models import EscalationPolicy, EscalationStep, EscalationTarget
from warroom.timers.models import Timer

# A look whose incident is locked by a transition in progress tries again this much later.
BUSY_RETRY = timedelta(seconds=2)
EVENTS = {
    oversight.WARNING_KIND: oversight.WARNED_EVENT,
    oversight.BREACH_KIND: oversight.BREACHED_EVENT,
    oversight.NUDGE_KIND: oversight.STALE_EVENT,
}
HEADLINES = {
    oversight.WARNING_KIND: "SLA warning",
    oversight.BREACH_KIND: "SLA BREACHED",
    oversight.NUDGE_KIND: "Stale incident",
}


def look(
    session: Session,
    timer: Timer,
    now: datetime,
    settings: Settings,
    link_maker: Any,
    is_sqlite: bool,
) -> None:
    """Act on what is due for the timer's incident at `now` and schedule the next look."""
    query = (
        select(Incident)
        .where(Incident.id == timer.incident_id)
        .execution_options(populate_existing=True)
    )
    if not is_sqlite:
        # Never wait for a transition holding the incident (it may be waiting for this very
        # timer's row): look again in a moment instead. Holding the row serialises two looks.
        # The lock comes before any write: a second update of a row this transaction already
        # changed re-checks its foreign key, which would wait for the incident after all.
        query = query.with_for_update(skip_locked=True)
    incident = session.scalars(query).first()
    if incident is None:
        if session.scalar(select(Incident.id).where(Incident.id == timer.incident_id)):
            timer.due_at = now + BUSY_RETRY
        else:
            timer.done_at = now
        return
    timer.done_at = now
    config = oversight_store.load_config(session, settings.stale_minutes)
    team_id = oversight_store.team_of(session, incident.service_id)
    decision = oversight.decide(
        oversight_store.watched(session, incident), now, config.rules(team_id)
    )
    for n, action in enumerate(decision.actions):
        _act(session, incident, action, now, config, team_id, link_maker, f"ovs-{timer.id}-a{n}")
    if decision.next_look_at is not None:
        oversight_store.schedule_look(session, [incident.id], decision.next_look_at, now)


def _act(
    session: Session,
    incident: Incident,
    action: Action,
    now: datetime,
    config: oversight_store.OversightConfig,
    team_id: int | None,
    link_maker: Any,
    key: str,
) -> None:
    message = oversight.describe(action, now)
    if action.kind == BREACH_KIND:
        policy_id, scope = config.policy(team_id)
        user_ids = first_step(session, policy_id, now)
        if user_ids:
            who = f"paging the oversight policy ({scope})"
        else:
            user_ids, who = watchers(session, incident, now)
            reason = (
                "the oversight policy pages nobody now"
                if policy_id
                else "no oversight policy is set"
            )
            who = f"{reason}; telling {who} instead"
    else:
        user_ids, who = watchers(session, incident, now)
    names = (
        page_users(
            session,
            incident,
            user_ids,
            now,
            kind=action.kind,
            link_maker=link_maker,
            key=key,
            note=message,
            urgency="high" if action.kind == BREACH_KIND else None,
            context=action.context(),
            headline=HEADLINES[action.kind],
        )
        if user_ids
        else []
    )
    told = f"{who}: {', '.join(names)}" if names else f"nobody to tell ({who})"
    timeline.add_event(
        session,
        incident.id,
        EVENTS[action.kind],
        f"{message}; {told}",
        now,
        after={**action.context(), "user_ids": user_ids if names else []},
    )


def watchers(session: Session, incident: Incident, now: datetime) -> tuple[list[int], str]:
    """Who hears a warning or nudge: the commander, or with none whoever the incident's
    escalation policy (else its service's) pages now at its first step."""
    commander = session.scalar(
        select(IncidentRole.user_id)
        .join(User, User.id == IncidentRole.user_id)
        .where(
            IncidentRole.incident_id == incident.id,
            IncidentRole.role == "commander",
            User.active.is_(True),
        )
    )
    if commander is not None:
        return [commander], "the commander"
    policy_id = incident.escalation_policy_id
    if policy_id is None and incident.service_id is not None:
        policy_id = session.scalar(
            select(Service.escalation_policy_id).where(Service.id == incident.service_id)
        )
    users = first_step(session, policy_id, now)
    if not users:
        return [], "no commander, and the escalation policy pages nobody now"
    name = session.scalar(select(EscalationPolicy.name).where(EscalationPolicy.id == policy_id))
    return users, f"whoever {name!r} pages now (no commander)"


def first_step(session: Session, policy_id: int | None, now: datetime) -> list[int]:
    """Who the first step of an escalation policy pages now (none for no policy)."""
    if policy_id is None:
        return []
    step_id = session.scalar(
        select(EscalationStep.id)
        .where(EscalationStep.policy_id == policy_id)
        .order_by(EscalationStep.position)
        .limit(1)
    )
    if step_id is None:
        return []
    from warroom.oncall.policies import resolve_targets

    targets = [
        (t.target_type, t.target_id)
        for t in session.scalars(
            select(EscalationTarget)
            .where(EscalationTarget.step_id == step_id)
            .order_by(EscalationTarget.id)
        )
    ]
    return resolve_targets(session, targets, now)
