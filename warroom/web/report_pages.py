"""The internal report form: "something is wrong with…", a service and a description.

It calls the same `reports.service.submit_report` as `POST /api/v1/reports`, so the page
cannot do what the API refuses; the text is shown back autoescaped, never as HTML.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warroom.common.clock import utcnow
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.reports import service as reports
from warroom.web.auth import SelfPost, Viewer
from warroom.web.queries import refs
from warroom.web.render import render
from warroom.web.router import router, to_int

DESCRIPTION_MAX = 5000


def _form(request: Request, form: dict[str, str], error: str = "", status: int = 200) -> Response:
    db: Database = request.app.state.db
    with db.read_session() as session:
        services = refs.service_refs(session)
    return render(
        request,
        "report.html",
        {"services": services, "form": form, "error": error},
        status=status,
    )


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, me: Viewer) -> Response:
    sent = request.query_params.get("sent")
    return _form(request, {"sent": sent} if sent and sent.isdigit() else {})


@router.post("/report", response_class=HTMLResponse)
def send_report(request: Request, posted: SelfPost) -> Response:
    service_id = to_int(posted.text("service_id"), 1)
    description = posted.text("description")
    typed = {"service_id": posted.text("service_id"), "description": description}
    if service_id is None:
        return _form(request, typed, "Choose the service that is not working.", 422)
    if not description:
        return _form(request, typed, "Say what is wrong.", 422)
    if len(description) > DESCRIPTION_MAX:
        return _form(request, typed, f"At most {DESCRIPTION_MAX} characters, please.", 422)
    db: Database = request.app.state.db
    try:
        with db.session() as session:
            report = reports.submit_report(
                session,
                service_id=service_id,
                description=description,
                reporter_id=posted.user.user_id,
                reporter_name=posted.user.display_name,
                source="form",
                now=utcnow(),
                matrix=request.app.state.settings.priority_matrix,
            )
            report_id = report.id
    except ApiError as exc:
        return _form(request, typed, exc.message, exc.status)
    request.app.state.wake()
    return RedirectResponse(f"/report?sent={report_id}", status_code=303)
