"""One error format for the REST API: {"error": {"status", "code", "message", "details"}}."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}


# How long a client is asked to wait after a 503 (a database that refused a commit, or is
# restarting): long enough for a restart or a lock to clear, short for a person retrying.
RETRY_AFTER_SECONDS = 5
# What each status means in this API, for the OpenAPI document.
MEANINGS = {
    400: "The body is not valid JSON",
    401: "No API token, or one that is revoked or whose user is deactivated",
    403: "The token's role may not do this",
    404: "No such resource",
    405: "The path does not take this method; `Allow` lists those it takes",
    409: "Refused by the current state (a name in use, a transition not allowed)",
    413: "The body is too large",
    415: "The body is not JSON (Content-Type)",
    422: "The request is invalid: `details` names each field and why",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: "The database is unavailable; nothing was stored. Retry later",
}
# The message of a request refused by the schema (as opposed to by the service's rules).
SCHEMA_REFUSAL = "the request is invalid; see details"


class ErrorDetails(BaseModel):
    status: int = Field(description="The HTTP status, repeated")
    code: str = Field(description="A stable name for the status: " + ", ".join(CODES.values()))
    message: str = Field(description="What went wrong, for a person")
    details: list[Any] = Field(description="Per field problems: {field, message} objects")


class ErrorBody(BaseModel):
    """The one error format of the API."""

    error: ErrorDetails


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route for the error statuses it answers, in the one format."""
    return {s: {"model": ErrorBody, "description": MEANINGS[s]} for s in statuses}


class JSONBody(Response):
    """JSON rendered by orjson (fast, and handles datetimes) for hand-built bodies."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.headers = headers


def unavailable(message: str) -> ApiError:
    """503 with Retry-After: the database did not take or give the data; nothing was stored."""
    return ApiError(503, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def error_response(
    status: int,
    message: str,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONBody:
    body = {
        "error": {
            "status": status,
            "code": CODES.get(status, "error"),
            "message": message,
            "details": details or [],
        }
    }
    return JSONBody(body, status_code=status, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document lists for the request's path. Starlette's 405 names
    only the first route that matched the path, and FastAPI makes one route per method."""
    cached = getattr(request.app.state, "allowed_methods", None)
    if cached is None:
        cached = []
        for template, operations in request.app.openapi().get("paths", {}).items():
            regex = compile_path(template)[0]
            cached.append((regex, sorted(m.upper() for m in operations)))
        request.app.state.allowed_methods = cached
    methods: set[str] = set()
    for regex, listed in cached:
        if regex.match(request.url.path):
            methods |= set(listed)
    return sorted(methods)


def _describe(err: dict[str, Any]) -> dict[str, Any]:
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    kind = err.get("type", "")
    message = err.get("msg", "invalid")
    if kind == "extra_forbidden":
        message = "unknown field"
    return {"field": ".".join(loc), "message": message}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONBody:
        return error_response(exc.status, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONBody:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 404 and message == "Not Found":
            message = "no such resource"
        if exc.status_code == 405 and (allowed := allowed_methods(request)):
            message = f"{request.method} is not allowed here; use {', '.join(allowed)}"
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return error_response(exc.status_code, message, headers=headers)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_request: Request, exc: OperationalError) -> JSONBody:
        # Locked past the busy timeout, disk full, the server gone: not a bug, and retrying
        # later may work. The transaction was rolled back, so nothing half-written stays.
        logging.getLogger("warroom").warning("database unavailable: %s", exc.orig)
        err = unavailable("the database is unavailable right now; nothing was changed, try again")
        return error_response(err.status, err.message, headers=err.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONBody:
        # A bug: the client still gets the one error format (details stay in the server log).
        logging.getLogger("warroom").error("unhandled error", exc_info=exc)
        return error_response(500, "internal error; the server log has the details")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONBody:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "the request body is not valid JSON")
        return error_response(
            422, "the request is invalid; see details", [_describe(e) for e in errors]
        )
