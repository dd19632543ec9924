"""The heartbeat ping endpoints (healthchecks' URLs): the ping key in the path is the credential.

`/ping/{key}` (success), `/ping/{key}/start`, `/ping/{key}/fail` and `/ping/{key}/{exit status}`
take GET, POST and HEAD; a POST body is kept (cut to 10,000 characters). An unknown key is 404
and stores nothing. Each ping is answered after its commit.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from warroom.db.base import utcnow
from warroom.errors import error_response
from warroom.monitors import service
from warroom.monitors.service import PING_BODY_CHARS, Ping

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

    if not await run_in_threadpool(record):
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
        )
