"""The OpenAPI document as the API behaves: the bearer security scheme and, per operation, the
error statuses its dependencies and parameters can answer (each route adds its own, e.g. 409).

The statuses are read off each route rather than listed by hand, so a new route is described
right the day it is added: authentication (401), a role or ownership check (403), a path id
(404), parameters or a body (422), a JSON body (400), a write (503 when the commit fails)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Security
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPBearer

from warroom import errors
from warroom.api import deps

# Documents the scheme on each authenticated route; deps.authenticate reads the header itself
# (auto_error=False: this never answers on its own).
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    description="An API token: `warroom token create` or POST /api/v1/tokens",
)
# Dependencies that refuse a signed-in caller for who they are.
_ROLE_CHECKS = {"require_responder", "require_admin", "_self_or_admin"}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _has_params(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.body_params:
        return True
    return any(_has_params(sub) for sub in dependant.dependencies)


def _has_body(dependant: Dependant) -> bool:
    return bool(dependant.body_params) or any(_has_body(sub) for sub in dependant.dependencies)


def error_statuses(dependant: Dependant, path: str) -> list[int]:
    calls = list(_calls(dependant))
    statuses: set[int] = set()
    if deps.authenticate in calls:
        statuses.add(401)
    if any(getattr(c, "__name__", "") in _ROLE_CHECKS for c in calls):
        statuses.add(403)
    if "{" in path:
        statuses.add(404)
    if _has_params(dependant):
        statuses.add(422)
    if _has_body(dependant):
        statuses.add(400)
    if deps.write_session in calls:
        statuses.add(503)
    return sorted(statuses)


class ApiRouter(APIRouter):
    """An APIRouter whose routes carry the error responses and the security requirement their
    dependencies imply (see the module docstring); a route's own `responses=` win."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        dependant = get_dependant(path=self.prefix + path, call=endpoint)
        for dep in [*self.dependencies, *(kwargs.get("dependencies") or [])]:
            if dep.dependency is not None:
                dependant.dependencies.append(
                    get_dependant(path=self.prefix + path, call=dep.dependency)
                )
        statuses = error_statuses(dependant, self.prefix + path)
        kwargs["responses"] = {**errors.responses(*statuses), **(kwargs.get("responses") or {})}
        if 401 in statuses:
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or []), Security(bearer)]
        super().add_api_route(path, endpoint, **kwargs)


def install(app: FastAPI) -> None:
    """Add the intake's routing-key scheme to the document (FastAPI adds the bearer one)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
            schemes["routingKey"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "Intake: the integration's routing key (or put it in the URL)",
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
