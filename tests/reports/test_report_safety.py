"""Hostile text in, an inert report out.

The fixtures' W47 with some of what a source or a map owner may write: markup in incident
descriptions, CIs, assignment groups and a process name, template syntax, quotes, a
5000-character value, pipes and line breaks, a ``$...$`` that matplotlib would read as
mathtext, and a file name with a pipe and a tag in it (the data-trust table names it).
The HTML must hold all of it as text (no element comes from data), the Markdown must
keep every table and list whole, and the data editions (JSON, CSV) must keep it exactly.
"""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from impactlens.engine.impact import build_impact_model
from impactlens.reports import render, render_files
from impactlens.service_map.load import load_service_map

from impactlens.analysis import read_csv, review
from impactlens.settings import get_settings
from tests.reports.conftest import (
    AS_OF,
    HISTORY,
    INCIDENTS,
    MAP,
    WEEK,
    html_sections,
    html_tables,
    local,
    md_sections,
    md_separators,
    md_tables,
    parse_html,
    text_of,
)

SCRIPT = "<script>alert(1)</script>"
TEMPLATE = "{{ 7*7 }} {% raw %} {# x #} \"quoted\" 'single'"
LONG = "A" * 4990 + "0123456789"  # 5000 characters
BROKEN = "first | second\nnext line\r\n| third"
GROUP = "<b>Supply</b> Chain | Apps"  # the chronic hotspot's L2 group
CI = "<script>ci</script>|x"  # an unknown CI (no service claims it)
LONG_CI = "K" * 5000  # another unknown CI
PROCESS = "Order <img src=x onerror=alert(1)> to | cash {{ 7*7 }}\nline two"
MATH = r"Pay $\foo$ roll"  # mathtext would fail on \foo
FILE_NAME = "in|<b>cidents.csv"
FORMULA = '=HYPERLINK("http://evil.example","invoice")'  # a spreadsheet would run it
# The costliest incidents of W47, each given a hostile description.
DESCRIPTIONS = {
    "INC0014633": SCRIPT,
    "INC0014922": TEMPLATE,
    "INC0014829": LONG,
    "INC0014647": BROKEN,
    "INC0014568": FORMULA,  # not among the costliest: the CSV edition's incidents table
}
RAW_MARKUP = re.compile(r"<\s*/?\s*(script|img|b|svg|iframe)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The review of W47 of the hostile fixtures."""
    folder = tmp_path_factory.mktemp("hostile")
    text = MAP.read_text()
    assert text.count("Supply Chain Apps") >= 1
    for old, new in [
        ("Supply Chain Apps", json.dumps(GROUP)),
        ("name: Order to cash (online)", f"name: {json.dumps(PROCESS)}"),
        ("name: Payroll\n", f"name: {json.dumps(MATH)}\n"),
    ]:
        assert old in text
        text = text.replace(old, new)
    (folder / "map.yaml").write_text(text)
    incidents = pd.read_csv(INCIDENTS, dtype=str, keep_default_na=False)
    history = pd.read_csv(HISTORY, dtype=str, keep_default_na=False)
    for table in (incidents, history):
        table["assignment_group"] = table["assignment_group"].replace("Supply Chain Apps", GROUP)
    for incident, description in DESCRIPTIONS.items():
        assert (incidents["incident_id"] == incident).sum() == 1
        incidents.loc[incidents["incident_id"] == incident, "short_description"] = description
    incidents["ci"] = incidents["ci"].replace({"PRN-HQ-3F-02": CI, "KIOSK-HAM-LOBBY": LONG_CI})
    incidents.to_csv(folder / FILE_NAME, index=False)
    history.to_csv(folder / "history.csv", index=False)
    model = build_impact_model(load_service_map(folder / "map.yaml"))
    read = read_csv(folder / FILE_NAME, history=folder / "history.csv")
    settings = get_settings().review_settings()
    return review(model, settings=settings, as_of=AS_OF, week=WEEK, incidents=read)


@pytest.fixture(scope="module")
def html(hostile):
    return render(hostile, "html")


@pytest.fixture(scope="module")
def page(html):
    return parse_html(html)  # strict: raises on any parse error


@pytest.fixture(scope="module")
def md(hostile):
    return render(hostile, "md")


def test_the_hostile_text_reached_the_review(hostile):
    """Otherwise the tests below prove nothing."""
    assert list(hostile.costliest["incident_id"][:4]) == list(DESCRIPTIONS)[:4]
    assert dict(hostile.coverage.unknown_cis)[CI] == 3 and LONG_CI in dict(
        hostile.coverage.unknown_cis
    )
    assert PROCESS in hostile.process_names.values() and MATH in hostile.process_names.values()
    assert GROUP in hostile.hotspots["top_handoff"].iloc[0]  # the chronic hotspot's
    assert FILE_NAME in hostile.data_trust["last_ingest"].iloc[0]


def test_no_element_and_no_handler_comes_from_data(page, html):
    tags = {local(element) for element in page.iter()}
    assert not tags & {"script", "img", "b", "iframe", "object", "embed", "image"}
    for element in page.iter():
        assert not any(name.lower().startswith("on") for name in element.attrib), element.tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "onerror=alert(1)" not in re.sub(r"&lt;img[^<]*", "", html)  # only escaped


def test_hostile_text_is_shown_as_text(page, hostile):
    sections = html_sections(page)
    (costliest,) = html_tables(sections["costliest"])
    descriptions = {row[0].split(" ", 1)[0]: row[0].split(" ", 1)[1] for row in costliest[1:]}
    assert descriptions["INC0014633"] == SCRIPT
    assert descriptions["INC0014922"] == TEMPLATE  # not evaluated: no 49, braces kept
    assert descriptions["INC0014647"] == " ".join(BROKEN.split())
    processes = next(t for t in html_tables(sections["processes"]) if t[0][0] == "process")
    assert " ".join(PROCESS.split()) in [row[0] for row in processes[1:]]
    assert MATH in [row[0] for row in processes[1:]]
    assert f"{GROUP} -> " in text_of(sections["hotspots"][1])
    notes = [text_of(div) for div in page.iter("div") if div.get("class") == "note"]
    assert any(f"{CI} (3)" in note for note in notes)
    (trust,) = html_tables(sections["data-trust"])
    assert FILE_NAME in trust[1][3]


def test_charts_label_hostile_names_as_text_not_markup_or_mathtext(page):
    sections = html_sections(page)
    bars = next(e for e in sections["processes"][0].iter() if local(e) == "svg")
    labels = ["".join(e.itertext()) for e in bars.iter() if local(e) == "text"]
    assert MATH in labels  # a "$" is a dollar sign, and \foo no crash
    assert any(label.startswith("Order <img src=x") for label in labels)  # text, cut to fit


def test_long_values_are_cut(page, hostile):
    (costliest,) = html_tables(html_sections(page)["costliest"])
    (long_row,) = [row for row in costliest[1:] if row[0].startswith("INC0014829 ")]
    description = long_row[0].split(" ", 1)[1]
    assert description.startswith("AAAA") and description.endswith("…")
    assert len(description) <= 200
    longest = max(
        len(text)
        for element in page.iter()
        if local(element) != "style"
        for text in (element.text or "", element.tail or "")
    )
    assert longest <= 1000  # the longest cut (a hotspot's reasons) is 900


def test_markdown_tables_and_lists_stay_whole(md, hostile):
    assert not RAW_MARKUP.search(md)
    lines = md.splitlines()
    header = None
    for line in lines:
        if not line.startswith("|"):
            header = None
            continue
        if header is None:
            header = md_separators(line)
        assert md_separators(line) == header, line
    sections = md_sections(md)
    (processes,) = md_tables(sections["Business minutes lost and value at risk per process"])
    assert len(processes) - 1 == len(hostile.process_names)
    (trust,) = md_tables(sections["Data trust"])
    assert len(trust) - 1 == len(hostile.data_trust) and "in\\|&lt;b>cidents.csv" in trust[1][3]
    (costliest,) = md_tables(sections["Costliest incidents"])
    assert len(costliest) - 1 == len(hostile.costliest)
    flagged = (hostile.hotspots["flag"] != "").sum()
    items = [line for line in sections["Escalation hotspots"] if re.match(r"\d+\. \*\*", line)]
    records = [line for line in sections["Escalation hotspots"] if line.startswith("   *")]
    assert len(items) == max(10, flagged) and len(records) == flagged
    assert "{{ 7\\*7 }}" in processes[1][0] or any("{{ 7\\*7 }}" in row[0] for row in processes)
    notes = [line for line in lines if line.startswith("> Note: ")]
    assert len(notes) == len(hostile.notes)
    assert max(len(line) for line in notes) <= 700  # a 5000-character CI, cut


def test_the_data_editions_keep_hostile_text_exactly(hostile):
    kept = hostile.week_incidents.set_index("incident_id")["short_description"]
    assert kept["INC0014829"] == LONG and kept["INC0014633"] == SCRIPT
    document = json.loads(render(hostile, "json"))
    shown = {row["incident_id"]: row["short_description"] for row in document["costliest"]}
    costliest = [key for key in DESCRIPTIONS if key != "INC0014568"]
    assert {key: shown[key] for key in costliest} == {key: kept[key] for key in costliest}
    files = render_files(hostile, "csv")
    incidents = pd.read_csv(io.StringIO(files["incidents.csv"]), keep_default_na=False)
    read_back = incidents.set_index("incident_id")["short_description"]
    for key in costliest:
        assert read_back[key] == kept[key], key
    # A cell a spreadsheet would run as a formula is quoted with an apostrophe (OWASP).
    assert read_back["INC0014568"] == "'" + FORMULA
    hotspots = pd.read_csv(io.StringIO(files["hotspots.csv"]), keep_default_na=False)
    assert hotspots["top_handoff"].iloc[0] == hostile.hotspots["top_handoff"].iloc[0]
