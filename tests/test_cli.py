"""The `warroom` command line, as an operator uses it to set up and test an installation."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from tests.conftest import World, count_rows
from tests.pgserver import free_port
from warroom.app import create_app
from warroom.catalog.models import Integration, User
from warroom.cli import app as cli
from warroom.config import Settings
from warroom.db.engine import Database
from warroom.incidents.models import Incident
from warroom.security import verify_password

runner = CliRunner()


def warroom(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, [*args, "--database-url", db_url])
    return result.exit_code, result.stdout, result.stderr


def test_migrate_creates_the_schema_and_is_idempotent(own_database_url: str) -> None:
    code, out, _ = warroom(own_database_url, "migrate")
    assert code == 0 and out.strip() == "database is up to date"
    db = Database(own_database_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
        assert {
            "users",
            "services",
            "integrations",
            "alerts",
            "incidents",
            "timeline_events",
        } <= tables
        assert count_rows(db, "users") == 0
    finally:
        db.dispose()
    code, out, _ = warroom(own_database_url, "migrate")
    assert code == 0 and out.strip() == "database is up to date"


def test_user_create_admin_with_password_then_a_token_that_works(
    db_url: str, db: Database, quiet_client: TestClient
) -> None:
    code, out, err = warroom(
        db_url,
        "user",
        "create",
        "alice",
        "--admin",
        "--name",
        "Alice",
        "--password",
        "correct horse battery",
    )
    assert code == 0, err
    assert re.fullmatch(r"created user alice \(id \d+, role admin\)\n", out)
    with db.read_session() as s:
        user = s.scalars(select(User).where(User.username == "alice")).one()
        assert user.role == "admin" and user.name == "Alice"
        assert verify_password(user.password_hash, "correct horse battery")
        assert not verify_password(user.password_hash, "wrong")

    code, out, err = warroom(db_url, "token", "create", "alice", "--name", "laptop")
    assert code == 0, err
    token = out.strip()
    assert token.startswith("wr_") and len(token) > 40
    client = quiet_client
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "alice"
    assert me.json()["role"] == "admin"


def test_user_create_errors_are_clear(db_url: str, db: Database) -> None:
    assert warroom(db_url, "user", "create", "bob")[0] == 0
    code, out, err = warroom(db_url, "user", "create", "bob", "--admin")
    assert code == 1 and "user 'bob' already exists" in err
    code, _, err = warroom(db_url, "user", "create", "carol", "--password", "short")
    assert code == 1 and "password" in err and "8 characters" in err
    code, _, err = warroom(db_url, "user", "create", "carol", "--time-zone", "Mars/Olympus")
    assert code == 1 and "time_zone" in err
    code, _, err = warroom(db_url, "user", "create", "carol", "--role", "overlord")
    assert code == 1 and "role" in err
    with db.read_session() as s:
        assert list(s.scalars(select(User.username))) == ["bob"]


def test_token_for_an_unknown_user_says_how_to_create_one(db_url: str) -> None:
    code, out, err = warroom(db_url, "token", "create", "nobody")
    assert code == 1 and out == ""
    assert "no user 'nobody'; create one with `warroom user create`" in err


def test_integration_create_prints_a_working_routing_key(
    db_url: str, db: Database, world: World, quiet_client: TestClient
) -> None:
    code, out, err = warroom(
        db_url,
        "integration",
        "create",
        "--service",
        "checkout-api",
        "--type",
        "generic",
        "--name",
        "cron",
    )
    assert code == 0, err
    key = out.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    with db.read_session() as s:
        integ = s.scalars(select(Integration).where(Integration.routing_key == key)).one()
        assert (integ.service_id, integ.type, integ.name) == (world.checkout_id, "generic", "cron")
    # By id works too, and each integration gets its own key.
    code, out, _ = warroom(
        db_url,
        "integration",
        "create",
        "--service",
        str(world.database_id),
        "--type",
        "alertmanager",
    )
    assert code == 0 and re.fullmatch(r"[0-9a-f]{32}\n", out) and out.strip() != key
    client = quiet_client
    r = client.post(
        f"/integrations/generic/{key}",
        json={"summary": "Nightly backup failed", "severity": "error"},
    )
    assert r.status_code == 202
    assert count_rows(db, "alerts") == 1


def test_integration_create_errors_are_clear(db_url: str, db: Database, world: World) -> None:
    before = count_rows(db, "integrations")
    code, out, err = warroom(
        db_url, "integration", "create", "--service", "nope", "--type", "generic"
    )
    assert code == 1 and out == "" and "no service 'nope'" in err
    code, out, err = warroom(
        db_url, "integration", "create", "--service", "checkout-api", "--type", "nagios"
    )
    assert code == 1 and out == ""
    assert "--type must be one of pagerduty, alertmanager, generic" in err
    code, _, err = warroom(db_url, "integration", "create", "--service", "999", "--type", "generic")
    assert code == 1 and "no service '999'" in err
    assert count_rows(db, "integrations") == before


@pytest.fixture
def live_server(settings: Settings, db: Database) -> Iterator[str]:
    """The app on a real port, served by uvicorn in a thread."""
    port = free_port()
    app = create_app(settings, db, run_engine=False)  # `send` needs intake only
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def send(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["send", *args])
    return result.exit_code, result.stdout, result.stderr


def test_send_triggers_acknowledges_and_resolves_on_a_running_server(
    live_server: str, world: World, db: Database
) -> None:
    key = world.pagerduty_key
    code, out, err = send(
        "--routing-key",
        key,
        "--url",
        live_server,
        "--dedup-key",
        "cli-1",
        "--summary",
        "Replication lag 30s",
        "--severity",
        "error",
    )
    assert code == 0, err
    assert '"status":"success"' in out and '"dedup_key":"cli-1"' in out
    with db.read_session() as s:
        [inc] = s.scalars(select(Incident)).all()
        assert inc.title == "Replication lag 30s" and inc.status == "triggered"
        assert inc.service_id == world.database_id
    assert (
        send(
            "--routing-key",
            key,
            "--url",
            live_server,
            "--action",
            "acknowledge",
            "--dedup-key",
            "cli-1",
        )[0]
        == 0
    )
    assert (
        send(
            "--routing-key",
            key,
            "--url",
            live_server,
            "--action",
            "resolve",
            "--dedup-key",
            "cli-1",
        )[0]
        == 0
    )
    with db.read_session() as s:
        assert s.scalars(select(Incident.status)).one() == "resolved"


def test_send_failures_exit_non_zero_with_the_reason(live_server: str, world: World) -> None:
    code, out, _ = send("--routing-key", "0123456789abcdef0123456789abcdef", "--url", live_server)
    assert code == 1 and "unknown routing key" in out
    code, out, _ = send(
        "--routing-key", world.pagerduty_key, "--url", live_server, "--severity", "fatal"
    )
    assert code == 1 and "'payload.severity' must be one of critical, error, warning, info" in out
    code, out, _ = send("--routing-key", world.alertmanager_key, "--url", live_server)
    assert code == 1 and "alertmanager integration" in out
    unused = f"http://127.0.0.1:{free_port()}"
    code, _, err = send("--routing-key", world.pagerduty_key, "--url", unused)
    assert code == 1 and f"could not reach Warroom at {unused}" in err


@pytest.mark.parametrize(
    "command",
    [
        ("integration", "create", "--service", "checkout-api", "--type", "generic"),
        ("token", "create", "alice"),
    ],
)
def test_an_overlong_name_is_refused_with_the_limit(
    command: tuple[str, ...], db_url: str, db: Database, world: World
) -> None:
    warroom(db_url, "user", "create", "alice")
    code, out, err = warroom(db_url, *command, "--name", "n" * 121)
    assert code == 1 and out == ""
    assert "--name is at most 120 characters" in err
    assert count_rows(db, "api_tokens") == 3  # the world's three people
    assert count_rows(db, "integrations") == 3
