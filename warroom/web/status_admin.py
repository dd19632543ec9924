"""The admins' status-page page (/admin/status-page): the page's name, logo text and colours,
components (with a status set by hand and its reason), and announcing, moving and cancelling
maintenance windows. The rules are the REST API's (warroom/api/statuspage.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from warroom.catalog.models import Service
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.maintenance import windows
from warroom.maintenance.models import MaintenanceWindow
from warroom.maintenance.occurrences import describe
from warroom.statuspage import logic
from warroom.statuspage import service as statuspage
from warroom.statuspage.models import COMPONENT_STATUSES, Component
from warroom.web.auth import Admin, AdminPost, Posted
from warroom.web.render import parse_local, render
from warroom.web.router import router, to_int


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _page(
    request: Request, error: str | None = None, notice: str | None = None, status: int = 200
) -> Response:
    now = utcnow()
    with _db(request).read_session() as session:
        components = list(
            session.scalars(select(Component).order_by(Component.position, Component.name))
        )
        derived = statuspage.current_statuses(session, components, now)
        context: dict[str, Any] = {
            "settings": statuspage.page_settings(session),
            "components": [(c, derived[c.id]) for c in components],
            "services": list(session.scalars(select(Service).order_by(Service.name))),
            # A new component maps to a service in use (an archived one has no incidents).
            "service_choices": list(
                session.scalars(
                    select(Service).where(Service.archived_at.is_(None)).order_by(Service.name)
                )
            ),
            "windows": [
                (w, windows.component_ids(session, w.id), describe(windows.spec_of(w)))
                for w in session.scalars(
                    select(MaintenanceWindow)
                    .where(
                        MaintenanceWindow.rrule.is_not(None) | (MaintenanceWindow.ends_at > now),
                        MaintenanceWindow.cancelled_at.is_(None),
                    )
                    .order_by(MaintenanceWindow.starts_at)
                )
            ],
            "statuses": COMPONENT_STATUSES,
            "labels": logic.LABELS,
            "error": error,
            "notice": notice,
        }
    return render(request, "admin_status.html", context, status=status, now=now)


@router.get("/admin/status-page", response_class=HTMLResponse)
def admin_status_page(request: Request, me: Admin) -> Response:
    return _page(request)


def _done(request: Request, work: Any, notice: str) -> Response:
    try:
        with _db(request).session() as session:
            work(session)
    except ApiError as exc:
        return _page(request, error=f"Not saved: {exc.message}.", status=exc.status)
    request.app.state.wake()
    return _page(request, notice=notice)


@router.post("/admin/status-page/settings", response_class=HTMLResponse)
def admin_status_settings(request: Request, posted: AdminPost) -> Response:
    settings = statuspage.PageSettings(
        name=posted.text("name"),
        logo_text=posted.text("logo_text"),
        accent_colour=posted.text("accent_colour"),
        header_colour=posted.text("header_colour"),
        header_text_colour=posted.text("header_text_colour"),
    )
    return _done(request, lambda s: statuspage.save_settings(s, settings), "Page settings saved.")


@router.post("/admin/status-page/components", response_class=HTMLResponse)
def admin_create_component(request: Request, posted: AdminPost) -> Response:
    name = posted.text("name")
    if not name or len(name) > 120:
        return _page(
            request, error="Give the component a name (at most 120 characters).", status=422
        )
    service_id = to_int(posted.text("service_id"), 1)
    return _done(
        request,
        lambda s: statuspage.create_component(
            s,
            name=name,
            description=posted.text("description")[:5000],
            service_id=service_id,
            private=posted.text("private") == "on",
            now=utcnow(),
        ),
        f"Component {name} created.",
    )


@router.post("/admin/status-page/components/{component_id}", response_class=HTMLResponse)
def admin_update_component(request: Request, component_id: int, posted: AdminPost) -> Response:
    manual = posted.text("manual_status") or None
    if manual is not None and manual not in COMPONENT_STATUSES:
        return _page(request, error="Choose a status from the list.", status=422)

    def work(session: Any) -> None:
        component = statuspage.get_component(session, component_id)
        statuspage.update_component(
            session,
            component,
            utcnow(),
            posted.user.user_id,
            manual_status=manual,
            manual_reason=posted.text("manual_reason")[:2000],
            private=posted.text("private") == "on",
        )

    return _done(request, work, "Component saved.")


def _window_fields(posted: Posted) -> dict[str, Any] | str:
    zone = posted.user.time_zone
    try:
        starts = parse_local(posted.text("starts_at"), zone)
        ends = parse_local(posted.text("ends_at"), zone)
    except ValueError:
        return "Give the start and end as date and time."
    title = posted.text("title")
    if not title or len(title) > 200 or starts is None or ends is None:
        return "Give the window a title, a start and an end."
    ids = [to_int(v, 1) for v in posted.texts("component_ids")]
    if None in ids:
        return "Choose components from the list."
    return {
        "title": title,
        "description": posted.text("description")[:10_000],
        "starts_at": starts,
        "ends_at": ends,
        "component_ids": [i for i in ids if i is not None],
    }


@router.post("/admin/status-page/maintenance", response_class=HTMLResponse)
def admin_create_window(request: Request, posted: AdminPost) -> Response:
    fields = _window_fields(posted)
    if isinstance(fields, str):
        return _page(request, error=fields, status=422)
    zone = posted.user.time_zone

    def work(session: Any) -> None:
        windows.create(
            session,
            **fields,
            service_ids=[],
            public=True,
            created_by_id=posted.user.user_id,
            now=utcnow(),
            # A repeating window is read in the admin's zone, like the times typed with it.
            rrule=posted.text("rrule")[:500] or None,
            time_zone=zone,
        )
        statuspage.touch(session)

    return _done(request, work, f"Maintenance {fields['title']} announced.")


@router.post("/admin/status-page/maintenance/{window_id}", response_class=HTMLResponse)
def admin_update_window(request: Request, window_id: int, posted: AdminPost) -> Response:
    fields = _window_fields(posted)
    if isinstance(fields, str):
        return _page(request, error=fields, status=422)

    def work(session: Any) -> None:
        windows.update(session, windows.get(session, window_id), utcnow(), **fields)
        statuspage.touch(session)

    return _done(request, work, "Maintenance window saved.")


@router.post("/admin/status-page/maintenance/{window_id}/cancel", response_class=HTMLResponse)
def admin_cancel_window(request: Request, window_id: int, posted: AdminPost) -> Response:
    def work(session: Any) -> None:
        windows.cancel(session, windows.get(session, window_id), utcnow())
        statuspage.touch(session)

    return _done(request, work, "Maintenance window cancelled.")
