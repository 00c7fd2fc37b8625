"""Small inline SVG drawings for the dashboard: the handoff graph and bar charts.

Drawn by hand (no matplotlib: a page draws several, and each must be quick), with a
deterministic layout, so the same figures always give the same SVG. Every text in them
(group names, labels) is escaped; a label too long for its box is cut, and the full text
is kept in the element's ``<title>``, which a browser shows on hover.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
from markupsafe import Markup, escape

__all__ = ["bar_chart", "handoff_graph"]

_INK, _MUTED, _BLUE, _LIGHT, _BOX = "#1d2733", "#5b6776", "#2f5d8c", "#b8c7d9", "#eef2f6"
_NODE_WIDTH, _NODE_HEIGHT, _COLUMN_GAP, _ROW_GAP, _MARGIN = 190, 40, 270, 84, 24
_NODE_TEXT = 26  # characters of a group's name shown in its box


def handoff_graph(handoffs: Sequence[Mapping[str, Any]], *, name: str = "handoffs") -> Markup:
    """The assignment groups as boxes and the handoffs between them as arrows labelled
    with their counts (rows: ``from_group, to_group, handoffs``), laid out left to right
    in the order work flowed; empty markup when there are no handoffs."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    for row in handoffs:
        source, target = str(row["from_group"]), str(row["to_group"])
        if source != target:
            graph.add_edge(source, target, handoffs=int(row["handoffs"]))
    if graph.number_of_edges() == 0:
        return Markup("")
    layers = _layers(graph)
    places = _places(graph, layers)
    columns = max(layers.values()) + 1
    rows = max(row for _, row in places.values()) + 1
    width = 2 * _MARGIN + (columns - 1) * _COLUMN_GAP + _NODE_WIDTH
    height = 2 * _MARGIN + (rows - 1) * _ROW_GAP + _NODE_HEIGHT
    centres = {
        node: (
            _MARGIN + column * _COLUMN_GAP + _NODE_WIDTH / 2,
            _MARGIN + row * _ROW_GAP + _NODE_HEIGHT / 2,
        )
        for node, (column, row) in places.items()
    }
    most = max(int(data["handoffs"]) for _, _, data in graph.edges(data=True))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="handoff-graph" '
        f'aria-labelledby="{name}-title">',
        f'<title id="{name}-title">Handoffs between assignment groups: '
        + _text("; ".join(f"{a} to {b} ({d['handoffs']})" for a, b, d in graph.edges(data=True)))
        + "</title>",
        f'<defs><marker id="{name}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" '
        'orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{_MUTED}"/></marker></defs>',
    ]
    for source, target, data in sorted(graph.edges(data=True)):
        count = int(data["handoffs"])
        # Curved where a straight line would run over another: a handoff back (the
        # pair's two arrows then bow apart), within a column, or past a column (its
        # bow then runs between the rows of boxes).
        span = layers[target] - layers[source]
        bend = 0.0
        if abs(span) > 1:
            bend = 72.0
        elif span == 0:
            bend = 40.0
        elif graph.has_edge(target, source):
            bend = 22.0
        parts.append(_edge(centres[source], centres[target], bend, count, most, name=name,
                           label=f"{source} to {target}: {count} handoffs"))  # fmt: skip
    for node in sorted(graph):
        x, y = centres[node]
        left, top = x - _NODE_WIDTH / 2, y - _NODE_HEIGHT / 2
        parts.append(
            f'<g class="group"><title>{_text(node)}</title>'
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{_NODE_WIDTH}" height="{_NODE_HEIGHT}" '
            f'rx="6" fill="{_BOX}" stroke="{_BLUE}" stroke-width="1.5"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="12" '
            f'fill="{_INK}">{_text(_short(node, _NODE_TEXT))}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    title: str,
    name: str,
    decimals: int = 0,
) -> Markup:
    """Bars for each label, one per series (``(legend, values, colour)``), the value
    written above each bar; empty markup when there is nothing to draw."""
    if not labels or not series:
        return Markup("")
    count, plot_height, top, bottom, left = len(labels), 120, 40, 34, 12
    # Wide bars for a week, thin ones for a year: the chart stays about 760 px wide.
    group = min(120.0, max(760.0 / count, 4.0 * len(series)))
    bar = min(40.0, group * 0.75 / len(series))
    every = math.ceil(64.0 / group)  # a day label needs about 64 px
    width = math.ceil(left * 2 + group * count)
    height = top + plot_height + bottom
    known = [float(v) for _, values, _ in series for v in values if _finite(v)]
    most = max(known, default=0.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" class="bar-chart" '
        f'aria-labelledby="{name}-title"><title id="{name}-title">{_text(title)}</title>',
    ]
    legend_x = left
    for legend, _, colour in series:
        parts.append(
            f'<rect x="{legend_x}" y="8" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="17" font-size="11" fill="{_MUTED}">{_text(legend)}</text>'
        )
        legend_x += 14 + 7 * len(legend) + 16
    base = top + plot_height
    for index, label in enumerate(labels):
        x0 = left + index * group + (group - bar * len(series)) / 2
        for number, (legend, values, colour) in enumerate(series):
            value = float(values[index]) if _finite(values[index]) else 0.0
            tall = plot_height * value / most
            x = x0 + number * bar
            shown = f"{value:,.{decimals}f}"
            written = (
                f'<text x="{x + bar / 2:.1f}" y="{base - tall - 3:.1f}" font-size="9" '
                f'text-anchor="middle" fill="{_INK}">{_text(_compact(value))}</text>'
                if bar >= 14
                else ""
            )
            parts.append(
                f"<g><title>{_text(f'{label}: {shown} {legend}')}</title>"
                f'<rect x="{x:.1f}" y="{base - tall:.1f}" width="{max(bar - 2, 1):.1f}" '
                f'height="{tall:.1f}" fill="{colour}"/>{written}</g>'
            )
        if index % every == 0:
            parts.append(
                f'<text x="{left + (index + 0.5) * group:.1f}" y="{base + 14}" font-size="10" '
                f'text-anchor="middle" fill="{_MUTED}">{_text(_short(label, 12))}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{width - left}" y2="{base}" stroke="{_MUTED}"/></svg>'
    )
    return Markup("".join(parts))


def _layers(graph: nx.DiGraph[str]) -> dict[str, int]:
    """A column for each group, in the order work flowed: groups are ranked by their
    distance (in handoffs) from where the work arrived (groups nothing was handed to;
    a loop that nothing leads into starts at its group that hands out most), then by
    the handoffs they received; a handoff back to a group ranked earlier is left aside,
    and each group then stands one column after the last group that hands to it."""
    distance: dict[str, int] = {}
    starts = sorted(node for node in graph if graph.in_degree(node) == 0)
    while len(distance) < graph.number_of_nodes():
        if not starts:
            unplaced = [node for node in graph if node not in distance]
            starts = [min(unplaced, key=lambda node: (_balance(graph, node), node))]
        for node, steps in nx.multi_source_dijkstra_path_length(graph, set(starts)).items():
            distance.setdefault(node, int(steps))
        starts = []
    received = {node: int(graph.in_degree(node, weight="handoffs")) for node in graph}
    ranked = sorted(graph, key=lambda node: (distance[node], -received[node], node))
    rank = {node: position for position, node in enumerate(ranked)}
    layers: dict[str, int] = {}
    for node in ranked:  # every forward handoff comes from a group ranked before
        before = [layers[p] for p in graph.predecessors(node) if rank[p] < rank[node]]
        layers[node] = max(before) + 1 if before else 0
    return layers


def _balance(graph: nx.DiGraph[str], node: str) -> int:
    received = int(graph.in_degree(node, weight="handoffs"))
    given = int(graph.out_degree(node, weight="handoffs"))
    return received - given


def _places(graph: nx.DiGraph[str], layers: dict[str, int]) -> dict[str, tuple[int, int]]:
    """(column, row) of each group: near the groups that hand to it (fewer crossings;
    the busiest handoff first, so the main flow runs straight), then by name."""
    places: dict[str, tuple[int, int]] = {}
    for column in sorted(set(layers.values())):
        members = [node for node in graph if layers[node] == column]

        def order(node: str) -> tuple[float, int, str]:
            rows = [places[p][1] for p in graph.predecessors(node) if p in places]
            centre = sum(rows) / len(rows) if rows else math.inf
            return (centre, -int(graph.in_degree(node, weight="handoffs")), node)

        row = -1
        for node in sorted(members, key=order):
            wanted = order(node)[0]
            row = max(row + 1, round(wanted) if wanted != math.inf else 0)
            places[node] = (column, row)
    return places


def _edge(
    start: tuple[float, float],
    end: tuple[float, float],
    bend: float,
    count: int,
    most: int,
    *,
    name: str,
    label: str,
) -> str:
    (x0, y0), (x2, y2) = start, end
    dx, dy = x2 - x0, y2 - y0
    length = math.hypot(dx, dy) or 1.0
    cx, cy = (x0 + x2) / 2 - dy / length * bend, (y0 + y2) / 2 + dx / length * bend
    sx, sy = _boundary(start, (cx - x0, cy - y0), gap=2)
    ex, ey = _boundary(end, (cx - x2, cy - y2), gap=4)
    mx, my = 0.25 * sx + 0.5 * cx + 0.25 * ex, 0.25 * sy + 0.5 * cy + 0.25 * ey
    stroke = 1.2 + 3.0 * count / most
    return (
        f'<g class="handoff"><title>{_text(label)}</title>'
        f'<path d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" fill="none" '
        f'stroke="{_MUTED}" stroke-width="{stroke:.1f}" marker-end="url(#{name}-arrow)"/>'
        f'<text x="{mx:.1f}" y="{my + 4:.1f}" font-size="12" font-weight="bold" '
        f'text-anchor="middle" fill="{_INK}" stroke="#ffffff" stroke-width="4" '
        f'paint-order="stroke">{count}</text></g>'
    )


def _boundary(
    centre: tuple[float, float], towards: tuple[float, float], *, gap: float
) -> tuple[float, float]:
    """Where a line from a box's `centre` in direction `towards` leaves the box."""
    dx, dy = towards
    half_width, half_height = _NODE_WIDTH / 2 + gap, _NODE_HEIGHT / 2 + gap
    scale = min(half_width / abs(dx) if dx else math.inf, half_height / abs(dy) if dy else math.inf)
    if scale == math.inf:
        return centre
    return centre[0] + dx * scale, centre[1] + dy * scale


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _compact(value: float) -> str:
    """A bar's value in at most about 5 characters: 950, 12.3k, 1.2M."""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if value != int(value) else f"{int(value)}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: object) -> str:
    return str(escape(str(value)))
