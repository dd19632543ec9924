"""HTTP endpoints of the intake formats; each answers the way its tool's clients expect."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from warroom.alerts.service import IngestResult
from warroom.errors import JSONBody, error_response
from warroom.intake import alertmanager, generic, mapping, pagerduty
from warroom.intake import openapi as doc
from warroom.intake.committer import IntakeUnavailable
from warroom.intake.common import IntakeError, ParsedRequest

router = APIRouter(include_in_schema=True, tags=["intake"])


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _json_content_type(request: Request) -> bool:
    # Missing is accepted (some senders omit it); a declared non-JSON type is a client mistake.
    ctype = request.headers.get("content-type")
    if not ctype:
        return True
    media = ctype.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _routing_key(request: Request, path_key: str | None) -> str | None:
    if path_key:
        return path_key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _count(request: Request, source: str, parsed: ParsedRequest | None, result: Any) -> None:
    metrics = request.app.state.metrics
    if parsed is not None:
        if parsed.rejected:
            metrics.events_rejected.labels(source, "invalid").inc(len(parsed.rejected))
        if isinstance(result, IngestResult) and result.refused is None:
            metrics.events_received.labels(source).inc(len(parsed.signals))
            if parsed.unmapped:
                metrics.events_unmapped.labels(source).inc(parsed.unmapped)


@router.post(
    "/v2/enqueue",
    summary="PagerDuty Events API v2",
    status_code=202,
    openapi_extra=doc.request_body(doc.PAGERDUTY_EVENT),
    responses=doc.PAGERDUTY_RESPONSES,
)
async def pagerduty_enqueue(request: Request) -> JSONBody:
    metrics = request.app.state.metrics
    settings = request.app.state.settings
    try:
        if not _json_content_type(request):
            raise IntakeError(
                415,
                "Content-Type must be application/json",
                [f"got {request.headers.get('content-type')!r}"],
            )
        body = await _read_body(request, min(settings.max_event_bytes, pagerduty.MAX_BYTES))
        parsed = pagerduty.parse(body)
    except _TooLarge:
        metrics.events_rejected.labels("pagerduty", "too_large").inc()
        return JSONBody(
            {
                "status": "invalid event",
                "message": "Request entity too large",
                "errors": [f"the event is larger than {pagerduty.MAX_BYTES // 1024} KB"],
            },
            status_code=413,
        )
    except IntakeError as err:
        metrics.events_rejected.labels("pagerduty", "invalid").inc()
        return JSONBody(pagerduty.error_body(err), status_code=err.status)
    try:
        result = await request.app.state.committer.submit(parsed)
    except IntakeUnavailable as exc:
        metrics.events_rejected.labels("pagerduty", "unavailable").inc()
        # PagerDuty's clients retry a 5xx (not a 4xx): the same three fields as its other replies.
        return JSONBody(
            {"status": "unavailable", "message": exc.message, "errors": [exc.message]},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if result.archived:
        metrics.events_rejected.labels("pagerduty", "archived").inc()
        # PagerDuty's three fields; a 4xx, so its clients (and Alertmanager's PagerDuty
        # notifier) do not retry an event that will be refused again.
        return JSONBody(
            {
                "status": "invalid event",
                "message": "Service is archived",
                "errors": [f"'routing_key': {result.refused}"],
            },
            status_code=409,
        )
    if result.refused is not None:
        metrics.events_rejected.labels("pagerduty", "routing_key").inc()
        return JSONBody(
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [f"'routing_key': {result.refused}"],
            },
            status_code=400,
        )
    _count(request, "pagerduty", parsed, result)
    return JSONBody(pagerduty.success_body(parsed.signals[0].dedup_key), status_code=202)


async def _keyed_intake(
    request: Request,
    source: str,
    path_key: str | None,
    limit: int,
    parse: Callable[[Request, bytes, str], Awaitable[ParsedRequest]],
    reply: Callable[[ParsedRequest, IngestResult], dict[str, Any]],
    ok_status: int,
) -> JSONBody:
    metrics = request.app.state.metrics
    key = _routing_key(request, path_key)
    if key is None:
        metrics.events_rejected.labels(source, "routing_key").inc()
        return error_response(
            401,
            "a routing key is required: in the URL or as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not _json_content_type(request):
        metrics.events_rejected.labels(source, "invalid").inc()
        return error_response(415, "Content-Type must be application/json")
    try:
        body = await _read_body(request, limit)
    except _TooLarge:
        metrics.events_rejected.labels(source, "too_large").inc()
        return error_response(413, f"the request body is larger than {limit} bytes")
    try:
        parsed = await parse(request, body, key)
    except IntakeError as err:
        metrics.events_rejected.labels(source, "invalid").inc()
        return error_response(err.status, err.message, err.errors)
    try:
        result = await request.app.state.committer.submit(parsed)
    except IntakeUnavailable as exc:
        metrics.events_rejected.labels(source, "unavailable").inc()
        return error_response(503, exc.message, headers={"Retry-After": str(exc.retry_after)})
    if result.archived:
        metrics.events_rejected.labels(source, "archived").inc()
        return error_response(409, result.refused or "the service is archived")
    if result.refused is not None:
        metrics.events_rejected.labels(source, "routing_key").inc()
        status = 404 if result.refused == "unknown routing key" else 400
        message = (
            "unknown routing key: check the integration's URL or rotate and copy it again"
            if status == 404
            else result.refused
        )
        return error_response(status, message)
    _count(request, source, parsed, result)
    return JSONBody(reply(parsed, result), status_code=ok_status)


async def _alertmanager_parse(_request: Request, body: bytes, key: str) -> ParsedRequest:
    return alertmanager.parse(body, key)


async def _generic_parse(request: Request, body: bytes, key: str) -> ParsedRequest:
    """Warroom's generic format, or the integration's mapping when it has one (ADR 20)."""
    cache: mapping.MappingCache = request.app.state.mappings
    entry = cache.cached(key)
    if entry is not None and entry.mapping is None:
        return generic.parse(body, key)
    # A cache miss reads the database, and rendering templates is CPU work: both off the loop.
    return await run_in_threadpool(_mapped_or_generic, cache, body, key)


def _mapped_or_generic(cache: mapping.MappingCache, body: bytes, key: str) -> ParsedRequest:
    entry = cache.get(key)
    if entry.mapping is None:
        return generic.parse(body, key)
    return mapping.parse_mapped(body, key, entry.mapping, entry.integration_id)


def _alertmanager_reply(parsed: ParsedRequest, _result: IngestResult) -> dict[str, Any]:
    return alertmanager.reply(parsed)


def _generic_reply(parsed: ParsedRequest, result: IngestResult) -> dict[str, Any]:
    return {
        "status": "accepted",
        "events": [{"dedup_key": o.dedup_key, "result": o.result} for o in result.outcomes],
        "rejected": [
            {"index": r.index, "dedup_key": r.key, "errors": r.errors} for r in parsed.rejected
        ],
    }


@router.post(
    "/integrations/alertmanager",
    summary="Alertmanager webhook (key in header)",
    openapi_extra=doc.request_body(doc.ALERTMANAGER_MESSAGE, keyed=True),
    responses=doc.KEYED_RESPONSES,
)
@router.post(
    "/integrations/alertmanager/{routing_key}",
    summary="Alertmanager webhook",
    openapi_extra=doc.request_body(doc.ALERTMANAGER_MESSAGE),
    responses=doc.KEYED_RESPONSES,
)
async def alertmanager_webhook(request: Request, routing_key: str | None = None) -> JSONBody:
    limit = request.app.state.settings.max_batch_bytes
    return await _keyed_intake(
        request, "alertmanager", routing_key, limit, _alertmanager_parse, _alertmanager_reply, 200
    )


@router.post(
    "/integrations/generic",
    summary="Generic JSON events (key in header)",
    status_code=202,
    openapi_extra=doc.request_body(doc.GENERIC_EVENTS, keyed=True),
    responses=doc.KEYED_RESPONSES,
)
@router.post(
    "/integrations/generic/{routing_key}",
    summary="Generic JSON events",
    status_code=202,
    openapi_extra=doc.request_body(doc.GENERIC_EVENTS),
    responses=doc.KEYED_RESPONSES,
)
async def generic_events(request: Request, routing_key: str | None = None) -> JSONBody:
    limit = request.app.state.settings.max_event_bytes
    return await _keyed_intake(
        request, "generic", routing_key, limit, _generic_parse, _generic_reply, 202
    )


class IntakeFastPath:
    """Sends intake POSTs straight to their handlers, around FastAPI's routing and dependency
    machinery (the same handler functions; FastAPI still lists them in the OpenAPI document).
    At thousands of events per second that machinery costs more than parsing the event."""

    def __init__(self, app: Any, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            handler: Any = None
            key: str | None = None
            if path == "/v2/enqueue":
                handler = pagerduty_enqueue
            elif path.startswith("/integrations/"):
                kind, _, key = path[len("/integrations/") :].partition("/")
                if "/" not in key:
                    handler = _FAST.get(kind)
            if handler is not None:
                start = time.perf_counter()
                scope["app"] = self.fastapi_app
                request = Request(scope, receive)
                if handler is pagerduty_enqueue:
                    response = await handler(request)
                else:
                    response = await handler(request, key or None)
                await response(scope, receive, send)
                self.fastapi_app.state.metrics.request_latency.labels(
                    "POST",
                    _TEMPLATES[handler]
                    if handler is pagerduty_enqueue or not key
                    else _TEMPLATES[handler] + "/{routing_key}",
                ).observe(time.perf_counter() - start)
                return
        await self.app(scope, receive, send)


_FAST: dict[str, Any] = {"alertmanager": alertmanager_webhook, "generic": generic_events}
_TEMPLATES: dict[Any, str] = {
    pagerduty_enqueue: "/v2/enqueue",
    alertmanager_webhook: "/integrations/alertmanager",
    generic_events: "/integrations/generic",
}
