"""REST routes of the status page: its settings, components and groups, maintenance windows
and subscribers (admins write; everyone signed in reads, except subscribers' addresses)."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.api.deps import Admin, ReadDB, Reader, WriteDB
from warroom.api.openapi import ApiRouter
from warroom.api.pagination import page
from warroom.api.params import Cursor, Limit, PathId
from warroom.common.schemas import Page
from warroom.db.base import utcnow
from warroom.errors import ApiError, responses
from warroom.maintenance import windows
from warroom.maintenance.models import MaintenanceWindow
from warroom.maintenance.occurrences import describe, next_occurrence
from warroom.statuspage import fanout
from warroom.statuspage import service as statuspage
from warroom.statuspage.models import Component, ComponentGroup, StatusSubscriber
from warroom.statuspage.schemas import (
    ComponentIn,
    ComponentOut,
    ComponentPatch,
    GroupIn,
    GroupOut,
    GroupPatch,
    PageSettingsIn,
    PageSettingsOut,
    SubscriberIn,
    SubscriberOut,
    WindowIn,
    WindowOut,
    WindowPatch,
)

router = ApiRouter(prefix="/api/v1")


@router.get("/status-page", response_model=PageSettingsOut, tags=["status page"])
def get_page_settings(_: Reader, session: ReadDB) -> PageSettingsOut:
    return PageSettingsOut.model_validate(statuspage.page_settings(session))


@router.put("/status-page", response_model=PageSettingsOut, tags=["status page"])
def put_page_settings(body: PageSettingsIn, _: Admin, session: WriteDB) -> PageSettingsOut:
    saved = statuspage.save_settings(session, statuspage.PageSettings(**body.model_dump()))
    return PageSettingsOut.model_validate(saved)


def _component_outs(session: Session, rows: list[Component]) -> list[ComponentOut]:
    derived = statuspage.current_statuses(session, rows, utcnow())
    return [
        ComponentOut(
            id=c.id,
            name=c.name,
            description=c.description,
            group_id=c.group_id,
            service_id=c.service_id,
            private=c.private,
            position=c.position,
            status=derived[c.id].status,
            status_source=derived[c.id].source,
            manual_status=c.manual_status,
            manual_reason=c.manual_reason,
            created_at=c.created_at,
        )
        for c in rows
    ]


@router.get("/components", response_model=Page[ComponentOut], tags=["status page"])
def list_components(
    _: Reader, session: ReadDB, limit: Limit = 50, cursor: Cursor = None
) -> Page[ComponentOut]:
    rows, nxt = page(session, select(Component), Component.id, limit, cursor)
    return Page(items=_component_outs(session, list(rows)), next_cursor=nxt)


@router.post(
    "/components",
    response_model=ComponentOut,
    status_code=201,
    tags=["status page"],
    responses=responses(409, 422),
)
def create_component(body: ComponentIn, _: Admin, session: WriteDB) -> ComponentOut:
    component = statuspage.create_component(session, **body.model_dump(), now=utcnow())
    return _component_outs(session, [component])[0]


@router.get("/components/{component_id}", response_model=ComponentOut, tags=["status page"])
def get_component(component_id: PathId, _: Reader, session: ReadDB) -> ComponentOut:
    return _component_outs(session, [statuspage.get_component(session, component_id)])[0]


@router.patch(
    "/components/{component_id}",
    response_model=ComponentOut,
    tags=["status page"],
    responses=responses(409, 422),
)
def update_component(
    component_id: PathId, body: ComponentPatch, principal: Admin, session: WriteDB
) -> ComponentOut:
    component = statuspage.get_component(session, component_id)
    statuspage.update_component(
        session, component, utcnow(), principal.id, **body.model_dump(exclude_unset=True)
    )
    return _component_outs(session, [component])[0]


@router.delete("/components/{component_id}", status_code=204, tags=["status page"])
def delete_component(component_id: PathId, _: Admin, session: WriteDB) -> Response:
    statuspage.delete_component(session, statuspage.get_component(session, component_id))
    return Response(status_code=204)


@router.get("/component-groups", response_model=list[GroupOut], tags=["status page"])
def list_groups(_: Reader, session: ReadDB) -> list[ComponentGroup]:
    return list(session.scalars(select(ComponentGroup).order_by(ComponentGroup.position)))


@router.post(
    "/component-groups",
    response_model=GroupOut,
    status_code=201,
    tags=["status page"],
    responses=responses(409),
)
def create_group(body: GroupIn, _: Admin, session: WriteDB) -> ComponentGroup:
    return statuspage.create_group(session, **body.model_dump(), now=utcnow())


@router.patch(
    "/component-groups/{group_id}",
    response_model=GroupOut,
    tags=["status page"],
    responses=responses(409),
)
def update_group(group_id: PathId, body: GroupPatch, _: Admin, session: WriteDB) -> ComponentGroup:
    group = statuspage.get_group(session, group_id)
    return statuspage.update_group(session, group, **body.model_dump(exclude_unset=True))


@router.delete("/component-groups/{group_id}", status_code=204, tags=["status page"])
def delete_group(group_id: PathId, _: Admin, session: WriteDB) -> Response:
    statuspage.delete_group(session, statuspage.get_group(session, group_id))
    return Response(status_code=204)


# --- maintenance windows -----------------------------------------------------------------------


def _window_out(session: Session, w: MaintenanceWindow) -> WindowOut:
    spec = windows.spec_of(w)
    occ = next_occurrence(spec, utcnow())
    return WindowOut(
        id=w.id,
        title=w.title,
        description=w.description,
        starts_at=w.starts_at,
        ends_at=w.ends_at,
        public=w.public,
        component_ids=windows.component_ids(session, w.id),
        service_ids=windows.service_ids(session, w.id),
        created_at=w.created_at,
        cancelled_at=w.cancelled_at,
        rrule=w.rrule,
        recur_until=w.recur_until,
        time_zone=w.time_zone,
        recurrence=describe(spec),
        next_starts_at=occ.starts_at if occ else None,
        next_ends_at=occ.ends_at if occ else None,
    )


@router.get("/maintenance-windows", response_model=Page[WindowOut], tags=["status page"])
def list_windows(
    _: Reader, session: ReadDB, limit: Limit = 50, cursor: Cursor = None
) -> Page[WindowOut]:
    rows, nxt = page(session, select(MaintenanceWindow), MaintenanceWindow.id, limit, cursor)
    return Page(items=[_window_out(session, w) for w in rows], next_cursor=nxt)


@router.post(
    "/maintenance-windows",
    response_model=WindowOut,
    status_code=201,
    tags=["status page"],
    responses=responses(422),
)
def create_window(
    body: WindowIn, principal: Admin, session: WriteDB, request: Request
) -> WindowOut:
    window = windows.create(session, **body.model_dump(), created_by_id=principal.id, now=utcnow())
    statuspage.touch(session)
    request.app.state.wake()
    return _window_out(session, window)


# One window is read and cancelled through /api/v1/maintenance-windows/{id} of api/noise.py
# (the same rows: cancelling there also tells the status page's subscribers).


@router.patch(
    "/maintenance-windows/{window_id}",
    response_model=WindowOut,
    tags=["status page"],
    responses=responses(409, 422),
)
def update_window(
    window_id: PathId, body: WindowPatch, _: Admin, session: WriteDB, request: Request
) -> WindowOut:
    window = windows.update(
        session, windows.get(session, window_id), utcnow(), **body.model_dump(exclude_unset=True)
    )
    statuspage.touch(session)
    request.app.state.wake()
    return _window_out(session, window)


# --- subscribers -------------------------------------------------------------------------------


def _subscriber_out(session: Session, rows: list[StatusSubscriber]) -> list[SubscriberOut]:
    comps = statuspage.subscriber_component_ids(session, [r.id for r in rows])
    return [
        SubscriberOut(
            id=r.id,
            channel=r.channel,
            address=r.address,
            confirmed_at=r.confirmed_at,
            unsubscribed_at=r.unsubscribed_at,
            component_ids=sorted(comps.get(r.id, [])),
            created_at=r.created_at,
        )
        for r in rows
    ]


@router.get("/status-subscribers", response_model=Page[SubscriberOut], tags=["status page"])
def list_subscribers(
    _: Admin, session: ReadDB, limit: Limit = 50, cursor: Cursor = None
) -> Page[SubscriberOut]:
    rows, nxt = page(session, select(StatusSubscriber), StatusSubscriber.id, limit, cursor)
    return Page(items=_subscriber_out(session, list(rows)), next_cursor=nxt)


@router.post(
    "/status-subscribers",
    response_model=SubscriberOut,
    status_code=201,
    tags=["status page"],
    responses=responses(409, 422, 429),
)
def create_subscriber(
    body: SubscriberIn, _: Admin, session: WriteDB, request: Request
) -> SubscriberOut:
    """Email subscribers are sent the confirmation mail (and mailed nothing else until they
    confirm); webhook subscribers are active at once and the answer carries their secret."""
    now = utcnow()
    settings = request.app.state.settings
    if body.channel == "webhook":
        row, secret = statuspage.subscribe_webhook(
            session,
            body.address,
            body.component_ids,
            now,
            tuple(settings.outbound_allow_networks),
        )
        return _subscriber_out(session, [row])[0].model_copy(update={"secret": secret})
    try:
        row = statuspage.subscribe_email(session, body.address, body.component_ids, now)
    except statuspage.TooSoon:
        raise ApiError(429, "a confirmation mail went to this address a moment ago") from None
    fanout.queue_confirmation(
        session,
        row,
        statuspage.page_settings(session).name,
        settings.base_url,
        request.app.state.secret,
        now,
    )
    request.app.state.wake()
    return _subscriber_out(session, [row])[0]


@router.delete("/status-subscribers/{subscriber_id}", status_code=204, tags=["status page"])
def delete_subscriber(subscriber_id: PathId, _: Admin, session: WriteDB) -> Response:
    row = session.get(StatusSubscriber, subscriber_id)
    if row is None:
        raise ApiError(404, f"subscriber {subscriber_id} does not exist")
    session.delete(row)
    return Response(status_code=204)
