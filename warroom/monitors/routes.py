"""The heartbeat ping endpoints and the JSON log lines endpoint.

Heartbeat pings (healthchecks' URLs): the ping key in the path is the credential.

`/ping/{key}` (success), `/ping/{key}/start`, `/ping/{key}/fail` and `/ping/{key}/{exit status}`
take GET, POST and HEAD; a POST body is kept (cut to 10,000 characters). An unknown key is 404
and stores nothing. Each ping is answered after its commit.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from warroom.catalog.models import Integration, Service
from warroom.catalog.service import MONITOR_INTEGRATION
from warroom.db.base import utcnow
from warroom.errors import ApiError, error_response, responses
from warroom.monitors import service
from warroom.monitors.logs import json_line
from warroom.monitors.service import PING_BODY_CHARS, Ping
from warroom.monitors.syslog import LogLine

router = APIRouter(tags=["heartbeats"])
# Bytes of a ping body read at most; the rest of a larger body is not read (and not kept).
MAX_PING_BYTES = 100_000


async def _body(request: Request) -> tuple[str, bool]:
    if request.method != "POST":
        return "", False
    chunks: list[bytes] = []
    total = 0
    truncated = False
    async for chunk in request.stream():
        if total + len(chunk) > MAX_PING_BYTES:
            chunks.append(chunk[: MAX_PING_BYTES - total])
            truncated = True
            break
        chunks.append(chunk)
        total += len(chunk)
    text = b"".join(chunks).decode("utf-8", errors="replace").replace("\x00", "")
    return text[:PING_BODY_CHARS], truncated or len(text) > PING_BODY_CHARS


async def _ping(request: Request, key: str, kind: str, exit_status: int | None = None) -> object:
    body, truncated = await _body(request)
    client = request.client
    ping = Ping(
        kind=kind,
        exit_status=exit_status,
        method=request.method,
        remote_addr=client.host if client else "",
        user_agent=request.headers.get("user-agent", ""),
        body=body,
        body_truncated=truncated,
    )
    app = request.app

    def record() -> bool:
        with app.state.db.session() as session:
            now = utcnow()
            hb = service.record_ping(session, key, ping, now, app.state.settings.priority_matrix)
            return hb is not None

    try:
        known = await run_in_threadpool(record)
    except ApiError as exc:  # the heartbeat's service is archived
        return error_response(exc.status, exc.message)
    if not known:
        return error_response(404, "unknown ping key: check the heartbeat's ping URL")
    app.state.wake()
    return PlainTextResponse("OK")


async def ping_success(request: Request, key: str) -> object:
    return await _ping(request, key, "success")


async def ping_start(request: Request, key: str) -> object:
    return await _ping(request, key, "start")


async def ping_fail(request: Request, key: str) -> object:
    return await _ping(request, key, "fail")


async def ping_exit_status(request: Request, key: str, exit_status: str) -> object:
    if not exit_status.isascii() or not exit_status.isdigit() or int(exit_status) > 255:
        return error_response(
            404, "unknown ping URL: use /start, /fail or an exit status from 0 to 255"
        )
    return await _ping(request, key, "success", int(exit_status))


# GET and POST are in the OpenAPI document, each with an operation id of its own; HEAD (for
# `curl -I` and uptime probes) answers the same, and is left out of the document.
for _path, _handler, _summary in (
    ("/ping/{key}", ping_success, "Heartbeat: success"),
    ("/ping/{key}/start", ping_start, "Heartbeat: a run started"),
    ("/ping/{key}/fail", ping_fail, "Heartbeat: the run failed"),
    ("/ping/{key}/{exit_status}", ping_exit_status, "Heartbeat: a run's exit status"),
):
    for _method in ("GET", "POST", "HEAD"):
        router.add_api_route(
            _path,
            _handler,
            methods=[_method],
            summary=_summary,
            operation_id=f"{_handler.__name__}_{_method.lower()}",
            include_in_schema=_method != "HEAD",
            responses=responses(404, 409, 422),
        )


# --- JSON log lines ---------------------------------------------------------------------------

MAX_LOG_LINES = 10_000


def _monitor_key_service(db: Any, key: str) -> tuple[str, bool] | None:
    """The name of the service the monitor key belongs to and whether it is archived."""
    with db.read_session() as session:
        row = session.execute(
            select(Service.name, Service.archived_at)
            .join(Integration, Integration.service_id == Service.id)
            .where(Integration.routing_key == key, Integration.type == MONITOR_INTEGRATION)
        ).first()
    return None if row is None else (row[0], row[1] is not None)


async def _log_lines(request: Request, path_key: str | None) -> object:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    key = path_key or (token.strip() if scheme.lower() == "bearer" else "")
    if not key:
        return error_response(
            401,
            "the routing key of the service's 'Warroom monitors' integration is required: "
            "in the URL or as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    limit = request.app.state.settings.max_batch_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return error_response(413, f"the request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return error_response(413, f"the request body is larger than {limit} bytes")
    found = await run_in_threadpool(_monitor_key_service, request.app.state.db, key)
    if found is None:
        return error_response(404, "unknown routing key: use the 'Warroom monitors' integration's")
    if found[1]:
        return error_response(
            409, f"service {found[0]!r} is archived: its log rules do not count lines"
        )
    items, errors = _parse_lines(bytes(body))
    if errors and not items:
        return error_response(400, "no valid log line in the body", errors[:20])
    if len(items) > MAX_LOG_LINES:
        return error_response(413, f"at most {MAX_LOG_LINES} lines per request")
    receiver = request.app.state.logs
    decisions = receiver.observe(items)
    if decisions:
        await receiver.send(decisions)
    return JSONResponse(
        {"accepted": len(items), "rejected": errors[:100], "alerts": len(decisions)},
        status_code=202,
    )


async def _keyless_log_lines(request: Request) -> object:
    return await _log_lines(request, None)


async def log_lines(request: Request, routing_key: str) -> object:
    return await _log_lines(request, routing_key)


def _parse_lines(body: bytes) -> tuple[list[LogLine], list[str]]:
    """A JSON array of objects, or one JSON object per line (NDJSON)."""
    text = body.strip()
    values: list[Any] = []
    errors: list[str] = []
    if text.startswith(b"["):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return [], [f"JSON parse error: {exc}"]
        values = parsed if isinstance(parsed, list) else []
    else:
        for number, raw in enumerate(text.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                values.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                errors.append(f"line {number}: not a JSON object")
    lines: list[LogLine] = []
    for index, value in enumerate(values):
        line = json_line(value)
        if line is None:
            errors.append(f"item {index}: not a JSON object")
        else:
            lines.append(line)
    return lines, errors


for _path in ("/logs", "/logs/{routing_key}"):
    router.add_api_route(
        _path,
        log_lines if _path == "/logs/{routing_key}" else _keyless_log_lines,
        methods=["POST"],
        summary="JSON log lines for the log rules",
        status_code=202,
        tags=["logs"],
        responses=responses(400, 401, 404, 413, 415, 422),
    )
