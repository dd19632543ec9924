"""Signing in and out, one's own account (password), and the admins' user management page
(create, deactivate, set someone's password)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from warroom.api.schemas import UserIn
from warroom.catalog import service as catalog
from warroom.catalog.models import ROLES, User
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.security import hash_password
from warroom.web.auth import (
    Admin,
    AdminPost,
    PageError,
    SelfPost,
    Viewer,
    client_ip,
    csrf_matches,
    current_user,
    device_cookie,
    https,
    login_cookie,
    session_cookie,
)
from warroom.web.queries import catalog_data
from warroom.web.render import render
from warroom.web.router import router, to_int
from warroom.web.sessions import (
    ABSOLUTE_TIMEOUT,
    KNOWN_DEVICE_MAX_AGE,
    PasswordError,
    change_password,
    device_cookie_value,
    end_session,
    end_user_sessions,
    new_token,
    read_device_cookie,
    safe_next,
    set_password,
    sign_in,
)

LOGIN_FORM_SECONDS = 3600


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _login_page(
    request: Request,
    next_path: str,
    error: str | None = None,
    status: int = 200,
    username: str = "",
) -> Response:
    # Login CSRF: the form's token must match a cookie set with the form (double submit), so
    # another site cannot sign a victim into the attacker's account.
    token = new_token()
    response = render(
        request,
        "login.html",
        {"next": next_path, "login_token": token, "error": error, "username": username},
        status=status,
    )
    response.set_cookie(
        login_cookie(_settings(request)),
        token,
        max_age=LOGIN_FORM_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=https(_settings(request)),
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if current_user(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    return _login_page(request, next_path)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await request.form()
    # argon2 and the database are blocking work: off the event loop.
    return await run_in_threadpool(_login, request, form)


def _field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _login(request: Request, form: FormData) -> Response:
    settings = _settings(request)
    next_path = safe_next(_field(form, "next"))
    username = _field(form, "username").strip()
    password = _field(form, "password")
    if not csrf_matches(
        request.cookies.get(login_cookie(settings), ""), _field(form, "login_token")
    ):
        return _login_page(
            request,
            next_path,
            "The sign-in form expired or came from another site. Please sign in again.",
            status=403,
            username=username,
        )
    if not username or not password or len(password) > 1000:
        return _login_page(
            request, next_path, "Enter your username and password.", 401, username=username
        )
    secret = request.app.state.secret
    known = read_device_cookie(secret, request.cookies.get(device_cookie(settings), ""))
    result = sign_in(
        _db(request),
        username,
        password,
        client_ip(request),
        datetime.now(UTC),
        known,
        request.headers.get("user-agent", ""),
        request.cookies.get(session_cookie(settings), ""),
    )
    signed_in = result.user
    if result.retry_after is not None:
        minutes = max(1, round(result.retry_after.total_seconds() / 60))
        response = _login_page(
            request,
            next_path,
            "Too many failed sign-in attempts for this account or from your address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            status=429,
            username=username,
        )
        response.headers["Retry-After"] = str(int(result.retry_after.total_seconds()) + 1)
        return response
    if signed_in is None:
        return _login_page(
            request, next_path, "Wrong username or password.", status=401, username=username
        )
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        session_cookie(settings),
        signed_in.token,
        max_age=int(ABSOLUTE_TIMEOUT.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=https(settings),
    )
    response.delete_cookie(login_cookie(settings), path="/", secure=https(settings))
    if result.device is not None:
        # This browser is now known as this person's: strangers' failures do not lock it out.
        response.set_cookie(
            device_cookie(settings),
            device_cookie_value(secret, result.device),
            max_age=int(KNOWN_DEVICE_MAX_AGE.total_seconds()),
            path="/",
            httponly=True,
            samesite="lax",
            secure=https(settings),
        )
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, posted: SelfPost) -> Response:
    settings = _settings(request)
    token = request.cookies.get(session_cookie(settings), "")
    with _db(request).session() as session:
        end_session(session, token, datetime.now(UTC))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        session_cookie(settings), path="/", secure=https(settings), httponly=True, samesite="lax"
    )
    return response


# --- account ---------------------------------------------------------------------------------


def account_page(
    request: Request,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The account page; `extra`: the settings forms' problems and typed values."""
    from warroom.web.config_account import account_context

    me = current_user(request)
    assert me is not None
    with _db(request).read_session() as session:
        user = session.get(User, me.user_id)
        assert user is not None
        settings = account_context(request, session, user)
    context = {
        "user": user,
        "error": error,
        "notice": notice,
        "problems": {},
        "section": "",
        "typed": {},
        "shown_once": None,
        **settings,
        **(extra or {}),
    }
    return render(request, "account.html", context, status=status)


_account_page = account_page


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, me: Viewer) -> Response:
    return _account_page(request)


@router.post("/account/password", response_class=HTMLResponse)
def account_password(request: Request, posted: SelfPost) -> Response:
    new = posted.text("new_password")
    if new != posted.text("confirm_password"):
        return _account_page(request, error="The two new passwords differ.", status=422)
    try:
        ended = change_password(
            _db(request), posted.user, posted.text("current_password"), new, datetime.now(UTC)
        )
    except PasswordError as exc:
        message = str(exc)
        return _account_page(request, error=message[:1].upper() + message[1:] + ".", status=422)
    others = f" {ended} other session{'s' if ended != 1 else ''} signed out." if ended else ""
    return _account_page(request, notice=f"Password changed.{others}")


# --- admin: users ----------------------------------------------------------------------------


def users_page(
    request: Request,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    with _db(request).read_session() as session:
        users = catalog_data.users(session)
    return render(
        request,
        "admin_users.html",
        {"users": users, "roles": ROLES, "form": form or {}, "error": error, "notice": notice},
        status=status,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def admin_users(request: Request, me: Admin) -> Response:
    return users_page(request)


@router.post("/admin/users", response_class=HTMLResponse)
def admin_create_user(request: Request, posted: AdminPost) -> Response:
    typed = {k: posted.text(k) for k in ("username", "name", "email", "role", "time_zone")}
    password = posted.form.get("password")
    try:
        body = UserIn(
            username=typed["username"],
            name=typed["name"],
            email=typed["email"],
            role=typed["role"] or "responder",  # type: ignore[arg-type]
            time_zone=typed["time_zone"] or "UTC",
            password=password if isinstance(password, str) and password else None,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return users_page(request, error=problems, status=422, form=typed)
    if body.password is None:
        return users_page(
            request,
            error="Give the new user a password (8 characters or more).",
            status=422,
            form=typed,
        )
    exists = False
    fields = body.model_dump()
    # Hashed before the transaction: argon2 must not run while holding the write lock.
    password_hash = hash_password(fields.pop("password"))
    try:
        with _db(request).session() as session:
            exists = (
                session.scalar(select(User.id).where(User.username == body.username)) is not None
            )
            if not exists:
                user = catalog.create_user(session, **fields)  # created without a password
                user.password_hash = password_hash
    except IntegrityError:  # created by someone else at the same moment
        exists = True
    if exists:
        return users_page(
            request, error=f"There is already a user {body.username!r}.", status=409, form=typed
        )
    return users_page(request, notice=f"User {body.username} created ({body.role}).")


@router.post("/admin/users/{user_id}/active", response_class=HTMLResponse)
def admin_set_active(request: Request, user_id: int, posted: AdminPost) -> Response:
    active = to_int(posted.text("active"), 0, 1)
    if active is None:
        raise PageError(422, "Say whether the user is active (1) or not (0).")
    if user_id == posted.user.user_id and not active:
        return users_page(request, error="You cannot deactivate yourself.", status=409)
    now = datetime.now(UTC)
    with _db(request).session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise PageError(404, f"There is no user {user_id}.", title="Not found")
        user.active = bool(active)
        if not active:
            # Deactivation takes effect at once, not when their sessions would expire.
            end_user_sessions(session, user.id, now)
        name = user.username
    state = "reactivated" if active else "deactivated; their sessions were ended"
    return users_page(request, notice=f"User {name} {state}.")


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def admin_set_password(request: Request, user_id: int, posted: AdminPost) -> Response:
    """Set or reset someone's password (a forgotten one, a new colleague's first one)."""
    # Passwords as typed: spaces at either end are part of them.
    new, confirm = (posted.form.get(k) for k in ("password", "confirm_password"))
    if not isinstance(new, str) or not new or new != confirm:
        return users_page(request, error="Type the new password twice, the same.", status=422)
    own = user_id == posted.user.user_id
    try:
        done = set_password(
            _db(request),
            user_id,
            new,
            datetime.now(UTC),
            keep_session_id=posted.user.session_id if own else None,
        )
    except PasswordError as exc:
        message = str(exc)
        return users_page(request, error=message[:1].upper() + message[1:] + ".", status=422)
    if done is None:
        raise PageError(404, f"There is no user {user_id}.", title="Not found")
    name, ended = done
    ended_text = f"{ended} session{'s' if ended != 1 else ''} of theirs ended" if ended else ""
    return users_page(
        request, notice=f"Password of {name} set" + (f"; {ended_text}." if ended_text else ".")
    )


def login_redirect(next_path: str) -> RedirectResponse:
    target = "/login" if next_path in ("", "/") else f"/login?next={quote(next_path, safe='/')}"
    return RedirectResponse(target, status_code=303)
