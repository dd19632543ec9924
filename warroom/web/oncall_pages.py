"""The on-call pages: who is on call on every schedule, one schedule's week or month, overrides.

Reads go through the on-call service (`overview`, `fetch`, `on_call`, `schedule_warnings`) and
its pure module, so a page says exactly what paging would do; the override forms call the same
`add_override`/`delete_override` as the REST API, overlap refusal included.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from warroom.common.clock import utcnow
from warroom.common.zones import zone_named
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.oncall import overrides, schedules, views
from warroom.oncall import schedule as sch
from warroom.oncall.models import OVERRIDE_KINDS
from warroom.oncall.schemas import OverrideIn
from warroom.web import rota
from warroom.web.auth import Posted, ResponderPost, Viewer, current_user
from warroom.web.queries import refs
from warroom.web.render import parse_local_noted, render
from warroom.web.router import router, to_int

NOTE_MAX = 2000
OVERRIDE_LABELS = {
    "replace": "Replace: someone covers for someone else",
    "add": "Add: someone is on call as well",
    "remove": "Remove: someone is taken off",
}


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _now() -> datetime:
    return utcnow()


# --- who is on call --------------------------------------------------------------------------


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(request: Request, me: Viewer) -> HTMLResponse:
    now = _now()
    with _db(request).read_session() as session:
        statuses, warnings = views.overview(session, now)
    mine = [s for s in statuses if any(u.user_id == me.user_id for u in s.on_call)]
    return render(
        request,
        "oncall.html",
        {"statuses": statuses, "warnings": warnings, "mine": mine},
        now=now,
    )


# --- one schedule ----------------------------------------------------------------------------


def _view_query(view: str, start: str, tz: str) -> str:
    return urlencode({"view": view, "start": start, "tz": tz})


def schedule_context(
    request: Request, schedule_id: int, params: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    """Everything the schedule page shows, for the period that `params` (view, start, tz) asks."""
    me = current_user(request)
    assert me is not None  # the routes require a signed-in user
    view = params.get("view", "week")
    view = view if view in rota.VIEWS else "week"
    tz = "mine" if params.get("tz") == "mine" else "schedule"
    with _db(request).read_session() as session:
        row = schedules.get_schedule(session, schedule_id)  # 404 for an unknown schedule
        zone, mine = zone_named(row.time_zone), zone_named(me.time_zone)
        day_zone, other = (mine, zone) if tz == "mine" else (zone, mine)
        shown = rota.period(view, rota.parse_day(params.get("start")), day_zone, now)
        loaded = schedules.fetch(session, [schedule_id], overrides_since=min(shown.since, now))
        overrides = [
            o
            for o in loaded.overrides[schedule_id]
            if o.start_at < shown.until and o.end_at > shown.since
        ]
        names = schedules.Names(
            session, loaded.user_ids() | {o.created_by_id for o in overrides if o.created_by_id}
        )
        people = refs.people(session)
        schedule = loaded.pure(schedule_id)
        warnings = views.schedule_warnings(row, schedule, now, names)
        problem = None
        status = plan = None
        try:
            status = views.on_call(row, schedule, now, names)
            plan = rota.build(
                schedule, shown, names.of, None if other.key == day_zone.key else other
            )
        except sch.ScheduleError as exc:
            problem = "; ".join(exc.problems)
    start = shown.first.isoformat()
    links = {
        "week": _view_query("week", start, tz),
        "month": _view_query("month", start, tz),
        "previous": _view_query(view, shown.previous.isoformat(), tz),
        "next": _view_query(view, shown.following.isoformat(), tz),
        "today": urlencode({"view": view, "tz": tz}),
        "zone": _view_query(view, start, "schedule" if tz == "mine" else "mine"),
    }
    layers = [
        {
            "row": layer,
            "members": [names.of(u) for u in loaded.members[layer.id]],
            "rotation": rota.describe_rotation(layer.rotation, layer.shift_seconds),
            "start": rota.describe_wall_clock(layer.start_local),
            "end": rota.describe_wall_clock(layer.end_local),
            "restrictions": [rota.describe_restriction(r) for r in layer.restrictions or ()],
        }
        for layer in loaded.layers[schedule_id]
    ]
    return {
        "schedule": row,
        "status": status,
        "plan": plan,
        "problem": problem,
        "warnings": warnings,
        "layers": layers,
        "overrides": overrides,
        "names": names,
        "people": people,
        "view": view,
        "tz": tz,
        "start": start,
        "day_zone": day_zone.key,
        "other_zone": None if other.key == day_zone.key else other.key,
        "links": links,
        "today": now.astimezone(day_zone).date(),
        "override_labels": OVERRIDE_LABELS,
        "form": {},
    }


def schedule_page(
    request: Request,
    schedule_id: int,
    params: Mapping[str, str],
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    """The schedule page, also shown again with a refused form's message and what was typed."""
    now = _now()
    context = schedule_context(request, schedule_id, params, now)
    context.update(error=error, form=form or {}, notice=notice)
    return render(request, "schedule.html", context, status=status, now=now)


@router.get("/oncall/schedules/{schedule_id}", response_class=HTMLResponse)
def schedule_view(request: Request, schedule_id: int, me: Viewer) -> HTMLResponse:
    notice = {"created": "Schedule created.", "saved": "Schedule saved."}.get(
        request.query_params.get("done", "")
    )
    return schedule_page(request, schedule_id, request.query_params, notice=notice)


# --- overrides -------------------------------------------------------------------------------


def _back_params(posted: Posted) -> dict[str, str]:
    """The view the form was sent from (hidden fields), to show the same one again."""
    return {
        "view": posted.text("back_view"),
        "start": posted.text("back_start"),
        "tz": posted.text("back_tz"),
    }


def _back(schedule_id: int, params: Mapping[str, str], anchor: str = "") -> RedirectResponse:
    query = {k: v for k, v in params.items() if v}
    suffix = f"?{urlencode(query)}" if query else ""
    return RedirectResponse(f"/oncall/schedules/{schedule_id}{suffix}{anchor}", status_code=303)


def _typed(posted: Posted) -> dict[str, str]:
    return {
        k: v
        for k, v in posted.form.items()
        if isinstance(v, str) and k != "csrf_token" and not k.startswith("back_")
    }


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


@router.post("/oncall/schedules/{schedule_id}/overrides", response_class=HTMLResponse)
def create_override(request: Request, schedule_id: int, posted: ResponderPost) -> Response:
    back = _back_params(posted)

    def refuse(message: str, status: int = 422) -> Response:
        return schedule_page(
            request, schedule_id, back, error=message, status=status, form=_typed(posted)
        )

    kind = posted.text("kind")
    user_id = to_int(posted.text("user_id"), 1)
    replacement_id = to_int(posted.text("replacement_id"), 1)
    note = posted.text("note")
    with _db(request).read_session() as session:
        zone = schedules.get_schedule(session, schedule_id).time_zone
    problems = []
    if kind not in OVERRIDE_KINDS:
        problems.append("Choose whether the override adds, removes or replaces someone.")
    if user_id is None:
        problems.append("Choose who the override is about.")
    if kind == "replace" and replacement_id is None:
        problems.append("Choose who covers (the replacement).")
    if len(note) > NOTE_MAX:
        problems.append(f"The note is longer than {NOTE_MAX} characters.")
    try:
        # Typed in the schedule's zone (the form says so), not the reader's: a rota is agreed
        # in the team's local time.
        start, start_note = parse_local_noted(posted.text("start_at"), zone)
        end, end_note = parse_local_noted(posted.text("end_at"), zone, ending=True)
    except ValueError:
        start = end = None
        problems.append("The start or the end is not a date and time.")
    else:
        if start is None or end is None:
            problems.append("Give a start and an end.")
    if problems or start is None or end is None or user_id is None:
        return refuse(" ".join(problems))
    try:
        body = OverrideIn(
            kind=kind,  # type: ignore[arg-type]  # checked against OVERRIDE_KINDS above
            user_id=user_id,
            replacement_id=replacement_id if kind == "replace" else None,
            start=start,
            end=end,
            note=note,
        )
    except ValidationError as exc:
        return refuse("; ".join(str(e["msg"]) for e in exc.errors()))
    try:
        with _db(request).session() as session:
            overrides.add_override(session, schedule_id, body, posted.user.user_id)
    except ApiError as exc:
        if exc.status == 404:
            raise
        # An overlap (409) names the override it clashes with; the form keeps what was typed.
        return refuse(_sentence(exc.message), exc.status)
    # Show the week the override starts in, so its effect is on the screen.
    first_day = start.astimezone(zone_named(zone)).date().isoformat()
    notes = [
        n for n in (start_note and f"Start: {start_note}", end_note and f"End: {end_note}") if n
    ]
    if notes:
        # A skipped or repeated local time: say which instant it was read as, on the page.
        shown = {"view": "week", "start": first_day}
        return schedule_page(
            request, schedule_id, shown, notice="Override added. " + " ".join(notes)
        )
    return _back(schedule_id, {"view": "week", "start": first_day}, "#overrides")


@router.post(
    "/oncall/schedules/{schedule_id}/overrides/{override_id}/delete", response_class=HTMLResponse
)
def delete_override(
    request: Request, schedule_id: int, override_id: int, posted: ResponderPost
) -> Response:
    with _db(request).session() as session:
        overrides.delete_override(session, schedule_id, override_id)
    return _back(schedule_id, _back_params(posted), "#overrides")
