"""Schedules built in the browser: an admin creates a schedule and edits its layers (rotation,
shift length, first handoff, end, members in order, restrictions), sees the next two weeks
those layers would give before saving, then saves. Every check is the API's: the form builds
the same ScheduleIn/SchedulePatch and calls oncall/schedules.py (`draft_schedule` for the
preview, `create_schedule`/`update_schedule` to save), and says what it refuses in the form's
words: layers by their number on the form, people by name, times in the schedule's zone."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from warroom.catalog.models import Team, User
from warroom.common.clock import utcnow
from warroom.common.zones import known_zone, zone_named
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.oncall import schedule as sch
from warroom.oncall import schedules
from warroom.oncall.models import Schedule
from warroom.oncall.schemas import (
    MAX_SHIFT_SECONDS,
    MIN_SHIFT_SECONDS,
    ScheduleIn,
    SchedulePatch,
)
from warroom.web import forms, rota
from warroom.web.auth import Admin, AdminPost, Posted
from warroom.web.render import render
from warroom.web.router import router

MAX_LAYERS = 50  # as the API (ScheduleIn.layers)
MAX_MEMBERS = 500
MAX_WINDOWS = 50
BLANK_MEMBERS = 2  # empty member slots offered below a layer's members
PREVIEW_DAYS = 14
ROTATIONS = {
    "weekly": "Weekly",
    "daily": "Daily",
    "hourly": "Hourly",
    "custom": "Custom length (hours)",
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LABELS = {"name": "Name", "description": "Description", "time_zone": "Time zone", "team_id": "Team"}
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_LAYER = re.compile(r"^layer (\d+)")
_WINDOW = re.compile(r"\brestriction (\d+)")
_USER = re.compile(r"\buser (\d+)\b")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# --- what the form holds ---------------------------------------------------------------------


def _blank_layer() -> dict[str, Any]:
    return {
        "name": "",
        "rotation": "weekly",
        "hours": "",
        "start": "",
        "end": "",
        "members": [],
        "windows": [],
        "drop": False,
    }


def _typed_of(row: Schedule | None, loaded: schedules.Loaded | None) -> dict[str, Any]:
    layers = []
    if row is not None and loaded is not None:
        for layer in loaded.layers[row.id]:
            layers.append(
                {
                    "name": layer.name,
                    "rotation": layer.rotation,
                    "hours": str((layer.shift_seconds or 0) // 3600) if layer.shift_seconds else "",
                    "start": layer.start_local[:16],
                    "end": (layer.end_local or "")[:16],
                    "members": [str(u) for u in loaded.members[layer.id]],
                    "windows": [
                        {
                            "days": [str(d) for d in r["weekdays"]],
                            "start": r["start"],
                            "end": r["end"],
                        }
                        for r in layer.restrictions or ()
                    ],
                    "drop": False,
                }
            )
    return {
        "name": row.name if row else "",
        "description": row.description if row else "",
        "time_zone": row.time_zone if row else "",
        "team_id": "" if row is None or row.team_id is None else str(row.team_id),
        "layers": layers,
    }


def _read(posted: Posted) -> dict[str, Any]:
    """What was typed, kept as typed (strings), to show again whatever happens next."""
    typed: dict[str, Any] = {k: posted.text(k) for k in LABELS} | {"layers": []}
    for n in range(MAX_LAYERS):
        if f"l{n}_rotation" not in posted.form:
            break
        members = []
        for k in range(MAX_MEMBERS):
            if f"l{n}_m{k}" not in posted.form:
                break
            members.append(posted.text(f"l{n}_m{k}"))
        windows = []
        for k in range(MAX_WINDOWS):
            if f"l{n}_r{k}_start" not in posted.form:
                break
            windows.append(
                {
                    "days": posted.texts(f"l{n}_r{k}_days"),
                    "start": posted.text(f"l{n}_r{k}_start"),
                    "end": posted.text(f"l{n}_r{k}_end"),
                }
            )
        typed["layers"].append(
            {
                "name": posted.text(f"l{n}_name"),
                "rotation": posted.text(f"l{n}_rotation"),
                "hours": posted.text(f"l{n}_hours"),
                "start": posted.text(f"l{n}_start"),
                "end": posted.text(f"l{n}_end"),
                "members": [m for m in members if m],
                "windows": windows,
                "drop": bool(posted.text(f"l{n}_drop")),
            }
        )
    return typed


def _is_blank(layer: dict[str, Any]) -> bool:
    return not layer["start"] and not layer["members"] and not layer["end"]


def _wall_clock(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else None


def _layer_body(n: int, layer: dict[str, Any], problems: dict[str, str]) -> dict[str, Any] | None:
    """The API's layer for form row ``n``, or None with the row's problem in plain words."""
    label = f"Layer {n + 1}"
    found: list[str] = []
    body: dict[str, Any] = {"name": layer["name"], "rotation": layer["rotation"]}
    if layer["rotation"] not in ROTATIONS:
        found.append("choose how often it hands over")
    elif layer["rotation"] == "custom":
        hours = layer["hours"].strip()
        most = MAX_SHIFT_SECONDS // 3600
        if not hours.isdigit() or not MIN_SHIFT_SECONDS // 3600 <= int(hours) <= most:
            found.append(f"a custom shift lasts a whole number of hours, from 1 to {most}")
        else:
            body["shift_seconds"] = int(hours) * 3600
    start = _wall_clock(layer["start"]) if layer["start"] else None
    if not layer["start"]:
        found.append("give the first handoff (a date and a time of day)")
    elif start is None:
        found.append("the first handoff must be a date and time like 2026-01-05 09:00")
    else:
        body["start"] = start.isoformat(timespec="minutes")
    if layer["end"]:
        end = _wall_clock(layer["end"])
        if end is None:
            found.append("the end must be a date and time like 2026-03-01 09:00, or empty")
        elif start is not None and end <= start:
            found.append("the end must be after the first handoff")
        else:
            body["end"] = end.isoformat(timespec="minutes")
    member_ids = forms.ids(layer["members"])
    if member_ids is None:
        found.append("choose the people from the lists")
    elif not member_ids:
        found.append("choose at least one person")
    else:
        body["member_ids"] = member_ids
    body["restrictions"] = []
    for k, window in enumerate(layer["windows"]):
        days, begin, finish = window["days"], window["start"].strip(), window["end"].strip()
        if not days and not begin and not finish:
            continue  # an empty window row
        where = f"window {k + 1}"
        weekdays = forms.ids(days)
        if not weekdays or any(d > 6 for d in weekdays):
            found.append(f"{where}: tick the days it opens")
        elif not (_TIME.match(begin) and _TIME.match(finish)):
            found.append(f"{where}: give its hours as times like 09:00 and 17:00")
        elif begin == finish:
            found.append(f"{where}: it opens and closes at {begin}; give it a length")
        else:
            body["restrictions"].append({"weekdays": weekdays, "start": begin, "end": finish})
    if found:
        problems[f"layer{n}"] = f"{label}: " + "; ".join(found) + "."
        return None
    return body


def _checked(
    typed: dict[str, Any], creating: bool
) -> tuple[ScheduleIn | SchedulePatch | None, list[int], dict[str, str]]:
    """(the API's body, the form row of each layer in it, problems)."""
    problems: dict[str, str] = {}
    if typed["time_zone"].strip() and known_zone(typed["time_zone"].strip()) is None:
        problems["time_zone"] = (
            f"Time zone: {typed['time_zone']!r} is not a zone name this server knows; "
            "use one like Europe/Paris or America/New_York."
        )
    team = forms.ids([typed["team_id"]])
    if team is None:
        problems["team_id"] = "Choose the team from the list."
    layers, rows = [], []
    for n, layer in enumerate(typed["layers"]):
        if layer["drop"] or _is_blank(layer):
            continue
        body = _layer_body(n, layer, problems)
        if body is not None:
            layers.append(body)
            rows.append(n)
    if not layers and not any(k.startswith("layer") for k in problems):
        problems["layers"] = "Add at least one layer: a first handoff and who takes turns."
    if problems:
        return None, rows, problems
    fields: dict[str, Any] = {
        "name": typed["name"],
        "description": typed["description"],
        "time_zone": typed["time_zone"].strip(),
        "team_id": team[0] if team else None,
        "layers": layers,
    }
    try:
        checked = ScheduleIn(**fields) if creating else SchedulePatch(**fields)
    except ValidationError as exc:
        return None, rows, _validation(exc, rows)
    return checked, rows, {}


def _validation(exc: ValidationError, rows: list[int]) -> dict[str, str]:
    problems: dict[str, str] = {}
    rest = []
    for error in exc.errors():
        loc = error.get("loc", ())
        if len(loc) > 1 and loc[0] == "layers" and isinstance(loc[1], int) and loc[1] < len(rows):
            n = rows[loc[1]]
            where = ".".join(str(p) for p in loc[2:])
            problems.setdefault(f"layer{n}", f"Layer {n + 1}: {where} {error.get('msg', '')}.")
        else:
            rest.append(error)
    problems.update(forms.error_problems(rest, LABELS))
    return problems


def _service_problems(exc: ApiError, rows: list[int], names: schedules.Names) -> dict[str, str]:
    """The service's refusal beside each field: "layer 0 restriction 1: ..." becomes
    "Layer 1, window 2: ...", "user 7" the person's name."""
    problems: dict[str, str] = {}

    def plain(message: str) -> str:
        message = _USER.sub(lambda m: names.of(int(m.group(1))), message)
        message = _WINDOW.sub(lambda m: f", window {int(m.group(1)) + 1}", message)
        return message.replace(" ,", ",")

    for detail in exc.details or []:
        field, message = str(detail.get("field", "")), str(detail.get("message", ""))
        match = _LAYER.match(message)
        if field.startswith("layers.") and match and int(match.group(1)) < len(rows):
            n = rows[int(match.group(1))]
            text = plain(f"Layer {n + 1}" + message[match.end() :])
            key = f"layer{n}"
            problems[key] = (
                f"{problems[key]} {forms.sentence(text)}"
                if key in problems
                else (forms.sentence(text))
            )
        elif field in LABELS:
            problems.setdefault(field, f"{LABELS[field]}: {forms.sentence(plain(message))}")
        elif message:
            problems.setdefault("", forms.sentence(plain(message)))
    if exc.status == 409:
        problems = {"name": "There is already a schedule with this name."}
    if not problems:
        problems[""] = forms.sentence(plain(exc.message))
    return problems


# --- the page --------------------------------------------------------------------------------


def _people(session: Any, typed: dict[str, Any]) -> list[tuple[str, str]]:
    """Who can take a turn: active responders and admins, and anyone already in a layer (a
    deactivated member stays visible, named, so the form shows what is stored)."""
    rows = session.execute(
        select(User.id, User.name, User.username, User.active)
        .where(User.active.is_(True), User.role != "stakeholder")
        .order_by(User.name, User.username)
    ).all()
    found = {str(uid): name or username for uid, name, username, _a in rows}
    typed_ids = {
        int(m) for layer in typed["layers"] for m in layer["members"] if m.isdigit() and len(m) < 13
    }
    extra = schedules.Names(session, typed_ids - {int(k) for k in found})
    for uid, name in extra.name.items():
        found[str(uid)] = f"{name} (deactivated)" if not extra.active[uid] else name
    return list(found.items())


def _form(
    request: Request,
    row: Schedule | None,
    typed: dict[str, Any],
    problems: dict[str, str],
    status: int = 200,
    preview: rota.Rota | None = None,
    labels: list[str] | None = None,
) -> Response:
    with _db(request).read_session() as session:
        people = _people(session, typed)
        teams = [
            (str(i), n) for i, n in session.execute(select(Team.id, Team.name).order_by(Team.name))
        ]
    # Empty rows at the end go (one new row is added below); the others stay as typed, at the
    # numbers the problems name.
    layers = [dict(layer) for layer in typed["layers"]]
    while layers and _is_blank(layers[-1]):
        layers.pop()
    if len(layers) < MAX_LAYERS:
        layers.append(_blank_layer())
    for layer in layers:
        slots = len(layer["members"]) + BLANK_MEMBERS
        layer["slots"] = (layer["members"] + [""] * slots)[: max(slots, 1)][:MAX_MEMBERS]
        filled = [w for w in layer["windows"] if w["days"] or w["start"] or w["end"]]
        layer["window_rows"] = (filled + [{"days": [], "start": "", "end": ""}])[:MAX_WINDOWS]
    zone = typed["time_zone"].strip() or "UTC"
    context = {
        "schedule": row,
        "typed": {**typed, "layers": layers},
        "problems": problems,
        "error": forms.summary(problems) if problems else None,
        "people": people,
        "teams": teams,
        "rotations": ROTATIONS,
        "weekdays": WEEKDAYS,
        "preview": preview,
        "preview_zone": zone,
        "preview_labels": labels or [],
        "zones": _common_zones(),
    }
    return render(request, "schedule_edit.html", context, status=status)


def _common_zones() -> list[str]:
    return [
        "UTC",
        "Europe/London",
        "Europe/Paris",
        "Europe/Berlin",
        "America/New_York",
        "America/Chicago",
        "America/Los_Angeles",
        "Asia/Kolkata",
        "Asia/Tokyo",
        "Australia/Sydney",
    ]


def _preview(
    request: Request,
    row: Schedule | None,
    checked: ScheduleIn | SchedulePatch,
    rows: list[int],
    now: datetime,
) -> tuple[rota.Rota | None, dict[str, str]]:
    """The next two weeks of the draft layers (with the schedule's overrides, as paging would
    see them), computed by the service's checks and the pure module; nothing is stored."""
    assert checked.time_zone is not None and checked.layers is not None
    with _db(request).read_session() as session:
        names = schedules.Names(session, {u for layer in checked.layers for u in layer.member_ids})
        try:
            draft = schedules.draft_schedule(session, checked.time_zone, list(checked.layers))
        except ApiError as exc:
            return None, _service_problems(exc, rows, names)
        overrides: tuple[sch.Override, ...] = ()
        if row is not None:
            loaded = schedules.fetch(session, [row.id], overrides_since=now)
            overrides = tuple(schedules.pure_override(o) for o in loaded.overrides[row.id])
            names = schedules.Names(session, names.name.keys() | loaded.user_ids())
    zone = zone_named(checked.time_zone)
    period = rota.Period("week", now.astimezone(zone).date(), PREVIEW_DAYS, zone)
    try:
        built = rota.build(sch.Schedule(draft.time_zone, draft.layers, overrides), period, names.of)
    except sch.ScheduleError as exc:
        return None, {"": forms.sentence("; ".join(exc.problems))}
    return built, {}


def _submit(request: Request, row: Schedule | None, posted: Posted) -> Response:
    typed = _read(posted)
    creating = row is None
    checked, rows, problems = _checked(typed, creating)
    if problems or checked is None:
        return _form(request, row, typed, problems, status=422)
    if posted.text("action") == "preview":
        # Checked by the service as a save would be, computed, shown; nothing stored.
        built, problems = _preview(request, row, checked, rows, utcnow())
        if problems:
            return _form(request, row, typed, problems, status=422)
        labels = [typed["layers"][n]["name"] or f"Layer {n + 1}" for n in rows]
        return _form(request, row, typed, {}, preview=built, labels=labels)
    try:
        with _db(request).session() as session:
            if isinstance(checked, ScheduleIn):
                schedule_id = schedules.create_schedule(session, checked).id
            else:
                assert row is not None
                schedule_id = schedules.update_schedule(session, row.id, checked).id
    except ApiError as exc:
        if exc.status == 404:
            raise
        with _db(request).read_session() as session:
            names = schedules.Names(
                session, {u for layer in checked.layers or () for u in layer.member_ids}
            )
        return _form(request, row, typed, _service_problems(exc, rows, names), exc.status)
    done = "created" if creating else "saved"
    return RedirectResponse(f"/oncall/schedules/{schedule_id}?done={done}", status_code=303)


@router.get("/oncall/schedules/new", response_class=HTMLResponse)
def new_schedule(request: Request, me: Admin) -> Response:
    typed = _typed_of(None, None)
    typed["time_zone"] = me.time_zone
    return _form(request, None, typed, {})


@router.post("/oncall/schedules/new", response_class=HTMLResponse)
def create_schedule(request: Request, posted: AdminPost) -> Response:
    return _submit(request, None, posted)


def _row(request: Request, schedule_id: int) -> tuple[Schedule, schedules.Loaded]:
    with _db(request).read_session() as session:
        row = schedules.get_schedule(session, schedule_id)  # 404 for an unknown schedule
        loaded = schedules.fetch(session, [schedule_id], overrides_since=utcnow())
        session.expunge(row)
    return row, loaded


@router.get("/oncall/schedules/{schedule_id}/edit", response_class=HTMLResponse)
def edit_schedule(request: Request, schedule_id: int, me: Admin) -> Response:
    row, loaded = _row(request, schedule_id)
    return _form(request, row, _typed_of(row, loaded), {})


@router.post("/oncall/schedules/{schedule_id}/edit", response_class=HTMLResponse)
def update_schedule(request: Request, schedule_id: int, posted: AdminPost) -> Response:
    row, _loaded = _row(request, schedule_id)
    return _submit(request, row, posted)
