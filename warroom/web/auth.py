"""Who is asking, and may they: the session cookie, role checks and CSRF checks of the pages.

Pages need at least the stakeholder role (read-only); forms that change an incident need a
responder; the admin pages need an admin. Every POST carries the session's CSRF token.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from warroom.config import Settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.web.sessions import SignedIn, load_session, touch

ROLE_RANK = {"stakeholder": 0, "responder": 1, "admin": 2}


class LoginRequired(Exception):
    """Anonymous request for a page: answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str = "/") -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageError(Exception):
    """A refusal or failure shown as an HTML page with this status."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, title: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.title = title


def https(settings: Settings) -> bool:
    return settings.base_url.lower().startswith("https://")


def session_cookie(settings: Settings) -> str:
    # The __Host- prefix makes the browser refuse the cookie unless it is Secure, host-only and
    # Path=/, so a sibling subdomain cannot plant or overwrite it.
    return "__Host-warroom_session" if https(settings) else "warroom_session"


def login_cookie(settings: Settings) -> str:
    return "__Host-warroom_login" if https(settings) else "warroom_login"


def device_cookie(settings: Settings) -> str:
    return "__Host-warroom_device" if https(settings) else "warroom_device"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def current_user(request: Request) -> SignedIn | None:
    """The signed-in user of this request, or None; loaded once per request."""
    if hasattr(request.state, "signed_in"):
        cached: SignedIn | None = request.state.signed_in
        return cached
    settings: Settings = request.app.state.settings
    db: Database = request.app.state.db
    token = request.cookies.get(session_cookie(settings), "")
    found = None
    if token:
        now = utcnow()
        with db.read_session() as session:
            found = load_session(session, token, now)
        if found is not None and found[1]:
            touch_quietly(db, found[0].session_id, now)
    request.state.signed_in = found[0] if found else None
    return request.state.signed_in  # type: ignore[no-any-return]


def touch_quietly(db: Database, session_id: int, now: datetime) -> None:
    """Moves the session's last_seen_at, best effort: only if the writer lock is free at once
    (a page view must not queue behind intake's commits) and never failing the page (the idle
    timeout is 12 hours; a missed minute does not matter)."""
    try:
        with db.session(writer_wait=0) as session:
            touch(session, session_id, now)
    except SQLAlchemyError as exc:
        logging.getLogger("warroom").debug("session last_seen_at not written: %s", exc)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _require(request: Request, role: str) -> SignedIn:
    user = current_user(request)
    if user is None:
        raise LoginRequired(_here(request) if request.method == "GET" else "/")
    if ROLE_RANK[user.role] < ROLE_RANK[role]:
        if role == "responder":
            message = (
                f"You are signed in as a {user.role}: you can read everything but change nothing."
            )
        else:
            message = f"This needs the {role} role; you are a {user.role}."
        raise PageError(403, message, title="Not allowed")
    return user


def viewer(request: Request) -> SignedIn:
    return _require(request, "stakeholder")


def responder(request: Request) -> SignedIn:
    return _require(request, "responder")


def admin(request: Request) -> SignedIn:
    return _require(request, "admin")


@dataclass(frozen=True)
class Posted:
    """A form submitted by a signed-in user whose role and CSRF token were checked."""

    user: SignedIn
    form: FormData

    def text(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default)
        return value.strip() if isinstance(value, str) else default

    def texts(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str)]


def csrf_matches(expected: str, given: object) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(expected, given)


def _posted(role: str):  # type: ignore[no-untyped-def]
    async def check(request: Request) -> Posted:
        # The session lookup touches the database: keep it off the event loop.
        user = await run_in_threadpool(_require, request, role)
        form = await request.form()
        if not csrf_matches(user.csrf_token, form.get("csrf_token")):
            raise PageError(
                403,
                "This form was not sent from a Warroom page of your current session "
                "(missing or wrong security token). Reload the page and try again.",
                title="Form refused",
            )
        return Posted(user, form)

    check.__name__ = f"posted_by_{role}"
    return check


Viewer = Annotated[SignedIn, Depends(viewer)]
Responder = Annotated[SignedIn, Depends(responder)]
Admin = Annotated[SignedIn, Depends(admin)]
# Any signed-in user (sign out, change one's own password).
SelfPost = Annotated[Posted, Depends(_posted("stakeholder"))]
ResponderPost = Annotated[Posted, Depends(_posted("responder"))]
AdminPost = Annotated[Posted, Depends(_posted("admin"))]
