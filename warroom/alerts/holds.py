"""Loading what may hold a batch's alerts back: the plain-data :class:`Suppression` that
`plan_batch` reads. Kept apart from `ingest_batch` so the batch's own loading stays one thing.

Cost per batch with nothing configured: one single-row query on silences, one on inhibition
rules, one on the batch's services' maintenance windows, one on the dependencies of the batch's
services. With rules: the marked firing alerts (their possible sources) along a partial index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from warroom.alerts.inhibit_rules import load_inhibition
from warroom.alerts.silences import active_silences
from warroom.alerts.suppression import Suppression, dependency_closure
from warroom.catalog.models import Service, service_dependencies
from warroom.incidents.logic import Dependant
from warroom.incidents.models import OPEN_STATUSES, Incident, incident_services
from warroom.maintenance.service import maintenance_now


def load_suppression(conn: Connection, service_ids: Sequence[int], now: datetime) -> Suppression:
    silences = active_silences(conn, now)
    inhibition = load_inhibition(conn)
    maintenance = maintenance_now(conn, service_ids, now)
    depends_on = _dependencies(conn, service_ids)
    upstream: dict[int, int] = {}
    if depends_on:
        wanted = sorted({d for deps in depends_on.values() for d in deps})
        i, s = Incident.__table__.c, incident_services.c
        for service_id, incident_id, caused_by in conn.execute(
            select(s.service_id, i.id, i.caused_by_id)
            .join(Incident.__table__, i.id == s.incident_id)
            .where(s.service_id.in_(wanted), i.status.in_(OPEN_STATUSES))
            .order_by(i.id)
        ):
            # The oldest open incident on the dependency; its root if it has a cause itself.
            upstream.setdefault(service_id, caused_by if caused_by is not None else incident_id)
    above = _dependants(conn, service_ids)
    names: dict[int, str] = {}
    tiers: dict[int, int] = {}
    if silences.count or depends_on or above or not inhibition.empty:
        wanted_names = (
            set(service_ids)
            | {d for deps in depends_on.values() for d in deps}
            | {d for deps in above.values() for d in deps}
        )
        t = Service.__table__.c
        for r in conn.execute(select(t.id, t.name, t.tier).where(t.id.in_(sorted(wanted_names)))):
            names[r.id], tiers[r.id] = r.name, r.tier
    dependants = {
        sid: tuple(Dependant(names.get(d, ""), tiers.get(d, 3)) for d in deps)
        for sid, deps in above.items()
    }
    return Suppression(silences, maintenance, depends_on, upstream, names, dependants, inhibition)


def _dependencies(conn: Connection, service_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """The batch's services -> what they depend on, transitively."""
    return _walk(conn, service_ids, upwards=False)


def _dependants(conn: Connection, service_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """The batch's services -> the services that depend on them, transitively."""
    return _walk(conn, service_ids, upwards=True)


def _walk(
    conn: Connection, service_ids: Sequence[int], upwards: bool
) -> dict[int, tuple[int, ...]]:
    """The catalog's edges walked from the batch's services outwards, one query per level
    (catalogs are a few levels deep), then closed (nearest first, cycles cut)."""
    t = service_dependencies.c
    start, end = (t.depends_on_id, t.service_id) if upwards else (t.service_id, t.depends_on_id)
    edges: list[tuple[int, int]] = []
    frontier = set(service_ids)
    seen = set(frontier)
    while frontier:
        rows = conn.execute(select(start, end).where(start.in_(sorted(frontier)))).all()
        edges += [(r[0], r[1]) for r in rows]
        frontier = {r[1] for r in rows} - seen
        seen |= frontier
    if not edges:
        return {}
    return dependency_closure(edges, list(service_ids))
