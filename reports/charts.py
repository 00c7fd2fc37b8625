"""Charts for the report: inline SVG made with matplotlib, no script, no external fetch.

Each function takes plain numbers and labels and returns an ``<svg>`` element as text,
ready to be placed in the HTML report (the XML prologue and DOCTYPE are dropped). Text
stays text in the SVG (``svg.fonttype: none``), so it is small, searchable and prints
sharp; ids are derived from a fixed salt, so the same figures give the same SVG, and
prefixed with the chart's `name`, so several charts in one HTML page never share an id.
Matplotlib escapes the labels it writes, so a hostile process name cannot break out; and
labels are never read as mathtext, so a ``$`` in a name is just a dollar sign.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display here or in a flow worker
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator

__all__ = ["bar_chart", "sparkline", "trend_chart"]

_STYLE: Any = {  # matplotlib types rc keys as literals
    "svg.fonttype": "none",
    "svg.hashsalt": "impactlens",
    "text.parse_math": False,  # "$...$" in a process name is text, not (failing) mathtext
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_BLUE, _ORANGE, _GREY = "#2f5d8c", "#c2571a", "#8a8a8a"
_LABEL_LENGTH = 48


def bar_chart(
    labels: Sequence[str],
    minutes: Sequence[float],
    values: Sequence[float],
    *,
    currency: str,
    name: str = "processes",
) -> str:
    """Horizontal bars: business minutes lost and value at risk, one row per process."""
    shown = [_short(label) for label in labels]
    height = 0.8 + 0.32 * max(len(shown), 1)
    with plt.rc_context(_STYLE):
        figure, (left, right) = plt.subplots(
            1, 2, figsize=(8.0, height), sharey=True, layout="constrained"
        )
        rows = list(range(len(shown)))[::-1]
        left.barh(rows, list(minutes), color=_BLUE)
        left.set_title("business minutes lost", fontsize=9)
        right.barh(rows, list(values), color=_ORANGE)
        right.set_title(f"value at risk{f' ({currency})' if currency else ''}", fontsize=9)
        left.set_yticks(rows, shown)
        for axes in (left, right):
            axes.tick_params(axis="x", labelsize=8)
            # Few, short ticks (250k, 1.5M): whole numbers of 7 digits ran into each other.
            axes.xaxis.set_major_locator(MaxNLocator(nbins=4))
            axes.xaxis.set_major_formatter(EngFormatter(sep=""))
        return _svg(figure, name)


def trend_chart(
    periods: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    name: str = "trend",
) -> str:
    """One line per process over the trend's periods (e.g. business minutes lost a week)."""
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots(figsize=(8.0, 2.8), layout="constrained")
        for label, values in series.items():
            axes.plot(list(periods), list(values), marker="o", markersize=3, label=_short(label))
        axes.set_title(title, fontsize=9)
        axes.tick_params(axis="x", labelsize=7, rotation=30)
        axes.tick_params(axis="y", labelsize=8)
        if series:
            axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _svg(figure, name)


def sparkline(values: Sequence[float], *, name: str = "sparkline") -> str:
    """A small line of a KPI's trend, the last value marked."""
    known = [float(v) for v in values]
    with plt.rc_context(_STYLE):
        figure = plt.figure(figsize=(1.2, 0.3))
        axes = figure.add_axes((0.02, 0.1, 0.96, 0.8))
        axes.axis("off")
        points = [(i, v) for i, v in enumerate(known) if v == v]  # NaN: no data that week
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, color=_GREY, linewidth=1.0)
            axes.plot([xs[-1]], [ys[-1]], marker="o", markersize=2.5, color=_BLUE)
        return _svg(figure, name)


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_LENGTH else label[: _LABEL_LENGTH - 1] + "…"


def _svg(figure: Figure, name: str) -> str:
    """The figure as an ``<svg>`` element, every id in it (and every reference to one)
    prefixed with ``name-``: matplotlib numbers ids per figure (``figure_1``,
    ``axes_1``...), so two charts in one page would otherwise share ids."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    text = buffer.getvalue()
    start = text.find("<svg")
    svg = text[start:]
    # Inline in HTML: no fixed pixel size, so it scales to the page (and to paper).
    svg = re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r"\1", svg, count=1)
    # Only inside tags: text between them (a label) is left as written.
    return re.sub(r"<[^>]+>", lambda tag: _prefixed(tag.group(0), name), svg)


def _prefixed(tag: str, name: str) -> str:
    return _ID_NAMES.sub(lambda found: f"{found.group(1)}{name}-", tag)


_ID_NAMES = re.compile(r'(\sid="|url\(#|href="#)')
