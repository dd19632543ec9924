"""Routes of paging: mobilise people onto an incident, the sent messages, and signed action links.

Action links (from emails, chat, SMS) show the incident and one button on GET; the change only
happens on the POST, because mail scanners and chat unfurlers fetch links on their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape
from pydantic import Field
from sqlalchemy import select

from warroom.api.deps import ReadDB, Reader, Responder, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import page
from warroom.api.params import Cursor, Limit, PathId, QueryId
from warroom.api.schemas import In, Out, Page
from warroom.catalog.models import User
from warroom.common.schemas import Id
from warroom.db.base import utcnow
from warroom.engine import paging
from warroom.engine.runner import action_links
from warroom.errors import ApiError, responses
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident
from warroom.notify.models import Notification
from warroom.notify.signing import ActionClaim, ExpiredLink, InvalidLink, read_action_token

router = ApiRouter(prefix="/api/v1", tags=["paging"])
links_router = ApiRouter(tags=["action links"])


class MobiliseIn(In):
    user_ids: list[Id] = Field(default=[], max_length=1000)
    team_ids: list[Id] = Field(default=[], max_length=1000)
    schedule_ids: list[Id] = Field(
        default=[], max_length=1000, description="whoever is on call on them now"
    )
    message: str = Field(default="", max_length=2000)


class MobiliseOut(Out):
    paged: list[str]


class NotificationOut(Out):
    id: int
    incident_id: int | None
    user_id: int | None
    channel: str
    target: str
    kind: str
    urgency: str
    subject: str
    body: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None


@router.post(
    "/incidents/{incident_id}/mobilise", response_model=MobiliseOut, responses=responses(409)
)
def mobilise(
    request: Request, incident_id: PathId, body: MobiliseIn, principal: Responder, session: WriteDB
) -> MobiliseOut:
    """Page more people, whole teams or whoever is on call on schedules, with a message."""
    names = paging.mobilise(
        session,
        incident_id,
        incidents.Actor(principal.id, principal.name or principal.username),
        utcnow(),
        user_ids=body.user_ids,
        team_ids=body.team_ids,
        schedule_ids=body.schedule_ids,
        message=body.message,
        link_maker=action_links(request.app.state.settings, request.app.state.secret),
    )
    return MobiliseOut(paged=names)


@router.get("/notifications", response_model=Page[NotificationOut])
def list_notifications(
    principal: Reader,
    session: ReadDB,
    incident_id: QueryId = None,
    status: Literal["pending", "sent", "failed", "cancelled"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[NotificationOut]:
    """Messages sent (or queued) to people; everyone sees their own, admins see all."""
    query = select(Notification)
    if not principal.at_least("admin"):
        query = query.where(Notification.user_id == principal.id)
    if incident_id is not None:
        query = query.where(Notification.incident_id == incident_id)
    if status is not None:
        query = query.where(Notification.status == status)
    rows, nxt = page(session, query, Notification.id, limit, cursor)
    return Page(items=[NotificationOut.model_validate(r) for r in rows], next_cursor=nxt)


# --- signed action links ---------------------------------------------------------------------

_env = Environment(autoescape=select_autoescape(default=True))
_PAGE = _env.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Warroom</title><link rel="stylesheet" href="/static/warroom.css"></head>
<body class="action-link"><main>
<h1>{{ title }}</h1>
{% if incident %}<p><strong>#{{ incident.id }} {{ incident.title }}</strong><br>
P{{ incident.priority }} · {{ incident.status }}</p>{% endif %}
<p>{{ message }}</p>
{% if button %}<form method="post"><button type="submit">{{ button }}</button></form>{% endif %}
{% if view_url %}<p><a href="{{ view_url }}">Open the incident</a></p>{% endif %}
</main></body></html>""")

_BUTTONS = {"ack": "Acknowledge", "resolve": "Resolve", "view": None}
_ACTIONS = {"ack": "acknowledge", "resolve": "resolve"}


def _read(request: Request, token: str) -> ActionClaim | HTMLResponse:
    try:
        return read_action_token(request.app.state.secret, token, utcnow())
    except ExpiredLink:
        return _page(
            410,
            "This link has expired",
            "Links in notifications are valid for a limited time. Open Warroom to act "
            "on the incident.",
        )
    except InvalidLink:
        return _page(
            400,
            "This link is not valid",
            "It may have been altered or cut short. Nothing was changed.",
        )


def _page(
    status: int,
    title: str,
    message: str,
    incident: object = None,
    button: str | None = None,
    view_url: str | None = None,
) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.render(
            title=title, message=message, incident=incident, button=button, view_url=view_url
        ),
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
        },
    )


def _pages(*statuses: int) -> dict[int | str, dict[str, object]]:
    meanings = {
        400: "The link is not valid (altered, cut short, or only shows the incident)",
        403: "The account the link was sent to is deactivated, or may not do this",
        404: "The incident is gone",
        409: "Nothing changed: the incident is already past this state",
        410: "The link has expired",
    }
    return {s: {"description": meanings[s], "content": {"text/html": {}}} for s in statuses}


@links_router.get("/act/{token}", response_class=HTMLResponse, responses=_pages(400, 404, 410))
def show_action(request: Request, token: str, session: ReadDB) -> HTMLResponse:
    claim = _read(request, token)
    if isinstance(claim, HTMLResponse):
        return claim
    incident = session.get(Incident, claim.incident_id)
    if incident is None:
        return _page(404, "Incident not found", "It may have been deleted.")
    view = f"/incidents/{incident.id}"
    button = _BUTTONS[claim.action]
    if button is None:
        return _page(200, "Incident", "", incident, None, view)
    return _page(
        200,
        f"{button} incident #{incident.id}?",
        "Nothing happens until you press the button.",
        incident,
        button,
        view,
    )


@links_router.post(
    "/act/{token}", response_class=HTMLResponse, responses=_pages(400, 403, 404, 409, 410)
)
def perform_action(request: Request, token: str, session: WriteDB) -> HTMLResponse:
    claim = _read(request, token)
    if isinstance(claim, HTMLResponse):
        return claim
    if claim.action not in _ACTIONS:
        return _page(400, "Nothing to do", "This link only shows the incident.")
    user = session.get(User, claim.user_id)
    if user is None or not user.active:
        return _page(
            403,
            "This link is no longer valid",
            "The account it was sent to is deactivated. Nothing was changed.",
        )
    actor = incidents.Actor(user.id, user.name or user.username)
    try:
        incident = incidents.apply_action(
            session,
            claim.incident_id,
            _ACTIONS[claim.action],
            actor,
            utcnow(),
            "via notification link",
        )
    except ApiError as exc:
        current = session.get(Incident, claim.incident_id)
        return _page(
            409 if current else 404,
            "Nothing changed",
            exc.message,
            current,
            view_url=f"/incidents/{claim.incident_id}",
        )
    done = "acknowledged" if claim.action == "ack" else "resolved"
    return _page(
        200,
        f"Incident #{incident.id} {done}",
        f"Thank you, {actor.name}. Paging has stopped.",
        incident,
        view_url=f"/incidents/{incident.id}",
    )
