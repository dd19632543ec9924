"""REST routes of alerts and incidents: lists with filters, lifecycle, priority, roles, tasks."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Literal

from fastapi import Query, Request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts import actions as alert_actions
from warroom.alerts.models import ALERT_STATUSES, SEVERITIES, Alert, of_incident
from warroom.api.deps import Principal, ReadDB, Reader, Responder, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import check_range, page
from warroom.api.params import BigPathId, Cursor, InstantQuery, Limit, PathId, QueryId
from warroom.api.schemas import (
    ActionIn,
    AlertOut,
    DeclareIn,
    In,
    IncidentOut,
    NoteIn,
    Page,
    PriorityIn,
    RoleIn,
    RoleName,
    RoleOut,
    TaskIn,
    TaskOut,
    TaskPatch,
    TimelineEventOut,
)
from warroom.common.schemas import MAX_BIG_ID, NONBLANK, Id
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses
from warroom.incidents import service as incidents
from warroom.incidents.logic import PRIORITY_NAMES
from warroom.incidents.models import (
    INCIDENT_STATUSES,
    Incident,
    IncidentRole,
    Task,
    TimelineEvent,
    incident_services,
)

router = ApiRouter(prefix="/api/v1")

AlertStatus = Literal["triggered", "acknowledged", "resolved"]
IncidentStatus = Literal["triggered", "acknowledged", "mitigated", "resolved", "closed", "open"]
assert set(ALERT_STATUSES) <= set(AlertStatus.__args__)  # type: ignore[attr-defined]
assert set(INCIDENT_STATUSES) <= set(IncidentStatus.__args__)  # type: ignore[attr-defined]


def _actor(p: Principal) -> incidents.Actor:
    return incidents.Actor(p.id, p.name or p.username)


def _matrix(request: Request) -> list[list[int]]:
    matrix: list[list[int]] = request.app.state.settings.priority_matrix
    return matrix


# --- alerts ----------------------------------------------------------------------------------


@router.get("/alerts", response_model=Page[AlertOut], tags=["alerts"])
def list_alerts(
    _: Reader,
    session: ReadDB,
    status: Annotated[list[AlertStatus] | None, Query()] = None,
    service_id: QueryId = None,
    incident_id: QueryId = None,
    severity: Annotated[
        list[Literal["critical", "error", "warning", "info"]] | None, Query()
    ] = None,
    since: Annotated[InstantQuery, Query(description="created at or after (ISO 8601)")] = None,
    until: Annotated[InstantQuery, Query(description="created before (ISO 8601)")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AlertOut]:
    check_range(since, until)
    query = select(Alert)
    if status:
        query = query.where(Alert.status.in_(status))
    if severity:
        assert set(severity) <= set(SEVERITIES)
        query = query.where(Alert.severity.in_(severity))
    if service_id is not None:
        query = query.where(Alert.service_id == service_id)
    if incident_id is not None:
        query = of_incident(query, incident_id)  # page() adds the id order after incident_id's
    if since:
        query = query.where(Alert.created_at >= since)
    if until:
        query = query.where(Alert.created_at < until)
    rows, nxt = page(session, query, Alert.id, limit, cursor)
    return Page(items=[AlertOut.model_validate(a) for a in rows], next_cursor=nxt)


@router.get("/alerts/{alert_id}", response_model=AlertOut, tags=["alerts"])
def get_alert(alert_id: BigPathId, _: Reader, session: ReadDB) -> Alert:
    return alert_actions.get_alert(session, alert_id)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    tags=["alerts"],
    responses=responses(409),
)
def acknowledge_alert(alert_id: BigPathId, principal: Responder, session: WriteDB) -> Alert:
    """Acknowledge one alert (its incident keeps its own status)."""
    return alert_actions.act_on_alert(session, alert_id, "acknowledge", _actor(principal), utcnow())


@router.post(
    "/alerts/{alert_id}/resolve", response_model=AlertOut, tags=["alerts"], responses=responses(409)
)
def resolve_alert(alert_id: BigPathId, principal: Responder, session: WriteDB) -> Alert:
    """Resolve one alert: its dedup key opens a new alert next time it fires."""
    return alert_actions.act_on_alert(session, alert_id, "resolve", _actor(principal), utcnow())


# --- incidents -------------------------------------------------------------------------------


def _incident_outs(session: Session, rows: list[Incident]) -> list[IncidentOut]:
    ids = [i.id for i in rows]
    services: dict[int, list[int]] = defaultdict(list)
    roles: dict[int, list[RoleOut]] = defaultdict(list)
    if ids:
        for iid, sid in session.execute(
            select(incident_services.c.incident_id, incident_services.c.service_id)
            .where(incident_services.c.incident_id.in_(ids))
            .order_by(incident_services.c.service_id)
        ):
            services[iid].append(sid)
        for role in session.scalars(
            select(IncidentRole).where(IncidentRole.incident_id.in_(ids)).order_by(IncidentRole.id)
        ):
            roles[role.incident_id].append(RoleOut.model_validate(role))
    return [
        IncidentOut(
            id=i.id,
            title=i.title,
            description=i.description,
            status=i.status,
            service_id=i.service_id,
            service_ids=services[i.id],
            severity=i.severity,
            impact=i.impact,
            urgency=i.urgency,
            priority=i.priority,
            priority_name=f"P{i.priority} {PRIORITY_NAMES[i.priority]}",
            priority_source=i.priority_source,
            source=i.source,
            alert_count=i.alert_count,
            impact_started_at=i.impact_started_at,
            triggered_at=i.triggered_at,
            last_alert_at=i.last_alert_at,
            acknowledged_at=i.acknowledged_at,
            mitigated_at=i.mitigated_at,
            resolved_at=i.resolved_at,
            closed_at=i.closed_at,
            updated_at=i.updated_at,
            merged_into_id=i.merged_into_id,
            caused_by_id=i.caused_by_id,
            major=i.major,
            roles=roles[i.id],
        )
        for i in rows
    ]


def _one(session: Session, incident_id: int) -> IncidentOut:
    session.flush()
    return _incident_outs(session, [incidents.get_incident(session, incident_id)])[0]


@router.get("/incidents", response_model=Page[IncidentOut], tags=["incidents"])
def list_incidents(
    _: Reader,
    session: ReadDB,
    status: Annotated[
        list[IncidentStatus] | None,
        Query(description="repeatable; 'open' means triggered, acknowledged or mitigated"),
    ] = None,
    service_id: QueryId = None,
    priority: Annotated[list[Annotated[int, Field(ge=1, le=5)]] | None, Query()] = None,
    since: Annotated[InstantQuery, Query(description="triggered at or after (ISO 8601)")] = None,
    until: Annotated[InstantQuery, Query(description="triggered before (ISO 8601)")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[IncidentOut]:
    check_range(since, until)
    query = select(Incident)
    if status:
        wanted = set(status)
        if "open" in wanted:
            wanted = (wanted - {"open"}) | {"triggered", "acknowledged", "mitigated"}
        query = query.where(Incident.status.in_(sorted(wanted)))
    if priority:
        if any(not 1 <= p <= 5 for p in priority):
            raise ApiError(422, "priority is 1 (critical) to 5 (planning)")
        query = query.where(Incident.priority.in_(priority))
    if service_id is not None:
        query = query.where(
            Incident.id.in_(
                select(incident_services.c.incident_id).where(
                    incident_services.c.service_id == service_id
                )
            )
        )
    if since:
        query = query.where(Incident.triggered_at >= since)
    if until:
        query = query.where(Incident.triggered_at < until)
    rows, nxt = page(session, query, Incident.id, limit, cursor)
    return Page(items=_incident_outs(session, rows), next_cursor=nxt)


@router.post("/incidents", response_model=IncidentOut, status_code=201, tags=["incidents"])
def declare_incident(
    request: Request, body: DeclareIn, principal: Responder, session: WriteDB
) -> IncidentOut:
    incident = incidents.declare(
        session,
        _actor(principal),
        utcnow(),
        _matrix(request),
        title=body.title,
        description=body.description,
        impact=body.impact,
        urgency=body.urgency,
        service_ids=body.service_ids,
    )
    return _one(session, incident.id)


@router.get("/incidents/{incident_id}", response_model=IncidentOut, tags=["incidents"])
def get_incident(incident_id: PathId, _: Reader, session: ReadDB) -> IncidentOut:
    return _one(session, incident_id)


def _action_route(action: str) -> None:
    def run(
        incident_id: PathId, principal: Responder, session: WriteDB, body: ActionIn | None = None
    ) -> IncidentOut:
        incidents.apply_action(
            session, incident_id, action, _actor(principal), utcnow(), body.note if body else None
        )
        return _one(session, incident_id)

    run.__name__ = f"{action}_incident"
    router.post(
        f"/incidents/{{incident_id}}/{action}",
        response_model=IncidentOut,
        tags=["incidents"],
        summary=f"{action.capitalize()} an incident",
        responses=responses(409),
    )(run)


for _action in ("acknowledge", "mitigate", "resolve", "reopen", "close"):
    _action_route(_action)


class MergeIn(In):
    into_id: Id = Field(description="The incident that carries on")
    reason: str = Field(min_length=1, max_length=2000, pattern=NONBLANK)


@router.post(
    "/incidents/{incident_id}/merge",
    response_model=IncidentOut,
    tags=["incidents"],
    responses=responses(409),
)
def merge_incident(
    incident_id: PathId, body: MergeIn, principal: Responder, session: WriteDB
) -> IncidentOut:
    """Merge a duplicate into another incident; returns the incident that carries on."""
    target = incidents.merge(
        session, incident_id, body.into_id, _actor(principal), utcnow(), body.reason
    )
    return _one(session, target.id)


@router.post(
    "/incidents/{incident_id}/priority",
    response_model=IncidentOut,
    tags=["incidents"],
    responses=responses(409),
)
def change_priority(
    request: Request, incident_id: PathId, body: PriorityIn, principal: Responder, session: WriteDB
) -> IncidentOut:
    if body.impact is None and body.urgency is None:
        raise ApiError(422, "give impact, urgency or both")
    incidents.change_priority(
        session,
        incident_id,
        _actor(principal),
        utcnow(),
        _matrix(request),
        impact=body.impact,
        urgency=body.urgency,
        reason=body.reason,
    )
    return _one(session, incident_id)


@router.post(
    "/incidents/{incident_id}/notes",
    status_code=201,
    response_model=TimelineEventOut,
    tags=["incidents"],
)
def add_note(
    incident_id: PathId, body: NoteIn, principal: Responder, session: WriteDB
) -> TimelineEvent:
    incidents.add_note(session, incident_id, _actor(principal), utcnow(), body.text)
    session.flush()
    return session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(TimelineEvent.id.desc())
        .limit(1)
    ).one()


@router.put("/incidents/{incident_id}/roles/{role}", response_model=IncidentOut, tags=["incidents"])
def assign_role(
    incident_id: PathId, role: RoleName, body: RoleIn, principal: Responder, session: WriteDB
) -> IncidentOut:
    incidents.assign_role(session, incident_id, role, body.user_id, _actor(principal), utcnow())
    return _one(session, incident_id)


@router.delete(
    "/incidents/{incident_id}/roles/{role}", response_model=IncidentOut, tags=["incidents"]
)
def unassign_role(
    incident_id: PathId, role: RoleName, principal: Responder, session: WriteDB
) -> IncidentOut:
    incidents.unassign_role(session, incident_id, role, _actor(principal), utcnow())
    return _one(session, incident_id)


@router.get("/incidents/{incident_id}/tasks", response_model=list[TaskOut], tags=["incidents"])
def list_tasks(incident_id: PathId, _: Reader, session: ReadDB) -> list[Task]:
    incidents.get_incident(session, incident_id)
    return list(
        session.scalars(select(Task).where(Task.incident_id == incident_id).order_by(Task.id))
    )


@router.post(
    "/incidents/{incident_id}/tasks", response_model=TaskOut, status_code=201, tags=["incidents"]
)
def add_task(incident_id: PathId, body: TaskIn, principal: Responder, session: WriteDB) -> Task:
    return incidents.add_task(
        session,
        incident_id,
        _actor(principal),
        utcnow(),
        title=body.title,
        owner_id=body.owner_id,
        due_at=body.due_at,
    )


@router.patch(
    "/incidents/{incident_id}/tasks/{task_id}", response_model=TaskOut, tags=["incidents"]
)
def update_task(
    incident_id: PathId, task_id: PathId, body: TaskPatch, principal: Responder, session: WriteDB
) -> Task:
    changes = body.model_dump(exclude_unset=True)
    for name in ("title", "status"):
        if name in changes and changes[name] is None:
            raise ApiError(422, f"'{name}' cannot be null")
    return incidents.update_task(
        session, incident_id, task_id, _actor(principal), utcnow(), changes
    )


@router.get(
    "/incidents/{incident_id}/timeline", response_model=Page[TimelineEventOut], tags=["incidents"]
)
def timeline(
    incident_id: PathId,
    _: Reader,
    session: ReadDB,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    after: Annotated[int | None, Query(ge=0, le=MAX_BIG_ID)] = None,
) -> Page[TimelineEventOut]:
    """Oldest first; pass the last id as ?after= to read on (the live view polls this way)."""
    incidents.get_incident(session, incident_id)
    if not 1 <= limit <= 1000:
        raise ApiError(422, "limit must be between 1 and 1000")
    query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
    if after is not None:
        query = query.where(TimelineEvent.id > after)
    rows = list(session.scalars(query.order_by(TimelineEvent.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[TimelineEventOut.model_validate(e) for e in rows],
        next_cursor=str(rows[-1].id) if more else None,
    )
