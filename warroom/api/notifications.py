"""Routes of paging: mobilise people onto an incident, the sent messages, and signed action links.

Action links (from emails, chat, SMS) show the incident and one button on GET; the change only
happens on the POST, because mail scanners and chat unfurlers fetch links on their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from warroom.api.deps import ROLE_RANK, ReadDB, Reader, Responder, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import page
from warroom.api.params import Cursor, Limit, PathId, QueryId
from warroom.api.schemas import In, Out, Page
from warroom.catalog.models import Service, User
from warroom.common.schemas import Id
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.engine import paging
from warroom.engine.runner import action_links
from warroom.errors import RETRY_AFTER_SECONDS, ApiError, responses
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
# Phone-first: opened from a page on a lock screen, often one-handed in the dark.
_PAGE = _env.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ title }} · Warroom</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css"></head>
<body class="act"><main class="act-card">
<p class="act-brand">Warroom</p>
<h1>{{ title }}</h1>
{% if incident %}<div class="act-incident">
<p><span class="badge prio prio-{{ incident.priority }}">P{{ incident.priority }}</span>
<span class="badge status status-{{ incident.status }}">{{ incident.status }}</span></p>
<p class="act-title">#{{ incident.id }} {{ incident.title }}</p>
<p class="act-meta">{{ incident.service or "No service" }} · started {{ incident.age }} ago</p>
</div>{% endif %}
<p class="act-message{% if done %} act-done{% endif %}" role="status">{{ message }}</p>
{% if button %}<form method="post">
<button type="submit" class="act-button">{{ button }}</button></form>{% endif %}
{% if view_url %}<p class="act-view"><a href="{{ view_url }}">Open the incident</a></p>{% endif %}
</main></body></html>""")

_BUTTONS = {"ack": "Acknowledge", "resolve": "Resolve", "view": None}
_ACTIONS = {"ack": "acknowledge", "resolve": "resolve"}
# The API's role for these actions (POST /api/v1/incidents/{id}/actions/...): a link does no more.
ACTION_ROLE = "responder"


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
    headers: dict[str, str] | None = None,
    done: bool = False,
) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.render(
            title=title,
            message=message,
            incident=incident,
            button=button,
            view_url=view_url,
            done=done,
        ),
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
            **(headers or {}),
        },
    )


@dataclass(frozen=True)
class _Shown:
    """What the page shows of an incident, read inside the transaction, rendered after it."""

    id: int
    title: str
    priority: int
    status: str
    service: str
    age: str

    @classmethod
    def of(cls, incident: Incident | None, session: Session | None = None) -> _Shown | None:
        if incident is None:
            return None
        service = None
        if session is not None and incident.service_id is not None:
            service = session.get(Service, incident.service_id)
        return cls(
            incident.id,
            incident.title,
            incident.priority,
            incident.status,
            service.name if service else "",
            _age(utcnow() - incident.triggered_at),
        )


def _age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds()) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60:02d} min" if hours < 48 else f"{hours // 24} days"


def _refusal(user: User | None, action: str) -> str | None:
    """Why the link's holder may not do its action now, or None if they may.

    The link is checked against the person as they are at the moment of use, not when the
    page went out: a deactivated account, or a role that may not do this in the API either
    (a stakeholder, or someone demoted to stakeholder since), makes the link inert."""
    if user is None or not user.active:
        return "The account it was sent to is deactivated. Nothing was changed."
    if action in _ACTIONS and ROLE_RANK[user.role] < ROLE_RANK[ACTION_ROLE]:
        return (
            f"Your account is a {user.role}: it can follow the incident but not "
            f"{_ACTIONS[action]} it. Nothing was changed."
        )
    return None


def _pages(*statuses: int) -> dict[int | str, dict[str, object]]:
    meanings = {
        400: "The link is not valid (altered, cut short, or only shows the incident)",
        403: "The account the link was sent to is deactivated, or may not do this",
        404: "The incident is gone",
        409: "Nothing changed: the incident is already past this state",
        410: "The link has expired",
        503: "The database refused the change; nothing was changed, paging goes on",
    }
    return {s: {"description": meanings[s], "content": {"text/html": {}}} for s in statuses}


@links_router.get("/act/{token}", response_class=HTMLResponse, responses=_pages(400, 403, 404, 410))
def show_action(request: Request, token: str, session: ReadDB) -> HTMLResponse:
    claim = _read(request, token)
    if isinstance(claim, HTMLResponse):
        return claim
    incident = session.get(Incident, claim.incident_id)
    if incident is None:
        return _page(404, "Incident not found", "It may have been deleted.")
    view = f"/incidents/{incident.id}"
    button = _BUTTONS[claim.action]
    shown = _Shown.of(incident, session)
    if button is None:
        return _page(200, "Incident", "", shown, None, view)
    refused = _refusal(session.get(User, claim.user_id), claim.action)
    if refused is not None:
        return _page(403, "This link cannot be used", refused, shown, None, view)
    return _page(
        200,
        f"{button} incident #{incident.id}?",
        "Nothing happens until you press the button.",
        shown,
        button,
        view,
    )


class _Refused(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@links_router.post(
    "/act/{token}", response_class=HTMLResponse, responses=_pages(400, 403, 404, 409, 410, 503)
)
def perform_action(request: Request, token: str) -> HTMLResponse:
    claim = _read(request, token)
    if isinstance(claim, HTMLResponse):
        return claim
    if claim.action not in _ACTIONS:
        return _page(400, "Nothing to do", "This link only shows the incident.")
    db: Database = request.app.state.db
    view = f"/incidents/{claim.incident_id}"
    # One transaction, committed before anything is rendered: "Paging has stopped" is shown
    # only once the acknowledgement (and the cancelled pages) are on disk.
    try:
        with db.session() as session:
            user = session.get(User, claim.user_id)
            refused = _refusal(user, claim.action)
            if refused is not None or user is None:
                raise _Refused(403, "This link cannot be used", refused or "")
            actor = incidents.Actor(user.id, user.name or user.username)
            incident = _Shown.of(
                incidents.apply_action(
                    session,
                    claim.incident_id,
                    _ACTIONS[claim.action],
                    actor,
                    utcnow(),
                    "via notification link",
                ),
                session,
            )
    except _Refused as exc:
        return _page(exc.status, exc.title, exc.message, _current(db, claim), view_url=view)
    except ApiError as exc:
        current = _current(db, claim)
        return _page(
            409 if current else 404, "Nothing changed", exc.message, current, view_url=view
        )
    except SQLAlchemyError as exc:
        logging.getLogger("warroom").warning("action link not stored: %s", exc)
        return _page(
            503,
            "Not done yet",
            "The database could not store this just now, so nothing was changed and paging "
            "goes on. Try the button again in a moment.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    request.app.state.wake()
    assert incident is not None
    done = "acknowledged" if claim.action == "ack" else "resolved"
    return _page(
        200,
        f"Incident #{incident.id} {done}",
        f"Thank you, {actor.name}. Paging has stopped.",
        incident,
        view_url=view,
        done=True,
    )


def _current(db: Database, claim: ActionClaim) -> _Shown | None:
    with db.read_session() as session:
        return _Shown.of(session.get(Incident, claim.incident_id), session)
