"""Escalation policies in the browser: everyone sees them (steps, targets, repeats, the services
they page for, their warnings); admins create, edit and delete them. The forms call
oncall/policies.py, as the REST API does, so they refuse what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service, Team, User
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.oncall import policies
from warroom.oncall.models import EscalationPolicy, Schedule
from warroom.oncall.schemas import MAX_STEP_DELAY, PolicyIn, PolicyOut, PolicyPatch
from warroom.web import forms
from warroom.web.auth import Admin, AdminPost, Posted, Viewer
from warroom.web.render import render
from warroom.web.router import router

MAX_STEPS = 20
BLANK_STEPS = 2  # empty step rows offered below the existing ones
PAGE_SIZE = 50  # policies on one page of /policies
LABELS = {"name": "Name", "description": "Description", "team_id": "Team", "repeat": "Repeats"}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _targets(session: Session) -> list[tuple[str, list[tuple[str, str]]]]:
    """What a step can page, grouped for the select: people, schedules, teams."""
    people = [
        (f"user:{i}", name or username)
        for i, name, username in session.execute(
            select(User.id, User.name, User.username)
            .where(User.active.is_(True))
            .order_by(User.name)
        )
    ]
    rotas = [
        (f"schedule:{i}", f"on call: {n}")
        for i, n in session.execute(select(Schedule.id, Schedule.name).order_by(Schedule.name))
    ]
    teams = [
        (f"team:{i}", f"whole team: {n}")
        for i, n in session.execute(select(Team.id, Team.name).order_by(Team.name))
    ]
    return [("People", people), ("Schedules", rotas), ("Teams", teams)]


@router.get("/policies", response_class=HTMLResponse)
def policies_page(request: Request, me: Viewer) -> Response:
    """One page of policies by name. Paged because each card asks who every step would page
    now (an on-call computation of each schedule it names) and lists its services: at a few
    hundred policies on one page that was most of a second."""
    now = datetime.now(UTC)
    after = request.query_params.get("after", "")[:120]
    with _db(request).read_session() as session:
        query = select(EscalationPolicy).order_by(EscalationPolicy.name).limit(PAGE_SIZE + 1)
        if after:
            query = query.where(EscalationPolicy.name > after)
        rows = list(session.scalars(query))
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        outs = policies.policy_outs(session, rows, now)
        wanted = {sid for out in outs for sid in out.service_ids}
        service_names = (
            dict(
                session.execute(
                    select(Service.id, Service.name).where(Service.id.in_(wanted))
                ).all()
            )
            if wanted
            else {}
        )
    context = {
        "policies": outs,
        "service_names": service_names,
        "next_after": rows[-1].name if more else None,
        "paged": bool(after),
    }
    return render(request, "policies.html", context)


def _typed_of(out: PolicyOut | None) -> dict[str, Any]:
    steps = [
        {
            "delay": str(s.delay_seconds // 60),
            "targets": [f"{t.type}:{t.id}" for t in s.targets],
        }
        for s in (out.steps if out else [])
    ]
    return {
        "name": out.name if out else "",
        "description": out.description if out else "",
        "team_id": "" if not out or out.team_id is None else str(out.team_id),
        "repeat": str(out.repeat) if out else "0",
        "steps": steps,
    }


def _form(
    request: Request,
    typed: dict[str, Any],
    problems: dict[str, str],
    policy: PolicyOut | None,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    with _db(request).read_session() as session:
        choices = _targets(session)
        teams = list(session.execute(select(Team.id, Team.name).order_by(Team.name)))
        service_names = dict(session.execute(select(Service.id, Service.name)).all())
    steps = list(typed["steps"])
    while len(steps) < min(MAX_STEPS, len(typed["steps"]) + BLANK_STEPS):
        steps.append({"delay": "" if steps else "0", "targets": []})
    context = {
        "typed": {**typed, "steps": steps},
        "problems": problems,
        "policy": policy,
        "choices": choices,
        "teams": teams,
        "service_names": service_names,
        "error": forms.summary(problems) if problems else None,
        "notice": notice,
    }
    return render(request, "policy.html", context, status=status)


@router.get("/policies/new", response_class=HTMLResponse)
def new_policy(request: Request, me: Admin) -> Response:
    return _form(request, _typed_of(None), {}, None)


def _one(request: Request, policy_id: int) -> PolicyOut:
    with _db(request).read_session() as session:
        row = policies.get_policy(session, policy_id)
        return policies.policy_outs(session, [row], datetime.now(UTC))[0]


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
def policy_page(request: Request, policy_id: int, me: Viewer) -> Response:
    notice = {"created": "Policy created.", "saved": "Policy saved."}.get(
        request.query_params.get("done", "")
    )
    out = _one(request, policy_id)
    return _form(request, _typed_of(out), {}, out, notice=notice)


def _read(posted: Posted) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(what was typed, the API body, problems found before the API's checks)."""
    problems: dict[str, str] = {}
    typed: dict[str, Any] = {
        k: posted.text(k) for k in ("name", "description", "team_id", "repeat")
    } | {"steps": []}
    for n in range(MAX_STEPS):
        delay, chosen = posted.text(f"step{n}_delay"), posted.texts(f"step{n}_targets")
        if f"step{n}_delay" not in posted.form and not chosen:
            break
        typed["steps"].append({"delay": delay, "targets": chosen})
    body: dict[str, Any] = {"name": typed["name"], "description": typed["description"]}
    team = forms.ids([typed["team_id"]])
    if team is None:
        problems["team_id"] = "Choose the team from the list."
    else:
        body["team_id"] = team[0] if team else None
    if not typed["repeat"].isdigit() or len(typed["repeat"]) > 3:
        problems["repeat"] = "Repeats must be a whole number from 0 to 9."
    else:
        body["repeat"] = int(typed["repeat"])
    steps: list[dict[str, Any]] = []
    for n, step in enumerate(typed["steps"]):
        if not step["targets"] and not step["delay"]:
            continue  # an empty row
        label = f"Step {len(steps) + 1}"
        if not step["targets"]:
            problems[f"step{n}"] = f"{label}: choose whom it pages (or clear its delay)."
            continue
        delay = step["delay"] or "0"
        if not delay.isdigit() or int(delay) * 60 > MAX_STEP_DELAY:
            problems[f"step{n}"] = (
                f"{label}: the wait must be a whole number of minutes, at most "
                f"{MAX_STEP_DELAY // 60} (a day)."
            )
            continue
        targets = []
        for value in step["targets"]:
            kind, _, ident = value.partition(":")
            if kind not in ("user", "schedule", "team") or not ident.isdigit():
                problems[f"step{n}"] = f"{label}: choose targets from the list."
                break
            targets.append({"type": kind, "id": int(ident)})
        steps.append({"delay_seconds": int(delay) * 60, "targets": targets, "_row": n})
    if not steps and not problems:
        problems["steps"] = "Add at least one step: whom to page first."
    body["steps"] = steps
    return typed, body, problems


def _step_rows(body: dict[str, Any]) -> list[int]:
    rows = [s.pop("_row") for s in body["steps"]]
    return rows


def _validation(exc: ValidationError, rows: list[int]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc", ())
        if loc and loc[0] == "steps" and len(loc) > 1 and isinstance(loc[1], int):
            n = rows[loc[1]] if loc[1] < len(rows) else 0
            problems.setdefault(f"step{n}", f"Step {loc[1] + 1}: {error.get('msg', '')}.")
    rest = [e for e in exc.errors() if not (e.get("loc") and e["loc"][0] == "steps")]
    if rest:
        problems.update(forms.error_problems(rest, LABELS))
    return problems


def _service_problems(exc: ApiError, rows: list[int]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for detail in exc.details or []:
        parts = str(detail.get("field", "")).split(".")
        if parts[0] == "steps" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            n = rows[index] if index < len(rows) else 0
            problems.setdefault(f"step{n}", f"Step {index + 1}: {detail.get('message', '')}.")
        elif parts[0] in LABELS:
            problems.setdefault(parts[0], f"{LABELS[parts[0]]}: {detail.get('message', '')}.")
    if not problems:
        problems[""] = forms.sentence(exc.message)
    if exc.status == 409 and "name" not in problems:
        problems = {"name": "There is already a policy with this name."}
    return problems


@router.post("/policies/new", response_class=HTMLResponse)
def create_policy(request: Request, posted: AdminPost) -> Response:
    typed, body, problems = _read(posted)
    rows = _step_rows(body)
    if not problems:
        try:
            checked = PolicyIn(**body)
        except ValidationError as exc:
            problems = _validation(exc, rows)
    if problems:
        return _form(request, typed, problems, None, status=422)
    try:
        with _db(request).session() as session:
            policy_id = policies.create_policy(session, checked).id
    except ApiError as exc:
        return _form(request, typed, _service_problems(exc, rows), None, status=exc.status)
    return RedirectResponse(f"/policies/{policy_id}?done=created", status_code=303)


@router.post("/policies/{policy_id}", response_class=HTMLResponse)
def update_policy(request: Request, policy_id: int, posted: AdminPost) -> Response:
    current = _one(request, policy_id)
    typed, body, problems = _read(posted)
    rows = _step_rows(body)
    if not problems:
        try:
            checked = PolicyPatch(**body)
        except ValidationError as exc:
            problems = _validation(exc, rows)
    if problems:
        return _form(request, typed, problems, current, status=422)
    try:
        with _db(request).session() as session:
            policies.update_policy(session, policy_id, checked)
    except ApiError as exc:
        return _form(request, typed, _service_problems(exc, rows), current, status=exc.status)
    return RedirectResponse(f"/policies/{policy_id}?done=saved", status_code=303)


@router.post("/policies/{policy_id}/delete", response_class=HTMLResponse)
def delete_policy(request: Request, policy_id: int, posted: AdminPost) -> Response:
    current = _one(request, policy_id)
    try:
        with _db(request).session() as session:
            policies.delete_policy(session, policy_id)
    except ApiError as exc:
        return _form(
            request, _typed_of(current), {"": forms.sentence(exc.message)}, current, exc.status
        )
    return RedirectResponse("/policies", status_code=303)
