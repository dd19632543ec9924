"""The blast-radius graph of the war room as inline SVG (pure): grandalf's layered (Sugiyama)
layout of the affected services and their dependants, drawn on the server, no script.

Dependants sit above what they depend on, arrows point at the dependency. An affected service
has a double, solid frame and says "affected"; a dependant has a dashed frame and says how many
levels up it is; the tier is written in each box, so nothing relies on colour. Every name is
escaped here (the result is Markup, inserted as is).
"""

from __future__ import annotations

from dataclasses import dataclass

from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout
from markupsafe import Markup, escape

from warroom.catalog.blast_radius import BlastRadius, Node

BOX_W, BOX_H = 184, 46
X_SPACE, Y_SPACE = 20, 44
MARGIN = 12
NAME_MAX = 24  # characters of a name in its box; the whole name is the box's tooltip
META_MAX = 28
# Wider than this, the graph keeps its size and the panel scrolls sideways (a phone shows boxes
# that can be read rather than a thumbnail of them).
FIT_WIDTH = 720


class _Box:
    w, h = BOX_W, BOX_H
    xy: tuple[float, float] = (0.0, 0.0)


class _Route:
    pts: list[tuple[float, float]]

    def __init__(self) -> None:
        self.pts = []

    def setpath(self, pts: list[tuple[float, float]]) -> None:
        self.pts = list(pts)


@dataclass(frozen=True)
class Placed:
    node: Node
    x: float  # centre
    y: float


Route = list[tuple[float, float]]


def layout(radius: BlastRadius) -> tuple[list[Placed], list[Route], float, float]:
    """Boxes and edge routes in SVG coordinates (top-left at 0, 0), and the drawing's size."""
    vertices = {n.id: Vertex(n) for n in radius.nodes}
    for v in vertices.values():
        v.view = _Box()
    edges = []
    for dependant, dependency in radius.edges:
        e = Edge(vertices[dependant], vertices[dependency])
        e.view = _Route()
        edges.append(e)
    graph = Graph(list(vertices.values()), edges)
    placed: list[Placed] = []
    routes: list[Route] = []
    offset = float(MARGIN)
    height = 0.0
    # Each connected part laid out on its own, side by side, largest first.
    for part in sorted(graph.C, key=lambda c: -len(c.sV)):
        sugiyama = SugiyamaLayout(part)
        sugiyama.xspace, sugiyama.yspace = X_SPACE, Y_SPACE
        sugiyama.init_all()
        sugiyama.draw()
        xs = [v.view.xy[0] for v in part.sV]
        ys = [v.view.xy[1] for v in part.sV]
        left, top = min(xs) - BOX_W / 2, min(ys) - BOX_H / 2
        dx, dy = offset - left, MARGIN - top
        for v in part.sV:
            x, y = v.view.xy
            placed.append(Placed(v.data, x + dx, y + dy))
        for e in part.sE:
            routes.append([(x + dx, y + dy) for x, y in e.view.pts])
        offset += max(xs) - min(xs) + BOX_W + X_SPACE * 2
        height = max(height, max(ys) - min(ys) + BOX_H + 2 * MARGIN)
    width = offset - X_SPACE * 2 + MARGIN
    return placed, routes, max(width, BOX_W + 2 * MARGIN), max(height, BOX_H + 2 * MARGIN)


def _short(text: str, limit: int = NAME_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _route(points: list[tuple[float, float]]) -> str:
    """The edge from the bottom of the dependant's box to the top of the dependency's."""
    pts = list(points)
    if len(pts) < 2:
        return ""
    down = pts[0][1] <= pts[-1][1]
    half = BOX_H / 2 if down else -BOX_H / 2
    pts[0] = (pts[0][0], pts[0][1] + half)
    pts[-1] = (pts[-1][0], pts[-1][1] - half - (4 if down else -4))
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)


def _box(p: Placed) -> str:
    n = p.node
    x, y = p.x - BOX_W / 2, p.y - BOX_H / 2
    kind = "affected" if n.affected else "dependant"
    classes = f"node {kind} tier-{n.tier}"
    plural = "s" if n.distance > 1 else ""
    level = "affected" if n.affected else f"dependant, {n.distance} level{plural} up"
    title = f"{n.name}: tier {n.tier}, {level}" + (f", {n.team}" if n.team else "")
    frame = f'<rect class="frame" x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
    if n.affected:
        frame += (
            f'<rect class="inner" x="{x + 3:.1f}" y="{y + 3:.1f}" width="{BOX_W - 6}" '
            f'height="{BOX_H - 6}" rx="4"/>'
        )
    second = ("AFFECTED · " if n.affected else "") + f"tier {n.tier}"
    if n.team:
        second += f" · {n.team}"
    second = _short(second, META_MAX)
    return (
        f'<a href="/services/{n.id}" class="{classes}" data-service="{n.id}">'
        f"<title>{escape(title)}</title>{frame}"
        f'<text x="{p.x:.1f}" y="{y + 19:.1f}" class="name">{escape(_short(n.name))}</text>'
        f'<text x="{p.x:.1f}" y="{y + 36:.1f}" class="meta">{escape(second)}</text>'
        "</a>"
    )


def render_svg(radius: BlastRadius) -> Markup:
    """The graph as one <svg> element (empty markup when no service is affected)."""
    if not radius.nodes:
        return Markup("")
    placed, routes, width, height = layout(radius)
    affected = sum(1 for n in radius.nodes if n.affected)
    label = (
        f"Blast radius: {affected} affected service{'s' if affected != 1 else ''} and "
        f"{radius.dependant_count} dependant{'s' if radius.dependant_count != 1 else ''}"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="blast-graph'
        f'{" wide" if width > FIT_WIDTH else ""}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-labelledby="blast-title">',
        f'<title id="blast-title">{escape(label)}</title>',
        '<defs><marker id="blast-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="arrow"/></marker></defs>',
    ]
    for points in routes:
        line = _route(points)
        if line:
            parts.append(f'<polyline class="edge" points="{line}" marker-end="url(#blast-arrow)"/>')
    parts.extend(_box(p) for p in sorted(placed, key=lambda p: (p.y, p.x)))
    parts.append("</svg>")
    # Every piece of text above went through escape(); the rest is this module's own markup.
    return Markup("".join(parts))  # noqa: S704
