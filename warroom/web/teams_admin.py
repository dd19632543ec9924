"""The teams page, and the admins' forms on it: create a team, rename it, describe it and set its
members. The rules are the REST API's (warroom/api/catalog.py): names are unique (409), members
must exist (422)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warroom.api.schemas import TeamIn
from warroom.catalog import service as catalog
from warroom.catalog.models import Team
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.web.auth import AdminPost, PageError, Posted, Viewer
from warroom.web.queries import catalog_data
from warroom.web.render import render
from warroom.web.router import router, to_int


class _NameTaken(Exception):
    """Another team has the name."""


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _teams_page(
    request: Request,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    form: dict[str, Any] | None = None,
    editing: dict[str, Any] | None = None,
) -> Response:
    """`form`: the typed values of the new-team form; `editing`: those of one team's edit form
    (its "team_id" says which), shown open."""
    with _db(request).read_session() as session:
        rows = catalog_data.teams(session)
        people = [u for u in catalog_data.users(session) if u.active]
    context = {
        "rows": rows,
        "people": people,
        "form": form or {"member_ids": []},
        "editing": editing or {},
        "error": error,
        "notice": notice,
    }
    return render(request, "teams.html", context, status=status)


@router.get("/teams", response_class=HTMLResponse)
def teams_page(request: Request, me: Viewer) -> Response:
    return _teams_page(request)


def _typed(posted: Posted) -> dict[str, Any]:
    ids = [to_int(v) for v in posted.texts("member_ids")]
    return {
        "name": posted.text("name"),
        "description": posted.text("description"),
        "member_ids": [i for i in ids if i is not None],
        "bad_ids": len(ids) != len([i for i in ids if i is not None]),
    }


def _problem(typed: dict[str, Any]) -> str | None:
    """Why the typed values cannot be a team, or None."""
    if typed["bad_ids"]:
        return "Choose members from the list."
    try:
        TeamIn(name=typed["name"], description=typed["description"])
    except ValidationError:
        return "Give the team a name (at most 120 characters)."
    return None


def _name_taken(session: Session, name: str, team_id: int | None = None) -> bool:
    query = select(Team.id).where(Team.name == name)
    if team_id is not None:
        query = query.where(Team.id != team_id)
    return session.scalar(query) is not None


@router.post("/admin/teams", response_class=HTMLResponse)
def admin_create_team(request: Request, posted: AdminPost) -> Response:
    typed = _typed(posted)
    problem = _problem(typed)
    if problem:
        return _teams_page(request, error=problem, status=422, form=typed)
    name = typed["name"]
    try:
        with _db(request).session() as session:
            if _name_taken(session, name):
                raise _NameTaken
            team = Team(name=name, description=typed["description"])
            team.members = catalog.users_by_id(session, typed["member_ids"])
            session.add(team)
            session.flush()
    # IntegrityError: created by someone else at the same moment.
    except (IntegrityError, _NameTaken):
        return _teams_page(
            request, error=f"There is already a team {name!r}.", status=409, form=typed
        )
    except ApiError as exc:  # a member who does not exist (any more)
        return _teams_page(request, error=f"Not created: {exc.message}.", status=422, form=typed)
    return _teams_page(request, notice=f"Team {name} created.")


@router.post("/admin/teams/{team_id}", response_class=HTMLResponse)
def admin_update_team(request: Request, team_id: int, posted: AdminPost) -> Response:
    typed = {**_typed(posted), "team_id": team_id}
    with _db(request).read_session() as session:
        if session.get(Team, team_id) is None:
            raise PageError(404, f"There is no team {team_id}.", title="Not found")
    problem = _problem(typed)
    if problem:
        return _teams_page(request, error=problem, status=422, editing=typed)
    name = typed["name"]
    try:
        with _db(request).session() as session:
            team = session.get(Team, team_id)
            if team is None:  # deleted meanwhile
                raise PageError(404, f"There is no team {team_id}.", title="Not found")
            if _name_taken(session, name, team_id):
                raise _NameTaken
            # No autoflush: a clashing name must reach the flush below, not a member lookup.
            with session.no_autoflush:
                team.name = name
                team.description = typed["description"]
                team.members = catalog.users_by_id(session, typed["member_ids"])
            session.flush()
    except (IntegrityError, _NameTaken):
        return _teams_page(
            request, error=f"There is already a team {name!r}.", status=409, editing=typed
        )
    except ApiError as exc:
        return _teams_page(request, error=f"Not saved: {exc.message}.", status=422, editing=typed)
    return _teams_page(request, notice=f"Team {name} saved.")
