"""Web sign-in: server-side sessions, login rate limits, password changes and safe redirects.

The cookie carries a random token; the database keeps only its SHA-256, so a leaked database
backup does not sign anyone in. Every function takes `now`, so tests move time instead of sleeping.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from warroom.catalog.models import User
from warroom.security import hash_password, token_digest, verify_password
from warroom.web.models import LoginAttempt, WebSession

IDLE_TIMEOUT = timedelta(hours=12)
ABSOLUTE_TIMEOUT = timedelta(days=7)
# last_seen_at is written at most this often: a write per page view would serialise readers
# behind SQLite's single writer. The idle timeout is therefore exact to within this interval.
TOUCH_INTERVAL = timedelta(minutes=1)

# Failed sign-ins allowed per window before answering 429. Per account it stops guessing one
# password; per address it stops spraying many accounts, with more room because an office or a
# VPN puts many people behind one address.
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
# Attempt rows older than this are deleted when the same account or address signs in again.
ATTEMPT_RETENTION = timedelta(days=1)
# Ended sessions are kept this long (who was signed in when), then deleted at the next sign-in.
SESSION_RETENTION = timedelta(days=30)

PASSWORD_MIN = 8  # the same bounds as the API's UserIn
PASSWORD_MAX = 200
_USERNAME_WIDTH = 80  # login_attempts.username
_IP_WIDTH = 64


@dataclass(frozen=True)
class SignedIn:
    """The person behind a request's session cookie."""

    session_id: int
    user_id: int
    username: str
    name: str
    role: str
    time_zone: str
    csrf_token: str
    token: str = ""  # set only right after sign-in, to put in the cookie

    @property
    def display_name(self) -> str:
        return self.name or self.username


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG


def safe_next(value: str | None) -> str:
    """A local path to go to after sign-in; anything else becomes "/".

    Browsers read "//host", "/\\host" and "/\\t/host" as other sites (they treat backslashes as
    slashes and drop tabs and newlines), so a path must start with exactly one "/" and hold no
    backslash or control character.
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


# --- sessions --------------------------------------------------------------------------------


def start_session(
    session: Session, user: User, now: datetime, ip: str = "", user_agent: str = ""
) -> SignedIn:
    """A new session with a fresh random id: never one the browser brought (no fixation)."""
    token = new_token()
    row = WebSession(
        token_hash=token_digest(token),
        user_id=user.id,
        csrf_token=new_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_TIMEOUT,
        ip=ip[:_IP_WIDTH],
        user_agent=user_agent[:300],
    )
    session.add(row)
    session.execute(
        delete(WebSession).where(
            WebSession.user_id == user.id,
            (WebSession.expires_at < now - SESSION_RETENTION)
            | (WebSession.revoked_at < now - SESSION_RETENTION),
        )
    )
    session.flush()
    return SignedIn(
        row.id, user.id, user.username, user.name, user.role, user.time_zone, row.csrf_token, token
    )


def _expired(row: WebSession, now: datetime) -> bool:
    return (
        row.revoked_at is not None
        or now >= row.expires_at
        or now - row.last_seen_at >= IDLE_TIMEOUT
    )


def load_session(session: Session, token: str, now: datetime) -> tuple[SignedIn, bool] | None:
    """The signed-in user of a cookie token, and whether last_seen_at is due a write.

    None for an unknown, ended, idle or expired session, or a deactivated user.
    """
    if not token or len(token) > 100:
        return None
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_digest(token))
    ).first()
    if row is None:
        return None
    web, user = row
    if _expired(web, now) or not user.active:
        return None
    signed_in = SignedIn(
        web.id, user.id, user.username, user.name, user.role, user.time_zone, web.csrf_token
    )
    return signed_in, now - web.last_seen_at >= TOUCH_INTERVAL


def touch(session: Session, session_id: int, now: datetime) -> None:
    # Only if still due: parallel requests of one browser (a page and its live updates) write
    # once, not each.
    session.execute(
        update(WebSession)
        .where(
            WebSession.id == session_id,
            WebSession.revoked_at.is_(None),
            WebSession.last_seen_at <= now - TOUCH_INTERVAL,
        )
        .values(last_seen_at=now)
    )


def end_session(session: Session, token: str, now: datetime) -> None:
    """Server-side sign-out: the token stops working even if the cookie was copied."""
    session.execute(
        update(WebSession)
        .where(WebSession.token_hash == token_digest(token), WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_user_sessions(
    session: Session, user_id: int, now: datetime, keep_session_id: int | None = None
) -> int:
    """Ends every session of a user (but one, if given); returns how many were ended."""
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep_session_id is not None:
        query = query.where(WebSession.id != keep_session_id)
    result = session.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


# --- sign-in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    user: User | None = None
    retry_after: timedelta | None = None  # set when refused by the rate limit

    @property
    def ok(self) -> bool:
        return self.user is not None


@cache
def _decoy_hash() -> str:
    return hash_password(new_token())


def _retry_after(times: list[datetime], limit: int, now: datetime) -> timedelta | None:
    """With `times` newest first: how long until fewer than `limit` failures are in the window."""
    if len(times) < limit:
        return None
    return max(times[limit - 1] + FAILURE_WINDOW - now, timedelta(seconds=1))


def login_blocked(session: Session, username: str, ip: str, now: datetime) -> timedelta | None:
    """How long sign-in is refused for this account or address, or None if it is allowed."""
    since = now - FAILURE_WINDOW
    username, ip = username[:_USERNAME_WIDTH], ip[:_IP_WIDTH]
    # A successful sign-in clears the account's count (the owner got in), but not the address's:
    # an attacker with one valid account must not reset the counter for the others.
    last_success = session.scalar(
        select(LoginAttempt.at)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.at >= since,
            LoginAttempt.success.is_(True),
        )
        .order_by(LoginAttempt.at.desc())
        .limit(1)
    )
    account = list(
        session.scalars(
            select(LoginAttempt.at)
            .where(
                LoginAttempt.username == username,
                LoginAttempt.at >= (last_success or since),
                LoginAttempt.success.is_(False),
            )
            .order_by(LoginAttempt.at.desc())
            .limit(MAX_FAILURES_PER_ACCOUNT)
        )
    )
    address = list(
        session.scalars(
            select(LoginAttempt.at)
            .where(LoginAttempt.ip == ip, LoginAttempt.at >= since, LoginAttempt.success.is_(False))
            .order_by(LoginAttempt.at.desc())
            .limit(MAX_FAILURES_PER_ADDRESS)
        )
    )
    waits = [
        w
        for w in (
            _retry_after(account, MAX_FAILURES_PER_ACCOUNT, now),
            _retry_after(address, MAX_FAILURES_PER_ADDRESS, now),
        )
        if w is not None
    ]
    return max(waits) if waits else None


def attempt_login(
    session: Session, username: str, password: str, ip: str, now: datetime
) -> LoginResult:
    """Checks the rate limit, then the password; records the attempt either way."""
    wait = login_blocked(session, username, ip, now)
    if wait is not None:
        return LoginResult(retry_after=wait)
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is not None and user.password_hash:
        ok = verify_password(user.password_hash, password) and user.active
    else:
        # The same argon2 work for an unknown user or one without a password, so the response
        # time does not tell which usernames exist.
        verify_password(_decoy_hash(), password)
        ok = False
    username, ip = username[:_USERNAME_WIDTH], ip[:_IP_WIDTH]
    session.add(LoginAttempt(username=username, ip=ip, at=now, success=ok))
    old = now - ATTEMPT_RETENTION
    session.execute(
        delete(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.at < old)
    )
    session.execute(delete(LoginAttempt).where(LoginAttempt.ip == ip, LoginAttempt.at < old))
    return LoginResult(user=user if ok else None)


class PasswordError(ValueError):
    """A password change that cannot be made; the message says why."""


def check_new_password(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise PasswordError(
            f"the new password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"
        )


def change_password(
    session: Session, signed_in: SignedIn, current: str, new: str, now: datetime
) -> int:
    """Sets a new password and ends the user's other sessions; returns how many were ended."""
    user = session.get(User, signed_in.user_id)
    if user is None or not verify_password(user.password_hash, current):
        raise PasswordError("the current password is not right")
    check_new_password(new)
    if new == current:
        raise PasswordError("the new password is the same as the current one")
    user.password_hash = hash_password(new)
    # Whoever else held a session (a lost phone, a shared machine) is signed out now.
    return end_user_sessions(session, user.id, now, keep_session_id=signed_in.session_id)


def set_password(
    session: Session, user: User, new: str, now: datetime, keep_session_id: int | None = None
) -> int:
    """An admin sets or resets someone's password: no current password asked, every session
    of that user ended (but `keep_session_id`, the admin's own when it is their account), so
    whoever held the old password is out at once. Returns how many sessions were ended."""
    check_new_password(new)
    user.password_hash = hash_password(new)
    return end_user_sessions(session, user.id, now, keep_session_id=keep_session_id)
