"""Sign-in under attack: argon2 never holds the write lock, parallel guesses do not beat the
limit, and strangers cannot lock a person out of the browser they already signed in with."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.web.conftest import PASSWORD, Web
from warroom.catalog import service as catalog
from warroom.catalog.models import ApiToken, Service
from warroom.db.engine import WRITER_WAIT_SECONDS, Database
from warroom.web import sessions
from warroom.web.models import LoginAttempt, WebSession

LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


class Visitor:
    """A browser at an address of its own, with its own cookies."""

    def __init__(self, web: Web, address: str) -> None:
        self.client = TestClient(web.app, base_url="http://testserver", client=(address, 40000))

    def login(self, username: str, password: str) -> httpx.Response:
        """Signs in from a signed-out state (the device cookie, if any, stays)."""
        self.client.cookies.delete("warroom_session")
        page = self.client.get("/login")
        found = LOGIN_TOKEN.search(page.text)
        assert page.status_code == 200 and found, page.text
        form = {"username": username, "password": password, "login_token": found.group(1)}
        return self.client.post("/login", data=form, follow_redirects=False)


def test_a_failed_sign_in_does_not_hold_the_write_lock_while_argon2_runs(
    web: Web, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the wrong password is being checked, intake's kind of writer commits at once."""
    waits: list[float] = []
    real_verify = sessions.verify_password

    def write_meanwhile() -> None:
        with db.session() as s:  # the group committer's and the engine's writer
            catalog.create_service(s, name=f"written during argon2 {len(waits)}")

    def slow_verify(password_hash: str | None, password: str) -> bool:
        # Stands in for production argon2 (a third of a second): another writer must get its
        # turn while this runs. Bounded: a writer held behind the sign-in gives up the wait.
        writer = threading.Thread(target=write_meanwhile)
        started = time.monotonic()
        writer.start()
        writer.join(timeout=5)
        waits.append(time.monotonic() - started if not writer.is_alive() else 99.0)
        result = real_verify(password_hash, password)
        writer.join()
        return result

    monkeypatch.setattr(sessions, "verify_password", slow_verify)
    stranger = Visitor(web, "198.51.100.7")
    for username in ("bob", "nobody-by-this-name"):
        assert stranger.login(username, "wrong password").status_code == 401
    assert len(waits) == 2 and max(waits) < 2.0, waits
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Service)) == 4  # 2 + the world's 2


def test_parallel_wrong_passwords_do_not_beat_the_limit(web: Web, db: Database) -> None:
    """Twelve guesses at once from one address: exactly five are checked, the rest refused."""
    visitors = [Visitor(web, "203.0.113.50") for _ in range(12)]
    forms = []
    for v in visitors:  # each has its sign-in form ready, then all post at the same moment
        page = v.client.get("/login")
        found = LOGIN_TOKEN.search(page.text)
        assert found
        forms.append({"username": "bob", "password": "guess", "login_token": found.group(1)})
    barrier = threading.Barrier(len(visitors))
    statuses: list[int] = []

    def guess(v: Visitor, form: dict[str, str]) -> None:
        barrier.wait(timeout=30)
        statuses.append(v.client.post("/login", data=form, follow_redirects=False).status_code)

    threads = [
        threading.Thread(target=guess, args=pair) for pair in zip(visitors, forms, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [401] * sessions.MAX_FAILURES_PER_ACCOUNT + [429] * (
        len(visitors) - sessions.MAX_FAILURES_PER_ACCOUNT
    )
    with db.read_session() as s:
        recorded = s.scalar(select(func.count()).select_from(LoginAttempt))
    assert recorded == sessions.MAX_FAILURES_PER_ACCOUNT


def test_a_stranger_cannot_lock_the_commander_out_of_their_known_browser(web: Web) -> None:
    office = "192.0.2.10"
    commander = Visitor(web, office)
    assert commander.login("bob", PASSWORD).status_code == 303
    assert commander.client.cookies.get("warroom_device")

    # A stranger hammers bob's username from the same office address and from many others,
    # beyond every limit: per account and address, per address, and per account anywhere.
    stranger_here = Visitor(web, office)
    for n in range(sessions.MAX_FAILURES_PER_ADDRESS):
        # bob's username until that is held, then others: the office address fills up too.
        name = "bob" if n < sessions.MAX_FAILURES_PER_ACCOUNT else f"someone{n}"
        assert stranger_here.login(name, "guess").status_code == 401
    assert stranger_here.login("carol", PASSWORD).status_code == 429  # the address is held
    for n in range(sessions.MAX_FAILURES_PER_ACCOUNT_ANYWHERE // sessions.MAX_FAILURES_PER_ACCOUNT):
        elsewhere = Visitor(web, f"198.51.100.{n + 1}")
        for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT):
            assert elsewhere.login("bob", "guess").status_code in (401, 429)
    # The strangers are held...
    assert stranger_here.login("bob", PASSWORD).status_code == 429
    assert Visitor(web, "198.51.100.200").login("bob", PASSWORD).status_code == 429
    # ...but the commander's own browser signs in at once, even with a typo first.
    assert commander.login("bob", "typo").status_code == 401
    r = commander.login("bob", PASSWORD)
    assert r.status_code == 303, r.text
    assert "warroom_session=" in ", ".join(r.headers.get_list("set-cookie"))


def test_a_known_browser_is_limited_by_its_own_failures(web: Web) -> None:
    laptop = Visitor(web, "192.0.2.20")
    assert laptop.login("bob", PASSWORD).status_code == 303
    for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT):
        assert laptop.login("bob", "guess").status_code == 401
    assert laptop.login("bob", PASSWORD).status_code == 429
    # Its cookie names bob: for another account it is an unknown browser like any other.
    assert laptop.login("alice", PASSWORD).status_code == 303


def test_a_forged_or_borrowed_device_cookie_does_not_lift_the_limit(web: Web) -> None:
    secret = web.app.state.secret
    alice_id, bob_id = web.user_id("alice"), web.user_id("bob")
    forged = sessions.KnownDevice(bob_id, "d" * 20)
    cookies = {
        "not signed with the key": sessions.device_cookie_value("another key", forged),
        "alice's device": sessions.device_cookie_value(secret, sessions.KnownDevice(alice_id, "a")),
        "garbage": "1.2",
    }
    for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT):
        Visitor(web, "203.0.113.9").login("bob", "guess")
    for why, value in cookies.items():
        v = Visitor(web, "203.0.113.9")
        v.client.cookies.set("warroom_device", value, domain="testserver.local", path="/")
        assert v.login("bob", PASSWORD).status_code == 429, why
    assert sessions.read_device_cookie(secret, cookies["alice's device"]) is not None
    assert sessions.read_device_cookie(secret, cookies["not signed with the key"]) is None


@contextmanager
def writer_lock_held(db: Database) -> Iterator[None]:
    """Another writer in the middle of its transaction (a long group commit, say)."""
    started, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.session() as s:
            # Locks the rows the touches would write (PostgreSQL) and, on SQLite, holds the
            # writer lock from the first statement.
            s.execute(select(ApiToken).with_for_update())
            s.execute(select(WebSession).with_for_update())
            started.set()
            # Longer than a writer's wait for its turn (30 s): a read that queued for the
            # lock would fail with 503 before this lets go.
            release.wait(timeout=WRITER_WAIT_SECONDS + 45)

    holder = threading.Thread(target=hold)
    holder.start()
    assert started.wait(timeout=10)
    try:
        yield
    finally:
        release.set()
        holder.join(timeout=WRITER_WAIT_SECONDS + 50)


def _timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_reads_do_not_wait_for_writers_to_note_when_a_token_or_session_was_last_used(
    web: Web, db: Database
) -> None:
    browser = web.browser("responder")
    with db.session() as s:  # last seen two minutes ago: a touch is due
        seen = datetime.now(UTC) - 2 * sessions.TOUCH_INTERVAL
        s.execute(update(WebSession).values(last_seen_at=seen))
    with writer_lock_held(db):
        api, api_took = _timed(
            lambda: web.base.get("/api/v1/users/me", headers=web.world.auth("stakeholder"))
        )
        page, page_took = _timed(lambda: browser.get("/"))
    assert api.status_code == 200 and page.status_code == 200, (api.text, page.text)
    # Answered while the other writer still held the lock, so without queueing for it: a
    # request that queued would have waited the whole writer wait and answered 503 (the time
    # bound is that wait, not a speed target: a loaded CI machine is slow, not locked).
    assert max(api_took, page_took) < WRITER_WAIT_SECONDS, (api_took, page_took)
    with db.read_session() as s:
        assert s.scalar(select(func.count()).where(ApiToken.last_used_at.is_not(None))) == 0
    # With the writer gone, the next read records it.
    assert (
        web.base.get("/api/v1/users/me", headers=web.world.auth("stakeholder")).status_code == 200
    )
    with db.read_session() as s:
        assert s.scalar(select(func.count()).where(ApiToken.last_used_at.is_not(None))) == 1
