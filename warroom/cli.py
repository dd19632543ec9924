"""The `warroom` command: serve, migrate, demo, user, token, integration, send and oncall."""

from __future__ import annotations

import gc
import sys
from typing import Annotated, Optional

import httpx
import orjson
import typer
from sqlalchemy import select

from warroom.config import Settings, get_settings
from warroom.db.engine import Database

app = typer.Typer(
    help="Warroom: self-hosted incident management.", no_args_is_help=True, add_completion=False
)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
integration_app = typer.Typer(help="Manage integrations.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(integration_app, name="integration")

DbUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="WARROOM_DATABASE_URL",  # noqa: UP045
        help="SQLAlchemy URL; default: SQLite in the data dir",
    ),
]


def _settings(database_url: str | None) -> Settings:
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


def _db(database_url: str | None) -> Database:
    from warroom.db import migrate

    db = Database(_settings(database_url).database_url)
    migrate.upgrade(db)
    return db


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


NAME_MAX = 120  # api_tokens.name and integrations.name; PostgreSQL refuses longer values


def _check_name(name: str) -> None:
    if len(name) > NAME_MAX:
        _fail(f"--name is at most {NAME_MAX} characters")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    database_url: DbUrl = None,
    demo: Annotated[bool, typer.Option(help="Seed demo data and print how to use it")] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request")] = False,
    role: Annotated[
        str,
        typer.Option(help="all: API and engine; api: HTTP only; engine: paging engine only"),
    ] = "all",
) -> None:
    """Migrate the database and run the HTTP API, intake and engine in one process.

    On PostgreSQL, run as many `--role api` and `--role engine` processes as you like; on
    SQLite exactly one process, with --role all."""
    if role not in ("all", "api", "engine"):
        _fail("--role must be all, api or engine")
    import uvicorn

    from warroom.app import create_app

    settings = _settings(database_url)
    if role != "all" and settings.database_url.startswith("sqlite"):
        # One SQLite file has exactly one process running the engine, and it serves the API
        # too: an api-only process would page nobody, a second engine would fight the first.
        _fail(
            f"--role {role} needs PostgreSQL; on SQLite run one `warroom serve` (--role all), "
            "which serves the API and runs the paging engine"
        )
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    if "WARROOM_BASE_URL" not in __import__("os").environ:
        settings = settings.model_copy(update={"base_url": base})
    db = _db(settings.database_url)
    if demo:
        from warroom import demo as demo_data
        from warroom.instance import secret_key

        secret = secret_key(db, settings.secret_key)
        with db.session() as session:
            info = demo_data.prepare(session, secret)
        typer.echo(demo_data.banner(info, settings.base_url))
    else:
        _say_how_to_start(db)
    if role == "engine":
        _run_engine(db, settings)
        return
    from warroom.intake.routes import IntakeFastPath

    app_ = create_app(settings, db, run_engine=role == "all")
    # What is loaded by now (modules, routes, schemas: ~180,000 objects) lives as long as the
    # process. Frozen, the cyclic GC's full collections stop walking it: unfrozen, one ran every
    # ~10 dashboard views and took 80-100 ms of that request (docs/performance.md, issue 4).
    gc.collect()
    gc.freeze()
    # Outermost, so intake POSTs skip every middleware layer FastAPI adds (see ADR 1).
    uvicorn.run(
        IntakeFastPath(app_, app_),
        host=host,
        port=port,
        access_log=access_log,
        log_level=settings.log_level,
        loop="uvloop",
        http="httptools",
        server_header=False,
    )


def _say_how_to_start(db: Database) -> None:
    """An empty installation: say how to make the first admin rather than show a sign-in
    page nobody can pass."""
    from warroom.catalog.models import User

    with db.read_session() as session:
        anyone = session.scalar(select(User.id).where(User.role == "admin").limit(1))
    if anyone is None:
        typer.echo(
            "No admin yet. Create the first one, then sign in:\n"
            "  warroom user create NAME --admin --password '...'\n"
            "(or start with --demo for demo data and a demo admin)",
            err=True,
        )


def _run_engine(db: Database, settings: Settings) -> None:
    import signal
    import threading

    from warroom.engine.runner import Engine
    from warroom.instance import secret_key
    from warroom.monitors.runner import MonitorLoop

    engine = Engine(db, settings, secret_key(db, settings.secret_key))
    # Heartbeat sweeps and checks run beside the engine, on their own threads.
    monitors = MonitorLoop(db, settings, on_commit=lambda _results: engine.wake())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    engine.start()
    monitors.start()
    typer.echo(f"engine {engine.identity} running", err=True)
    stop.wait()
    monitors.stop()
    engine.stop()


@app.command()
def migrate(database_url: DbUrl = None) -> None:
    """Bring the database schema up to date."""
    _db(database_url)
    typer.echo("database is up to date")


@app.command(name="demo")
def demo_command(database_url: DbUrl = None) -> None:
    """Seed the demo teams, users, services and integrations (once) and print credentials."""
    from warroom import demo as demo_data
    from warroom.instance import secret_key

    settings = _settings(database_url)
    db = _db(database_url)
    secret = secret_key(db, settings.secret_key)
    with db.session() as session:
        info = demo_data.prepare(session, secret)
    typer.echo(demo_data.banner(info, settings.base_url))


@app.command()
def oncall(
    at: Annotated[
        str | None, typer.Option(help="ISO 8601 instant with a zone; default: now")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Print who is on call on every schedule and until when, and every paging warning."""
    from datetime import datetime

    from warroom.common.clock import utcnow
    from warroom.errors import ApiError
    from warroom.oncall import schedules, views

    instant = utcnow()
    if at is not None:
        try:
            instant = datetime.fromisoformat(at)
            schedules.check_instant(instant, "--at")
        except (ValueError, ApiError) as exc:
            _fail(f"--at: {getattr(exc, 'message', exc)} (e.g. 2026-11-27T09:00:00Z)")
    db = _db(database_url)
    with db.read_session() as session:
        statuses, warnings = views.overview(session, instant)
    typer.echo(views.overview_text(instant, statuses, warnings))


@user_app.command("create")
def user_create(
    username: str,
    name: Annotated[str, typer.Option(help="Display name")] = "",
    email: Annotated[str, typer.Option()] = "",
    time_zone: Annotated[str, typer.Option("--time-zone", help="IANA zone")] = "UTC",
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role")] = False,
    role: Annotated[str, typer.Option(help="admin, responder or stakeholder")] = "responder",
    password: Annotated[
        str | None,
        typer.Option(  # noqa: UP045
            help="Password for the web app; prompted if omitted and stdin is a terminal"
        ),
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Create a user."""
    from pydantic import ValidationError

    from warroom.api.schemas import UserIn
    from warroom.catalog import service as catalog

    if password is None and sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        body = UserIn(
            username=username,
            name=name,
            email=email,
            time_zone=time_zone,
            role="admin" if admin else role,  # type: ignore[arg-type]
            password=password,
        )
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        return
    db = _db(database_url)
    from warroom.catalog.models import User

    with db.session() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            _fail(f"user {username!r} already exists")
        user = catalog.create_user(session, **body.model_dump())
        typer.echo(f"created user {user.username} (id {user.id}, role {user.role})")


@token_app.command("create")
def token_create(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    database_url: DbUrl = None,
) -> None:
    """Create an API token for a user and print it (only its hash is stored)."""
    from warroom.catalog import service as catalog
    from warroom.catalog.models import User

    _check_name(name)
    db = _db(database_url)
    with db.session() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            _fail(f"no user {username!r}; create one with `warroom user create`")
            return
        token, _ = catalog.create_token(session, user.id, name)
    typer.echo(token)


@integration_app.command("create")
def integration_create(
    service: Annotated[str, typer.Option("--service", help="Service name or id")],
    type_: Annotated[str, typer.Option("--type", help="pagerduty, alertmanager or generic")],
    name: Annotated[str, typer.Option(help="Label, e.g. the sending tool")] = "",
    database_url: DbUrl = None,
) -> None:
    """Create an integration on a service and print its routing key."""
    from warroom.catalog import service as catalog
    from warroom.catalog.models import INTEGRATION_TYPES, Service

    if type_ not in INTEGRATION_TYPES:
        _fail(f"--type must be one of {', '.join(INTEGRATION_TYPES)}")
    _check_name(name)
    db = _db(database_url)
    with db.session() as session:
        query = select(Service).where(
            (Service.id == int(service)) if service.isdigit() else (Service.name == service)
        )
        svc = session.scalars(query).first()
        if svc is None:
            _fail(f"no service {service!r}")
            return
        integ = catalog.create_integration(session, svc.id, type_, name)
    typer.echo(integ.routing_key)


@app.command()
def send(
    routing_key: Annotated[str, typer.Option("--routing-key", help="A pagerduty-type key")],
    summary: Annotated[str, typer.Option()] = "Test event from warroom send",
    severity: Annotated[str, typer.Option(help="critical, error, warning or info")] = "critical",
    action: Annotated[str, typer.Option(help="trigger, acknowledge or resolve")] = "trigger",
    dedup_key: Annotated[Optional[str], typer.Option("--dedup-key")] = None,  # noqa: UP045
    source: Annotated[str, typer.Option()] = "warroom-cli",
    url: Annotated[str, typer.Option(envvar="WARROOM_BASE_URL")] = "http://127.0.0.1:8080",
) -> None:
    """Send a test event (PagerDuty Events v2 format) to a running Warroom."""
    event: dict[str, object] = {"routing_key": routing_key, "event_action": action}
    if dedup_key:
        event["dedup_key"] = dedup_key
    if action == "trigger":
        event["payload"] = {"summary": summary, "source": source, "severity": severity}
    try:
        response = httpx.post(
            url.rstrip("/") + "/v2/enqueue",
            content=orjson.dumps(event),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        _fail(f"could not reach Warroom at {url}: {exc}")
        return
    typer.echo(response.text)
    if response.status_code >= 300:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
