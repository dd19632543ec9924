"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.pgserver import PostgresServer, create_postgres_database, drop_postgres_database
from warroom.app import create_app
from warroom.catalog import service as catalog
from warroom.catalog.models import Integration
from warroom.config import Settings
from warroom.db import migrate
from warroom.db.engine import Database
from warroom.models import Base

REPOSITORY = Path(__file__).resolve().parents[1]
# Requests recorded from the real tools (tests/fixtures/README.md; re-record with capture.py).
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The routing key in the captured PagerDuty requests.
FIXTURE_ROUTING_KEY = "R0UT1NGKEY0000000000000000000001"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _git_status() -> set[str] | None:
    """`git status` of the repository as lines, or None outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(done.stdout.splitlines()) if done.returncode == 0 else None


_STATUS_BEFORE: set[str] | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _STATUS_BEFORE
    _STATUS_BEFORE = _git_status()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test run leaves the checkout as it found it: tests write to tmp_path or to the ignored
    test-artifacts/, never into tracked files. New changes fail the run, naming the files."""
    after = _git_status()
    if _STATUS_BEFORE is None or after is None:
        return
    left = sorted(after - _STATUS_BEFORE)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            reporter.write_sep(
                "=", "the test run changed the checkout (or it was edited meanwhile)", red=True
            )
            for line in left:
                reporter.write_line(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    given = os.environ.get("WARROOM_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    server = PostgresServer()
    server.start()
    try:
        url = server.create_database("warroom_test")
        migrate.upgrade(Database(url))
        yield url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own, not yet migrated: a new SQLite file, or a new
    database on the test PostgreSQL server (the shared one is truncated by other tests) for
    tests that start real processes or run migrations themselves."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/own/warroom.db"
        return
    base: str = request.getfixturevalue("postgres_base_url")
    url, name = create_postgres_database(base)
    try:
        yield url
    finally:
        drop_postgres_database(base, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "warroom.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "warroom.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_base_url")
    # One migrated database for the run; each test starts from empty tables.
    db = Database(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@dataclass
class World:
    """The story's cast: three people (one per role), a team, services and integrations."""

    admin_token: str
    responder_token: str
    stakeholder_token: str
    admin_id: int
    responder_id: int
    stakeholder_id: int
    checkout_id: int
    database_id: int
    pagerduty_key: str
    alertmanager_key: str
    generic_key: str

    def auth(self, who: str = "responder") -> dict[str, str]:
        token = {
            "admin": self.admin_token,
            "responder": self.responder_token,
            "stakeholder": self.stakeholder_token,
        }[who]
        return {"Authorization": f"Bearer {token}"}


def build_world(db: Database) -> World:
    with db.session() as s:
        alice = catalog.create_user(
            s, username="alice", name="Alice", role="admin", time_zone="Europe/London"
        )
        bob = catalog.create_user(
            s, username="bob", name="Bob", role="responder", time_zone="America/New_York"
        )
        carol = catalog.create_user(s, username="carol", name="Carol", role="stakeholder")
        tokens = [catalog.create_token(s, u.id, "test")[0] for u in (alice, bob, carol)]
        database = catalog.create_service(s, name="payments-db", tier=1)
        checkout = catalog.create_service(
            s, name="checkout-api", tier=2, depends_on_ids=[database.id]
        )
        pd = catalog.create_integration(s, database.id, "pagerduty", "pd")
        pd.routing_key = FIXTURE_ROUTING_KEY
        am = catalog.create_integration(s, checkout.id, "alertmanager", "am")
        generic = catalog.create_integration(s, checkout.id, "generic", "script")
        keys = (pd.routing_key, am.routing_key, generic.routing_key)
        ids = (alice.id, bob.id, carol.id, checkout.id, database.id)
    return World(tokens[0], tokens[1], tokens[2], *ids, *keys)


@pytest.fixture
def world(db: Database) -> World:
    return build_world(db)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, base_url="http://warroom.test")


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    app = create_app(settings, db)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def quiet_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    """The app without its background paging engine: everything a request does happens in its
    own transaction (paging starts there too), the engine only adds delivery work, and stopping
    its PostgreSQL listener costs about a second per test. Engine tests drive the engine's clock
    themselves; tests/api, tests/oncall, tests/intake and tests/alerts use this as `client`."""
    with TestClient(create_app(settings, db, run_engine=False)) as test_client:
        yield test_client


def count_rows(db: Database, table: str) -> int:
    with db.read_session() as s:
        return int(s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def integration_key(db: Database, integration_type: str) -> str:
    from sqlalchemy import select

    with db.read_session() as s:
        return (
            s.scalars(
                select(Integration.routing_key).where(Integration.type == integration_type)
            ).first()
            or ""
        )


__all__: list[Any] = ["World", "build_world", "count_rows", "fixture_bytes"]
