"""The pages' router: every route answers HTML, and a domain error becomes an error page."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError, OperationalError

from warroom.errors import RETRY_AFTER_SECONDS, ApiError
from warroom.web.auth import PageError


class PageRoute(APIRoute):
    """Turns the JSON-shaped errors of the shared services into pages.

    The services raise ApiError (404 unknown incident, 409 refused transition, 422 unknown user);
    a path parameter that is not a number, or a number beyond the column, is a page that does
    not exist.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except ApiError as exc:
                raise PageError(exc.status, _sentence(exc.message)) from None
            except (RequestValidationError, OverflowError, DataError):
                raise PageError(404, "There is no such page.", title="Not found") from None
            except OperationalError:
                # A commit (or a read) the database refused: locked, full, restarting. Every
                # form commits before it answers, so nothing of this request was stored.
                raise PageError(
                    503,
                    "The database could not store this just now, so nothing was changed. "
                    "Try again in a moment.",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                    title="Not saved",
                ) from None

        return handler


def _sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def to_int(value: object, low: int | None = None, high: int | None = None) -> int | None:
    """A form or query value as an int within bounds, or None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return number
