"""An incident's blast radius from the catalog: the affected services and the services that
depend on them, transitively up to a bounded depth, with tiers and owning teams, capped in size.

The walk is pure (:func:`walk`); :func:`load` reads the edges one level per query (catalogs are
a few levels deep) and the nodes' names, tiers and teams in one more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service, Team, service_dependencies

# Dependants of dependants of dependants: further out, the link to the incident is too weak to
# draw, and a deep catalog would make the graph unreadable.
DEPTH = 3
# Nodes drawn at most (affected ones first, then nearest, tier 1 before tier 3); the rest are
# counted as "and N more".
MAX_NODES = 40


@dataclass(frozen=True)
class Node:
    id: int
    name: str
    tier: int
    team: str | None
    distance: int  # 0: affected; 1: depends on an affected one directly; ...

    @property
    def affected(self) -> bool:
        return self.distance == 0


@dataclass(frozen=True)
class BlastRadius:
    nodes: tuple[Node, ...] = ()
    # (dependant, dependency) pairs between drawn nodes: "dependant depends on dependency".
    edges: tuple[tuple[int, int], ...] = ()
    hidden: int = 0  # dependants beyond MAX_NODES
    depth: int = DEPTH
    deeper: bool = False  # there are dependants further than `depth` levels out
    tiers: Mapping[int, int] = field(default_factory=dict)  # dependants (drawn or not) per tier

    @property
    def dependants(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if not n.affected)

    @property
    def dependant_count(self) -> int:
        return len(self.dependants) + self.hidden


def walk(
    affected: Iterable[int], depended_on_by: Mapping[int, Iterable[int]], depth: int = DEPTH
) -> tuple[dict[int, int], bool]:
    """Every service within `depth` dependency levels above the affected ones, with its distance
    (0 for the affected), and whether anything lies further out. Cycles are cut."""
    distance = {sid: 0 for sid in affected}
    frontier = list(distance)
    for level in range(1, depth + 1):
        following = []
        for sid in frontier:
            for above in depended_on_by.get(sid, ()):
                if above not in distance:
                    distance[above] = level
                    following.append(above)
        frontier = following
    deeper = any(a not in distance for sid in frontier for a in depended_on_by.get(sid, ()))
    return distance, deeper


def load(
    session: Session, affected: Iterable[int], depth: int = DEPTH, max_nodes: int = MAX_NODES
) -> BlastRadius:
    start = sorted(set(affected))
    if not start:
        return BlastRadius(depth=depth)
    t = service_dependencies.c
    above: dict[int, set[int]] = {}
    edges: set[tuple[int, int]] = set()
    frontier, seen = set(start), set(start)
    # One level more than drawn, to know whether the graph stops short of the catalog's end.
    for _ in range(depth + 1):
        if not frontier:
            break
        found = session.execute(
            select(t.service_id, t.depends_on_id).where(t.depends_on_id.in_(sorted(frontier)))
        ).all()
        frontier = set()
        for dependant, dependency in found:
            above.setdefault(dependency, set()).add(dependant)
            edges.add((dependant, dependency))
            if dependant not in seen:
                seen.add(dependant)
                frontier.add(dependant)
    distance, deeper = walk(start, {k: sorted(v) for k, v in above.items()}, depth)
    rows = {
        sid: (name, tier, team)
        for sid, name, tier, team in session.execute(
            select(Service.id, Service.name, Service.tier, Team.name)
            .outerjoin(Team, Team.id == Service.team_id)
            .where(Service.id.in_(sorted(distance)))
        )
    }
    nodes = sorted(
        (
            Node(sid, rows[sid][0], rows[sid][1], rows[sid][2], d)
            for sid, d in distance.items()
            if sid in rows
        ),
        key=lambda n: (n.distance, n.tier, n.name.lower(), n.id),
    )
    tiers: dict[int, int] = {}
    for n in nodes:
        if not n.affected:
            tiers[n.tier] = tiers.get(n.tier, 0) + 1
    # Affected services are always drawn; dependants fill what is left of the cap.
    kept = [n for n in nodes if n.affected]
    room = max(0, max_nodes - len(kept))
    rest = [n for n in nodes if not n.affected]
    kept += rest[:room]
    ids = {n.id for n in kept}
    return BlastRadius(
        nodes=tuple(kept),
        edges=tuple(sorted((a, b) for a, b in edges if a in ids and b in ids)),
        hidden=len(rest) - len(rest[:room]),
        depth=depth,
        deeper=deeper,
        tiers=tiers,
    )
