"""Stakeholder lists in the browser: the lists of one service or one team, with their members.

Admins only, as in the REST API (`/api/v1/stakeholder-lists`, warroom/api/comms.py): the lists
hold outside addresses, webhook URLs and Apprise URLs with their tokens. The forms are checked
with the API's own schemas and call the same `notify/stakeholders.py` functions, so a page
cannot do what the API refuses; a webhook member's signing secret is shown once, on the page
that answers its form. Deleting asks for the confirmation field the button sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from warroom.api.comms import MemberIn, StakeholderListIn, StakeholderListPatch
from warroom.catalog.models import Service, Team, User
from warroom.common.clock import utcnow
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.notify import stakeholders
from warroom.web.auth import Admin, AdminPost, PageError, Posted
from warroom.web.forms import sentence
from warroom.web.queries import catalog_data
from warroom.web.render import render
from warroom.web.router import router, to_int

THRESHOLDS = {
    1: "P1 only",
    2: "P2 and higher",
    3: "P3 and higher",
    4: "P4 and higher",
    5: "every incident (P5 and higher)",
}
CHANNEL_LABELS = {"email": "Email", "webhook": "Webhook (signed)", "apprise": "Apprise URL"}

Owner = tuple[str, int]  # ("service" | "team", id)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _page(
    request: Request,
    owner: Owner,
    *,
    error: str | None = None,
    notice: str | None = None,
    secret: str = "",
    status: int = 200,
    form: dict[str, Any] | None = None,
) -> Response:
    """`form`: what was typed into the form that failed; its "form" key names which one."""
    kind, owner_id = owner
    with _db(request).read_session() as session:
        row = session.get(Service if kind == "service" else Team, owner_id)
        if row is None:
            raise PageError(404, f"There is no {kind} {owner_id}.")
        service_ids, team_ids = ([owner_id], []) if kind == "service" else ([], [owner_id])
        lists = stakeholders.lists_for(session, service_ids, team_ids)
        members = stakeholders.members_of(session, [lst.id for lst in lists])
        users = catalog_data.users(session)
        people = [u for u in users if u.active]
        names = {u.id: u.name or u.username for u in users}
        team = session.get(Team, row.team_id) if isinstance(row, Service) and row.team_id else None
    by_list: dict[int, list[Any]] = {lst.id: [] for lst in lists}
    for m in members:
        by_list[m.list_id].append(m)
    context = {
        "kind": kind,
        "owner": row,
        "team": team,
        "lists": [(lst, by_list[lst.id]) for lst in lists],
        "people": people,
        "names": names,
        "thresholds": THRESHOLDS,
        "channels": CHANNEL_LABELS,
        "default_threshold": stakeholders.DEFAULT_THRESHOLD,
        "form": form or {},
        "error": error,
        "notice": notice,
        "secret": secret,
    }
    return render(request, "stakeholders.html", context, status=status)


@router.get("/services/{service_id}/stakeholders", response_class=HTMLResponse)
def service_stakeholders(request: Request, service_id: int, _: Admin) -> Response:
    return _page(request, ("service", service_id))


@router.get("/teams/{team_id}/stakeholders", response_class=HTMLResponse)
def team_stakeholders(request: Request, team_id: int, _: Admin) -> Response:
    return _page(request, ("team", team_id))


def _owner_of(request: Request, list_id: int) -> Owner:
    with _db(request).read_session() as session:
        try:
            lst = stakeholders.get_list(session, list_id)
        except ApiError as exc:
            raise PageError(404, sentence(exc.message)) from None
        return ("service", lst.service_id) if lst.service_id else ("team", lst.team_id or 0)


def _typed(posted: Posted, which: str) -> dict[str, Any]:
    return {k: v for k, v in posted.form.items() if isinstance(v, str) and k != "csrf_token"} | {
        "form": which
    }


def _threshold(posted: Posted) -> int | None:
    return to_int(posted.text("min_priority"), 1, 5)


@router.post("/stakeholder-lists", response_class=HTMLResponse)
def create_list(request: Request, posted: AdminPost) -> Response:
    service_id = to_int(posted.text("service_id"), 1)
    team_id = to_int(posted.text("team_id"), 1)
    if (service_id is None) == (team_id is None):
        raise PageError(422, "Create a list from its service's or its team's page.")
    owner: Owner = ("service", service_id) if service_id else ("team", team_id or 0)
    typed = _typed(posted, "new")
    threshold = _threshold(posted)
    try:
        body = StakeholderListIn(
            name=posted.text("name"),
            service_id=service_id,
            team_id=team_id,
            min_priority=threshold or 0,
        )
    except ValidationError:
        problem = (
            "Choose which incidents the list is told about."
            if threshold is None
            else "Give the list a name (at most 120 characters)."
        )
        return _page(request, owner, error=problem, status=422, form=typed)
    try:
        with _db(request).session() as session:
            stakeholders.create_list(
                session,
                utcnow(),
                name=body.name,
                service_id=body.service_id,
                team_id=body.team_id,
                min_priority=body.min_priority,
            )
    except ApiError as exc:
        return _page(request, owner, error=sentence(exc.message), status=exc.status, form=typed)
    return _page(request, owner, notice=f"List {body.name} created. Now add its members.")


@router.post("/stakeholder-lists/{list_id}", response_class=HTMLResponse)
def edit_list(request: Request, list_id: int, posted: AdminPost) -> Response:
    owner = _owner_of(request, list_id)
    typed = _typed(posted, f"edit-{list_id}")
    threshold = _threshold(posted)
    try:
        body = StakeholderListPatch(name=posted.text("name"), min_priority=threshold or 0)
    except ValidationError:
        problem = (
            "Choose which incidents the list is told about."
            if threshold is None
            else "Give the list a name (at most 120 characters)."
        )
        return _page(request, owner, error=problem, status=422, form=typed)
    try:
        with _db(request).session() as session:
            stakeholders.update_list(session, list_id, body.model_dump(exclude_unset=True))
    except ApiError as exc:
        return _page(request, owner, error=sentence(exc.message), status=exc.status, form=typed)
    return _page(request, owner, notice=f"List {body.name} saved.")


@router.post("/stakeholder-lists/{list_id}/delete", response_class=HTMLResponse)
def delete_list(request: Request, list_id: int, posted: AdminPost) -> Response:
    owner = _owner_of(request, list_id)
    if posted.text("confirm") != "yes":
        return _page(request, owner, error="Confirm deleting the list.", status=422)
    try:
        with _db(request).session() as session:
            stakeholders.delete_list(session, list_id)
    except ApiError as exc:
        return _page(request, owner, error=sentence(exc.message), status=exc.status)
    return _page(request, owner, notice="List deleted; nobody on it is told any more.")


@router.post("/stakeholder-lists/{list_id}/members", response_class=HTMLResponse)
def add_member(request: Request, list_id: int, posted: AdminPost) -> Response:
    owner = _owner_of(request, list_id)
    typed = _typed(posted, f"member-{list_id}")
    person = posted.text("kind") == "person"
    user_id = to_int(posted.text("user_id"), 1) if person else None
    if person and user_id is None:
        return _page(request, owner, error="Choose the person.", status=422, form=typed)
    try:
        body = MemberIn(
            user_id=user_id,
            channel=None if person else (posted.text("channel") or None),  # type: ignore[arg-type]
            address=None if person else (posted.text("address") or None),
        )
    except ValidationError:
        problem = (
            "Choose email, webhook or Apprise, and give the address (at most 2000 characters)."
        )
        return _page(request, owner, error=problem, status=422, form=typed)
    if not person and (body.channel is None or body.address is None):
        problem = "Choose email, webhook or Apprise, and give the address."
        return _page(request, owner, error=problem, status=422, form=typed)
    settings = request.app.state.settings
    try:
        with _db(request).session() as session:
            member = stakeholders.add_member(
                session,
                list_id,
                utcnow(),
                user_id=body.user_id,
                channel=body.channel,
                address=body.address,
                allowed_networks=settings.outbound_allow_networks,
            )
            secret = member.secret or ""
            who = body.address or ""
            if body.user_id is not None:
                user = session.get(User, body.user_id)
                who = (user.name or user.username) if user else who
    except ApiError as exc:
        return _page(request, owner, error=sentence(exc.message), status=exc.status, form=typed)
    return _page(request, owner, notice=f"{who} added.", secret=secret)


@router.post("/stakeholder-lists/{list_id}/members/{member_id}/delete", response_class=HTMLResponse)
def remove_member(request: Request, list_id: int, member_id: int, posted: AdminPost) -> Response:
    owner = _owner_of(request, list_id)
    if posted.text("confirm") != "yes":
        return _page(request, owner, error="Confirm removing the member.", status=422)
    try:
        with _db(request).session() as session:
            stakeholders.remove_member(session, list_id, member_id)
    except ApiError as exc:
        return _page(request, owner, error=sentence(exc.message), status=exc.status)
    return _page(request, owner, notice="Member removed.")
