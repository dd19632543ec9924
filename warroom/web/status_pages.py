"""The public status page under /status: no sign-in, no JavaScript, read from the cached snapshot
(warroom/statuspage/public.py); the Statuspage-compatible JSON, the feeds, and the subscription
forms with their signed confirm and unsubscribe links.

The subscription forms are public, so they are rate-limited twice: per client address
(SUBSCRIBE_LIMIT per SUBSCRIBE_WINDOW, in this process) and per mailbox (one confirmation mail
per statuspage.service.RESEND_AFTER, in the database). Confirm and unsubscribe links show a page
with one button (a mail scanner that follows links changes nothing); a forged, altered or
expired link is refused with a page and changes nothing.

The public forms (subscribe, report a problem) carry a stateless form token: the time the form
was served, signed with the instance secret for that one form (notify/signing's purpose
tokens). A post without one is refused (400), with a forged one or one made for the other
form too (403), and one older than FORM_TOKEN_TTL (400); each time the form comes back with what was
typed and a fresh token. The problem report form shares the reports API's rate limit
(`reports.public.RateLimit`, per address and overall) and its hidden "website" field.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warroom.common.clock import utcnow
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.notify.channels import address_problem
from warroom.notify.signing import (
    ActionLinkError,
    ExpiredPurposeLink,
    Purpose,
    make_purpose_token,
    read_purpose_token,
)
from warroom.reports import public as report_limits
from warroom.reports import service as reports
from warroom.statuspage import fanout, formats, logic
from warroom.statuspage import service as statuspage
from warroom.statuspage.public import HISTORY_PAGE, Snapshot, SnapshotCache
from warroom.web.auth import client_ip
from warroom.web.render import ENV, formatter
from warroom.web.router import router, to_int

SUBSCRIBE_LIMIT = 5
SUBSCRIBE_WINDOW = 600.0
PUBLIC_CACHE = "public, max-age=10"
FORM_TOKEN_TTL = timedelta(hours=2)
SUBSCRIBE_FORM: Purpose = "status-subscribe-form"
REPORT_FORM: Purpose = "status-report-form"


class _Limiter:
    """At most `limit` events per `window` seconds per key (a sliding window, in memory)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._events) > 10_000:
                self._events.clear()
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True


def _limiter(request: Request) -> _Limiter:
    state = request.app.state
    limiter = getattr(state, "status_limiter", None)
    if limiter is None:
        limiter = state.status_limiter = _Limiter(SUBSCRIBE_LIMIT, SUBSCRIBE_WINDOW)
    return limiter


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def form_token(request: Request, purpose: Purpose, now: datetime | None = None) -> str:
    """A token for one public form, served now and good for FORM_TOKEN_TTL."""
    return make_purpose_token(
        request.app.state.secret, purpose, 0, (now or utcnow()) + FORM_TOKEN_TTL
    )


def form_token_problem(
    request: Request, given: object, purpose: Purpose, now: datetime | None = None
) -> tuple[int, str] | None:
    """None if `given` is a genuine, unexpired token of this form; else (status, why)."""
    if not isinstance(given, str) or not given.strip():
        return 400, (
            "This form was not sent from this status page (its security token is missing). "
            "Nothing was sent; please send it again from this page."
        )
    try:
        read_purpose_token(request.app.state.secret, given, purpose, now or utcnow())
    except ExpiredPurposeLink:
        return 400, (
            "This form was open for too long, so nothing was sent. What you typed is kept "
            "below; please send it again."
        )
    except ActionLinkError:
        return 403, (
            "This form was not sent from this status page (its security token is not valid). "
            "Nothing was sent; please send it again from this page."
        )
    return None


def snapshot(request: Request, now: datetime | None = None) -> Snapshot:
    state = request.app.state
    cache = getattr(state, "status_cache", None)
    if cache is None:
        cache = state.status_cache = SnapshotCache()
    result: Snapshot = cache.get(_db(request).read_session, now or utcnow())
    return result


def _html(s: Snapshot, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    values = {
        "s": s,
        "fmt": formatter("UTC", s.built_at),
        "LABELS": logic.LABELS,
        "theme_version": _theme_version(s),
        **context,
    }
    return HTMLResponse(ENV.get_template(template).render(values), status_code=status)


def _cached(s: Snapshot, key: str, make: Any, media_type: str) -> Response:
    body = s.rendered.get(key)
    if body is None:
        body = s.rendered[key] = make()
    return Response(body, media_type=media_type, headers={"Cache-Control": PUBLIC_CACHE})


def _theme_version(s: Snapshot) -> str:
    st = s.settings
    raw = f"{st.accent_colour}{st.header_colour}{st.header_text_colour}".encode()
    return hashlib.sha256(raw).hexdigest()[:8]


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request) -> Response:
    s = snapshot(request)
    return _cached(s, "page", lambda: _html(s, "status.html").body, "text/html; charset=utf-8")


@router.get("/status/theme.css")
def status_theme(request: Request) -> Response:
    st = snapshot(request).settings
    # Only #rrggbb values get here (PageSettings.problem), so nothing can escape the rule.
    css = (
        f".sp {{ --sp-accent: {st.accent_colour}; --sp-head-bg: {st.header_colour}; "
        f"--sp-head-fg: {st.header_text_colour}; }}\n"
    )
    return Response(css, media_type="text/css", headers={"Cache-Control": PUBLIC_CACHE})


@router.get("/status/incidents/{incident_id}", response_class=HTMLResponse)
def status_incident(request: Request, incident_id: int) -> Response:
    s = snapshot(request)
    found = s.incident(incident_id)
    if found is None:
        return _message(s, 404, "Not found", "There is no such incident on this page.")
    return _html(s, "status_incident.html", i=found)


@router.get("/status/history", response_class=HTMLResponse)
def status_history(request: Request) -> Response:
    s = snapshot(request)
    number = to_int(request.query_params.get("page", "1"), 1, 100_000) or 1
    start = (number - 1) * HISTORY_PAGE
    items = s.incidents[start : start + HISTORY_PAGE]
    more = len(s.incidents) > start + HISTORY_PAGE
    return _html(s, "status_history.html", items=items, page=number, more=more)


@router.get("/status/history.rss")
def status_rss(request: Request) -> Response:
    s = snapshot(request)
    base = _settings(request).base_url
    return _cached(s, "rss", lambda: formats.rss(s, base), "application/rss+xml")


@router.get("/status/history.atom")
def status_atom(request: Request) -> Response:
    s = snapshot(request)
    base = _settings(request).base_url
    return _cached(s, "atom", lambda: formats.atom(s, base), "application/atom+xml")


def _json_route(name: str) -> None:
    def handler(request: Request) -> Response:
        s = snapshot(request)
        base = _settings(request).base_url
        return _cached(
            s,
            f"json:{name}",
            lambda: orjson.dumps(formats.document(s, name, base)),
            "application/json",
        )

    handler.__name__ = "status_json_" + name.replace("/", "_").replace("-", "_")
    router.add_api_route(f"/status/api/v2/{name}.json", handler, methods=["GET"])


for _name in formats.DOCUMENTS:
    _json_route(_name)


# --- subscriptions -------------------------------------------------------------------------------


def _message(
    s: Snapshot,
    status: int,
    title: str,
    message: str,
    action: str = "",
    button: str = "",
    secret: str = "",
) -> HTMLResponse:
    response = _html(
        s,
        "status_message.html",
        status=status,
        title=title,
        message=message,
        action=action,
        button=button,
        secret=secret,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _subscribe_form(
    request: Request,
    s: Snapshot,
    status: int = 200,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    form = form or {"channel": "email", "address": "", "component_ids": []}
    response = _html(
        s,
        "status_subscribe.html",
        status=status,
        error=error,
        form=form,
        form_token=form_token(request, SUBSCRIBE_FORM),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/status/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request) -> Response:
    return _subscribe_form(request, snapshot(request))


@router.post("/status/subscribe", response_class=HTMLResponse)
async def subscribe(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await request.form()
    channel = str(form.get("channel", "email"))
    address = str(form.get("address", "")).strip()
    ids = [to_int(v, 1, 2**31 - 1) for v in form.getlist("component_ids")]
    typed = {"channel": channel, "address": address, "component_ids": [i for i in ids if i]}
    refused = form_token_problem(request, form.get("form_token"), SUBSCRIBE_FORM)
    return await run_in_threadpool(_subscribe, request, typed, None in ids, refused)


def _subscribe(
    request: Request, typed: dict[str, Any], bad_ids: bool, refused: tuple[int, str] | None
) -> Response:
    s = snapshot(request)
    if refused is not None:
        return _subscribe_form(request, s, refused[0], refused[1], typed)
    if not _limiter(request).allow(client_ip(request)):
        return _subscribe_form(
            request,
            s,
            429,
            "Too many subscriptions from your address; try again in a few minutes.",
            typed,
        )
    if typed["channel"] not in ("email", "webhook"):
        return _subscribe_form(request, s, 422, "Choose email or webhook.", typed)
    if bad_ids:
        return _subscribe_form(request, s, 422, "Choose components from the list.", typed)
    settings, secret = _settings(request), request.app.state.secret
    now = utcnow()
    hook_secret = ""
    try:
        with _db(request).session() as session:
            if typed["channel"] == "email":
                subscriber = statuspage.subscribe_email(
                    session, typed["address"], typed["component_ids"], now
                )
                fanout.queue_confirmation(
                    session, subscriber, s.settings.name, settings.base_url, secret, now
                )
            else:
                _, hook_secret = statuspage.subscribe_webhook(
                    session,
                    typed["address"],
                    typed["component_ids"],
                    now,
                    tuple(settings.outbound_allow_networks),
                )
    except statuspage.TooSoon:
        return _subscribe_form(
            request,
            s,
            429,
            "A confirmation mail went to this address a few minutes ago; check the inbox "
            "(and the spam folder) before asking again.",
            typed,
        )
    except ApiError as exc:
        return _subscribe_form(
            request, s, exc.status, exc.message[:1].upper() + exc.message[1:] + ".", typed
        )
    request.app.state.wake()
    if hook_secret:
        return _message(
            s,
            201,
            "Webhook subscribed",
            "Every incident update and maintenance notice will be POSTed to your URL, signed "
            "with HMAC-SHA256 like every Warroom webhook.",
            secret=hook_secret,
        )
    return _message(
        s,
        202,
        "Check your inbox",
        "We sent a confirmation link to the address. Nothing else is sent until you follow it.",
    )


def _claim(request: Request, s: Snapshot, token: str, purpose: Purpose) -> int | Response:
    try:
        claim = read_purpose_token(request.app.state.secret, token, purpose, utcnow())
    except ExpiredPurposeLink:
        return _message(
            s, 410, "Link expired", "This link has expired; nothing was changed. Subscribe again."
        )
    except ActionLinkError:
        return _message(s, 400, "Link not valid", "This link is not valid; nothing was changed.")
    return claim.subject_id


@router.get("/status/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> Response:
    s = snapshot(request)
    found = _claim(request, s, token, "subscriber-confirm")
    if isinstance(found, Response):
        return found
    return _message(
        s,
        200,
        "Confirm your subscription",
        f"Receive {s.settings.name} status notices at this address?",
        action=f"/status/confirm/{token}",
        button="Confirm",
    )


@router.post("/status/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str) -> Response:
    s = snapshot(request)
    found = _claim(request, s, token, "subscriber-confirm")
    if isinstance(found, Response):
        return found
    with _db(request).session() as session:
        subscriber = statuspage.confirm(session, found, utcnow())
    if subscriber is None:
        return _message(
            s, 404, "Not subscribed", "This subscription was cancelled; subscribe again."
        )
    return _message(s, 200, "Subscribed", "You will receive status notices from now on.")


@router.get("/status/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> Response:
    s = snapshot(request)
    found = _claim(request, s, token, "subscriber-unsubscribe")
    if isinstance(found, Response):
        return found
    return _message(
        s,
        200,
        "Unsubscribe",
        f"Stop receiving {s.settings.name} status notices?",
        action=f"/status/unsubscribe/{token}",
        button="Unsubscribe",
    )


@router.post("/status/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str) -> Response:
    s = snapshot(request)
    found = _claim(request, s, token, "subscriber-unsubscribe")
    if isinstance(found, Response):
        return found
    with _db(request).session() as session:
        statuspage.unsubscribe(session, found, utcnow())
    return _message(s, 200, "Unsubscribed", "You will not receive any more status notices.")


# --- reporting a problem -------------------------------------------------------------------------

REPORTER_NAME = "A visitor of the status page"
EMAIL_MAX = 254


def _report_form(
    request: Request,
    s: Snapshot,
    status: int = 200,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    form = form or {"component_id": None, "description": "", "email": "", "notify": False}
    response = _html(
        s,
        "status_report.html",
        status=status,
        error=error,
        form=form,
        form_token=form_token(request, REPORT_FORM),
        min_chars=report_limits.MIN_CHARS,
        max_chars=report_limits.MAX_CHARS,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/status/report", response_class=HTMLResponse)
def report_form(request: Request) -> Response:
    s = snapshot(request)
    chosen = to_int(request.query_params.get("component", ""), 1, 2**31 - 1)
    typed = {"component_id": chosen, "description": "", "email": "", "notify": False}
    return _report_form(request, s, form=typed)


@router.post("/status/report/form", response_class=HTMLResponse)
async def send_report(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await request.form()
    typed = {
        "component_id": to_int(form.get("component_id", ""), 1, 2**31 - 1),
        "description": str(form.get("description", "")).replace("\x00", "").strip(),
        "email": str(form.get("email", "")).strip(),
        "notify": form.get("notify") == "yes",
    }
    refused = form_token_problem(request, form.get("form_token"), REPORT_FORM)
    bot = bool(form.get("website"))
    return await run_in_threadpool(_send_report, request, typed, refused, bot)


def _send_report(
    request: Request, typed: dict[str, Any], refused: tuple[int, str] | None, bot: bool
) -> Response:
    s = snapshot(request)
    if refused is not None:
        return _report_form(request, s, refused[0], refused[1], typed)
    component = s.by_id.get(typed["component_id"] or 0)
    if component is None or component.service_id is None:
        return _report_form(request, s, 422, "Choose what is not working from the list.", typed)
    description = typed["description"]
    low, high = report_limits.MIN_CHARS, report_limits.MAX_CHARS
    if not low <= len(description) <= high:
        return _report_form(
            request,
            s,
            422,
            f"Say what is wrong in {low} to {high} characters (you wrote {len(description)}).",
            typed,
        )
    email = typed["email"] if typed["notify"] else ""
    if typed["notify"] and (address_problem("email", email) or len(email) > EMAIL_MAX):
        return _report_form(
            request,
            s,
            422,
            "That email address does not look right; correct it, or untick "
            "\u201ctell me when it is fixed\u201d.",
            typed,
        )
    limits: report_limits.RateLimit = request.app.state.public_reports
    wait = limits.take(client_ip(request), time.monotonic())
    if wait is not None:
        minutes = max(1, round(wait / 60))
        response = _report_form(
            request,
            s,
            429,
            f"Too many reports from your address; please try again in about {minutes} "
            f"minute{'s' if minutes != 1 else ''}.",
            typed,
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    if not bot:  # the hidden field: a bot filled it in, and is thanked all the same
        try:
            with _db(request).session() as session:
                reports.submit_report(
                    session,
                    service_id=component.service_id,
                    description=description,
                    reporter_id=None,
                    reporter_name=REPORTER_NAME,
                    source="public",
                    now=utcnow(),
                    matrix=_settings(request).priority_matrix,
                    reporter_email=email,
                )
        except ApiError:
            # The component's service was deleted since the page was built.
            return _report_form(request, s, 422, "Choose what is not working from the list.", typed)
        request.app.state.wake()
    # Post/redirect/get: reloading the thank-you page sends nothing again.
    told = "&email=1" if email else ""
    return RedirectResponse(f"/status/report/thanks?component={component.id}{told}", 303)


@router.get("/status/report/thanks", response_class=HTMLResponse)
def report_thanks(request: Request) -> Response:
    s = snapshot(request)
    component = s.by_id.get(to_int(request.query_params.get("component", ""), 1) or 0)
    about = f" about {component.name}" if component else ""
    told = " We will email you when it is fixed." if request.query_params.get("email") else ""
    return _message(
        s,
        200,
        "Thank you",
        f"Your report{about} is in; the people who run it will look at it.{told}",
    )
