"""Load-decide-store for incident changes made by people: lifecycle, priority, notes, roles, tasks.

Every change appends a timeline event with the actor, the time and before/after, in the same
transaction as the change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.catalog import service as catalog
from warroom.catalog.models import Service, User
from warroom.errors import ApiError
from warroom.incidents import causes, oversight_store, reporters
from warroom.incidents.logic import (
    Lifecycle,
    Matrix,
    TransitionError,
    priority_for,
    transition,
)
from warroom.incidents.models import (
    Incident,
    IncidentRole,
    Task,
    incident_services,
)
from warroom.incidents.paging import cancel_paging, start_escalation
from warroom.incidents.timeline import Actor as Actor
from warroom.incidents.timeline import add_event
from warroom.incidents.updates import ROLE_NOTICE, schedule_comms_check, stop_reminders
from warroom.timers.models import Timer

ROLE_LABELS = {
    "commander": "Incident Commander",
    "communications_lead": "Communications Lead",
    "operations_lead": "Operations Lead",
    "scribe": "Scribe",
}


def record(
    session: Session,
    incident_id: int,
    actor: Actor,
    kind: str,
    message: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """The older actor-first form of :func:`add_event`, kept for engine/paging.mobilise until the
    engine's timeline writes are switched over; it writes nothing itself."""
    add_event(session, incident_id, kind, message, now, actor=actor, before=before, after=after)


def get_incident(session: Session, incident_id: int, lock: bool = False) -> Incident:
    query = select(Incident).where(Incident.id == incident_id)
    if lock:
        query = query.with_for_update()
    incident = session.scalars(query).first()
    if incident is None:
        raise ApiError(404, f"incident {incident_id} does not exist")
    return incident


def _user_exists(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise ApiError(
            422,
            f"user {user_id} does not exist or is deactivated",
            [{"field": "user_id", "message": "unknown user"}],
        )
    return user


def declare(
    session: Session,
    actor: Actor,
    now: datetime,
    matrix: Matrix,
    *,
    title: str,
    description: str,
    impact: int,
    urgency: int,
    service_ids: list[int],
) -> Incident:
    services = session.scalars(select(Service).where(Service.id.in_(service_ids))).all()
    missing = sorted(set(service_ids) - {s.id for s in services})
    if missing:
        raise ApiError(
            422,
            f"unknown service id(s): {', '.join(map(str, missing))}",
            [{"field": "service_ids", "message": "unknown service"}],
        )
    catalog.refuse_archived(session, service_ids, "service_ids")
    incident = Incident(
        title=title,
        description=description,
        status="triggered",
        service_id=service_ids[0] if service_ids else None,
        impact=impact,
        urgency=urgency,
        priority=priority_for(impact, urgency, matrix),
        priority_source="manual",
        source="declared",
        created_by_id=actor.id,
        triggered_at=now,
        updated_at=now,
        impact_started_at=now,
    )
    session.add(incident)
    session.flush()
    if service_ids:
        session.execute(
            insert(incident_services),
            [{"incident_id": incident.id, "service_id": sid} for sid in dict.fromkeys(service_ids)],
        )
    add_event(
        session,
        incident.id,
        "incident_declared",
        f"Declared by {actor.name}: {title}",
        now,
        actor=actor,
        after={
            "status": "triggered",
            "impact": impact,
            "urgency": urgency,
            "priority": incident.priority,
            "service_ids": service_ids,
        },
    )
    start_escalation(session, incident, now)
    schedule_comms_check(session, incident.id, now)
    return incident


def apply_action(
    session: Session,
    incident_id: int,
    action: str,
    actor: Actor,
    now: datetime,
    note: str | None = None,
) -> Incident:
    incident = get_incident(session, incident_id, lock=True)
    before = Lifecycle(
        incident.status,
        incident.acknowledged_at,
        incident.mitigated_at,
        incident.resolved_at,
        incident.closed_at,
    )
    try:
        after = transition(before, action, now)
    except TransitionError as exc:
        raise ApiError(409, str(exc)) from None
    incident.status = after.status
    incident.acknowledged_at = after.acknowledged_at
    incident.mitigated_at = after.mitigated_at
    incident.resolved_at = after.resolved_at
    incident.closed_at = after.closed_at
    incident.updated_at = now
    if action in ("acknowledge", "mitigate", "resolve"):
        # Someone is on it (or it is over): stop escalating and drop pages not yet sent.
        cancel_paging(session, [incident.id], now)
    elif action == "reopen":
        # Open again: the resolution clock runs on from the start, staleness counts again.
        oversight_store.schedule_look(session, [incident.id], now, now)
        schedule_comms_check(session, incident.id, now)
    if action in ("resolve", "close"):
        stop_reminders(session, [incident.id], now)
    if action == "resolve":
        causes.schedule_release(session, [incident.id], now)
        reporters.schedule_notice(session, [incident.id], now)
    if action == "acknowledge":
        session.execute(
            update(Alert)
            .where(Alert.incident_id == incident.id, Alert.status == "triggered")
            .values(status="acknowledged", acknowledged_at=now)
        )
    elif action == "resolve":
        # Resolving an incident resolves its alerts, which frees their keys for new alerts.
        session.execute(
            update(Alert)
            .where(Alert.incident_id == incident.id, Alert.status != "resolved")
            .values(status="resolved", resolved_at=now)
        )
    message = (
        f"{action.capitalize()}d by {actor.name}"
        if action != "reopen"
        else (f"Reopened by {actor.name}")
    )
    if action == "acknowledge":
        message = f"Acknowledged by {actor.name}"
    if note:
        message += f": {note}"
    add_event(
        session,
        incident.id,
        "status_changed",
        message,
        now,
        actor=actor,
        before={"status": before.status},
        after={"status": after.status},
    )
    return incident


def change_priority(
    session: Session,
    incident_id: int,
    actor: Actor,
    now: datetime,
    matrix: Matrix,
    *,
    impact: int | None,
    urgency: int | None,
    reason: str,
) -> Incident:
    incident = get_incident(session, incident_id, lock=True)
    new_impact = impact if impact is not None else incident.impact
    new_urgency = urgency if urgency is not None else incident.urgency
    if (new_impact, new_urgency) == (incident.impact, incident.urgency):
        raise ApiError(409, "impact and urgency are already these values")
    before = {"impact": incident.impact, "urgency": incident.urgency, "priority": incident.priority}
    incident.impact, incident.urgency = new_impact, new_urgency
    incident.priority = priority_for(new_impact, new_urgency, matrix)
    incident.priority_source = "manual"
    incident.updated_at = now
    after = {"impact": new_impact, "urgency": new_urgency, "priority": incident.priority}
    add_event(
        session,
        incident.id,
        "priority_changed",
        f"Priority P{before['priority']} → P{incident.priority} by {actor.name}: {reason}",
        now,
        actor=actor,
        before=before,
        after={**after, "reason": reason},
    )
    # A new priority has its own cadence, and may reach a stakeholder list's threshold.
    schedule_comms_check(session, incident.id, now)
    oversight_store.retarget(
        session, [(incident.id, before["priority"], incident.priority, incident.triggered_at)], now
    )
    return incident


def add_note(session: Session, incident_id: int, actor: Actor, now: datetime, text: str) -> None:
    incident = get_incident(session, incident_id)
    incident.updated_at = now
    add_event(session, incident.id, "note", text, now, actor=actor)


def assign_role(
    session: Session, incident_id: int, role: str, user_id: int, actor: Actor, now: datetime
) -> IncidentRole:
    incident = get_incident(session, incident_id, lock=True)
    user = _user_exists(session, user_id)
    current = session.scalars(
        select(IncidentRole).where(
            IncidentRole.incident_id == incident.id, IncidentRole.role == role
        )
    ).first()
    before = {"user_id": current.user_id} if current else None
    if current is not None and current.user_id == user_id:
        return current
    if current is None:
        current = IncidentRole(incident_id=incident.id, role=role, user_id=user_id, assigned_at=now)
        session.add(current)
    else:
        current.user_id, current.assigned_at = user_id, now
    incident.updated_at = now
    who = user.name or user.username
    message = f"{who} is now {ROLE_LABELS[role]}"
    if actor.id != user_id:
        message += f" (assigned by {actor.name})"
    add_event(
        session,
        incident.id,
        "role_assigned",
        message,
        now,
        actor=actor,
        before=before,
        after={"role": role, "user_id": user_id},
    )
    if actor.id != user_id:
        # Tell the person (the engine writes the outbox row by their rules); taking a role
        # oneself needs no message.
        session.add(
            Timer(
                kind=ROLE_NOTICE,
                incident_id=incident.id,
                due_at=now,
                created_at=now,
                payload={"role": role, "user_id": user_id, "by": actor.name},
            )
        )
    return current


def unassign_role(
    session: Session, incident_id: int, role: str, actor: Actor, now: datetime
) -> None:
    incident = get_incident(session, incident_id, lock=True)
    current = session.scalars(
        select(IncidentRole).where(
            IncidentRole.incident_id == incident.id, IncidentRole.role == role
        )
    ).first()
    if current is None:
        raise ApiError(404, f"nobody holds the {role} role on incident {incident_id}")
    session.delete(current)
    incident.updated_at = now
    add_event(
        session,
        incident.id,
        "role_unassigned",
        f"{ROLE_LABELS[role]} role released by {actor.name}",
        now,
        actor=actor,
        before={"role": role, "user_id": current.user_id},
        after=None,
    )


def add_task(
    session: Session,
    incident_id: int,
    actor: Actor,
    now: datetime,
    *,
    title: str,
    owner_id: int | None,
    due_at: datetime | None,
) -> Task:
    incident = get_incident(session, incident_id)
    if owner_id is not None:
        _user_exists(session, owner_id)
    task = Task(
        incident_id=incident.id, title=title, owner_id=owner_id, due_at=due_at, created_at=now
    )
    session.add(task)
    session.flush()
    incident.updated_at = now
    add_event(
        session,
        incident.id,
        "task_added",
        f"Task added: {title}",
        now,
        actor=actor,
        after={
            "task_id": task.id,
            "title": title,
            "owner_id": owner_id,
            "due_at": due_at.isoformat() if due_at else None,
        },
    )
    return task


def update_task(
    session: Session,
    incident_id: int,
    task_id: int,
    actor: Actor,
    now: datetime,
    changes: dict[str, Any],
) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.incident_id != incident_id:
        raise ApiError(404, f"task {task_id} does not exist on incident {incident_id}")
    if changes.get("owner_id") is not None:
        _user_exists(session, changes["owner_id"])
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in changes.items():
        old = getattr(task, name)
        if old == value:
            continue
        before[name] = old.isoformat() if isinstance(old, datetime) else old
        after[name] = value.isoformat() if isinstance(value, datetime) else value
        setattr(task, name, value)
    if "status" in after:
        task.done_at = now if task.status == "done" else None
    if after:
        verb = "completed" if after.get("status") == "done" else "updated"
        add_event(
            session,
            incident_id,
            "task_updated",
            f"Task {verb}: {task.title}",
            now,
            actor=actor,
            before={"task_id": task.id, **before},
            after={"task_id": task.id, **after},
        )
    return task


def merge(
    session: Session, incident_id: int, into_id: int, actor: Actor, now: datetime, reason: str
) -> Incident:
    """Fold a duplicate into the incident that carries on: its alerts and affected services
    move over, paging for the duplicate stops, and it is closed pointing at the survivor."""
    if incident_id == into_id:
        raise ApiError(422, "an incident cannot be merged into itself")
    # Lock both in id order so two opposite merges cannot deadlock each other.
    first, second = sorted((incident_id, into_id))
    locked = {
        first: get_incident(session, first, lock=True),
        second: get_incident(session, second, lock=True),
    }
    source, target = locked[incident_id], locked[into_id]
    if source.status == "closed":
        raise ApiError(
            409, f"incident {incident_id} is closed; only open or resolved incidents can be merged"
        )
    if target.status in ("resolved", "closed"):
        raise ApiError(
            409,
            f"incident {into_id} is {target.status}; reopen it first or merge the other way round",
        )
    moved = session.scalar(select(func.count()).where(Alert.incident_id == source.id)) or 0
    session.execute(
        update(Alert).where(Alert.incident_id == source.id).values(incident_id=target.id)
    )
    services = set(
        session.scalars(
            select(incident_services.c.service_id).where(
                incident_services.c.incident_id == source.id
            )
        )
    )
    have = set(
        session.scalars(
            select(incident_services.c.service_id).where(
                incident_services.c.incident_id == target.id
            )
        )
    )
    if services - have:
        session.execute(
            insert(incident_services),
            [{"incident_id": target.id, "service_id": sid} for sid in sorted(services - have)],
        )
    target.alert_count += moved
    target.updated_at = now
    causes.hand_over(session, source.id, target.id)
    stop_reminders(session, [source.id], now)
    before = source.status
    source.status, source.merged_into_id, source.updated_at = "closed", target.id, now
    source.resolved_at = source.resolved_at or now
    source.closed_at = now
    cancel_paging(session, [source.id], now)
    add_event(
        session,
        source.id,
        "merged",
        f"Merged into #{target.id} by {actor.name}: {reason}",
        now,
        actor=actor,
        before={"status": before},
        after={"status": "closed", "merged_into_id": target.id},
    )
    add_event(
        session,
        target.id,
        "merged",
        f"#{source.id} ({source.title}) merged into this incident by {actor.name}: {reason}"
        + (f"; {moved} alert(s) moved" if moved else ""),
        now,
        actor=actor,
        after={"merged_incident_id": source.id, "alerts_moved": moved or 0},
    )
    return target


def correct_impact_start(
    session: Session, incident_id: int, actor: Actor, now: datetime, at: datetime
) -> Incident:
    """Set when the impact really began (a review's correction): never after the trigger (the
    impact had started by the time it was detected) nor in the future. On the timeline."""
    incident = get_incident(session, incident_id, lock=True)
    if at > now:
        raise ApiError(
            422,
            "the impact start is in the future",
            [{"field": "impact_started_at", "message": "in the future"}],
        )
    if at > incident.triggered_at:
        raise ApiError(
            422,
            "the impact start is after the incident was triggered: it had started by then",
            [{"field": "impact_started_at", "message": "after the trigger"}],
        )
    before = incident.impact_started_at
    if before == at:
        return incident
    incident.impact_started_at = at
    incident.updated_at = now
    add_event(
        session,
        incident.id,
        "impact_start_corrected",
        f"Impact start set to {at:%Y-%m-%d %H:%M:%S} UTC by {actor.name}",
        now,
        actor=actor,
        before={"impact_started_at": before.isoformat() if before else None},
        after={"impact_started_at": at.isoformat()},
    )
    return incident
