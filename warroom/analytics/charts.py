"""Charts as SVG, rendered on the server by pygal: the metrics page's and the review export's.

Each function takes plain numbers and returns a standalone SVG document (no script: pygal's
tooltip JavaScript is left out, so the charts work under the pages' CSP, as an <img>, and in
the PDF).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.etree import ElementTree

import pygal
from pygal.style import Style

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#666",
    colors=("#b42318", "#1d4ed8", "#b7791f", "#047857", "#6b21a8"),
    font_family="DejaVu Sans, sans-serif",
    title_font_size=16,
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=12,
    value_font_size=11,
)


def _config(chart: pygal.graph.graph.Graph) -> pygal.graph.graph.Graph:
    chart.config.js = []
    chart.config.disable_xml_declaration = False
    return chart


def _render(chart: pygal.graph.graph.Graph) -> bytes:
    # pygal always embeds its config as a <script>: dropped, the chart is static SVG.
    tree = _config(chart).render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    svg: bytes = ElementTree.tostring(tree, encoding="utf-8", xml_declaration=True)
    return svg


def minutes(seconds: float | None) -> float | None:
    return round(seconds / 60, 1) if seconds is not None else None


def response_times(title: str, steps: Sequence[tuple[str, float]]) -> bytes:
    """Horizontal bars: minutes of each step of one incident (detect, acknowledge, ...)."""
    chart = pygal.HorizontalBar(
        style=STYLE, title=title, show_legend=False, width=720, height=300, print_values=True
    )
    chart.x_labels = [label for label, _s in steps]
    chart.add("minutes", [minutes(s) for _l, s in steps])
    chart.x_title = "minutes"
    return _render(chart)


def compare(
    title: str,
    labels: Sequence[str],
    current: Sequence[float | None],
    previous: Sequence[float | None],
    unit: str,
) -> bytes:
    """Grouped bars: this period against the previous one."""
    chart = pygal.Bar(style=STYLE, title=title, width=720, height=340, print_values=True)
    chart.x_labels = list(labels)
    chart.add("this period", list(current))
    chart.add("previous period", list(previous))
    chart.y_title = unit
    return _render(chart)


def counts(title: str, values: Mapping[str, int], horizontal: bool = True) -> bytes:
    """Bars of counts by label (pages per person, alerts per signature)."""
    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    chart = kind(
        style=STYLE,
        title=title,
        show_legend=False,
        width=720,
        height=max(240, 40 + 28 * len(values)),
        print_values=True,
    )
    chart.x_labels = list(values)
    chart.add("count", list(values.values()))
    return _render(chart)
