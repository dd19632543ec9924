"""REST routes of Warroom's own monitors: heartbeats and HTTP/TCP checks."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.api.deps import Admin, ReadDB, Reader, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import page
from warroom.api.params import Cursor, Limit, PathId, QueryId
from warroom.catalog.models import Service
from warroom.common.schemas import Page
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses
from warroom.monitors import checks as check_service
from warroom.monitors import heartbeat as heartbeat_logic
from warroom.monitors import logs as log_service
from warroom.monitors import service as heartbeat_service
from warroom.monitors.models import Check, Heartbeat, LogRule
from warroom.monitors.schemas import (
    CheckIn,
    CheckOut,
    CheckPatch,
    HeartbeatIn,
    HeartbeatOut,
    LogRuleIn,
    LogRuleOut,
    LogRulePatch,
    PingOut,
    ResultOut,
)

router = ApiRouter(prefix="/api/v1")


def heartbeat_out(request: Request, hb: Heartbeat, admin: bool) -> HeartbeatOut:
    base = request.app.state.settings.base_url.rstrip("/")
    state = heartbeat_logic.state_at(
        heartbeat_service.schedule_of(hb), heartbeat_service.beat_of(hb), utcnow()
    )
    return HeartbeatOut(
        id=hb.id,
        service_id=hb.service_id,
        name=hb.name,
        period_seconds=hb.period_seconds,
        cron=hb.cron,
        time_zone=hb.time_zone,
        grace_seconds=hb.grace_seconds,
        severity=hb.severity,
        status=state,
        last_ping_at=hb.last_ping_at,
        last_duration_seconds=hb.last_duration_seconds,
        alert_after=hb.alert_after,
        pings=hb.pings,
        ping_url=f"{base}/ping/{hb.ping_key}" if admin else None,
        created_at=hb.created_at,
    )


def _heartbeat(session: Session, heartbeat_id: int) -> Heartbeat:
    hb = session.get(Heartbeat, heartbeat_id)
    if hb is None:
        raise ApiError(404, f"heartbeat {heartbeat_id} does not exist")
    return hb


def _check(session: Session, check_id: int) -> Check:
    check = session.get(Check, check_id)
    if check is None:
        raise ApiError(404, f"check {check_id} does not exist")
    return check


def _service_exists(session: Session, service_id: int) -> None:
    if session.get(Service, service_id) is None:
        raise ApiError(
            422,
            f"service {service_id} does not exist",
            [{"field": "service_id", "message": "unknown service"}],
        )


# --- heartbeats ------------------------------------------------------------------------------


@router.get("/heartbeats", response_model=Page[HeartbeatOut], tags=["heartbeats"])
def list_heartbeats(
    request: Request,
    principal: Reader,
    session: ReadDB,
    limit: Limit = 50,
    cursor: Cursor = None,
    service_id: QueryId = None,
) -> Page[HeartbeatOut]:
    query = select(Heartbeat)
    if service_id is not None:
        query = query.where(Heartbeat.service_id == service_id)
    rows, nxt = page(session, query, Heartbeat.id, limit, cursor)
    admin = principal.at_least("admin")
    return Page(items=[heartbeat_out(request, h, admin) for h in rows], next_cursor=nxt)


@router.post(
    "/heartbeats",
    response_model=HeartbeatOut,
    status_code=201,
    tags=["heartbeats"],
    responses=responses(422),
)
def create_heartbeat(
    request: Request, body: HeartbeatIn, _: Admin, session: WriteDB
) -> HeartbeatOut:
    _service_exists(session, body.service_id)
    hb = heartbeat_service.create_heartbeat(session, **body.model_dump())
    return heartbeat_out(request, hb, True)


@router.get("/heartbeats/{heartbeat_id}", response_model=HeartbeatOut, tags=["heartbeats"])
def get_heartbeat(
    request: Request, heartbeat_id: PathId, principal: Reader, session: ReadDB
) -> HeartbeatOut:
    return heartbeat_out(request, _heartbeat(session, heartbeat_id), principal.at_least("admin"))


@router.get("/heartbeats/{heartbeat_id}/pings", response_model=list[PingOut], tags=["heartbeats"])
def list_pings(heartbeat_id: PathId, _: Reader, session: ReadDB) -> list[PingOut]:
    _heartbeat(session, heartbeat_id)
    return [
        PingOut.model_validate(p)
        for p in heartbeat_service.recent_pings(session, heartbeat_id, 100)
    ]


@router.delete("/heartbeats/{heartbeat_id}", status_code=204, tags=["heartbeats"])
def delete_heartbeat(
    request: Request, heartbeat_id: PathId, _: Admin, session: WriteDB
) -> Response:
    hb = _heartbeat(session, heartbeat_id)
    heartbeat_service.delete_heartbeat(
        session, hb, utcnow(), request.app.state.settings.priority_matrix
    )
    return Response(status_code=204)


# --- checks ----------------------------------------------------------------------------------


@router.get("/checks", response_model=Page[CheckOut], tags=["checks"])
def list_checks(
    _: Reader,
    session: ReadDB,
    limit: Limit = 50,
    cursor: Cursor = None,
    service_id: QueryId = None,
) -> Page[CheckOut]:
    query = select(Check)
    if service_id is not None:
        query = query.where(Check.service_id == service_id)
    rows, nxt = page(session, query, Check.id, limit, cursor)
    return Page(items=[CheckOut.model_validate(c) for c in rows], next_cursor=nxt)


@router.post(
    "/checks", response_model=CheckOut, status_code=201, tags=["checks"], responses=responses(422)
)
def create_check(request: Request, body: CheckIn, _: Admin, session: WriteDB) -> CheckOut:
    _service_exists(session, body.service_id)
    check = check_service.create_check(session, utcnow(), **body.model_dump())
    request.app.state.wake()
    return CheckOut.model_validate(check)


@router.get("/checks/{check_id}", response_model=CheckOut, tags=["checks"])
def get_check(check_id: PathId, _: Reader, session: ReadDB) -> CheckOut:
    return CheckOut.model_validate(_check(session, check_id))


@router.patch("/checks/{check_id}", response_model=CheckOut, tags=["checks"])
def update_check(
    request: Request, check_id: PathId, body: CheckPatch, _: Admin, session: WriteDB
) -> CheckOut:
    """Disabling a check that is down resolves its alert (and so its incident, if that was
    its last open alert)."""
    check = _check(session, check_id)
    if body.enabled is not None:
        check_service.set_enabled(
            session, check, body.enabled, utcnow(), request.app.state.settings.priority_matrix
        )
        session.refresh(check)
    return CheckOut.model_validate(check)


@router.get("/checks/{check_id}/results", response_model=list[ResultOut], tags=["checks"])
def list_results(check_id: PathId, _: Reader, session: ReadDB) -> list[ResultOut]:
    _check(session, check_id)
    return [
        ResultOut.model_validate(r) for r in check_service.recent_results(session, check_id, 100)
    ]


@router.delete("/checks/{check_id}", status_code=204, tags=["checks"])
def delete_check(request: Request, check_id: PathId, _: Admin, session: WriteDB) -> Response:
    check = _check(session, check_id)
    check_service.delete_check(session, check, utcnow(), request.app.state.settings.priority_matrix)
    return Response(status_code=204)


# --- log rules -------------------------------------------------------------------------------


@router.get("/log-rules", response_model=Page[LogRuleOut], tags=["logs"])
def list_log_rules(
    _: Reader,
    session: ReadDB,
    limit: Limit = 50,
    cursor: Cursor = None,
    service_id: QueryId = None,
) -> Page[LogRuleOut]:
    query = select(LogRule)
    if service_id is not None:
        query = query.where(LogRule.service_id == service_id)
    rows, nxt = page(session, query, LogRule.id, limit, cursor)
    return Page(items=[LogRuleOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.post(
    "/log-rules",
    response_model=LogRuleOut,
    status_code=201,
    tags=["logs"],
    responses=responses(422),
)
def create_log_rule(body: LogRuleIn, _: Admin, session: WriteDB) -> LogRuleOut:
    _service_exists(session, body.service_id)
    rule = log_service.create_rule(session, **body.model_dump())
    return LogRuleOut.model_validate(rule)


def _log_rule(session: Session, rule_id: int) -> LogRule:
    rule = session.get(LogRule, rule_id)
    if rule is None:
        raise ApiError(404, f"log rule {rule_id} does not exist")
    return rule


@router.get("/log-rules/{rule_id}", response_model=LogRuleOut, tags=["logs"])
def get_log_rule(rule_id: PathId, _: Reader, session: ReadDB) -> LogRuleOut:
    return LogRuleOut.model_validate(_log_rule(session, rule_id))


@router.patch("/log-rules/{rule_id}", response_model=LogRuleOut, tags=["logs"])
def update_log_rule(
    request: Request, rule_id: PathId, body: LogRulePatch, _: Admin, session: WriteDB
) -> LogRuleOut:
    """Disabling a rule resolves the alerts it raised (one per group key)."""
    rule = _log_rule(session, rule_id)
    if body.enabled is not None:
        log_service.set_rule_enabled(
            session, rule, body.enabled, utcnow(), request.app.state.settings.priority_matrix
        )
    return LogRuleOut.model_validate(rule)


@router.delete("/log-rules/{rule_id}", status_code=204, tags=["logs"])
def delete_log_rule(request: Request, rule_id: PathId, _: Admin, session: WriteDB) -> Response:
    """The alerts the rule raised are resolved first: nothing would ever clear them after."""
    log_service.delete_rule(
        session, _log_rule(session, rule_id), utcnow(), request.app.state.settings.priority_matrix
    )
    return Response(status_code=204)
