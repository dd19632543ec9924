"""The forms of the war room and the declare page: each calls the incident service (or paging's
mobilise), then redirects back (post/redirect/get), or shows the page again with the service's
refusal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warroom.common.clock import utcnow
from warroom.db.engine import Database
from warroom.engine import paging
from warroom.engine.runner import action_links
from warroom.errors import ApiError
from warroom.incidents import major_store, updates
from warroom.incidents import service as incidents
from warroom.incidents.logic import ACTIONS
from warroom.incidents.models import ROLE_NAMES, UPDATE_STAGES
from warroom.web.auth import PageError, Posted, ResponderPost
from warroom.web.pages import war_room_page
from warroom.web.queries import refs
from warroom.web.render import parse_local, render
from warroom.web.router import router, to_int
from warroom.web.sessions import SignedIn

TITLE_MAX = 500
TEXT_MAX = 20_000
REASON_MAX = 2_000


def _actor(user: SignedIn) -> incidents.Actor:
    return incidents.Actor(user.user_id, user.display_name)


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _matrix(request: Request) -> list[list[int]]:
    matrix: list[list[int]] = request.app.state.settings.priority_matrix
    return matrix


def _back(incident_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/incidents/{incident_id}{anchor}", status_code=303)


def _change(
    request: Request,
    incident_id: int,
    posted: Posted,
    change: Callable[[Any, datetime], object],
    anchor: str = "",
) -> Response:
    """Runs one service call in its own transaction; a refusal rolls it back and is shown."""
    now = utcnow()
    try:
        with _db(request).session() as session:
            change(session, now)
    except ApiError as exc:
        if exc.status == 404:
            raise
        return war_room_page(
            request, incident_id, error=exc.message, status=exc.status, form=_typed(posted)
        )
    return _back(incident_id, anchor)


def _typed(posted: Posted) -> dict[str, str]:
    """What the user typed, to put back in the form after a refusal (never the CSRF token)."""
    return {k: v for k, v in posted.form.items() if isinstance(v, str) and k != "csrf_token"}


def _wake(request: Request, response: Response) -> Response:
    """After a change that created work for the engine: this process's engine does it now (the
    messages go out), not at its next poll."""
    wake = getattr(request.app.state, "wake", None)
    if wake is not None and response.status_code == 303:
        wake()
    return response


def _invalid(request: Request, incident_id: int, posted: Posted, message: str) -> Response:
    return war_room_page(request, incident_id, error=message, status=422, form=_typed(posted))


# --- declare ---------------------------------------------------------------------------------


@router.post("/incidents/new", response_class=HTMLResponse)
def declare(request: Request, posted: ResponderPost) -> Response:
    title = posted.text("title")
    description = posted.text("description")
    impact = to_int(posted.text("impact"), 1, 3)
    urgency = to_int(posted.text("urgency"), 1, 3)
    chosen = [n for n in (to_int(v, 1) for v in posted.texts("service_ids")) if n is not None]
    problems = []
    if not title:
        problems.append("Give the incident a title.")
    elif len(title) > TITLE_MAX:
        problems.append(f"The title is longer than {TITLE_MAX} characters.")
    if len(description) > TEXT_MAX:
        problems.append(f"The description is longer than {TEXT_MAX} characters.")
    if impact is None or urgency is None:
        problems.append("Choose an impact and an urgency.")
    if not problems:
        try:
            with _db(request).session() as session:
                incident = incidents.declare(
                    session,
                    _actor(posted.user),
                    utcnow(),
                    _matrix(request),
                    title=title,
                    description=description,
                    impact=impact or 2,
                    urgency=urgency or 2,
                    service_ids=chosen,
                )
                incident_id = incident.id
        except ApiError as exc:
            problems.append(exc.message)
        else:
            return RedirectResponse(f"/incidents/{incident_id}", status_code=303)
    with _db(request).read_session() as session:
        services = refs.service_refs(session)
    return render(
        request,
        "incident_new.html",
        {
            "services": services,
            "form": _typed(posted),
            "chosen": chosen,
            "error": " ".join(problems),
        },
        status=422,
    )


# --- lifecycle and priority ------------------------------------------------------------------


@router.post("/incidents/{incident_id}/actions/{action}", response_class=HTMLResponse)
def lifecycle_action(
    request: Request, incident_id: int, action: str, posted: ResponderPost
) -> Response:
    if action not in ACTIONS:
        raise PageError(404, "There is no such action.", title="Not found")
    note = posted.text("note")[:5000] or None
    return _change(
        request,
        incident_id,
        posted,
        lambda s, now: incidents.apply_action(
            s, incident_id, action, _actor(posted.user), now, note
        ),
    )


@router.post("/incidents/{incident_id}/priority", response_class=HTMLResponse)
def change_priority(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    impact = to_int(posted.text("impact"), 1, 3)
    urgency = to_int(posted.text("urgency"), 1, 3)
    reason = posted.text("reason")
    if impact is None or urgency is None:
        return _invalid(request, incident_id, posted, "Choose an impact and an urgency.")
    if not reason or len(reason) > REASON_MAX:
        return _invalid(
            request, incident_id, posted, "Say why the priority changes; it goes on the timeline."
        )
    return _change(
        request,
        incident_id,
        posted,
        lambda s, now: incidents.change_priority(
            s,
            incident_id,
            _actor(posted.user),
            now,
            _matrix(request),
            impact=impact,
            urgency=urgency,
            reason=reason,
        ),
    )


# --- notes and roles -------------------------------------------------------------------------


@router.post("/incidents/{incident_id}/notes", response_class=HTMLResponse)
def add_note(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    text = posted.text("text")
    if not text or len(text) > TEXT_MAX:
        return _invalid(request, incident_id, posted, f"A note needs 1 to {TEXT_MAX:,} characters.")
    return _change(
        request,
        incident_id,
        posted,
        lambda s, now: incidents.add_note(s, incident_id, _actor(posted.user), now, text),
        "#note",
    )


def _role(role: str) -> str:
    if role not in ROLE_NAMES:
        raise PageError(404, "There is no such role.", title="Not found")
    return role


@router.post("/incidents/{incident_id}/roles/{role}", response_class=HTMLResponse)
def assign_role(request: Request, incident_id: int, role: str, posted: ResponderPost) -> Response:
    """Take the role (user_id is the signed-in user's) or give it to someone."""
    role = _role(role)
    user_id = to_int(posted.text("user_id"), 1)
    if user_id is None:
        return _invalid(request, incident_id, posted, "Choose who takes the role.")
    return _change(
        request,
        incident_id,
        posted,
        lambda s, now: incidents.assign_role(
            s, incident_id, role, user_id, _actor(posted.user), now
        ),
        "#roles",
    )


@router.post("/incidents/{incident_id}/roles/{role}/release", response_class=HTMLResponse)
def release_role(request: Request, incident_id: int, role: str, posted: ResponderPost) -> Response:
    role = _role(role)
    return _change(
        request,
        incident_id,
        posted,
        lambda s, now: incidents.unassign_role(s, incident_id, role, _actor(posted.user), now),
        "#roles",
    )


# --- tasks -----------------------------------------------------------------------------------


def _due(posted: Posted, name: str = "due_at") -> tuple[datetime | None, bool]:
    """A time typed in the user's zone; (None, False) if it is not a date and time."""
    try:
        return parse_local(posted.text(name), posted.user.time_zone), True
    except ValueError:
        return None, False


@router.post("/incidents/{incident_id}/tasks", response_class=HTMLResponse)
def add_task(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    title = posted.text("title")
    owner = posted.text("owner_id")
    owner_id = to_int(owner, 1)
    due_at, ok = _due(posted)
    if not title or len(title) > TITLE_MAX:
        return _invalid(request, incident_id, posted, f"A task needs a title (1 to {TITLE_MAX}).")
    if not ok or (owner and owner_id is None):
        return _invalid(request, incident_id, posted, "The owner or the due time is not valid.")
    return _change(
        request,
        incident_id,
        posted,
        lambda s, now: incidents.add_task(
            s, incident_id, _actor(posted.user), now, title=title, owner_id=owner_id, due_at=due_at
        ),
        "#tasks",
    )


@router.post("/incidents/{incident_id}/tasks/{task_id}", response_class=HTMLResponse)
def update_task(
    request: Request, incident_id: int, task_id: int, posted: ResponderPost
) -> Response:
    """One form per task: owner and due time, or a status button (done / open again)."""
    changes: dict[str, Any] = {}
    status = posted.text("status")
    if status:
        if status not in ("open", "done"):
            return _invalid(request, incident_id, posted, "A task is open or done.")
        changes["status"] = status
    if "owner_id" in posted.form:
        owner = posted.text("owner_id")
        owner_id = to_int(owner, 1)
        if owner and owner_id is None:
            return _invalid(request, incident_id, posted, "Choose the owner from the list.")
        changes["owner_id"] = owner_id
    if "due_at" in posted.form:
        due_at, ok = _due(posted)
        if not ok:
            return _invalid(request, incident_id, posted, "The due time is not a date and time.")
        changes["due_at"] = due_at
    return _change(
        request,
        incident_id,
        posted,
        lambda s, now: incidents.update_task(
            s, incident_id, task_id, _actor(posted.user), now, changes
        ),
        "#tasks",
    )


# --- mobilise and merge ----------------------------------------------------------------------


def _ids(posted: Posted, name: str) -> list[int] | None:
    """The ids ticked in a list of checkboxes; None if one is not an id."""
    ids = [to_int(v, 1) for v in posted.texts(name) if v]
    return None if None in ids else [i for i in ids if i is not None]


@router.post("/incidents/{incident_id}/mobilise", response_class=HTMLResponse)
def mobilise(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    """Page more people: named users, whole teams, whoever is on call on schedules."""
    user_ids, team_ids = _ids(posted, "user_ids"), _ids(posted, "team_ids")
    schedule_ids = _ids(posted, "schedule_ids")
    message = posted.text("message")
    if user_ids is None or team_ids is None or schedule_ids is None:
        return _invalid(request, incident_id, posted, "Choose people, teams or schedules.")
    if len(message) > REASON_MAX:
        return _invalid(
            request, incident_id, posted, f"The message is longer than {REASON_MAX} characters."
        )
    # The same signed acknowledge/resolve links as the engine's pages, made with the app secret.
    links = action_links(request.app.state.settings, request.app.state.secret)
    return _wake(
        request,
        _change(
            request,
            incident_id,
            posted,
            lambda s, now: paging.mobilise(
                s,
                incident_id,
                _actor(posted.user),
                now,
                user_ids=user_ids,
                team_ids=team_ids,
                schedule_ids=schedule_ids,
                message=message,
                link_maker=links,
            ),
            "#messages",
        ),
    )


@router.post("/incidents/{incident_id}/merge", response_class=HTMLResponse)
def merge(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    """Fold this incident (a duplicate) into another; the page of the survivor follows."""
    typed = posted.text("into_number").lstrip("#") or posted.text("into_id")
    into_id = to_int(typed, 1)
    reason = posted.text("merge_reason")
    if into_id is None:
        return _invalid(
            request,
            incident_id,
            posted,
            "Choose the incident this one duplicates, or type its number.",
        )
    if not reason or len(reason) > REASON_MAX:
        return _invalid(
            request,
            incident_id,
            posted,
            "Say why they are one incident; it goes on both timelines.",
        )
    try:
        with _db(request).session() as session:
            survivor = incidents.merge(
                session, incident_id, into_id, _actor(posted.user), utcnow(), reason
            )
            survivor_id = survivor.id
    except ApiError as exc:
        # An unknown target is a slip in the form (422 here); an unknown incident being merged
        # still gives the 404 page, since showing the war room again looks it up.
        status = 422 if exc.status == 404 else exc.status
        return war_room_page(
            request, incident_id, error=exc.message, status=status, form=_typed(posted)
        )
    return _back(survivor_id)


# --- status updates --------------------------------------------------------------------------

UPDATE_MAX = 5_000
IMPACT_MAX = 1_000


@router.post("/incidents/{incident_id}/status-updates", response_class=HTMLResponse)
def post_status_update(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    """The same service call as POST /api/v1/incidents/{id}/status-updates."""
    visibility = posted.text("visibility") or "internal"
    stage = posted.text("stage") or "investigating"
    message = posted.text("message")
    impact = posted.text("impact")
    component_ids = _ids(posted, "component_ids")
    eta, eta_ok = _due(posted, "estimated_resolution_at")
    next_at, next_ok = _due(posted, "next_update_at")
    if visibility not in ("public", "internal") or stage not in UPDATE_STAGES:
        return _invalid(request, incident_id, posted, "Choose who sees it and the stage.")
    if not message or len(message) > UPDATE_MAX or len(impact) > IMPACT_MAX:
        return _invalid(
            request,
            incident_id,
            posted,
            f"An update needs a message (up to {UPDATE_MAX:,} characters; impact up to "
            f"{IMPACT_MAX:,}).",
        )
    if component_ids is None or not eta_ok or not next_ok:
        return _invalid(
            request, incident_id, posted, "A component or one of the times is not valid."
        )
    return _wake(
        request,
        _change(
            request,
            incident_id,
            posted,
            lambda s, now: updates.post_update(
                s,
                incident_id,
                _actor(posted.user),
                now,
                visibility=visibility,
                stage=stage,
                message=message,
                impact=impact,
                component_ids=component_ids,
                estimated_resolution_at=eta,
                next_update_at=next_at,
            ),
            "#status-updates",
        ),
    )


@router.post("/incidents/{incident_id}/status-updates/{update_id}", response_class=HTMLResponse)
def edit_status_update(
    request: Request, incident_id: int, update_id: int, posted: ResponderPost
) -> Response:
    """Edit the text, stage or impact (the earlier text is kept), or publish an internal one."""
    changes: dict[str, Any] = {}
    for name, limit in (("message", UPDATE_MAX), ("impact", IMPACT_MAX)):
        if name in posted.form:
            value = posted.text(name)
            if (name == "message" and not value) or len(value) > limit:
                return _invalid(
                    request, incident_id, posted, f"The {name} needs 1 to {limit:,} characters."
                )
            changes[name] = value
    stage = posted.text("stage")
    if stage:
        if stage not in UPDATE_STAGES:
            return _invalid(request, incident_id, posted, "Choose a stage from the list.")
        changes["stage"] = stage
    if posted.text("visibility") == "public":
        changes["visibility"] = "public"
    return _wake(
        request,
        _change(
            request,
            incident_id,
            posted,
            lambda s, now: updates.edit_update(
                s, incident_id, update_id, _actor(posted.user), now, changes
            ),
            f"#update-{update_id}",
        ),
    )


# --- major incident --------------------------------------------------------------------------


@router.post("/incidents/{incident_id}/major", response_class=HTMLResponse)
def decide_major(request: Request, incident_id: int, posted: ResponderPost) -> Response:
    """The commander (or an admin) accepts or rejects the major-incident proposal, with a
    reason; accepting pages the major-incident escalation policy's first step."""
    decision = posted.text("decision")
    reason = posted.text("major_reason")
    if decision not in ("accept", "reject"):
        return _invalid(request, incident_id, posted, "Choose Accept or Reject.")
    if not reason or len(reason) > REASON_MAX:
        problem = f"Say why you {decision} it (up to {REASON_MAX:,} characters)."
        return war_room_page(
            request,
            incident_id,
            error=problem,
            status=422,
            form=_typed(posted),
            problems={"major_reason": problem},
        )
    links = action_links(request.app.state.settings, request.app.state.secret)
    user = posted.user

    def change(session: Any, now: datetime) -> None:
        done = major_store.decide(
            session,
            incident_id,
            _actor(user),
            now,
            is_admin=user.role == "admin",
            accept=decision == "accept",
            reason=reason,
        )
        if done.accepted:
            paging.page_major(
                session, incident_id, done.escalation_policy_id, now, link_maker=links
            )

    return _wake(request, _change(request, incident_id, posted, change))
