"""The status page's writes and live reads: its settings, components and groups, each
component's current status and its recorded history, and subscribers.

Status history is recorded by `reconcile`: it compares each component's derived status
(logic.derive_status at `now`) with its last recorded change and appends one where they differ.
The engine runs it on a `status_page_reconcile` timer every RECONCILE_EVERY and right after
every status-page notice, so the history lags an incident's transition by at most that much;
the page itself derives the current status at read time and never lags.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.orm import Session

from warroom.catalog import service as catalog
from warroom.catalog.models import Service
from warroom.errors import ApiError
from warroom.incidents.models import OPEN_STATUSES, Incident, incident_services
from warroom.instance import InstanceSetting
from warroom.maintenance import windows
from warroom.notify.channels import address_problem
from warroom.reviews import service as reviews
from warroom.statuspage import logic
from warroom.statuspage.models import (
    COMPONENT_STATUSES,
    Component,
    ComponentGroup,
    ComponentStatusChange,
    StatusSubscriber,
    status_subscriber_components,
)
from warroom.timers.models import Timer

RECONCILE = "status_page_reconcile"
RECONCILE_EVERY = timedelta(seconds=30)
SETTINGS_NAME = "status_page"
VERSION_NAME = "status_page_version"
# One confirmation mail per address per this long, whatever the form is sent.
RESEND_AFTER = timedelta(minutes=10)
CONFIRM_VALID = timedelta(days=2)
UNSUBSCRIBE_VALID = timedelta(days=3650)
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSettings:
    name: str = "Status"
    logo_text: str = ""
    accent_colour: str = "#1f6feb"
    header_colour: str = "#0d1117"
    header_text_colour: str = "#ffffff"

    def problem(self) -> str | None:
        if not self.name.strip() or len(self.name) > 120:
            return "the page needs a name of at most 120 characters"
        if len(self.logo_text) > 40:
            return "the logo text is at most 40 characters"
        for label, value in (
            ("accent colour", self.accent_colour),
            ("header colour", self.header_colour),
            ("header text colour", self.header_text_colour),
        ):
            if not _COLOUR.fullmatch(value):
                return f"the {label} must be a colour like #1f6feb"
        return None


def _setting(session: Session, name: str) -> str | None:
    return session.scalar(select(InstanceSetting.value).where(InstanceSetting.name == name))


def _put_setting(session: Session, name: str, value: str) -> None:
    done = session.execute(
        update(InstanceSetting).where(InstanceSetting.name == name).values(value=value)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        session.add(InstanceSetting(name=name, value=value))
        session.flush()


def page_settings(session: Session) -> PageSettings:
    raw = _setting(session, SETTINGS_NAME)
    if not raw:
        return PageSettings()
    known = set(PageSettings.__dataclass_fields__)
    return PageSettings(**{k: v for k, v in json.loads(raw).items() if k in known})


def save_settings(session: Session, settings: PageSettings) -> PageSettings:
    problem = settings.problem()
    if problem:
        raise ApiError(422, problem)
    _put_setting(session, SETTINGS_NAME, json.dumps(asdict(settings)))
    touch(session)
    return settings


# Status-page writes committed by this process: its cache looks at the version again at once
# instead of after public.CHECK_EVERY.
LOCAL_WRITES = [0]


def _committed(_session: Session) -> None:
    LOCAL_WRITES[0] += 1


def changed_here(session: Session) -> None:
    """Something `version` reads changed in this transaction (a review published): once it
    commits, this process's cache looks at the version at once."""
    if not event.contains(session, "after_commit", _committed):
        event.listen(session, "after_commit", _committed, once=True)


def touch(session: Session) -> None:
    """Mark the public page stale (every process's cache sees the new version)."""
    _put_setting(session, VERSION_NAME, uuid.uuid4().hex)
    if not event.contains(session, "after_commit", _committed):
        event.listen(session, "after_commit", _committed, once=True)


def version(session: Session) -> tuple[Any, ...]:
    """What the public page depends on, in two cheap reads (primary keys and the open
    incidents, which the (status, priority, ...) index finds): status-page writes touch the
    version; a new status update, timer (every public update and edit schedules its fan-out),
    maintenance window or recorded status change is a new id; an incident opening, moving or
    closing changes the open set; publishing a review (with its public summary) changes the
    count of published reviews. Anything else (an edited text that schedules nothing) shows
    within public.MAX_AGE."""
    from warroom.incidents.models import StatusUpdate
    from warroom.maintenance.models import MaintenanceWindow

    stamps = session.execute(
        select(
            select(InstanceSetting.value)
            .where(InstanceSetting.name == VERSION_NAME)
            .scalar_subquery(),
            select(func.max(StatusUpdate.id)).scalar_subquery(),
            select(func.max(Timer.id)).scalar_subquery(),
            select(func.max(MaintenanceWindow.id)).scalar_subquery(),
            select(func.max(ComponentStatusChange.id)).scalar_subquery(),
            reviews.published_count(),
        )
    ).one()
    open_set = session.execute(
        select(Incident.id, Incident.status, Incident.priority)
        .where(Incident.status.in_(OPEN_STATUSES))
        .order_by(Incident.id)
    ).all()
    return (*stamps, tuple(tuple(r) for r in open_set))


# --- components and groups ---------------------------------------------------------------------


def get_component(session: Session, component_id: int) -> Component:
    component = session.get(Component, component_id)
    if component is None:
        raise ApiError(404, f"component {component_id} does not exist")
    return component


def get_group(session: Session, group_id: int) -> ComponentGroup:
    group = session.get(ComponentGroup, group_id)
    if group is None:
        raise ApiError(404, f"component group {group_id} does not exist")
    return group


def _check_refs(
    session: Session, group_id: int | None, service_id: int | None, current: int | None = None
) -> None:
    if group_id is not None and session.get(ComponentGroup, group_id) is None:
        raise ApiError(422, f"component group {group_id} does not exist")
    if service_id is not None and session.get(Service, service_id) is None:
        raise ApiError(422, f"service {service_id} does not exist")
    if service_id is not None and service_id != current:
        # An archived service has no incidents to show; a mapping made before it stays.
        catalog.refuse_archived(session, [service_id], "service_id")


def _name_free(session: Session, model: Any, name: str, own_id: int | None = None) -> None:
    query = select(model.id).where(model.name == name)
    if own_id is not None:
        query = query.where(model.id != own_id)
    if session.scalar(query) is not None:
        raise ApiError(409, f"there is already one named {name!r}")


def ensure_reconcile_timer(session: Session, now: datetime) -> None:
    pending = session.scalar(
        select(Timer.id).where(Timer.kind == RECONCILE, Timer.done_at.is_(None)).limit(1)
    )
    if pending is None:
        session.add(Timer(kind=RECONCILE, due_at=now, payload={}))


def create_component(
    session: Session,
    *,
    name: str,
    description: str = "",
    group_id: int | None = None,
    service_id: int | None = None,
    private: bool = False,
    position: int = 0,
    now: datetime,
) -> Component:
    _check_refs(session, group_id, service_id)
    _name_free(session, Component, name)
    component = Component(
        name=name,
        description=description,
        group_id=group_id,
        service_id=service_id,
        private=private,
        position=position,
        created_at=now,
    )
    session.add(component)
    session.flush()
    session.add(
        ComponentStatusChange(
            component_id=component.id, at=now, status=logic.OPERATIONAL, source="check"
        )
    )
    ensure_reconcile_timer(session, now)
    touch(session)
    return component


UNSET: Any = object()


def update_component(
    session: Session, component: Component, now: datetime, user_id: int | None, **changes: Any
) -> Component:
    """Apply the given fields; `manual_status` None clears a status set by hand."""
    group_id = changes.get("group_id", component.group_id)
    service_id = changes.get("service_id", component.service_id)
    _check_refs(session, group_id, service_id, component.service_id)
    if "name" in changes:
        _name_free(session, Component, changes["name"], component.id)
    for field in ("name", "description", "group_id", "service_id", "private", "position"):
        if field in changes:
            setattr(component, field, changes[field])
    if "manual_status" in changes:
        status = changes["manual_status"]
        if status is not None and status not in COMPONENT_STATUSES:
            raise ApiError(422, f"unknown status {status!r}")
        component.manual_status = status
        component.manual_reason = changes.get("manual_reason") or "" if status else ""
        component.manual_set_at = now if status else None
        component.manual_set_by_id = user_id if status else None
        reconcile(session, now, only=[component.id])
    elif "manual_reason" in changes and component.manual_status is not None:
        component.manual_reason = changes["manual_reason"] or ""
    touch(session)
    return component


def delete_component(session: Session, component: Component) -> None:
    session.delete(component)
    touch(session)


def create_group(
    session: Session, *, name: str, description: str = "", position: int = 0, now: datetime
) -> ComponentGroup:
    _name_free(session, ComponentGroup, name)
    group = ComponentGroup(name=name, description=description, position=position, created_at=now)
    session.add(group)
    session.flush()
    touch(session)
    return group


def update_group(session: Session, group: ComponentGroup, **changes: Any) -> ComponentGroup:
    if "name" in changes:
        _name_free(session, ComponentGroup, changes["name"], group.id)
    for field in ("name", "description", "position"):
        if field in changes:
            setattr(group, field, changes[field])
    touch(session)
    return group


def delete_group(session: Session, group: ComponentGroup) -> None:
    session.execute(update(Component).where(Component.group_id == group.id).values(group_id=None))
    session.delete(group)
    touch(session)


# --- current status and history ----------------------------------------------------------------


def open_incidents_by_service(session: Session) -> dict[int, list[tuple[int, str, int]]]:
    """Each service's open incidents as (priority, state, incident id)."""
    rows = session.execute(
        select(incident_services.c.service_id, Incident.priority, Incident.status, Incident.id)
        .join(Incident, Incident.id == incident_services.c.incident_id)
        .where(Incident.status.in_(OPEN_STATUSES), Incident.merged_into_id.is_(None))
    )
    found: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for service_id, priority, state, incident_id in rows:
        found[service_id].append((priority, state, incident_id))
    return found


def current_statuses(
    session: Session, components: Sequence[Component], now: datetime
) -> dict[int, logic.Derived]:
    by_service = open_incidents_by_service(session)
    in_maintenance = windows.active_component_ids(session, now)
    return {
        c.id: logic.derive_status(
            c.manual_status,
            c.manual_reason,
            [(p, s) for p, s, _ in by_service.get(c.service_id or -1, [])],
            c.id in in_maintenance,
        )
        for c in components
    }


def last_recorded(session: Session, ids: Sequence[int] | None = None) -> dict[int, str]:
    latest = select(
        ComponentStatusChange.component_id, func.max(ComponentStatusChange.id).label("id")
    ).group_by(ComponentStatusChange.component_id)
    if ids is not None:
        latest = latest.where(ComponentStatusChange.component_id.in_(ids))
    sub = latest.subquery()
    rows = session.execute(
        select(ComponentStatusChange.component_id, ComponentStatusChange.status).join(
            sub, sub.c.id == ComponentStatusChange.id
        )
    )
    return dict(rows.all())


def reconcile(session: Session, now: datetime, only: Sequence[int] | None = None) -> int:
    """Append a status change for each component whose derived status differs from its last
    recorded one; returns how many were appended."""
    query = select(Component)
    if only is not None:
        query = query.where(Component.id.in_(only))
    components = list(session.scalars(query))
    if not components:
        return 0
    derived = current_statuses(session, components, now)
    recorded = last_recorded(session, [c.id for c in components])
    changed = [
        {
            "component_id": c.id,
            "at": now,
            "status": derived[c.id].status,
            "source": derived[c.id].source if derived[c.id].source != "none" else "check",
            "reason": derived[c.id].reason,
        }
        for c in components
        if recorded.get(c.id) != derived[c.id].status
    ]
    if changed:
        session.execute(insert(ComponentStatusChange), changed)
    return len(changed)


def history(
    session: Session, component_ids: Sequence[int], since: datetime
) -> dict[int, list[tuple[datetime, str]]]:
    """Each component's changes from the last one before `since` on, oldest first."""
    before = (
        select(
            ComponentStatusChange.component_id,
            func.max(ComponentStatusChange.id).label("id"),
        )
        .where(ComponentStatusChange.at <= since)
        .group_by(ComponentStatusChange.component_id)
        .subquery()
    )
    rows = session.execute(
        select(
            ComponentStatusChange.component_id,
            ComponentStatusChange.at,
            ComponentStatusChange.status,
            ComponentStatusChange.id,
        ).where(
            ComponentStatusChange.component_id.in_(component_ids),
            (ComponentStatusChange.at > since) | ComponentStatusChange.id.in_(select(before.c.id)),
        )
    )
    found: dict[int, list[tuple[datetime, str, int]]] = defaultdict(list)
    for component_id, at, status, row_id in rows:
        found[component_id].append((at, status, row_id))
    return {
        cid: [(at, status) for at, status, _ in sorted(items, key=lambda r: (r[0], r[2]))]
        for cid, items in found.items()
    }


# --- subscribers -------------------------------------------------------------------------------


class TooSoon(Exception):
    """A confirmation mail went to this address a moment ago."""


def _check_component_ids(session: Session, ids: Sequence[int]) -> list[int]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    public = set(
        session.scalars(
            select(Component.id).where(Component.id.in_(wanted), Component.private.is_(False))
        )
    )
    if public != set(wanted):
        raise ApiError(422, "choose components from the list")
    return wanted


def _set_components(session: Session, subscriber_id: int, ids: Sequence[int]) -> None:
    session.execute(
        delete(status_subscriber_components).where(
            status_subscriber_components.c.subscriber_id == subscriber_id
        )
    )
    if ids:
        session.execute(
            insert(status_subscriber_components),
            [{"subscriber_id": subscriber_id, "component_id": c} for c in ids],
        )


def subscribe_email(
    session: Session, address: str, component_ids: Sequence[int], now: datetime
) -> StatusSubscriber:
    """Record (or renew) an unconfirmed email subscription; the caller queues the confirmation
    mail. Raises ApiError(422) for an invalid address and TooSoon within RESEND_AFTER of the
    previous confirmation mail to this address."""
    address = address.strip()
    problem = address_problem("email", address)
    if problem or len(address) > 254:
        raise ApiError(422, f"not a valid email address: {problem or 'too long'}")
    wanted = _check_component_ids(session, component_ids)
    subscriber = session.scalar(
        select(StatusSubscriber).where(
            StatusSubscriber.channel == "email",
            func.lower(StatusSubscriber.address) == address.lower(),
        )
    )
    if subscriber is None:
        subscriber = StatusSubscriber(channel="email", address=address, created_at=now)
        session.add(subscriber)
        session.flush()
    elif subscriber.confirmation_sent_at and now - subscriber.confirmation_sent_at < RESEND_AFTER:
        raise TooSoon
    else:
        # Subscribing again (after unsubscribing, or to other components) is confirmed again.
        subscriber.confirmed_at = None
        subscriber.unsubscribed_at = None
    subscriber.confirmation_sent_at = now
    _set_components(session, subscriber.id, wanted)
    return subscriber


def subscribe_webhook(
    session: Session,
    url: str,
    component_ids: Sequence[int],
    now: datetime,
    allowed_networks: tuple[str, ...] = (),
) -> tuple[StatusSubscriber, str]:
    """A webhook subscriber, active at once; returns it and its signing secret (shown once)."""
    url = url.strip()
    problem = address_problem("webhook", url, allowed_networks)
    if problem or len(url) > 2000:
        raise ApiError(422, f"not a usable webhook URL: {problem or 'too long'}")
    wanted = _check_component_ids(session, component_ids)
    subscriber = session.scalar(
        select(StatusSubscriber).where(
            StatusSubscriber.channel == "webhook", StatusSubscriber.address == url
        )
    )
    if subscriber is not None and subscriber.unsubscribed_at is None:
        raise ApiError(409, "this URL is already subscribed")
    secret = secrets.token_urlsafe(32)
    if subscriber is None:
        subscriber = StatusSubscriber(channel="webhook", address=url, created_at=now)
        session.add(subscriber)
    subscriber.secret, subscriber.confirmed_at, subscriber.unsubscribed_at = secret, now, None
    session.flush()
    _set_components(session, subscriber.id, wanted)
    return subscriber, secret


def confirm(session: Session, subscriber_id: int, now: datetime) -> StatusSubscriber | None:
    subscriber = session.get(StatusSubscriber, subscriber_id)
    if subscriber is None or subscriber.unsubscribed_at is not None:
        return None
    subscriber.confirmed_at = subscriber.confirmed_at or now
    return subscriber


def unsubscribe(session: Session, subscriber_id: int, now: datetime) -> StatusSubscriber | None:
    subscriber = session.get(StatusSubscriber, subscriber_id)
    if subscriber is None:
        return None
    subscriber.unsubscribed_at = subscriber.unsubscribed_at or now
    return subscriber


def subscriber_component_ids(session: Session, ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    if not ids:
        return found
    for sid, cid in session.execute(
        select(
            status_subscriber_components.c.subscriber_id,
            status_subscriber_components.c.component_id,
        ).where(status_subscriber_components.c.subscriber_id.in_(ids))
    ):
        found[sid].append(cid)
    return found
