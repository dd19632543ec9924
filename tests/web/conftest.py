"""Fixtures of the web tests: the world's people with passwords, and signed-in test clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.conftest import World
from warroom import security
from warroom.catalog.models import User
from warroom.db.engine import Database
from warroom.web.sessions import SignedIn, start_session

PASSWORD = "correct horse battery"
NAMES = {"admin": "alice", "responder": "bob", "stakeholder": "carol"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# Where the TestClient's cookie jar files cookies set by http://testserver.
COOKIE_DOMAIN = "testserver.local"


def set_session_cookie(client: TestClient, token: str) -> None:
    client.cookies.delete("warroom_session")
    client.cookies.set("warroom_session", token, domain=COOKIE_DOMAIN, path="/")


# argon2 with its production cost takes ~0.15 s per hash or check, and the sign-in tests make
# dozens. The same algorithm with a small cost keeps them fast; the code paths are the same.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_hasher", FAST_HASHER)


@pytest.fixture(scope="session")
def password_hash() -> str:
    return FAST_HASHER.hash(PASSWORD)


@dataclass
class Browser:
    """A TestClient with its own cookie jar, as one browser of one person."""

    client: TestClient
    db: Database
    signed_in: SignedIn | None = None

    def sign_in(self, username: str) -> SignedIn:
        """A session made directly (no argon2): the login tests go through the form instead."""
        with self.db.session() as s:
            user = s.scalars(select(User).where(User.username == username)).one()
            self.signed_in = start_session(s, user, datetime.now(UTC))
        set_session_cookie(self.client, self.signed_in.token)
        return self.signed_in

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("follow_redirects", False)
        return self.client.get(url, **kwargs)

    def post(
        self, url: str, data: dict[str, Any] | None = None, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf and self.signed_in is not None:
            form.setdefault("csrf_token", self.signed_in.csrf_token)
        kwargs.setdefault("follow_redirects", False)
        return self.client.post(url, data=form, **kwargs)

    def login(self, username: str, password: str, next_path: str | None = None) -> httpx.Response:
        """Through the sign-in form, with its login token cookie, as a browser does.

        A signed-in browser is sent on by /login, so the form is fetched without the session
        cookie (as if left open in another tab) and posted with it.
        """
        session = self.client.cookies.get("warroom_session", domain=COOKIE_DOMAIN)
        if session:
            self.client.cookies.delete("warroom_session")
        page = self.get("/login" + (f"?next={next_path}" if next_path else ""))
        if session:
            set_session_cookie(self.client, session)
        assert page.status_code == 200, page.text
        token = re.search(r'name="login_token" value="([^"]+)"', page.text)
        assert token
        form = {"username": username, "password": password, "login_token": token.group(1)}
        if next_path is not None:
            form["next"] = next_path
        return self.client.post("/login", data=form, follow_redirects=False)


@dataclass
class Web:
    world: World
    db: Database
    app: Any
    base: TestClient

    def browser(self, who: str | None = None) -> Browser:
        """A fresh browser; signed in as the world's admin/responder/stakeholder if given."""
        b = Browser(TestClient(self.app, base_url="http://testserver"), self.db)
        if who is not None:
            b.sign_in(NAMES.get(who, who))
        return b

    def user_id(self, username: str) -> int:
        with self.db.read_session() as s:
            return int(s.scalars(select(User.id).where(User.username == username)).one())


@pytest.fixture
def web(client: TestClient, world: World, db: Database, password_hash: str) -> Iterator[Web]:
    with db.session() as s:
        s.execute(update(User).values(password_hash=password_hash))
    yield Web(world, db, client.app, client)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def move_back(db: Database, model: Any, column: str, delta: Any) -> None:
    """Moves a timestamp column of every row into the past (the tests' clock)."""
    with db.session() as s:
        for row in s.scalars(select(model)):
            setattr(row, column, getattr(row, column) - delta)
