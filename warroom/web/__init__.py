"""The web app: server-rendered pages, sessions and live updates.

`install(app)` adds the pages, the static files, the error pages and the security headers to
the one FastAPI app.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

# Paths that are never pages: an unknown one keeps the API's JSON error even for a browser.
NOT_PAGES = ("/api", "/integrations", "/v2", "/calendar", "/act", "/static", "/status/api")


def wants_page(path: str, accept: str) -> bool:
    """Whether a 404 for this request should be an HTML page: a browser (it asks for HTML)
    on a path outside the API, the intake endpoints, the feeds and the static files."""
    if "text/html" not in accept.lower():
        return False
    return not any(path == p or path.startswith(p + "/") for p in NOT_PAGES)


def install(app: FastAPI) -> None:
    # Imported here so that importing warroom.web.models (the tables) stays cheap.
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    import warroom.web.config_mapping  # noqa: F401

    # First: their /oncall/schedules/new and /services/new must be matched before
    # oncall_pages' /oncall/schedules/{schedule_id} and pages' /services/{service_id}.
    import warroom.web.config_schedules  # noqa: F401
    import warroom.web.config_services  # noqa: F401

    # And its POST /alerts/{alert_id}/silence before alert_page's /alerts/{alert_id}/{action}.
    import warroom.web.noise_pages  # noqa: F401
    from warroom.web import (  # noqa: F401 - they register routes
        account,
        actions,
        alert_page,
        config_account,
        config_policies,
        grouping_forms,
        live,
        major_admin,
        noise_pages,
        oncall_pages,
        pages,
        report_pages,
        review_pages,
        stakeholder_pages,
        status_admin,
        status_pages,
        teams_admin,
    )
    from warroom.web.account import login_redirect
    from warroom.web.auth import LoginRequired, PageError
    from warroom.web.headers import SecurityHeaders
    from warroom.web.render import STATIC, render
    from warroom.web.router import router

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(LoginRequired)
    async def _login_required(_request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_path)

    @app.exception_handler(PageError)
    def _page_error(request: Request, exc: PageError) -> Response:  # sync: a worker thread
        titles = {403: "Not allowed", 404: "Not found", 409: "Not possible now", 429: "Slow down"}
        title = exc.title or titles.get(exc.status, "Something is wrong")
        context: dict[str, Any] = {"title": title, "message": exc.message, "status": exc.status}
        return render(request, "error.html", context, status=exc.status, headers=exc.headers)

    # warroom.errors installed the JSON handler first; it still answers API clients.
    json_handler = app.exception_handlers[StarletteHTTPException]

    async def _not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and wants_page(
            request.url.path, request.headers.get("accept", "")
        ):
            context = {
                "title": "Not found",
                "message": "There is no such page.",
                "status": 404,
            }
            # render() reads the session from the database: off the event loop.
            return await run_in_threadpool(render, request, "error.html", context, 404)
        response = json_handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
        return response

    app.add_exception_handler(StarletteHTTPException, _not_found)
    app.add_middleware(SecurityHeaders)
