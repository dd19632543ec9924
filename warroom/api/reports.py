"""REST routes of user reports: anyone signed in may report; reports are read by everyone."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select

from warroom.api.deps import ReadDB, Reader, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import page
from warroom.api.params import Cursor, Limit, PathId, QueryId
from warroom.common.schemas import Page
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses
from warroom.reports import service
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
