"""Sign-in done carefully: sessions, expiry, rate limits, fixation, redirects, CSRF and headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.web.conftest import COOKIE_DOMAIN, PASSWORD, Web, move_back, set_session_cookie
from tests.web.helpers import declared
from warroom.app import create_app
from warroom.catalog import service as catalog
from warroom.catalog.models import User
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.web import sessions
from warroom.web.headers import CSP
from warroom.web.models import LoginAttempt, WebSession


def _cookie_header(r: object) -> str:
    return ", ".join(r.headers.get_list("set-cookie"))  # type: ignore[attr-defined]


def test_sign_in_and_sign_out(web: Web) -> None:
    b = web.browser()
    r = b.get("/incidents/new?x=1")
    assert r.status_code == 303
    assert unquote(r.headers["location"]) == "/login?next=/incidents/new?x=1"

    r = b.login("bob", PASSWORD, next_path="/incidents/new?x=1")
    assert (r.status_code, r.headers["location"]) == (303, "/incidents/new?x=1")
    cookie = _cookie_header(r)
    assert "warroom_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the base URL is http
    token = b.client.cookies.get("warroom_session", domain=COOKIE_DOMAIN)
    with web.db.read_session() as s:
        row = s.scalars(select(WebSession)).one()
        assert row.token_hash == sessions.token_digest(token) and token not in row.token_hash
    page = b.get("/")
    assert page.status_code == 200 and "Bob" in page.text

    r = b.client.post(
        "/logout", data={"csrf_token": sessions_csrf(web, token)}, follow_redirects=False
    )
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    assert b.get("/").status_code == 303
    # Ended on the server: the copied cookie does not work any more.
    set_session_cookie(b.client, token)
    assert b.get("/").headers["location"] == "/login"
    with web.db.read_session() as s:
        assert s.scalars(select(WebSession.revoked_at)).one() is not None


def sessions_csrf(web: Web, token: str) -> str:
    with web.db.read_session() as s:
        found = sessions.load_session(s, token, datetime.now(UTC))
    assert found is not None
    return found[0].csrf_token


def test_wrong_passwords_unknown_users_and_users_without_password_are_refused(web: Web) -> None:
    with web.db.session() as s:
        catalog.create_user(s, username="dave", role="responder")  # no password
        s.execute(update(User).where(User.username == "alice").values(active=False))
    b = web.browser()
    for username, password in (
        ("bob", "wrong password"),
        ("nobody", PASSWORD),
        ("dave", ""),
        ("dave", PASSWORD),
        ("alice", PASSWORD),
    ):
        r = b.login(username, password)
        assert r.status_code == 401, (username, r.status_code)
        assert "Wrong username or password" in r.text or "Enter your username" in r.text
        assert "warroom_session" not in _cookie_header(r)
    # Login CSRF: a form posted without the token of its cookie is refused.
    r = b.client.post(
        "/login", data={"username": "bob", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 403 and "warroom_session" not in _cookie_header(r)


def test_failed_sign_ins_are_rate_limited_per_account_and_per_address(web: Web) -> None:
    b = web.browser()
    for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT):
        assert b.login("bob", "guess").status_code == 401
    r = b.login("bob", PASSWORD)  # even the right password: the account is locked for now
    assert r.status_code == 429
    assert "Too many failed sign-in attempts" in r.text and "Try again in 15 minutes" in r.text
    assert 800 < int(r.headers["retry-after"]) <= 901
    assert b.login("alice", PASSWORD).status_code == 303  # another account is not locked

    # Time passes (the attempts move 16 minutes into the past): bob may sign in again.
    move_back(web.db, LoginAttempt, "at", timedelta(minutes=16))
    assert b.login("bob", PASSWORD).status_code == 303

    # Spraying many accounts from one address: refused once the address has 20 failures.
    now = datetime.now(UTC)
    with web.db.session() as s:
        s.add_all(
            LoginAttempt(username=f"user{n}", ip="testclient", at=now, success=False)
            for n in range(sessions.MAX_FAILURES_PER_ADDRESS)
        )
    assert b.login("carol", PASSWORD).status_code == 429
    with web.db.read_session() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(LoginAttempt)
                .where(LoginAttempt.username == "carol")
            )
            == 0
        )  # not even tried


def test_sign_in_always_starts_a_new_session(web: Web) -> None:
    b = web.browser()
    set_session_cookie(b.client, "attacker-chosen-value")
    assert b.login("bob", PASSWORD).status_code == 303
    first = b.client.cookies.get("warroom_session", domain=COOKIE_DOMAIN)
    assert first != "attacker-chosen-value" and len(first) >= 43
    assert b.login("bob", PASSWORD).status_code == 303  # signing in again, same browser
    second = b.client.cookies.get("warroom_session", domain=COOKIE_DOMAIN)
    assert second != first
    with web.db.read_session() as s:
        now = datetime.now(UTC)
        assert sessions.load_session(s, first, now) is None  # the old one ended
        assert sessions.load_session(s, second, now) is not None
        assert sessions.load_session(s, "attacker-chosen-value", now) is None


def test_sessions_end_after_12_idle_hours_or_7_days(db: Database, web: Web) -> None:
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with db.session() as s:
        bob = s.scalars(select(User).where(User.username == "bob")).one()
        token = sessions.start_session(s, bob, t0).token

    def at(t: datetime) -> bool:
        with db.session() as s:
            found = sessions.load_session(s, token, t)
            if found and found[1]:
                sessions.touch(s, found[0].session_id, t)
            return found is not None

    assert at(t0 + timedelta(hours=11, minutes=59))
    assert at(t0 + timedelta(hours=23))  # 11 h after the last use
    assert not at(t0 + timedelta(hours=35, minutes=1))  # 12 h idle
    # Used every few hours, it still ends 7 days after sign-in.
    with db.session() as s:
        token = sessions.start_session(s, bob, t0).token
    t = t0
    while t < t0 + timedelta(days=7) - timedelta(hours=6):
        t += timedelta(hours=6)
        assert at(t), t
    assert not at(t0 + timedelta(days=7))

    # Through the pages: a session last seen 13 hours ago sends the browser to sign in.
    b = web.browser("responder")
    assert b.get("/").status_code == 200
    move_back(db, WebSession, "last_seen_at", timedelta(hours=13))
    assert b.get("/").headers["location"] == "/login"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "http://evil.example/",
        "https:evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
        "/%0d%0aSet-Cookie:x=1",
    ],
)
def test_after_sign_in_only_local_paths(target: str) -> None:
    assert sessions.safe_next(target) in ("/", target)
    if target.startswith("/%0d"):
        assert sessions.safe_next(target) == target  # escaped: a harmless local path
    else:
        assert sessions.safe_next(target) == "/"


def test_open_redirects_are_refused_at_sign_in(web: Web) -> None:
    assert sessions.safe_next("/incidents/3?tab=tasks#t") == "/incidents/3?tab=tasks#t"
    b = web.browser()
    page = b.get("/login?next=//evil.example").text
    assert 'name="next" value="/"' in page
    r = b.login("bob", PASSWORD, next_path="https://evil.example/")
    assert (r.status_code, r.headers["location"]) == (303, "/")
    r = b.login("bob", PASSWORD, next_path="//evil.example")
    assert r.headers["location"] == "/"
    # Already signed in: /login goes on, to a local path only.
    assert b.get("/login?next=//evil.example").headers["location"] == "/"
    assert b.get("/login?next=/alerts").headers["location"] == "/alerts"


def test_forms_without_the_session_csrf_token_are_refused(web: Web) -> None:
    incident_id = declared(web)
    bob = web.browser("responder")
    url = f"/incidents/{incident_id}/notes"
    for data in (
        {"text": "no token"},
        {"text": "wrong", "csrf_token": "x" * 43},
        {"text": "other's", "csrf_token": web.browser("admin").signed_in.csrf_token},
    ):
        r = bob.post(url, data, csrf=False)
        assert r.status_code == 403, data
        assert r.headers["content-type"].startswith("text/html")
        assert "security token" in r.text
    assert bob.post(url, {"text": "with token"}).status_code == 303
    assert bob.post("/logout", {}, csrf=False).status_code == 403
    # Anonymous posts go to sign in, and nothing is written.
    anonymous = web.browser()
    r = anonymous.post(url, {"text": "anonymous"})
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    notes = [
        e["message"]
        for e in web.base.get(
            f"/api/v1/incidents/{incident_id}/timeline", headers=web.world.auth()
        ).json()["items"]
        if e["kind"] == "note"
    ]
    assert notes == ["with token"]


def test_changing_the_password_ends_the_other_sessions(web: Web) -> None:
    phone, laptop = web.browser("responder"), web.browser("responder")
    new = "a much better passphrase"
    r = laptop.post(
        "/account/password",
        {"current_password": "nope", "new_password": new, "confirm_password": new},
    )
    assert r.status_code == 422 and "current password is not right" in r.text
    r = laptop.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert r.status_code == 422 and "8 to 200 characters" in r.text
    r = laptop.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "confirm_password": new + "!"},
    )
    assert r.status_code == 422 and "differ" in r.text
    assert phone.get("/").status_code == 200

    r = laptop.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "confirm_password": new},
    )
    assert r.status_code == 200 and "Password changed. 1 other session signed out." in r.text
    assert laptop.get("/").status_code == 200
    assert phone.get("/").headers["location"] == "/login"
    b = web.browser()
    assert b.login("bob", PASSWORD).status_code == 401
    assert b.login("bob", new).status_code == 303


def test_deactivating_a_user_ends_their_sessions(web: Web) -> None:
    alice, bob = web.browser("admin"), web.browser("responder")
    r = alice.post(
        "/admin/users",
        {
            "username": "erin",
            "name": "Erin",
            "role": "stakeholder",
            "password": "erin's password",
            "time_zone": "Europe/Paris",
        },
    )
    assert r.status_code == 200 and "User erin created (stakeholder)" in r.text
    r = alice.post("/admin/users", {"username": "erin", "password": "another password"})
    assert r.status_code == 409
    r = alice.post("/admin/users", {"username": "bad name!", "password": "12345678"})
    assert r.status_code == 422 and "username" in r.text
    r = alice.post("/admin/users", {"username": "frank", "time_zone": "Mars/Base"})
    assert r.status_code == 422
    erin = web.browser()
    assert erin.login("erin", "erin's password").status_code == 303
    assert erin.get("/").status_code == 200

    erin_id = web.user_id("erin")
    r = alice.post(f"/admin/users/{erin_id}/active", {"active": "0"})
    assert r.status_code == 200 and "deactivated" in r.text
    assert erin.get("/").status_code == 303
    assert (
        alice.post(f"/admin/users/{web.world.admin_id}/active", {"active": "0"}).status_code == 409
    )
    assert bob.post(f"/admin/users/{erin_id}/active", {"active": "1"}).status_code == 403
    assert alice.post(f"/admin/users/{erin_id}/active", {"active": "1"}).status_code == 200


def test_security_headers_on_every_page(web: Web) -> None:
    incident_id = declared(web)
    bob = web.browser("responder")
    anonymous = web.browser()
    responses = [
        bob.get(u)
        for u in (
            "/",
            f"/incidents/{incident_id}",
            "/alerts",
            "/services",
            "/static/app.css",
            "/static/js/live.js",
            "/incidents/424242",
            "/admin/users",
        )
    ]
    responses += [
        anonymous.get("/login"),
        anonymous.get("/"),
        bob.post("/logout", csrf=False),
        bob.get("/api/v1/incidents"),
    ]
    for r in responses:
        assert r.headers["content-security-policy"] == CSP, r.url
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in CSP and "frame-ancestors 'none'" in CSP
    assert responses[0].headers["cache-control"] == "no-store"
    docs = anonymous.get("/docs")
    assert "content-security-policy" not in docs.headers  # Swagger UI needs its inline script
    assert docs.headers["x-content-type-options"] == "nosniff"


def test_cookies_are_secure_and_host_only_behind_https(db_url: str, db: Database, web: Web) -> None:
    app = create_app(Settings(database_url=db_url, base_url="https://warroom.example"), db)
    with TestClient(app, base_url="https://warroom.example") as client:
        page = client.get("/login")
        assert "__Host-warroom_login=" in _cookie_header(page)
        token = page.text.split('name="login_token" value="', 1)[1].split('"', 1)[0]
        r = client.post(
            "/login",
            data={"username": "bob", "password": PASSWORD, "login_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303
        cookie = _cookie_header(r)
        assert "__Host-warroom_session=" in cookie and "Secure" in cookie
        assert "Path=/" in cookie and "Domain" not in cookie
        assert client.get("/", follow_redirects=False).status_code == 200
        # The known-device cookie is as strict, and HttpOnly: page scripts never see it.
        device = next(c for c in r.headers.get_list("set-cookie") if "warroom_device" in c)
        assert device.startswith("__Host-warroom_device=") and "Secure" in device
        assert "HttpOnly" in device and "Path=/" in device and "Domain" not in device
