"""Status updates on an incident: post, edit (keeping every earlier text), list, and the public
ones the status page reads; the timers that tell others about them.

Each write is one transaction with its timeline event and its timers: a public update schedules
`status_page_fanout` (the status page's work, done by the engine) and `stakeholder_notice`;
every update re-plans the update reminders (`comms_check`). Reminders stop when the incident
resolves (:func:`stop_reminders`, part of the transition).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, column, delete, func, insert, select, table, update
from sqlalchemy.orm import Session

from warroom.catalog.models import User
from warroom.errors import ApiError
from warroom.incidents.comms import (
    DEFAULT_CADENCE,
    CadenceError,
    LastUpdate,
    next_update_due,
    parse_cadence,
)
from warroom.incidents.models import (
    OPEN_STATUSES,
    Incident,
    StatusUpdate,
    StatusUpdateRevision,
    status_update_components,
)
from warroom.incidents.paging import wake_peers
from warroom.incidents.timeline import Actor, add_event
from warroom.instance import InstanceSetting
from warroom.notify.models import Notification
from warroom.timers.models import Timer

# Timer kinds written here. The status page registers the engine's handler for the first.
STATUS_PAGE_FANOUT = "status_page_fanout"
STAKEHOLDER_NOTICE = "stakeholder_notice"
# Re-plan the reminders and tell stakeholder lists whose threshold the incident reached.
COMMS_CHECK = "comms_check"
UPDATE_DUE = "update_due"
ROLE_NOTICE = "role_notice"
# Outbox kinds of the reminders (cancelled with them when the incident resolves).
REMINDER = "reminder"
CADENCE_SETTING = "update_cadence"

# The status page's table, named, not imported: it sits above incidents (ADR 7).
_COMPONENTS = table("components", column("id"))
TIMERS = cast(Table, Timer.__table__)
NOTES = cast(Table, Notification.__table__)
# An ETA a few seconds behind the server's clock is a slow form, not a time in the past.
CLOCK_SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class PublicUpdate:
    """A public update as the status page shows it."""

    id: int
    incident_id: int
    stage: str
    message: str
    impact: str
    estimated_resolution_at: datetime | None
    next_update_at: datetime | None
    created_at: datetime
    edited_at: datetime | None
    component_ids: list[int]


# --- cadence ---------------------------------------------------------------------------------


def load_cadence(session: Session, configured: str = DEFAULT_CADENCE) -> dict[int, timedelta]:
    """The installation's cadence: the instance setting an admin stored, else WARROOM_UPDATE_
    CADENCE (a stored value that no longer parses falls back to the configured one)."""
    stored = session.scalar(
        select(InstanceSetting.value).where(InstanceSetting.name == CADENCE_SETTING)
    )
    if stored is not None:
        try:
            return parse_cadence(stored)
        except CadenceError:
            pass
    return parse_cadence(configured)


def store_cadence(session: Session, text: str) -> dict[int, timedelta]:
    try:
        cadence = parse_cadence(text)
    except CadenceError as exc:
        raise ApiError(422, f"update cadence: {exc}") from None
    row = session.get(InstanceSetting, CADENCE_SETTING)
    if row is None:
        session.add(InstanceSetting(name=CADENCE_SETTING, value=text))
    else:
        row.value = text
    return cadence


def last_updates(session: Session, incident_ids: Sequence[int]) -> dict[int, LastUpdate]:
    """The newest update of each incident (any visibility): what the next one is due from."""
    if not incident_ids:
        return {}
    newest = (
        select(func.max(StatusUpdate.id))
        .where(StatusUpdate.incident_id.in_(list(incident_ids)))
        .group_by(StatusUpdate.incident_id)
    )
    rows = session.execute(
        select(
            StatusUpdate.incident_id, StatusUpdate.created_at, StatusUpdate.next_update_at
        ).where(StatusUpdate.id.in_(newest))
    ).all()
    return {iid: LastUpdate(created, nxt) for iid, created, nxt in rows}


def update_due_at(
    session: Session, incident: Incident, cadence: dict[int, timedelta]
) -> datetime | None:
    if incident.status not in OPEN_STATUSES:
        return None
    last = last_updates(session, [incident.id]).get(incident.id)
    return next_update_due(incident.priority, cadence, incident.triggered_at, last)


def schedule_comms_check(session: Session, incident_id: int, now: datetime) -> None:
    """Ask the engine to re-plan this incident's reminders and stakeholder notices."""
    session.add(Timer(kind=COMMS_CHECK, incident_id=incident_id, due_at=now, created_at=now))


def comms_check_rows(incident_ids: Sequence[int], now: datetime) -> list[dict[str, Any]]:
    """The same timers as rows, for the alert batch path's executemany."""
    return [
        {"kind": COMMS_CHECK, "incident_id": iid, "due_at": now, "created_at": now, "payload": {}}
        for iid in incident_ids
    ]


def stop_reminders(conn: Session | Connection, incident_ids: list[int], now: datetime) -> None:
    """Resolved, closed or merged: no update is owed any more; reminders not yet sent are
    cancelled (notices to stakeholders are not: a resolution is news for them)."""
    if not incident_ids:
        return
    conn.execute(
        update(TIMERS)
        .where(
            TIMERS.c.incident_id.in_(incident_ids),
            TIMERS.c.kind.in_((UPDATE_DUE, COMMS_CHECK)),
            TIMERS.c.done_at.is_(None),
        )
        .values(done_at=now)
    )
    conn.execute(
        update(NOTES)
        .where(
            NOTES.c.incident_id.in_(incident_ids),
            NOTES.c.kind == REMINDER,
            NOTES.c.status == "pending",
        )
        .values(status="cancelled", last_error="the incident was resolved")
    )


# --- posting and editing ---------------------------------------------------------------------


def _check_times(
    now: datetime, stage: str, eta: datetime | None, next_update_at: datetime | None
) -> None:
    if next_update_at is not None and next_update_at <= now:
        raise ApiError(
            422,
            "next_update_at is in the past; say when the next update will come",
            [{"field": "next_update_at", "message": "must be in the future"}],
        )
    if eta is not None and stage != "resolved" and eta < now - CLOCK_SLACK:
        raise ApiError(
            422,
            "estimated_resolution_at is in the past; give a new estimate or leave it out",
            [{"field": "estimated_resolution_at", "message": "must be in the future"}],
        )


def _check_components(session: Session, component_ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(component_ids))
    if not wanted:
        return []
    found = set(session.scalars(select(_COMPONENTS.c.id).where(_COMPONENTS.c.id.in_(wanted))))
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ApiError(
            422,
            f"unknown component id(s): {', '.join(map(str, missing))}",
            [{"field": "component_ids", "message": "unknown component"}],
        )
    return wanted


def _get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.scalars(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    ).first()
    if incident is None:
        raise ApiError(404, f"incident {incident_id} does not exist")
    return incident


def _announce(
    session: Session, update_row: StatusUpdate, now: datetime, newly_public: bool
) -> None:
    """The timers a public update needs: the status page's fan-out (every change) and the
    stakeholder lists (the first time it is public)."""
    if update_row.visibility != "public":
        return
    payload = {"update_id": update_row.id}
    session.add(
        Timer(
            kind=STATUS_PAGE_FANOUT,
            incident_id=update_row.incident_id,
            due_at=now,
            created_at=now,
            payload=payload,
        )
    )
    if newly_public:
        session.add(
            Timer(
                kind=STAKEHOLDER_NOTICE,
                incident_id=update_row.incident_id,
                due_at=now,
                created_at=now,
                payload=payload,
            )
        )


def _set_components(session: Session, update_id: int, components: list[int]) -> None:
    if components:
        session.execute(
            insert(status_update_components),
            [{"update_id": update_id, "component_id": c} for c in components],
        )


def _label(visibility: str) -> str:
    return "Public" if visibility == "public" else "Internal"


def post_update(
    session: Session,
    incident_id: int,
    actor: Actor,
    now: datetime,
    *,
    visibility: str,
    stage: str,
    message: str,
    impact: str = "",
    component_ids: Sequence[int] = (),
    estimated_resolution_at: datetime | None = None,
    next_update_at: datetime | None = None,
) -> StatusUpdate:
    incident = _get_incident(session, incident_id)
    if incident.status == "closed":
        raise ApiError(409, f"incident {incident_id} is closed; reopen it to post an update")
    _check_times(now, stage, estimated_resolution_at, next_update_at)
    components = _check_components(session, component_ids)
    row = StatusUpdate(
        incident_id=incident.id,
        visibility=visibility,
        stage=stage,
        message=message,
        impact=impact,
        estimated_resolution_at=estimated_resolution_at,
        next_update_at=next_update_at,
        author_id=actor.id,
        created_at=now,
        revision=1,
    )
    session.add(row)
    session.flush()
    _set_components(session, row.id, components)
    incident.updated_at = now
    add_event(
        session,
        incident.id,
        "status_update",
        f"{_label(visibility)} update ({stage}) by {actor.name}: {message}",
        now,
        actor=actor,
        after={
            "update_id": row.id,
            "visibility": visibility,
            "stage": stage,
            "impact": impact,
            "component_ids": components,
            "estimated_resolution_at": _iso(estimated_resolution_at),
            "next_update_at": _iso(next_update_at),
        },
    )
    _announce(session, row, now, newly_public=True)
    schedule_comms_check(session, incident.id, now)
    wake_peers(session)
    return row


EDITABLE = ("stage", "message", "impact", "estimated_resolution_at", "next_update_at")


def edit_update(
    session: Session,
    incident_id: int,
    update_id: int,
    actor: Actor,
    now: datetime,
    changes: dict[str, Any],
) -> StatusUpdate:
    """Change an update; its text before the change is kept as a revision. An internal update
    may be made public (it is then published); a public one cannot be taken back."""
    incident = _get_incident(session, incident_id)
    row = session.get(StatusUpdate, update_id, with_for_update=True)
    if row is None or row.incident_id != incident.id:
        raise ApiError(404, f"status update {update_id} does not exist on incident {incident_id}")
    visibility = changes.get("visibility", row.visibility)
    if row.visibility == "public" and visibility != "public":
        raise ApiError(
            409,
            "a public update was already published; it cannot be made internal (edit its text)",
        )
    stage = changes.get("stage", row.stage)
    _check_times(
        now,
        stage,
        changes.get("estimated_resolution_at") if "estimated_resolution_at" in changes else None,
        changes.get("next_update_at") if "next_update_at" in changes else None,
    )
    components = (
        _check_components(session, changes["component_ids"]) if "component_ids" in changes else None
    )
    old_components = list(
        session.scalars(
            select(status_update_components.c.component_id)
            .where(status_update_components.c.update_id == row.id)
            .order_by(status_update_components.c.component_id)
        )
    )
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in EDITABLE:
        if name in changes and changes[name] != getattr(row, name):
            before[name] = _iso(getattr(row, name))
            after[name] = _iso(changes[name])
    if visibility != row.visibility:
        before["visibility"], after["visibility"] = row.visibility, visibility
    if components is not None and sorted(components) != old_components:
        before["component_ids"], after["component_ids"] = old_components, components
    if not after:
        raise ApiError(409, "nothing to change: the update already says this")
    session.add(
        StatusUpdateRevision(
            update_id=row.id,
            revision=row.revision,
            stage=row.stage,
            message=row.message,
            impact=row.impact,
            estimated_resolution_at=row.estimated_resolution_at,
            next_update_at=row.next_update_at,
            replaced_at=now,
            replaced_by_id=actor.id,
        )
    )
    newly_public = row.visibility != "public" and visibility == "public"
    for name in EDITABLE:
        if name in changes:
            setattr(row, name, changes[name])
    row.visibility = visibility
    row.revision += 1
    row.edited_at = now
    if components is not None:
        session.execute(
            delete(status_update_components).where(status_update_components.c.update_id == row.id)
        )
        _set_components(session, row.id, components)
    incident.updated_at = now
    add_event(
        session,
        incident.id,
        "status_update_edited",
        f"{_label(row.visibility)} update #{row.id} edited by {actor.name}"
        + (" and published" if newly_public else "")
        + (f": {row.message}" if "message" in after else ""),
        now,
        actor=actor,
        before={"update_id": row.id, "revision": row.revision - 1, **before},
        after={"update_id": row.id, "revision": row.revision, **after},
    )
    session.flush()
    _announce(session, row, now, newly_public=newly_public)
    if "next_update_at" in after:
        schedule_comms_check(session, incident.id, now)
    wake_peers(session)
    return row


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateView:
    update: StatusUpdate
    author_name: str | None
    component_ids: list[int]
    revisions: list[StatusUpdateRevision]


def _components_of(session: Session, update_ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    if update_ids:
        for uid, cid in session.execute(
            select(status_update_components.c.update_id, status_update_components.c.component_id)
            .where(status_update_components.c.update_id.in_(list(update_ids)))
            .order_by(status_update_components.c.component_id)
        ):
            found[uid].append(cid)
    return found


def list_updates(
    session: Session, incident_id: int, visibility: str | None = None
) -> list[UpdateView]:
    """An incident's updates, newest first, each with its components and earlier texts."""
    query = select(StatusUpdate, User.name, User.username).outerjoin(
        User, User.id == StatusUpdate.author_id
    )
    query = query.where(StatusUpdate.incident_id == incident_id)
    if visibility is not None:
        query = query.where(StatusUpdate.visibility == visibility)
    rows = session.execute(query.order_by(StatusUpdate.id.desc())).all()
    ids = [r[0].id for r in rows]
    components = _components_of(session, ids)
    revisions: dict[int, list[StatusUpdateRevision]] = defaultdict(list)
    if ids:
        for rev in session.scalars(
            select(StatusUpdateRevision)
            .where(StatusUpdateRevision.update_id.in_(ids))
            .order_by(StatusUpdateRevision.revision.desc())
        ):
            revisions[rev.update_id].append(rev)
    return [
        UpdateView(u, (name or username) if username else None, components[u.id], revisions[u.id])
        for u, name, username in rows
    ]


def get_update(session: Session, incident_id: int, update_id: int) -> UpdateView:
    for view in list_updates(session, incident_id):
        if view.update.id == update_id:
            return view
    raise ApiError(404, f"status update {update_id} does not exist on incident {incident_id}")


def public_updates(session: Session, incident_ids: Sequence[int]) -> list[PublicUpdate]:
    """The public updates of these incidents, newest first (for the status page and feeds).
    Internal updates are never returned."""
    if not incident_ids:
        return []
    rows = list(
        session.scalars(
            select(StatusUpdate)
            .where(
                StatusUpdate.incident_id.in_(list(incident_ids)),
                StatusUpdate.visibility == "public",
            )
            .order_by(StatusUpdate.created_at.desc(), StatusUpdate.id.desc())
        )
    )
    components = _components_of(session, [u.id for u in rows])
    return [
        PublicUpdate(
            u.id,
            u.incident_id,
            u.stage,
            u.message,
            u.impact,
            u.estimated_resolution_at,
            u.next_update_at,
            u.created_at,
            u.edited_at,
            components[u.id],
        )
        for u in rows
    ]
