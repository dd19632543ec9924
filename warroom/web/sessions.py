"""Web sign-in: server-side sessions, login rate limits, known devices, password changes and
safe redirects.

The cookie carries a random token; the database keeps only its SHA-256, so a leaked database
backup does not sign anyone in. Every function takes `now`, so tests move time instead of sleeping.
Argon2 never runs inside a write transaction (docs/adr/0005-unit-of-work.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from warroom.catalog.models import User
from warroom.db.engine import Database
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
MAX_FAILURES_PER_ACCOUNT = 5  # per account and address, or per account and known device
MAX_FAILURES_PER_ADDRESS = 20
# Per account from any address: stops guessing spread over many addresses, high enough that a
# stranger needs ten addresses to reach it; the account's known devices are not held by it.
MAX_FAILURES_PER_ACCOUNT_ANYWHERE = 50
# Attempt rows older than this are deleted when the same account or address signs in again.
ATTEMPT_RETENTION = timedelta(days=1)
# Ended sessions are kept this long (who was signed in when), then deleted at the next sign-in.
SESSION_RETENTION = timedelta(days=30)

PASSWORD_MIN = 8  # the same bounds as the API's UserIn
PASSWORD_MAX = 200
_USERNAME_WIDTH = 80  # login_attempts.username
_IP_WIDTH = 64
_DEVICE_WIDTH = 32  # login_attempts.device
# The known-device cookie lasts a year: a person's own phone or laptop stays known.
KNOWN_DEVICE_MAX_AGE = timedelta(days=365)


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
    # Only if still due (parallel requests of one browser, a page and its live updates, write
    # once, not each), and skipping a row another transaction has locked (PostgreSQL).
    due = (
        select(WebSession.id)
        .where(
            WebSession.id == session_id,
            WebSession.revoked_at.is_(None),
            WebSession.last_seen_at <= now - TOUCH_INTERVAL,
        )
        .with_for_update(skip_locked=True)
    )
    session.execute(update(WebSession).where(WebSession.id.in_(due)).values(last_seen_at=now))


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


# --- known devices ---------------------------------------------------------------------------
#
# A browser that signed in as a person gets a signed cookie naming that person and a random
# device id. Its later sign-ins as that person count only the failures made from it: strangers
# failing on the person's username, from their address or any other, do not lock it out.


@dataclass(frozen=True)
class KnownDevice:
    user_id: int
    device_id: str


def _device_key(secret: str | bytes) -> bytes:
    # A key of its own, derived from the instance secret: a MAC made for anything else (an
    # action link, say) is never a valid device cookie.
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, b"warroom/known-device/v1", hashlib.sha256).digest()


def _device_mac(secret: str | bytes, user_id: int, device_id: str) -> str:
    message = f"{user_id}.{device_id}".encode()
    return hmac.new(_device_key(secret), message, hashlib.sha256).hexdigest()


def device_cookie_value(secret: str | bytes, device: KnownDevice) -> str:
    mac = _device_mac(secret, device.user_id, device.device_id)
    return f"{device.user_id}.{device.device_id}.{mac}"


def read_device_cookie(secret: str | bytes, value: str) -> KnownDevice | None:
    """The known device a cookie names, or None if it is absent, malformed or not ours."""
    parts = value.split(".") if value and len(value) < 200 else []
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1]:
        return None
    user_id, device_id, mac = int(parts[0]), parts[1], parts[2]
    if len(device_id) > _DEVICE_WIDTH or not hmac.compare_digest(
        mac, _device_mac(secret, user_id, device_id)
    ):
        return None
    return KnownDevice(user_id, device_id)


# --- sign-in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    user: SignedIn | None = None
    retry_after: timedelta | None = None  # set when refused by the rate limit
    device: KnownDevice | None = None  # the browser's known device, after a success

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


def _failures(
    session: Session, since: datetime, limit: int, *where: ColumnElement[bool]
) -> list[datetime]:
    return list(
        session.scalars(
            select(LoginAttempt.at)
            .where(LoginAttempt.at >= since, LoginAttempt.success.is_(False), *where)
            .order_by(LoginAttempt.at.desc())
            .limit(limit)
        )
    )


def _last_success(session: Session, since: datetime, *where: ColumnElement[bool]) -> datetime:
    found = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.at >= since, LoginAttempt.success.is_(True), *where
        )
    )
    return max(found, since) if found is not None else since


def login_blocked(
    session: Session, username: str, ip: str, now: datetime, device: str = ""
) -> timedelta | None:
    """How long sign-in is refused for this account from this address (or known device), or
    None if it is allowed.

    From a known device of the account: only that device's own failures count. Otherwise the
    failures of this account from this address (a success from there clears them), of this
    address for any account (spraying; a success does not clear them: an attacker with one
    valid account must not reset the count for the others), and of this account from anywhere
    (guessing from many addresses, with room for many more)."""
    since = now - FAILURE_WINDOW
    username, ip = username[:_USERNAME_WIDTH], ip[:_IP_WIDTH]
    mine = LoginAttempt.username == username
    if device:
        here = LoginAttempt.device == device
        after = _last_success(session, since, mine, here)
        return _retry_after(
            _failures(session, after, MAX_FAILURES_PER_ACCOUNT, mine, here),
            MAX_FAILURES_PER_ACCOUNT,
            now,
        )
    there = LoginAttempt.ip == ip
    after = _last_success(session, since, mine, there)
    limits = (
        (
            _failures(session, after, MAX_FAILURES_PER_ACCOUNT, mine, there),
            MAX_FAILURES_PER_ACCOUNT,
        ),
        (_failures(session, since, MAX_FAILURES_PER_ADDRESS, there), MAX_FAILURES_PER_ADDRESS),
        (
            _failures(session, since, MAX_FAILURES_PER_ACCOUNT_ANYWHERE, mine),
            MAX_FAILURES_PER_ACCOUNT_ANYWHERE,
        ),
    )
    waits = [w for w in (_retry_after(t, n, now) for t, n in limits) if w is not None]
    return max(waits) if waits else None


def _lock_key(kind: str, value: str) -> int:
    digest = hashlib.sha256(f"warroom/login/{kind}/{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _serialise(session: Session, username: str, ip: str) -> None:
    """Makes counting and recording one atomic step per account and per address.

    SQLite needs nothing: the transaction began with the writer lock (BEGIN IMMEDIATE). On
    PostgreSQL two transactions would each count N-1 failures and both go on; a transaction
    lock per account and per address makes them take turns (in one order: no deadlock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted({_lock_key("user", username), _lock_key("ip", ip)}):
        session.execute(select(func.pg_advisory_xact_lock(key)))


@dataclass(frozen=True)
class _Pending:
    attempt_id: int
    user_id: int | None
    password_hash: str | None
    device: str


def _begin_attempt(
    session: Session, username: str, ip: str, now: datetime, known: KnownDevice | None
) -> _Pending | timedelta:
    """Checks the limit and records the attempt as a failure in one step; or says how long
    to wait. The password is checked afterwards, outside any transaction."""
    _serialise(session, username, ip)
    user = session.execute(
        select(User.id, User.password_hash, User.active).where(User.username == username)
    ).first()
    device = known.device_id if known is not None and user and known.user_id == user[0] else ""
    wait = login_blocked(session, username, ip, now, device)
    if wait is not None:
        return wait
    row = LoginAttempt(
        username=username[:_USERNAME_WIDTH], ip=ip[:_IP_WIDTH], at=now, success=False, device=device
    )
    session.add(row)
    old = now - ATTEMPT_RETENTION
    session.execute(
        delete(LoginAttempt).where(LoginAttempt.username == row.username, LoginAttempt.at < old)
    )
    session.execute(delete(LoginAttempt).where(LoginAttempt.ip == row.ip, LoginAttempt.at < old))
    session.flush()
    if user is None or not user[2] or not user[1]:
        return _Pending(row.id, None, None, device)
    return _Pending(row.id, user[0], user[1], device)


def sign_in(
    db: Database,
    username: str,
    password: str,
    ip: str,
    now: datetime,
    known: KnownDevice | None = None,
    user_agent: str = "",
    old_token: str = "",
) -> LoginResult:
    """Checks the rate limit, then the password; records the attempt either way and, on
    success, starts a new session (ending `old_token`'s).

    Three steps so that argon2 (a third of a second at production cost) never runs inside a
    write transaction: on SQLite that would hold the one write lock, and any anonymous visitor
    could stall intake's commits with wrong passwords."""
    with db.session() as session:
        pending = _begin_attempt(session, username, ip, now, known)
    if isinstance(pending, timedelta):
        return LoginResult(retry_after=pending)
    # The same argon2 work for an unknown user, a deactivated one or one without a password,
    # so the response time does not tell which usernames exist.
    ok = verify_password(pending.password_hash or _decoy_hash(), password)
    if not ok or pending.user_id is None:
        return LoginResult()
    with db.session() as session:
        user = session.get(User, pending.user_id)
        # Deactivated, or the password changed, while it was being checked: not this time.
        if user is None or not user.active or user.password_hash != pending.password_hash:
            return LoginResult()
        session.execute(
            update(LoginAttempt).where(LoginAttempt.id == pending.attempt_id).values(success=True)
        )
        signed_in = start_session(session, user, now, ip, user_agent)
        if old_token:
            # The session the browser had before (if any) ends: one fresh id per sign-in.
            end_session(session, old_token, now)
    device = KnownDevice(user.id, pending.device or new_token()[:_DEVICE_WIDTH])
    return LoginResult(signed_in, device=device)


class PasswordError(ValueError):
    """A password change that cannot be made; the message says why."""


def check_new_password(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise PasswordError(
            f"the new password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"
        )


def change_password(
    db: Database, signed_in: SignedIn, current: str, new: str, now: datetime
) -> int:
    """Sets a new password and ends the user's other sessions; returns how many were ended.

    Both argon2 steps (checking the current password, hashing the new one) run outside the
    write transaction, which then only swaps the hash if it is still the one checked."""
    with db.read_session() as session:
        stored = session.scalar(select(User.password_hash).where(User.id == signed_in.user_id))
    if not verify_password(stored, current):
        raise PasswordError("the current password is not right")
    check_new_password(new)
    if new == current:
        raise PasswordError("the new password is the same as the current one")
    new_hash = hash_password(new)
    with db.session() as session:
        swapped = session.execute(
            update(User)
            .where(User.id == signed_in.user_id, User.password_hash == stored)
            .values(password_hash=new_hash)
        )
        if not getattr(swapped, "rowcount", 0):
            raise PasswordError("the password was changed meanwhile; sign in again")
        # Whoever else held a session (a lost phone, a shared machine) is signed out now.
        return end_user_sessions(session, signed_in.user_id, now, signed_in.session_id)


def set_password(
    db: Database, user_id: int, new: str, now: datetime, keep_session_id: int | None = None
) -> tuple[str, int] | None:
    """An admin sets or resets someone's password: no current password asked, every session
    of that user ended (but `keep_session_id`, the admin's own when it is their account), so
    whoever held the old password is out at once. Returns the username and how many sessions
    were ended, or None if there is no such user. The hashing runs before the transaction."""
    check_new_password(new)
    new_hash = hash_password(new)
    with db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            return None
        user.password_hash = new_hash
        return user.username, end_user_sessions(session, user.id, now, keep_session_id)
