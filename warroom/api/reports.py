"""REST routes of user reports: anyone signed in may report; reports are read by everyone."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from warroom.api.deps import ReadDB, Reader, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import page
from warroom.api.params import Cursor, Limit, PathId, QueryId
from warroom.common.schemas import Page
from warroom.db.base import utcnow
from warroom.errors import ApiError, error_response, responses
from warroom.reports import public, service
from warroom.reports.models import UserReport
from warroom.reports.schemas import ReportIn, ReportOut

router = ApiRouter(prefix="/api/v1")


@router.post(
    "/reports",
    response_model=ReportOut,
    status_code=201,
    tags=["reports"],
    responses=responses(422),
)
def create_report(
    request: Request, body: ReportIn, principal: Reader, session: WriteDB
) -> ReportOut:
    """Something is wrong with a service: attaches to its open incident, or raises one when
    enough similar reports arrive within 15 minutes."""
    report = service.submit_report(
        session,
        service_id=body.service_id,
        description=body.description,
        reporter_id=principal.id,
        reporter_name=principal.name,
        source="api",
        now=utcnow(),
        matrix=request.app.state.settings.priority_matrix,
    )
    request.app.state.wake()
    return ReportOut.model_validate(report)


@router.get("/reports", response_model=Page[ReportOut], tags=["reports"])
def list_reports(
    _: Reader,
    session: ReadDB,
    limit: Limit = 50,
    cursor: Cursor = None,
    service_id: QueryId = None,
) -> Page[ReportOut]:
    query = select(UserReport)
    if service_id is not None:
        query = query.where(UserReport.service_id == service_id)
    rows, nxt = page(session, query, UserReport.id, limit, cursor)
    return Page(items=[ReportOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/reports/{report_id}", response_model=ReportOut, tags=["reports"])
def get_report(report_id: PathId, _: Reader, session: ReadDB) -> ReportOut:
    report = session.get(UserReport, report_id)
    if report is None:
        raise ApiError(404, f"report {report_id} does not exist")
    return ReportOut.model_validate(report)


# --- the public report form of the status page -----------------------------------------------

public_router = APIRouter(tags=["reports"])
PUBLIC_BODY_BYTES = 8192


@public_router.post(
    "/status/report",
    status_code=202,
    summary="Public problem report",
    responses=responses(413, 415, 422, 429),
)
async def public_report(request: Request) -> Response:
    """For the status page's form (form-encoded or JSON: `service_id`, `description`, and the
    hidden `website` that must stay empty). Rate-limited per address and overall; the same 202
    whether or not the service exists, so the form does not list the catalog."""
    limits: public.RateLimit = request.app.state.public_reports
    body = await request.body()
    if len(body) > PUBLIC_BODY_BYTES:
        return error_response(413, f"a report is at most {PUBLIC_BODY_BYTES} bytes")
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    fields: dict[str, Any]
    if ctype == "application/json":
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(400, "the body is not valid JSON")
        fields = parsed if isinstance(parsed, dict) else {}
    else:
        fields = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    description = str(fields.get("description", "")).replace("\x00", "").strip()
    raw_service = fields.get("service_id")
    service_id = raw_service if isinstance(raw_service, int) else None
    if isinstance(raw_service, str) and raw_service.isascii() and raw_service.isdigit():
        service_id = int(raw_service)
    if not public.MIN_CHARS <= len(description) <= public.MAX_CHARS or service_id is None:
        return error_response(
            422,
            f"say what is wrong in {public.MIN_CHARS} to {public.MAX_CHARS} characters, "
            "and choose a service",
        )
    client = request.client
    wait = limits.take(client.host if client else "", time.monotonic())
    if wait is not None:
        return error_response(
            429,
            "too many reports; please try again later",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    thanks = JSONResponse({"status": "thank you: your report is in"}, status_code=202)
    if fields.get("website"):
        return thanks  # the hidden field: a bot filled it in

    def store() -> None:
        with request.app.state.db.session() as session:
            try:
                service.submit_report(
                    session,
                    service_id=service_id,
                    description=description,
                    reporter_id=None,
                    reporter_name="A visitor of the status page",
                    source="public",
                    now=utcnow(),
                    matrix=request.app.state.settings.priority_matrix,
                )
            except ApiError:
                session.rollback()  # unknown service: thanked all the same

    await run_in_threadpool(store)
    request.app.state.wake()
    return thanks
