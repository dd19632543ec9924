"""One's own account in the browser: name, email and time zone; contact methods with a "send
me a test" button; notification rules per urgency; quiet hours; API tokens; the calendar-feed
link. Each form calls the service function the REST API calls (catalog, notify.preferences),
so it refuses what the API refuses; everyone signed in manages their own (ADR 10)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.api.schemas import TokenIn, UserPatch
from warroom.catalog import service as catalog
from warroom.catalog.models import ApiToken, User
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.incidents.paging import wake_peers
from warroom.notify import channels, preferences
from warroom.notify.schemas import ContactMethodIn
from warroom.oncall import feeds
from warroom.oncall.schemas import MAX_STEP_DELAY, NotificationRuleIn, QuietHours
from warroom.web import forms
from warroom.web.auth import AdminPost, SelfPost
from warroom.web.router import router

PROFILE_LABELS = {"name": "Name", "email": "Email", "time_zone": "Time zone"}
METHOD_LABELS = {"channel": "Channel", "address": "Address", "label": "Label"}
RULE_LABELS = {
    "contact_method_id": "Contact method",
    "urgency": "Urgency",
    "delay_seconds": "Delay (minutes)",
}
QUIET_LABELS = {"start": "Quiet from", "end": "Quiet until"}
ADDRESS_HINTS = {
    "email": "an email address",
    "webhook": "an https:// URL; requests are signed with a secret shown once",
    "apprise": "an Apprise URL, e.g. slack://… or ntfys://…",
    "sms": "a phone number in international form, e.g. +447700900123",
    "voice": "a phone number in international form, e.g. +447700900123",
    "local": "any label: the message is printed on the server's console (demo)",
}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def account_context(request: Request, session: Session, user: User) -> dict[str, Any]:
    """What the account page shows of the person's settings, for account.py's page."""
    methods = preferences.list_methods(session, user.id)
    secret: str = getattr(request.app.state, "secret", "") or ""
    base = request.app.state.settings.base_url.rstrip("/")
    feed = (
        f"{base}/calendar/users/{user.id}.ics?token={feeds.feed_token(secret, 'user', user.id)}"
        if secret
        else ""
    )
    return {
        "methods": methods,
        "rules": preferences.list_rules(session, user.id),
        "tokens": list(
            session.scalars(
                select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
            )
        ),
        "tests": preferences.recent_tests(session, user.id),
        "channel_choices": [(name, channels.label(name)) for name in channels.CHANNELS],
        "address_hints": ADDRESS_HINTS,
        "feed_url": feed,
        "method_names": {
            m.id: f"{channels.label(m.channel)} {m.label or m.address}" for m in methods
        },
    }


def _page(
    request: Request,
    posted: SelfPost,
    problems: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
    section: str = "",
    typed: dict[str, str] | None = None,
    shown_once: str | None = None,
) -> Response:
    from warroom.web.account import account_page

    problems = problems or {}
    return account_page(
        request,
        error=forms.summary(problems) if problems else None,
        notice=notice,
        status=status,
        extra={
            "problems": problems,
            "section": section,
            "typed": typed or {},
            "shown_once": shown_once,
        },
    )


def _refused(
    request: Request,
    posted: SelfPost,
    exc: ApiError,
    labels: dict[str, str],
    section: str,
    typed: dict[str, str],
) -> Response:
    return _page(
        request,
        posted,
        forms.api_problems(exc, labels),
        status=exc.status,
        section=section,
        typed=typed,
    )


@router.post("/account/profile", response_class=HTMLResponse)
def save_profile(request: Request, posted: SelfPost) -> Response:
    typed = {k: posted.text(k) for k in PROFILE_LABELS}
    try:
        changes = UserPatch(**typed).model_dump(exclude_unset=True)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = forms.validation_problems(exc, PROFILE_LABELS)
        if "time_zone" in problems:
            problems["time_zone"] = (
                f"Time zone: {typed['time_zone']!r} is not a zone name; use one like "
                "Europe/Paris or America/New_York."
            )
        return _page(request, posted, problems, status=422, section="profile", typed=typed)
    me = posted.user
    try:
        with _db(request).session() as session:
            catalog.update_user(session, me.user_id, changes, me.user_id, me.role)
    except ApiError as exc:
        return _refused(request, posted, exc, PROFILE_LABELS, "profile", typed)
    return _page(request, posted, notice="Your profile was saved.")


@router.post("/account/contact-methods", response_class=HTMLResponse)
def add_method(request: Request, posted: SelfPost) -> Response:
    typed = {k: posted.text(k) for k in METHOD_LABELS}
    try:
        body = ContactMethodIn(**typed)
    except ValidationError as exc:
        problems = forms.validation_problems(exc, METHOD_LABELS)
        return _page(request, posted, problems, status=422, section="method", typed=typed)
    networks = request.app.state.settings.outbound_allow_networks
    try:
        with _db(request).session() as session:
            row, secret = preferences.create_method(session, posted.user.user_id, body, networks)
            label = channels.label(row.channel)
    except ApiError as exc:
        return _refused(request, posted, exc, METHOD_LABELS, "method", typed)
    return _page(
        request,
        posted,
        notice=f"{label} contact method added. Add a rule below to say when it is used, and "
        "send yourself a test.",
        shown_once=secret,
    )


@router.post("/account/contact-methods/{method_id}/delete", response_class=HTMLResponse)
def remove_method(request: Request, method_id: int, posted: SelfPost) -> Response:
    with _db(request).session() as session:
        preferences.delete_method(session, posted.user.user_id, method_id)
    return _page(request, posted, notice="Contact method deleted, with its rules.")


@router.post("/account/contact-methods/{method_id}/test", response_class=HTMLResponse)
def test_method(request: Request, method_id: int, posted: SelfPost) -> Response:
    with _db(request).session() as session:
        preferences.send_test(session, posted.user.user_id, method_id, datetime.now(UTC))
        wake_peers(session)
    request.app.state.wake()
    return _page(
        request,
        posted,
        notice="Test message queued: it goes out in a few seconds. Reload to see whether it "
        "was sent.",
    )


@router.post("/account/rules", response_class=HTMLResponse)
def add_rule(request: Request, posted: SelfPost) -> Response:
    typed = {k: posted.text(k) for k in ("contact_method_id", "urgency", "delay")}
    problems: dict[str, str] = {}
    method = forms.ids([typed["contact_method_id"]])
    if not method:
        problems["contact_method_id"] = "Choose one of your contact methods."
    delay = typed["delay"] or "0"
    if not delay.isdigit() or int(delay) * 60 > MAX_STEP_DELAY:
        problems["delay_seconds"] = "Delay: a whole number of minutes, at most 1440 (a day)."
    if problems:
        return _page(request, posted, problems, status=422, section="rule", typed=typed)
    try:
        body = NotificationRuleIn(
            contact_method_id=method[0],  # type: ignore[index]
            urgency=typed["urgency"],  # type: ignore[arg-type]
            delay_seconds=int(delay) * 60,
        )
    except ValidationError as exc:
        problems = forms.validation_problems(exc, RULE_LABELS)
        return _page(request, posted, problems, status=422, section="rule", typed=typed)
    try:
        with _db(request).session() as session:
            preferences.create_rule(session, posted.user.user_id, body)
    except ApiError as exc:
        return _refused(request, posted, exc, RULE_LABELS, "rule", typed)
    return _page(request, posted, notice="Notification rule added.")


@router.post("/account/rules/{rule_id}/delete", response_class=HTMLResponse)
def remove_rule(request: Request, rule_id: int, posted: SelfPost) -> Response:
    with _db(request).session() as session:
        preferences.delete_rule(session, posted.user.user_id, rule_id)
    return _page(request, posted, notice="Notification rule deleted.")


@router.post("/account/quiet-hours", response_class=HTMLResponse)
def save_quiet_hours(request: Request, posted: SelfPost) -> Response:
    typed = {k: posted.text(k) for k in QUIET_LABELS}
    try:
        body = QuietHours(start=typed["start"] or None, end=typed["end"] or None)
    except ValidationError as exc:
        problems = forms.validation_problems(exc, QUIET_LABELS)
        return _page(request, posted, problems, status=422, section="quiet", typed=typed)
    try:
        with _db(request).session() as session:
            preferences.set_quiet_hours(session, posted.user.user_id, body)
    except ApiError as exc:
        return _refused(request, posted, exc, QUIET_LABELS, "quiet", typed)
    done = "cleared" if body.start is None else f"set: {body.start} to {body.end}"
    return _page(request, posted, notice=f"Quiet hours {done} (your time zone).")


@router.post("/account/tokens", response_class=HTMLResponse)
def add_token(request: Request, posted: SelfPost) -> Response:
    typed = {"name": posted.text("name")}
    try:
        body = TokenIn(**typed)
    except ValidationError as exc:
        problems = forms.validation_problems(exc, {"name": "Token name"})
        return _page(request, posted, problems, status=422, section="token", typed=typed)
    with _db(request).session() as session:
        token, _row = catalog.create_token(session, posted.user.user_id, body.name)
    return _page(
        request,
        posted,
        notice="API token created. Copy it now: it is shown only this once.",
        shown_once=token,
    )


@router.post("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, token_id: int, posted: SelfPost) -> Response:
    me = posted.user
    with _db(request).session() as session:
        # Only one's own, here, even for admins (they revoke others' through the API).
        catalog.revoke_token(session, token_id, me.user_id, "responder", datetime.now(UTC))
    return _page(request, posted, notice="API token revoked: it stops working at once.")


# --- admins: anyone's profile and role ---------------------------------------------------------

USER_LABELS = {**PROFILE_LABELS, "role": "Role"}


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
def admin_update_user(request: Request, user_id: int, posted: AdminPost) -> Response:
    from warroom.web.account import users_page

    typed = {k: posted.text(k) for k in USER_LABELS}
    try:
        changes = UserPatch(**typed).model_dump(exclude_unset=True)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = forms.validation_problems(exc, USER_LABELS)
        if "time_zone" in problems:
            problems["time_zone"] = f"Time zone: {typed['time_zone']!r} is not a zone name."
        return users_page(request, error=" ".join(problems.values()), status=422)
    me = posted.user
    try:
        with _db(request).session() as session:
            user = catalog.update_user(session, user_id, changes, me.user_id, me.role)
            name = user.username
    except ApiError as exc:
        if exc.status == 404:
            raise
        return users_page(request, error=forms.sentence(exc.message), status=exc.status)
    return users_page(request, notice=f"User {name} saved.")
