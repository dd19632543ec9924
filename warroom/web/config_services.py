"""Setting up services in the browser: create (admins), edit, integrations (create, rotate,
delete) and the escalation policy. The forms call the catalog, alerts and on-call services the
REST API calls, and refuse what it refuses (ADR 10: admins, or responders of the owning team).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts import actions as alert_actions
from warroom.api.schemas import IntegrationIn, ServiceIn, ServicePatch
from warroom.catalog import service as catalog
from warroom.catalog.models import Integration, Service, Team
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.monitors import archive
from warroom.oncall import policies
from warroom.oncall.models import EscalationPolicy
from warroom.oncall.schemas import ServicePolicyIn
from warroom.statuspage import service as statuspage
from warroom.web import forms
from warroom.web.auth import Admin, AdminPost, PageError, Posted, Responder, ResponderPost
from warroom.web.render import render
from warroom.web.router import router
from warroom.web.sessions import SignedIn

SERVICE_LABELS = {
    "name": "Name",
    "description": "Description",
    "team_id": "Owner team",
    "tier": "Tier",
    "grouping_window_seconds": "Grouping window (minutes)",
    "auto_resolve": "Auto-resolve",
    "depends_on_ids": "Depends on",
}
INTEGRATION_TYPES = [
    ("alertmanager", "Prometheus Alertmanager"),
    ("pagerduty", "PagerDuty Events API v2 (Datadog, Grafana, Zabbix…)"),
    ("generic", "Generic JSON webhook (scripts)"),
]


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _choices(session: Session, chosen: list[str]) -> dict[str, Any]:
    """Teams, and the services one may depend on: those in use, and an archived one only if
    it is a dependency already (kept; shown marked)."""
    keep = [int(c) for c in chosen if c.isdigit() and len(c) < 10]
    services = session.execute(
        select(Service.id, Service.name, Service.archived_at)
        .where(Service.archived_at.is_(None) | Service.id.in_(keep))
        .order_by(Service.name)
    )
    return {
        "teams": list(session.execute(select(Team.id, Team.name).order_by(Team.name))),
        "all_services": [
            (sid, name if when is None else f"{name} (archived)") for sid, name, when in services
        ],
    }


def _typed(posted: Posted) -> dict[str, Any]:
    return {k: posted.text(k) for k in ("name", "description", "team_id", "tier", "window")} | {
        "auto_resolve": posted.text("auto_resolve") == "1",
        "depends_on": posted.texts("depends_on_ids"),
    }


def _body(typed: dict[str, Any], problems: dict[str, str]) -> dict[str, Any]:
    """The API's fields from what was typed; numbers that are not numbers become problems."""
    body: dict[str, Any] = {
        "name": typed["name"],
        "description": typed["description"],
        "auto_resolve": typed["auto_resolve"],
    }
    team = forms.ids([typed["team_id"]])
    if team is None:
        problems["team_id"] = "Choose the owner team from the list."
    else:
        body["team_id"] = team[0] if team else None
    for key, field, scale in (("tier", "tier", 1), ("window", "grouping_window_seconds", 60)):
        raw = typed[key]
        if not raw.isdigit() or len(raw) > 9:
            problems[field] = f"{SERVICE_LABELS[field]} must be a whole number."
        else:
            body[field] = int(raw) * scale
    deps = forms.ids(typed["depends_on"])
    if deps is None:
        problems["depends_on_ids"] = "Choose dependencies from the list."
    else:
        body["depends_on_ids"] = deps
    return body


def _window_problem(problems: dict[str, str]) -> None:
    # The API counts seconds; the form minutes.
    if "grouping_window_seconds" in problems and "or less" in problems["grouping_window_seconds"]:
        problems["grouping_window_seconds"] = "Grouping window: at most 10080 minutes (7 days)."


def _form_page(
    request: Request,
    typed: dict[str, Any],
    problems: dict[str, str],
    service: Service | None,
    status: int = 200,
    grouping_typed: dict[str, Any] | None = None,
    grouping_problems: dict[str, str] | None = None,
) -> Response:
    from warroom.web import grouping_forms

    with _db(request).read_session() as session:
        choices = _choices(session, list(typed.get("depends_on", [])))
        rules = grouping_forms.rows(session, service.id) if service is not None else []
    context = {
        "typed": typed,
        "problems": problems,
        "service": service,
        "error": forms.summary(problems) if problems else None,
        "grouping_rules": rules,
        "grouping_typed": grouping_typed or {},
        "grouping_problems": grouping_problems or {},
        **choices,
    }
    return render(request, "setup_service.html", context, status=status)


def _service_typed(session: Session, svc: Service) -> dict[str, Any]:
    deps = catalog_deps(session, svc.id)
    return {
        "name": svc.name,
        "description": svc.description,
        "team_id": "" if svc.team_id is None else str(svc.team_id),
        "tier": str(svc.tier),
        "window": str(svc.grouping_window_seconds // 60),
        "auto_resolve": svc.auto_resolve,
        "depends_on": [str(d) for d in deps],
    }


def catalog_deps(session: Session, service_id: int) -> list[int]:
    from warroom.catalog.models import service_dependencies as sd

    return list(session.scalars(select(sd.c.depends_on_id).where(sd.c.service_id == service_id)))


@router.get("/services/new", response_class=HTMLResponse)
def new_service_form(request: Request, me: Admin) -> Response:
    typed = {"tier": "2", "window": "60", "auto_resolve": True, "depends_on": [], "team_id": ""}
    return _form_page(request, {"name": "", "description": "", **typed}, {}, None)


@router.post("/services/new", response_class=HTMLResponse)
def create_service(request: Request, posted: ResponderPost) -> Response:
    if posted.user.role != "admin":
        raise PageError(403, "Only admins create services.", title="Not allowed")
    typed = _typed(posted)
    problems: dict[str, str] = {}
    body = _body(typed, problems)
    if not problems:
        try:
            checked = ServiceIn(**body)
        except ValidationError as exc:
            problems = forms.validation_problems(exc, SERVICE_LABELS)
            _window_problem(problems)
    if problems:
        return _form_page(request, typed, problems, None, status=422)
    try:
        with _db(request).session() as session:
            svc = catalog.create_service(session, **checked.model_dump())
            service_id = svc.id
    except ApiError as exc:
        if exc.status == 409:
            problems = {"name": f"There is already a service named {typed['name']!r}."}
        else:
            problems = forms.api_problems(exc, SERVICE_LABELS)
        return _form_page(request, typed, problems, None, status=exc.status)
    return RedirectResponse(f"/services/{service_id}?created=1", status_code=303)


def _managed(
    request: Request, service_id: int, me: SignedIn, fields: tuple[str, ...] = ()
) -> Service:
    """The service, if this person may change its setup (else a 403 page, as the API's)."""
    with _db(request).read_session() as session:
        svc = catalog.get_service(session, service_id)
        catalog.check_service_manager(session, svc, me.user_id, me.role, fields)
        session.expunge(svc)
    return svc


@router.get("/services/{service_id}/edit", response_class=HTMLResponse)
def edit_service_form(request: Request, service_id: int, me: Responder) -> Response:
    return edit_page(request, service_id, me)


def edit_page(
    request: Request,
    service_id: int,
    me: SignedIn,
    grouping_typed: dict[str, Any] | None = None,
    grouping_problems: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The edit page, also with a refused grouping rule's form as it was typed."""
    svc = _managed(request, service_id, me)
    with _db(request).read_session() as session:
        typed = _service_typed(session, svc)
    return _form_page(request, typed, {}, svc, status, grouping_typed, grouping_problems)


@router.post("/services/{service_id}/edit", response_class=HTMLResponse)
def update_service(request: Request, service_id: int, posted: ResponderPost) -> Response:
    svc = _managed(request, service_id, posted.user)
    typed = _typed(posted)
    problems: dict[str, str] = {}
    body = _body(typed, problems)
    if posted.user.role != "admin":
        body.pop("team_id", None)  # the form shows it read-only to responders
        problems.pop("team_id", None)
    if not problems:
        try:
            changes = ServicePatch(**body).model_dump(exclude_unset=True)
        except ValidationError as exc:
            problems = forms.validation_problems(exc, SERVICE_LABELS)
            _window_problem(problems)
    if problems:
        return _form_page(request, typed, problems, svc, status=422)
    try:
        with _db(request).session() as session:
            current = catalog.get_service(session, service_id)
            catalog.check_service_manager(
                session, current, posted.user.user_id, posted.user.role, changes
            )
            catalog.update_service(session, service_id, changes)
    except ApiError as exc:
        if exc.status == 409:
            problems = {"name": f"There is already a service named {typed['name']!r}."}
        else:
            problems = forms.api_problems(exc, SERVICE_LABELS)
        return _form_page(request, typed, problems, svc, status=exc.status)
    return RedirectResponse(f"/services/{service_id}?saved=1", status_code=303)


# --- integrations and the escalation policy (forms on the service page) ------------------------


def _back(service_id: int, note: str, anchor: str = "integrations-h") -> RedirectResponse:
    return RedirectResponse(f"/services/{service_id}?done={note}#{anchor}", status_code=303)


@router.post("/services/{service_id}/integrations", response_class=HTMLResponse)
def add_integration(request: Request, service_id: int, posted: ResponderPost) -> Response:
    _managed(request, service_id, posted.user)
    try:
        body = IntegrationIn(
            service_id=service_id,
            type=posted.text("type"),  # type: ignore[arg-type]
            name=posted.text("name"),
        )
    except ValidationError as exc:
        labels = {"type": "Sender", "name": "Name"}
        message = " ".join(forms.validation_problems(exc, labels).values())
        raise PageError(422, message, title="Not added") from None
    with _db(request).session() as session:
        catalog.create_integration(session, service_id, body.type, body.name)
    return _back(service_id, "added")


def _integration_of(request: Request, service_id: int, integration_id: int) -> None:
    with _db(request).read_session() as session:
        integ = session.get(Integration, integration_id)
        if integ is None or integ.service_id != service_id:
            raise PageError(
                404, f"There is no integration {integration_id} here.", title="Not found"
            )


@router.post(
    "/services/{service_id}/integrations/{integration_id}/rotate", response_class=HTMLResponse
)
def rotate_integration(
    request: Request, service_id: int, integration_id: int, posted: ResponderPost
) -> Response:
    _managed(request, service_id, posted.user)
    _integration_of(request, service_id, integration_id)
    with _db(request).session() as session:
        integ = session.get(Integration, integration_id)
        if integ is None:
            raise PageError(404, "That integration was deleted meanwhile.", title="Not found")
        catalog.rotate_key(integ, datetime.now(UTC))
    return _back(service_id, "rotated")


@router.post(
    "/services/{service_id}/integrations/{integration_id}/delete", response_class=HTMLResponse
)
def remove_integration(
    request: Request, service_id: int, integration_id: int, posted: ResponderPost
) -> Response:
    _managed(request, service_id, posted.user)
    _integration_of(request, service_id, integration_id)
    with _db(request).session() as session:
        alert_actions.delete_integration(session, integration_id)
    return _back(service_id, "deleted")


@router.post("/services/{service_id}/policy", response_class=HTMLResponse)
def set_policy(request: Request, service_id: int, posted: ResponderPost) -> Response:
    _managed(request, service_id, posted.user)
    chosen = forms.ids([posted.text("escalation_policy_id")])
    if chosen is None:
        raise PageError(422, "Choose the escalation policy from the list.", title="Not saved")
    body = ServicePolicyIn(escalation_policy_id=chosen[0] if chosen else None)
    with _db(request).session() as session:
        policies.set_service_policy(session, service_id, body.escalation_policy_id)
    return _back(service_id, "policy", "policy-h")


# --- archive (admins, ADR 10) --------------------------------------------------------------


@router.post("/services/{service_id}/archive", response_class=HTMLResponse)
def archive_service(request: Request, service_id: int, posted: AdminPost) -> Response:
    from warroom.web.pages import service_view  # the page imports this module

    if posted.text("confirm") != "yes":
        problem = "Tick the box to confirm: archiving refuses every event its senders send."
        return service_view(request, service_id, problem, 422, {"archive_problem": problem})
    try:
        with _db(request).session() as session:
            archive.archive_service(
                session, service_id, datetime.now(UTC), request.app.state.settings.priority_matrix
            )
            statuspage.touch(session)
    except ApiError as exc:
        if exc.status == 404:
            raise
        # Open incidents (named) or archived meanwhile: said beside the button.
        return service_view(
            request, service_id, exc.message, exc.status, {"archive_problem": exc.message}
        )
    return RedirectResponse(f"/services/{service_id}?done=archived", status_code=303)


@router.post("/services/{service_id}/unarchive", response_class=HTMLResponse)
def unarchive_service(request: Request, service_id: int, posted: AdminPost) -> Response:
    from warroom.web.pages import service_view

    try:
        with _db(request).session() as session:
            archive.unarchive_service(session, service_id, datetime.now(UTC))
            statuspage.touch(session)
    except ApiError as exc:
        if exc.status == 404:
            raise
        return service_view(request, service_id, exc.message, exc.status)
    return RedirectResponse(f"/services/{service_id}?done=unarchived", status_code=303)


def policy_choices(session: Session) -> list[tuple[int, str]]:
    return list(
        session.execute(
            select(EscalationPolicy.id, EscalationPolicy.name).order_by(EscalationPolicy.name)
        )
    )


def service_setup(session: Session, svc: Service, me: SignedIn) -> dict[str, Any]:
    """What the service page adds for someone who may set the service up: the flag, the
    policies to choose from, the current one."""
    may = me.role == "admin" or (
        me.role == "responder" and catalog.owning_team_member(session, svc, me.user_id)
    )
    current = (
        session.get(EscalationPolicy, svc.escalation_policy_id)
        if svc.escalation_policy_id is not None
        else None
    )
    return {
        "manage": may,
        "policy": current,
        "policy_choices": policy_choices(session) if may else [],
        "integration_types": INTEGRATION_TYPES,
    }
