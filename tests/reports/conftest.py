"""The fixture reviews every report test reads, built once, and ways to read a report back.

The usual review is week 2026-W47 of the fixtures as of 2026-11-23 (the Monday after);
the monthly edition is October 2026, as of the same moment. Settings are the product's
(`get_settings`, from the IMPACTLENS_* environment, which the test run leaves unset).

The readers here parse what a person (or a tool) gets: the HTML with html5lib in strict
mode (a parse error raises), Markdown tables split on their unescaped pipes, figures
turned back into numbers with the precision they were shown with.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import html5lib
import pandas as pd
import pytest
from impactlens.engine.impact import ImpactModel, build_impact_model
from impactlens.engine.weekly import ReviewSettings, WeeklyReview
from impactlens.reports import render
from impactlens.service_map.load import load_service_map

from impactlens.analysis import Incidents, read_csv, review
from impactlens.settings import get_settings

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
MAP = FIXTURES / "service_map.yaml"
INCIDENTS = FIXTURES / "incidents.csv"
HISTORY = FIXTURES / "assignment_history.csv"
AS_OF = pd.Timestamp("2026-11-23T00:00:00Z")
WEEK = "2026-W47"
MONTH = "2026-10"


# --- the reviews ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def model() -> ImpactModel:
    return build_impact_model(load_service_map(MAP))


@pytest.fixture(scope="session")
def incidents() -> Incidents:
    return read_csv(INCIDENTS, history=HISTORY)


@pytest.fixture(scope="session")
def settings() -> ReviewSettings:
    return get_settings().review_settings()


@pytest.fixture(scope="session")
def weekly(model, incidents, settings) -> WeeklyReview:
    """Week 2026-W47 of the fixtures, as of the Monday after."""
    return review(model, settings=settings, as_of=AS_OF, week=WEEK, incidents=incidents)


@pytest.fixture(scope="session")
def weekly_html(weekly) -> str:
    return render(weekly, "html")


@pytest.fixture(scope="session")
def weekly_md(weekly) -> str:
    return render(weekly, "md")


# --- figures ----------------------------------------------------------------------------

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


def shown(text: str) -> tuple[float, float]:
    """The one number a report cell shows, and how far the true value may be from it
    (half a unit of its last digit). Percentages and percentage points come back as
    shares: "28.0%" is 0.28 (give or take 0.0005)."""
    numbers = _NUMBER.findall(text)
    assert len(numbers) == 1, f"not one number in {text!r}"
    digits = numbers[0].replace(",", "")
    decimals = len(digits.partition(".")[2])
    value, tolerance = float(digits), 0.5 * 10.0**-decimals
    if "%" in text or "pp" in text:
        value, tolerance = value / 100, tolerance / 100
    return value, tolerance


def assert_shows(text: str, expected: float) -> None:
    """`text` shows `expected`, rounded as it is written (nothing at all for NaN)."""
    if isinstance(expected, float) and math.isnan(expected):
        assert not _NUMBER.search(text), f"{text!r} shows a number for an unknown value"
        return
    value, tolerance = shown(text)
    assert abs(value - expected) <= tolerance * (1 + 1e-9) + 1e-9, (text, expected)


def kpi_row(found: WeeklyReview, kpi: str, subject: str = "all") -> dict[str, Any]:
    """The review's one KPI row of `kpi` for `subject`."""
    kpis = found.kpis
    rows = kpis[(kpis["kpi"] == kpi) & (kpis["subject"] == subject)]
    assert len(rows) == 1, (kpi, subject, len(rows))
    row: dict[str, Any] = rows.iloc[0].to_dict()
    return row


# --- HTML -------------------------------------------------------------------------------


def parse_html(text: str) -> Element:
    """The document's tree; html5lib in strict mode raises on any parse error."""
    parser = html5lib.HTMLParser(
        strict=True, tree=html5lib.getTreeBuilder("etree"), namespaceHTMLElements=False
    )
    document: Element = parser.parse(text)
    return document


def local(element: Element) -> str:
    """An element's tag without its namespace (SVG elements have one)."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def text_of(element: Element) -> str:
    """The text a reader sees in `element`, whitespace collapsed, charts left out."""
    parts: list[str] = []

    def walk(node: Element) -> None:
        if local(node) in ("svg", "style", "br"):
            parts.append(" ")
        else:
            parts.append(node.text or "")
            for child in node:
                walk(child)
        parts.append(node.tail or "")

    parts.append(element.text or "")
    for child in element:
        walk(child)
    return " ".join("".join(parts).split())


def html_sections(document: Element) -> dict[str, list[Element]]:
    """The body's elements under each ``<h2 id=...>``, by that id, in document order
    (what comes before the first h2 is under "")."""
    body = document.find("body")
    assert body is not None
    sections: dict[str, list[Element]] = {"": []}
    current = ""
    for element in body:
        if local(element) == "h2":
            current = element.get("id", "")
            assert current not in sections, f"two sections {current!r}"
            sections[current] = []
        else:
            sections[current].append(element)
    return sections


def html_tables(elements: list[Element]) -> list[list[list[str]]]:
    """Each table among `elements`: its rows, each a list of cell texts."""
    tables = []
    for element in elements:
        found = [element] if local(element) == "table" else list(element.iter("table"))
        for table in found:
            tables.append(
                [
                    [text_of(cell) for cell in row if local(cell) in ("td", "th")]
                    for row in table.iter("tr")
                ]
            )
    return tables


def html_cells(elements: list[Element]) -> Iterator[list[Element]]:
    """Each table row among `elements`, as its cell elements."""
    for element in elements:
        for row in element.iter("tr"):
            yield [cell for cell in row if local(cell) in ("td", "th")]


# --- Markdown ---------------------------------------------------------------------------

_PIPE = re.compile(r"(?<!\\)\|")


def md_sections(text: str) -> dict[str, list[str]]:
    """The lines under each ``## `` heading, by its text, in order ("" before the first)."""
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            assert current not in sections, f"two sections {current!r}"
            sections[current] = []
        else:
            sections[current].append(line)
    return sections


def md_tables(lines: list[str]) -> list[list[list[str]]]:
    """Each table among `lines` (a run of lines starting with "|"): its header and rows
    as lists of cells, split on unescaped pipes; the ``|---|`` line left out."""
    tables: list[list[list[str]]] = []
    previous_was_row = False
    for line in lines:
        row = line.startswith("|")
        if row:
            if not previous_was_row:
                tables.append([])
            cells = [cell.strip() for cell in _PIPE.split(line)[1:-1]]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                tables[-1].append(cells)
        previous_was_row = row
    return tables


def md_separators(line: str) -> int:
    """How many unescaped pipes (cell separators) a Markdown table line has."""
    return len(_PIPE.findall(line))
