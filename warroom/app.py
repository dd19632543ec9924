"""The ASGI app factory: mounts intake, the REST API, health and metrics on one FastAPI app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from warroom import errors
from warroom.alerts.service import IngestResult
from warroom.api import catalog as catalog_api
from warroom.api import comms as comms_api
from warroom.api import docs as api_docs
from warroom.api import grouping as grouping_api
from warroom.api import incidents as incidents_api
from warroom.api import major as major_api
from warroom.api import monitors as monitors_api
from warroom.api import noise as noise_api
from warroom.api import notifications as paging_api
from warroom.api import oncall as oncall_api
from warroom.api import openapi as api_openapi
from warroom.api import oversight as oversight_api
from warroom.api import reports as reports_api
from warroom.api import reviews as reviews_api
from warroom.api import statuspage as statuspage_api
from warroom.config import Settings, get_settings
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.engine.runner import Engine
from warroom.instance import secret_key
from warroom.intake.committer import GroupCommitter
from warroom.intake.mail_listener import MailListener
from warroom.intake.mapping import MappingCache, stored_mapping
from warroom.intake.routes import IntakeFastPath
from warroom.intake.routes import router as intake_router
from warroom.metrics import LatencyMiddleware, Metrics
from warroom.monitors.logs import LogReceiver
from warroom.monitors.routes import router as ping_router
from warroom.monitors.runner import MonitorLoop
from warroom.reports import service as reports
from warroom.reports.public import RateLimit
from warroom.security import redact_routing_keys
from warroom.web import install as install_web


class RedactRoutingKeys(logging.Filter):
    """Access logs print request paths; intake paths carry routing keys."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_routing_keys(a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_routing_keys(record.msg)
        return True


def install_log_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "warroom"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactRoutingKeys) for f in logger.filters):
            logger.addFilter(RedactRoutingKeys())


def create_app(
    settings: Settings | None = None, db: Database | None = None, run_engine: bool = True
) -> FastAPI:
    """The app; with run_engine the paging engine runs in this process (`serve --role all`)."""
    settings = settings or get_settings()
    db = db or Database(settings.database_url)
    metrics = Metrics(db)
    install_log_redaction()
    engine_box: list[Engine] = []
    monitor_box: list[MonitorLoop] = []

    def wake() -> None:
        if engine_box:
            engine_box[0].wake()

    def report_by_mail(service_id: int, description: str, name: str, address: str) -> None:
        with db.session() as session:
            reports.submit_report(
                session,
                service_id=service_id,
                description=description,
                reporter_id=None,
                reporter_name=name,
                source="mail",
                now=utcnow(),
                matrix=settings.priority_matrix,
                reporter_email=address,
            )
        wake()

    def after_commit(results: list[IngestResult]) -> None:
        if any(r.opened_incidents for r in results):
            wake()

    committer = GroupCommitter(
        db,
        settings.priority_matrix,
        settings.group_commit_max_alerts,
        on_commit=after_commit,
        queue_limit=settings.intake_queue_limit,
        deadline=settings.intake_deadline_seconds,
    )

    # Log rules count syslog lines (listeners off unless a port is set) and JSON log lines.
    logs = LogReceiver(
        db,
        committer.submit,
        host=settings.syslog_host,
        udp_port=settings.syslog_udp_port,
        tcp_port=settings.syslog_tcp_port,
    )

    mail: list[MailListener] = []

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        app_.state.secret = secret_key(db, settings.secret_key)
        committer.start()
        logs.start()
        if settings.inbound_smtp_port is not None:
            listener = MailListener(
                db,
                committer.submit,
                host=settings.inbound_smtp_host,
                port=settings.inbound_smtp_port,
                max_bytes=settings.inbound_smtp_max_bytes,
                dedup_rule=settings.email_dedup,
                report=report_by_mail,
            )
            listener.start()
            mail.append(listener)
        if run_engine:
            engine = Engine(db, settings, app_.state.secret, metrics=metrics)
            engine_box.append(engine)
            engine.start()
            # Heartbeat sweeps and checks: a sibling of the engine with its own thread pool.
            monitors = MonitorLoop(db, settings, on_commit=after_commit)
            monitor_box.append(monitors)
            monitors.start()
        try:
            yield
        finally:
            for listener in mail:
                listener.stop()
            logs.stop()
            committer.stop()
            for loop in monitor_box:
                loop.stop()
            for engine in engine_box:
                engine.stop()
            # Close every pooled connection: SQLite checkpoints and removes its -wal/-shm files
            # when the last one closes (the engine stays usable: it reconnects on demand).
            db.dispose()

    app = FastAPI(
        title="Warroom",
        version="0.1.0",
        description="Self-hosted incident management. Authenticate with "
        "`Authorization: Bearer <API token>` (create one with `warroom token create`).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    api_docs.install(app)
    app.state.settings = settings
    app.state.db = db
    app.state.metrics = metrics
    app.state.committer = committer

    def load_mapping(routing_key: str) -> tuple[int, dict[str, Any] | None] | None:
        with db.read_session() as session:
            return stored_mapping(session, routing_key)

    app.state.mappings = MappingCache(load_mapping)
    app.state.logs = logs
    app.state.public_reports = RateLimit()
    app.state.mail = mail
    metrics.watch_committer(committer)
    app.state.wake = wake
    errors.install(app)
    app.include_router(intake_router)
    app.include_router(ping_router)
    app.include_router(catalog_api.router)
    app.include_router(incidents_api.router)
    app.include_router(comms_api.router)
    install_web(app)
    app.include_router(paging_api.router)
    app.include_router(paging_api.links_router)
    app.include_router(oncall_api.router)
    app.include_router(reviews_api.router)
    app.include_router(statuspage_api.router)
    app.include_router(oversight_api.router)
    app.include_router(major_api.router)
    app.include_router(monitors_api.router)
    app.include_router(reports_api.router)
    app.include_router(reports_api.public_router)
    app.include_router(noise_api.router)
    app.include_router(grouping_api.router)

    @app.get("/healthz", tags=["health"], summary="The process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The database answers")
    def readyz(request: Request) -> Any:
        try:
            with request.app.state.db.read_session() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:
            return errors.error_response(503, f"database unreachable: {type(exc).__name__}")
        return {"status": "ready"}

    @app.get(
        "/metrics", tags=["health"], summary="Prometheus metrics", response_class=PlainTextResponse
    )
    def prometheus_metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    api_openapi.install(app)
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    app.add_middleware(IntakeFastPath, fastapi_app=app)
    return app
