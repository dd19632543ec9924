"""Live updates over Server-Sent Events: the stream says *that* something changed, not what.

Each stream polls a cheap version stamp (maxima and counts read along indexes) every half
second, in a short read transaction that returns its connection to the pool before sleeping.
When the stamp changes it sends the new tag; the page then fetches the fragment it needs over
plain HTTP, with the user's session checked again. No broker: the database is the only
coordinator, so this works the same with one process or several.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from warroom.db.engine import Database
from warroom.web.auth import PageError, Viewer
from warroom.web.queries import live_stamps
from warroom.web.router import router, to_int

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# A stream ends after this long and the browser reconnects at once (EventSource does): the
# session is checked again on reconnect, and a server shutting down waits at most this long.
STREAM_SECONDS = 60.0
RETRY_MS = 1000


def _server_exiting() -> bool:
    """True once uvicorn has been asked to stop, so streams end instead of holding shutdown.

    uvicorn waits for open responses before it exits; its SIGTERM handler is a method of its
    Server, whose should_exit flag says a shutdown started. Best effort: anything else (tests,
    another server) reads as False and STREAM_SECONDS bounds the wait.
    """
    handler = signal.getsignal(signal.SIGTERM)
    return bool(getattr(getattr(handler, "__self__", None), "should_exit", False))


async def version_events(
    read_version: Callable[[], object | None],
    is_disconnected: Callable[[], Awaitable[bool]],
    *,
    poll_seconds: float = POLL_SECONDS,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
    stream_seconds: float = STREAM_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    exiting: Callable[[], bool] = _server_exiting,
    encode: Callable[[object], str] = live_stamps.version_tag,
    event: str = "version",
) -> AsyncIterator[str]:
    """The SSE text of a stream: a `version` event at the start and after each change.

    A version of None means the thing watched is gone: one `gone` event, then the end.
    """
    yield f"retry: {RETRY_MS}\n\n"
    started = last_sent = clock()
    last: object = object()
    while True:
        if await is_disconnected() or exiting():
            return
        # In a worker thread: the query is blocking I/O and must not stall the event loop.
        version = await run_in_threadpool(read_version)
        if version is None:
            yield "event: gone\ndata: {}\n\n"
            return
        if version != last:
            last = version
            yield f"event: {event}\ndata: {encode(version)}\n\n"
            last_sent = clock()
        elif clock() - last_sent >= keepalive_seconds:
            yield ": keepalive\n\n"  # a comment: keeps proxies from closing an idle stream
            last_sent = clock()
        if clock() - started >= stream_seconds:
            return
        await sleep(poll_seconds)


def version_reader(db: Database, incident_id: int | None) -> Callable[[], object | None]:
    def read() -> object | None:
        with db.read_session() as session:
            if incident_id is None:
                return live_stamps.dashboard_version(session)
            return live_stamps.incident_version(session, incident_id)

    return read


# One stream serves every tab of a browser (ADR 10): its shared worker asks for the union of
# what the tabs show, e.g. ?topics=dashboard,incident:12,incident:40.
MAX_TOPICS = 50


def parse_topics(raw: str | None) -> list[str] | None:
    """The topics asked for, deduplicated and in order; None if one is not a topic."""
    if raw is None:
        return None
    topics: list[str] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        kind, _, ident = part.partition(":")
        if part == "dashboard" or (kind == "incident" and to_int(ident, 1) is not None):
            topic = part if part == "dashboard" else f"incident:{int(ident)}"
            if topic not in topics:
                topics.append(topic)
        else:
            return None
    return topics[:MAX_TOPICS]


def topics_reader(db: Database, topics: list[str]) -> Callable[[], dict[str, str | None]]:
    """Every topic's tag from one short read transaction; None for an incident that is gone."""

    def read() -> dict[str, str | None]:
        tags: dict[str, str | None] = {}
        with db.read_session() as session:
            for topic in topics:
                if topic == "dashboard":
                    version: object | None = live_stamps.dashboard_version(session)
                else:
                    version = live_stamps.incident_version(session, int(topic.split(":")[1]))
                tags[topic] = None if version is None else live_stamps.version_tag(version)
        return tags

    return read


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@router.get("/events/versions")
def event_versions(request: Request, me: Viewer) -> JSONResponse:
    """The topics' tags now: the polling fallback of browsers without shared workers."""
    topics = parse_topics(request.query_params.get("topics", ""))
    if topics is None:
        raise PageError(404, "There is no such live topic.", title="Not found")
    response = JSONResponse(topics_reader(request.app.state.db, topics)())
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/events/stream")
def event_stream(request: Request, me: Viewer) -> StreamingResponse:
    """?topics=dashboard,incident:ID,... follows several pages in one stream (`versions`
    events: a JSON map of topic to tag). The single-page forms: ?incident=ID follows one war
    room; without either, the dashboard."""
    topics = parse_topics(request.query_params.get("topics"))
    if topics is not None:
        events = version_events(
            topics_reader(request.app.state.db, topics),
            request.is_disconnected,
            stream_seconds=STREAM_SECONDS,
            encode=_json,
            event="versions",
        )
    else:
        incident_id = to_int(request.query_params.get("incident"), 1)
        events = version_events(
            version_reader(request.app.state.db, incident_id),
            request.is_disconnected,
            stream_seconds=STREAM_SECONDS,
        )
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
