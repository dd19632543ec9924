"""What the public reads: one snapshot of the page (public components with their status and
uptime, incidents with their public updates, maintenance), built in a few queries and cached.

Only public things enter a snapshot: private components are left out (and out of the overall
status), incidents appear only once they have a public update and then only with their public
updates, maintenance windows only when public, and of a review only the public summary
of a published one, on a resolved incident. Everything the HTML page, the JSON API and the
feeds show is read from a snapshot, so nothing private can reach them by another path.

The cache holds one snapshot per process, keyed by `service.version` (one cheap read, at most
once per CHECK_EVERY: a write shows within a second) and valid until the next moment the page
changes by itself (a maintenance window starting or ending, the next UTC day of the uptime
bars, at most MAX_AGE). While one request
rebuilds, the others serve the previous snapshot rather than wait.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service
from warroom.incidents.models import (
    OPEN_STATUSES,
    Incident,
    StatusUpdate,
    incident_services,
)
from warroom.incidents.models import status_update_components as update_components
from warroom.maintenance import occurrences, windows
from warroom.maintenance.models import MaintenanceWindow, maintenance_components
from warroom.reviews import service as reviews
from warroom.statuspage import logic, service
from warroom.statuspage.models import Component, ComponentGroup, ComponentStatusChange

HISTORY_PAGE = 25
MAX_AGE = timedelta(seconds=10)
# The version is read at most this often per process: a burst of readers costs no query.
CHECK_EVERY = 1.0


@dataclass(frozen=True)
class PublicUpdate:
    id: int
    stage: str
    message: str
    impact: str
    created_at: datetime
    edited_at: datetime | None
    component_ids: tuple[int, ...]


@dataclass(frozen=True)
class PublicIncident:
    id: int
    name: str
    status: str  # Statuspage's: investigating, identified, monitoring, resolved
    impact: str
    priority: int
    started_at: datetime
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    monitoring_at: datetime | None
    component_ids: tuple[int, ...]
    updates: tuple[PublicUpdate, ...]  # newest first
    # A published review's public summary (never the review's other sections); '' if none.
    review_summary: str = ""
    review_published_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class PublicComponent:
    id: int
    name: str
    description: str
    group_id: int | None
    position: int
    status: str
    reason: str
    created_at: datetime
    updated_at: datetime
    days: tuple[logic.Day, ...]
    uptime: float | None
    # The service a public problem report about this component goes to (never rendered).
    service_id: int | None = None
    # Its service is archived: no problem can be reported about it (its history still shows).
    service_archived: bool = False


@dataclass(frozen=True)
class PublicGroup:
    id: int
    name: str
    description: str
    position: int
    created_at: datetime
    status: str
    component_ids: tuple[int, ...]


@dataclass(frozen=True)
class PublicMaintenance:
    id: int
    name: str
    description: str
    status: str  # scheduled | in_progress | completed
    scheduled_for: datetime
    scheduled_until: datetime
    created_at: datetime
    component_ids: tuple[int, ...]
    # A recurring window's rule in words ("every Sunday 02:00–04:00 Europe/Berlin"); '' if
    # one-off. Each occurrence shown is its own entry, under the same window id.
    recurrence: str = ""

    @property
    def key(self) -> str:
        """Statuspage's id of this maintenance: the window's, and for an occurrence of a
        recurring window also its start, so each occurrence is scheduled, in progress and
        completed on its own."""
        if not self.recurrence:
            return f"m{self.id}"
        return f"m{self.id}-{self.scheduled_for.astimezone(UTC):%Y%m%dT%H%MZ}"


@dataclass(frozen=True)
class Snapshot:
    built_at: datetime
    valid_until: datetime
    settings: service.PageSettings
    indicator: str
    description: str
    components: tuple[PublicComponent, ...]
    groups: tuple[PublicGroup, ...]
    incidents: tuple[PublicIncident, ...]  # every public incident, newest first
    # Upcoming and in progress, soonest first (a recurring window: its occurrence in progress
    # and the next one).
    maintenance: tuple[PublicMaintenance, ...]
    updated_at: datetime
    by_id: dict[int, PublicComponent] = field(default_factory=dict)
    # Rendered forms (HTML, JSON, feeds), filled on first use: key -> bytes.
    rendered: dict[str, bytes] = field(default_factory=dict)

    @property
    def unresolved(self) -> tuple[PublicIncident, ...]:
        return tuple(i for i in self.incidents if i.open)

    @property
    def resolved(self) -> tuple[PublicIncident, ...]:
        return tuple(i for i in self.incidents if not i.open)

    def incident(self, incident_id: int) -> PublicIncident | None:
        return next((i for i in self.incidents if i.id == incident_id), None)

    def ungrouped(self) -> tuple[PublicComponent, ...]:
        return tuple(c for c in self.components if c.group_id is None)

    def reportable(self) -> tuple[PublicComponent, ...]:
        """The components a visitor can report a problem with: those mapped to a service in
        use."""
        return tuple(
            c for c in self.components if c.service_id is not None and not c.service_archived
        )

    def in_group(self, group: PublicGroup) -> tuple[PublicComponent, ...]:
        return tuple(self.by_id[i] for i in group.component_ids)


def _incidents(
    session: Session, public_component_ids: set[int], component_by_service: dict[int, list[int]]
) -> list[PublicIncident]:
    updates = session.execute(
        select(
            StatusUpdate.id,
            StatusUpdate.incident_id,
            StatusUpdate.stage,
            StatusUpdate.message,
            StatusUpdate.impact,
            StatusUpdate.created_at,
            StatusUpdate.edited_at,
        )
        .where(StatusUpdate.visibility == "public")
        .order_by(StatusUpdate.created_at.desc(), StatusUpdate.id.desc())
    ).all()
    if not updates:
        return []
    update_ids = [u[0] for u in updates]
    named: dict[int, list[int]] = defaultdict(list)
    for uid, cid in session.execute(
        select(update_components.c.update_id, update_components.c.component_id).where(
            update_components.c.update_id.in_(update_ids)
        )
    ):
        if cid in public_component_ids:
            named[uid].append(cid)
    by_incident: dict[int, list[PublicUpdate]] = defaultdict(list)
    for uid, iid, stage, message, impact, created, edited in updates:
        by_incident[iid].append(
            PublicUpdate(uid, stage, message, impact, created, edited, tuple(sorted(named[uid])))
        )
    incidents = session.scalars(select(Incident).where(Incident.id.in_(list(by_incident)))).all()
    services: dict[int, list[int]] = defaultdict(list)
    for iid, sid in session.execute(
        select(incident_services.c.incident_id, incident_services.c.service_id).where(
            incident_services.c.incident_id.in_(list(by_incident))
        )
    ):
        services[iid].append(sid)
    summaries = reviews.public_summaries(session)
    found = []
    for incident in incidents:
        ups = tuple(by_incident[incident.id])
        latest = ups[0]
        open_ = incident.status in OPEN_STATUSES and incident.merged_into_id is None
        status = latest.stage if open_ else "resolved"
        if open_ and status == "resolved":
            status = "monitoring"  # said resolved, but the incident itself is still open
        components = {c for u in ups for c in u.component_ids}
        if not components:
            components = {c for s in services[incident.id] for c in component_by_service.get(s, [])}
        monitoring = [u.created_at for u in ups if u.stage == "monitoring"]
        # A reopened incident's review was about an ending that no longer holds.
        review: tuple[str, datetime | None] = (
            ("", None) if open_ else summaries.get(incident.id, ("", None))
        )
        found.append(
            PublicIncident(
                id=incident.id,
                name=incident.title,
                status=status,
                impact=logic.incident_impact(incident.priority),
                priority=incident.priority,
                started_at=incident.impact_started_at or incident.triggered_at,
                created_at=ups[-1].created_at,
                updated_at=max(u.edited_at or u.created_at for u in ups),
                resolved_at=(incident.resolved_at or incident.closed_at) if not open_ else None,
                monitoring_at=min(monitoring) if monitoring else None,
                component_ids=tuple(sorted(components)),
                updates=ups,
                review_summary=review[0],
                review_published_at=review[1],
            )
        )
    found.sort(key=lambda i: (i.created_at, i.id), reverse=True)
    return found


def _maintenance(
    session: Session, now: datetime, public_ids: set[int]
) -> tuple[list[PublicMaintenance], list[datetime]]:
    """Public windows still to come or in progress, soonest first, and the moments one of
    them starts or ends (when the snapshot must be rebuilt). A recurring window shows its
    occurrence in progress (if any) and the next one to start, each with its rule in words."""
    windows_ = session.scalars(
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.public.is_(True),
            MaintenanceWindow.cancelled_at.is_(None),
            MaintenanceWindow.rrule.is_not(None) | (MaintenanceWindow.ends_at > now),
        )
        .order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)
    ).all()
    comps: dict[int, list[int]] = defaultdict(list)
    if windows_:
        for wid, cid in session.execute(
            select(maintenance_components.c.window_id, maintenance_components.c.component_id)
            .where(maintenance_components.c.window_id.in_([w.id for w in windows_]))
            .order_by(maintenance_components.c.component_id)
        ):
            if cid in public_ids:
                comps[wid].append(cid)
    found, edges = [], []
    for w in windows_:
        spec = windows.spec_of(w)
        if w.rrule is None:
            shown = [occurrences.Occurrence(w.id, w.title, w.starts_at, w.ends_at)]
        else:
            running = occurrences.current(spec, now)
            after = running.ends_at if running else now
            following = occurrences.next_occurrence(spec, after)
            if following is not None and following.starts_at < after:
                following = None  # overlapping occurrences: the running one is shown
            shown = [o for o in (running, following) if o is not None]
        words = occurrences.describe(spec)
        for occ in shown:
            status = "in_progress" if occ.starts_at <= now else "scheduled"
            edges.append(occ.ends_at if status == "in_progress" else occ.starts_at)
            found.append(
                PublicMaintenance(
                    w.id,
                    w.title,
                    w.description,
                    status,
                    occ.starts_at,
                    occ.ends_at,
                    w.created_at,
                    tuple(comps[w.id]),
                    recurrence=words,
                )
            )
    found.sort(key=lambda m: (m.scheduled_for, m.id))
    return found, edges


def build(session: Session, now: datetime) -> Snapshot:
    settings = service.page_settings(session)
    rows = session.scalars(
        select(Component)
        .where(Component.private.is_(False))
        .order_by(Component.position, Component.name, Component.id)
    ).all()
    statuses = service.current_statuses(session, rows, now)
    mapped = {c.service_id for c in rows if c.service_id is not None}
    archived = (
        set(
            session.scalars(
                select(Service.id).where(Service.id.in_(mapped), Service.archived_at.is_not(None))
            )
        )
        if mapped
        else set()
    )
    since = datetime.combine(
        now.astimezone(UTC).date() - timedelta(days=logic.UPTIME_DAYS - 1), time(), UTC
    )
    history = service.history(session, [c.id for c in rows], since)
    last_change = dict(
        session.execute(
            select(
                ComponentStatusChange.component_id,
                func.max(ComponentStatusChange.at),
            )
            .where(ComponentStatusChange.component_id.in_([c.id for c in rows]))
            .group_by(ComponentStatusChange.component_id)
        ).all()
    )
    components = []
    for c in rows:
        changes = history.get(c.id, [])
        # The recorded history (the engine records a change within RECONCILE_EVERY).
        days = tuple(logic.uptime_days(changes, c.created_at, now))
        components.append(
            PublicComponent(
                id=c.id,
                name=c.name,
                description=c.description,
                group_id=c.group_id,
                position=c.position,
                status=statuses[c.id].status,
                reason=statuses[c.id].reason,
                created_at=c.created_at,
                updated_at=max(
                    last_change.get(c.id) or c.created_at, c.manual_set_at or c.created_at
                ),
                days=days,
                uptime=logic.uptime_percent(days),
                service_id=c.service_id,
                service_archived=c.service_id in archived,
            )
        )
    by_id = {c.id: c for c in components}
    public_ids = set(by_id)
    group_rows = session.scalars(
        select(ComponentGroup).order_by(ComponentGroup.position, ComponentGroup.name)
    ).all()
    groups = []
    for g in group_rows:
        members = tuple(c.id for c in components if c.group_id == g.id)
        if members:
            groups.append(
                PublicGroup(
                    g.id,
                    g.name,
                    g.description,
                    g.position,
                    g.created_at,
                    logic.worst(by_id[m].status for m in members),
                    members,
                )
            )
    component_by_service: dict[int, list[int]] = defaultdict(list)
    for c in rows:
        if c.service_id is not None:
            component_by_service[c.service_id].append(c.id)
    incidents = _incidents(session, public_ids, component_by_service)
    maintenance, edges = _maintenance(session, now, public_ids)
    indicator, description = logic.overall(c.status for c in components)
    tomorrow = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), UTC)
    valid_until = min([now + MAX_AGE, tomorrow, *(e for e in edges if e > now)])
    stamps = [c.updated_at for c in components] + [i.updated_at for i in incidents]
    return Snapshot(
        built_at=now,
        valid_until=valid_until,
        settings=settings,
        indicator=indicator,
        description=description,
        components=tuple(components),
        groups=tuple(groups),
        incidents=tuple(incidents),
        maintenance=tuple(maintenance),
        updated_at=max(stamps, default=now),
        by_id=by_id,
    )


class SnapshotCache:
    """One snapshot per process, rebuilt when the page's version changes or it expires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._snapshot: Snapshot | None = None
        self._checked = float("-inf")
        self._writes = -1
        self.builds = 0

    def get(self, read_session: Callable[[], Any], now: datetime) -> Snapshot:
        current = self._snapshot
        writes = service.LOCAL_WRITES[0]
        fresh = monotonic() - self._checked < CHECK_EVERY and writes == self._writes
        if current is not None and fresh and now < current.valid_until:
            return current  # checked a moment ago: no read at all
        with read_session() as session:
            key = service.version(session)
            self._checked, self._writes = monotonic(), writes
            if current is not None and key == self._key and now < current.valid_until:
                return current
            # One rebuild at a time; meanwhile the others serve the snapshot they have.
            if not self._lock.acquire(blocking=current is None):
                return current  # type: ignore[return-value]
            try:
                snapshot = build(session, now)
                self._key, self._snapshot = key, snapshot
                self.builds += 1
                return snapshot
            finally:
                self._lock.release()
