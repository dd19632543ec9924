"""Load-decide-store for paging: escalation steps, who gets notified how and when, cancelling.

Everything here runs inside the caller's transaction, so a decision and its outbox rows and
timers commit together or not at all (a crash never loses a page, and replay never doubles one).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import User
from warroom.engine.logic import Position, Rule, in_quiet_hours, next_position, notification_times
from warroom.incidents import timeline
from warroom.incidents.logic import PRIORITY_NAMES
from warroom.incidents.models import Incident
from warroom.incidents.paging import ESCALATE, wake_peers
from warroom.notify.models import ContactMethod, Notification, NotificationRule
from warroom.oncall.models import EscalationPolicy, EscalationStep, EscalationTarget
from warroom.timers.models import Timer


def fire_escalation(
    session: Session, timer: Timer, now: datetime, base_url: str, link_maker: Any
) -> None:
    """One escalation step is due: page its targets and schedule the next step."""
    timer.done_at = now
    incident = session.get(Incident, timer.incident_id)
    if incident is None or incident.status != "triggered":
        return  # acknowledged, resolved or merged meanwhile: paging has stopped
    payload = timer.payload
    policy = session.get(EscalationPolicy, payload["policy_id"])
    if policy is None:
        _event(
            session,
            incident.id,
            now,
            "paging_warning",
            "The escalation policy was deleted; nobody more is paged",
        )
        return
    steps = list(
        session.scalars(
            select(EscalationStep)
            .where(EscalationStep.policy_id == policy.id)
            .order_by(EscalationStep.position)
        )
    )
    position = Position(payload["level"], payload["cycle"])
    if position.level >= len(steps):
        return
    step = steps[position.level]
    targets = [
        (t.target_type, t.target_id)
        for t in session.scalars(
            select(EscalationTarget)
            .where(EscalationTarget.step_id == step.id)
            .order_by(EscalationTarget.id)
        )
    ]
    from warroom.oncall.policies import resolve_targets

    user_ids = resolve_targets(session, targets, now)
    label = f"step {position.level + 1}" + (f" (repeat {position.cycle})" if position.cycle else "")
    following = next_position(position, len(steps), policy.repeat)
    if not user_ids:
        # Never wait out the delay of a step that pages nobody: flag it and move on at once.
        _event(
            session,
            incident.id,
            now,
            "paging_warning",
            f"Escalation {label} of {policy.name!r} resolved to nobody; moving on",
        )
        if following is not None:
            _schedule(session, incident.id, policy.id, following, now, now)
        return
    names = page_users(
        session,
        incident,
        user_ids,
        now,
        kind="page",
        link_maker=link_maker,
        key=f"esc-{timer.id}",
        note=None,
    )
    _event(
        session,
        incident.id,
        now,
        "escalated",
        f"Paging {label} of {policy.name!r}: {', '.join(names)}",
        after={"level": position.level, "cycle": position.cycle, "user_ids": user_ids},
    )
    if following is not None:
        _schedule(
            session,
            incident.id,
            policy.id,
            following,
            now + timedelta(seconds=step.delay_seconds),
            now,
        )


def page_users(
    session: Session,
    incident: Incident,
    user_ids: list[int],
    now: datetime,
    *,
    kind: str,
    link_maker: Any,
    key: str,
    note: str | None,
    urgency: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    view_only: bool = False,
    context: dict[str, Any] | None = None,
    headline: str | None = None,
) -> list[str]:
    """Outbox rows for each person by their notification rules; returns their names.

    Pages and mobilisations carry the incident's subject and acknowledge/resolve links;
    notices (reminders, roles, stakeholders) pass their own urgency, subject and body, and
    `view_only` keeps the acting links out of a message that asks nobody to act. Oversight
    messages pass their urgency, the `context` their last check reads and a `headline` that
    leads the subject."""
    if urgency is None:
        urgency = "high" if incident.urgency == 1 or kind == "mobilise" else "low"
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    methods: dict[int, list[ContactMethod]] = {}
    for cm in session.scalars(
        select(ContactMethod)
        .where(ContactMethod.user_id.in_(user_ids), ContactMethod.disabled_at.is_(None))
        .order_by(ContactMethod.id)
    ):
        methods.setdefault(cm.user_id, []).append(cm)
    rules: dict[int, list[Rule]] = {}
    for rule in session.scalars(
        select(NotificationRule)
        .where(NotificationRule.user_id.in_(user_ids), NotificationRule.urgency == urgency)
        .order_by(NotificationRule.delay_seconds, NotificationRule.id)
    ):
        rules.setdefault(rule.user_id, []).append(Rule(rule.contact_method_id, rule.delay_seconds))
    subject = subject or (
        f"[P{incident.priority} {PRIORITY_NAMES[incident.priority]}] #{incident.id} "
        f"{incident.title}"
    )
    if headline:
        subject = f"{headline}: {subject}"
    names = []
    for uid in user_ids:
        user = users.get(uid)
        if user is None or not user.active:
            continue
        name = user.name or user.username
        names.append(name)
        user_methods = methods.get(uid, [])
        if not user_methods:
            _event(
                session,
                incident.id,
                now,
                "paging_warning",
                f"{name} has no contact method and cannot be reached",
            )
            continue
        quiet = in_quiet_hours(now, user.time_zone, user.quiet_hours_start, user.quiet_hours_end)
        by_id = {cm.id: cm for cm in user_methods}
        plan = notification_times(rules.get(uid, []), list(by_id), urgency, now, quiet)
        links = link_maker(uid, incident.id)
        if user.role == "stakeholder" or view_only:
            # Stakeholders follow an incident; they do not act on it (the link page also
            # checks the holder's role when a link is used).
            links = {"view": links["view"]}
        if body is not None:
            text = f"{body}\nView: {links['view']}"
        else:
            text = _body(incident, note, links)
        for n, (cm_id, at) in enumerate(plan):
            cm = by_id[cm_id]
            session.add(
                Notification(
                    idempotency_key=f"{key}-u{uid}-r{n}-cm{cm_id}",
                    incident_id=incident.id,
                    user_id=uid,
                    contact_method_id=cm_id,
                    channel=cm.channel,
                    target=cm.address,
                    kind=kind,
                    urgency=urgency,
                    subject=subject,
                    body=text,
                    links=links,
                    context=context,
                    next_attempt_at=at,
                    created_at=now,
                )
            )
    wake_peers(session)
    return names


def _body(incident: Incident, note: str | None, links: dict[str, str]) -> str:
    lines = [
        f"Incident #{incident.id}: {incident.title}",
        f"Priority P{incident.priority}, status {incident.status}",
    ]
    if note:
        lines.append(f"Message: {note}")
    for label, action in (("Acknowledge", "ack"), ("Resolve", "resolve"), ("View", "view")):
        if action in links:
            lines.append(f"{label}: {links[action]}")
    return "\n".join(lines)


def _schedule(
    session: Session,
    incident_id: int,
    policy_id: int,
    at_position: Position,
    due: datetime,
    now: datetime,
) -> None:
    session.add(
        Timer(
            kind=ESCALATE,
            incident_id=incident_id,
            due_at=due,
            created_at=now,
            payload={
                "policy_id": policy_id,
                "level": at_position.level,
                "cycle": at_position.cycle,
            },
        )
    )


def _event(
    session: Session,
    incident_id: int,
    now: datetime,
    kind: str,
    message: str,
    after: dict[str, Any] | None = None,
) -> None:
    timeline.add_event(session, incident_id, kind, message, now, after=after)


def mobilise(
    session: Session,
    incident_id: int,
    actor: Any,
    now: datetime,
    *,
    user_ids: list[int],
    team_ids: list[int],
    schedule_ids: list[int],
    message: str,
    link_maker: Any,
) -> list[str]:
    """Page more people onto an open incident by hand; returns who was paged."""
    from warroom.catalog.models import Team
    from warroom.errors import ApiError
    from warroom.incidents.service import get_incident, record
    from warroom.oncall.models import Schedule
    from warroom.oncall.policies import resolve_targets

    if not (user_ids or team_ids or schedule_ids):
        raise ApiError(422, "name at least one user, team or schedule to mobilise")
    incident = get_incident(session, incident_id)
    if incident.status in ("resolved", "closed"):
        raise ApiError(409, f"the incident is {incident.status}; reopen it to mobilise people")
    for model, ids, what in (
        (User, user_ids, "user"),
        (Team, team_ids, "team"),
        (Schedule, schedule_ids, "schedule"),
    ):
        found = set(session.scalars(select(model.id).where(model.id.in_(ids)))) if ids else set()
        missing = sorted(set(ids) - found)
        if missing:
            raise ApiError(422, f"unknown {what} id(s): {', '.join(map(str, missing))}")
    targets = (
        [("user", u) for u in user_ids]
        + [("team", t) for t in team_ids]
        + [("schedule", s) for s in schedule_ids]
    )
    paged_ids = resolve_targets(session, targets, now)
    if not paged_ids:
        raise ApiError(409, "nobody to page: the teams are empty and nobody is on call")
    names = page_users(
        session,
        incident,
        paged_ids,
        now,
        kind="mobilise",
        link_maker=link_maker,
        key=f"mob-{incident.id}-{now.timestamp()}",
        note=message or None,
    )
    record(
        session,
        incident.id,
        actor,
        "mobilised",
        f"{actor.name} mobilised {', '.join(names)}" + (f": {message}" if message else ""),
        now,
        after={"user_ids": paged_ids, "team_ids": team_ids, "schedule_ids": schedule_ids},
    )
    return names


def page_major(
    session: Session,
    incident_id: int,
    policy_id: int | None,
    now: datetime,
    *,
    link_maker: Any,
) -> list[str]:
    """A commander accepted a major incident: page the first step of the major-incident
    escalation policy now, at high urgency, as a mobilisation (the outbox rows commit with the
    decision). With no policy set, or nobody on it now, the timeline says so."""
    from warroom.engine.oversight import first_step
    from warroom.incidents.service import get_incident

    incident = get_incident(session, incident_id)
    if policy_id is None:
        _event(
            session,
            incident_id,
            now,
            "paging_warning",
            "Major incident: no major-incident escalation policy is set; nobody more is paged",
        )
        return []
    name = session.scalar(select(EscalationPolicy.name).where(EscalationPolicy.id == policy_id))
    user_ids = first_step(session, policy_id, now)
    if not user_ids:
        _event(
            session,
            incident_id,
            now,
            "paging_warning",
            f"Major incident: the first step of {name!r} pages nobody now",
        )
        return []
    names = page_users(
        session,
        incident,
        user_ids,
        now,
        kind="mobilise",
        link_maker=link_maker,
        key=f"major-{incident_id}",
        note="Declared a major incident",
        headline="Major incident",
    )
    _event(
        session,
        incident_id,
        now,
        "mobilised",
        f"Major incident: paging step 1 of {name!r}: {', '.join(names)}",
        after={"user_ids": user_ids, "escalation_policy_id": policy_id},
    )
    return names
