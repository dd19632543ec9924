"""The web app: server-rendered pages, sessions and live updates.

`install(app)` adds the pages, the static files, the error pages and the security headers to
the one FastAPI app.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    # Imported here so that importing warroom.web.models (the tables) stays cheap.
    from warroom.web import account, actions, live, pages  # noqa: F401 - they register routes
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

    app.add_middleware(SecurityHeaders)
