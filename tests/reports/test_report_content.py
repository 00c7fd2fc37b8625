"""What the report says: every figure of every edition read back and held against the review.

The HTML is parsed as a browser would (html5lib, strict: a parse error fails), the
Markdown tables split on their pipes, the JSON loaded and the CSVs read with pandas; each
figure is turned back into a number and compared with the `WeeklyReview` it was made
from, within the rounding it was shown with. Labels and their meanings are written out
here by hand, not taken from the code under test.
"""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest
from impactlens.reports import render, render_files, report_tables
from impactlens.reports.render import JSON_SCHEMA

from impactlens.analysis import review
from tests.reports.conftest import (
    AS_OF,
    assert_shows,
    html_cells,
    html_sections,
    html_tables,
    kpi_row,
    local,
    md_sections,
    md_tables,
    parse_html,
    text_of,
)

# The joint scorecard as the meeting reads it: label, KPI, subject.
SCORECARD = [
    ("Incidents opened", "incidents", "all"),
    ("Business-critical incidents", "business_critical_incidents", "all"),
    ("Business minutes lost", "business_minutes_lost", "all"),
    ("Value at risk", "value_at_risk", "all"),
    ("Time to restore, median (h)", "ttr_median_hours", "business-critical"),
    ("Time to restore, p90 (h)", "ttr_p90_hours", "business-critical"),
    ("Escalated to L2/L3", "escalation_rate_l2", "all"),
    ("Escalated to L3", "escalation_rate_l3", "all"),
    ("Repeats", "repeat_rate", "all"),
    ("Ping-pong", "ping_pong_rate", "all"),
    ("Reopened", "reopen_rate", "all"),
]
HEADLINE = [
    ("business minutes lost", "business_minutes_lost"),
    ("value at risk", "value_at_risk"),
    ("business-critical incidents", "business_critical_incidents"),
]
# The meeting's order (the issue): headline, scorecard, per process, hotspots, common
# causes and group outages, mis-prioritised, costliest, coverage, data trust, method.
SECTIONS = [
    ("headline", "Headline"),
    ("scorecard", "Joint KPI scorecard"),
    ("processes", "Business minutes lost and value at risk per process"),
    ("hotspots", "Escalation hotspots"),
    ("correlation", "Likely common causes and group outages"),
    ("misprioritised", "Mis-prioritised incidents"),
    ("costliest", "Costliest incidents"),
    ("coverage", "Map coverage and quality"),
    ("data-trust", "Data trust"),
    ("method", "How these numbers are computed"),
]
WEEK_TITLE = "week 2026-W47 (16 Nov to 22 Nov 2026)"  # Monday to Sunday, UTC
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # any scheme but '#...'


@pytest.fixture(scope="module")
def page(weekly_html):
    return parse_html(weekly_html)


@pytest.fixture(scope="module")
def sections(page):
    return html_sections(page)


@pytest.fixture(scope="module")
def md(weekly_md):
    return md_sections(weekly_md)


def shown_hotspots(found):
    """The hotspots the report lists: every flagged one first, then the others, ten at
    least (or every flagged one if more)."""
    table = found.hotspots
    flagged = table[table["flag"] != ""]
    ordered = pd.concat([flagged, table[table["flag"] == ""]])
    return ordered.head(max(10, len(flagged)))


# --- HTML -------------------------------------------------------------------------------


def test_the_html_parses_without_errors_and_has_the_sections_in_meeting_order(page, weekly):
    headings = [(h2.get("id"), text_of(h2)) for h2 in page.iter("h2")]
    assert headings == SECTIONS
    title = page.find("head/title")
    assert title is not None and WEEK_TITLE in (title.text or "")
    assert text_of(page.find("body/h1")) == title.text


def test_the_headline_is_the_reviews_figures_this_week_and_last(sections, weekly):
    (table,) = html_tables(sections["headline"])
    assert table[0] == ["", "this week", "the week before", "change"]
    assert [row[0] for row in table[1:]] == [label for label, _ in HEADLINE]
    for row, (_, kpi) in zip(table[1:], HEADLINE, strict=True):
        expected = kpi_row(weekly, kpi)
        assert_shows(row[1], expected["value"])
        assert_shows(row[2], expected["previous"])
        assert_shows(row[3], expected["value"] - expected["previous"])
    cells = list(html_cells(sections["headline"]))[1:]
    for row, (_, kpi) in zip(cells, HEADLINE, strict=True):
        change = kpi_row(weekly, kpi)["change"]
        verdict = "worse" if change > 0 else "better" if change < 0 else "same"
        assert verdict in row[3].get("class", "").split()  # more of any of them is worse
        assert text_of(row[3])[0] == {"worse": "↑", "better": "↓", "same": "→"}[verdict]


def test_money_and_shares_are_written_as_people_read_them(sections, weekly):
    (headline,) = html_tables(sections["headline"])
    value_at_risk = headline[2]
    assert re.fullmatch(r"\d{1,3}(,\d{3})+\.\d\d", value_at_risk[1])  # 2 decimals, 1,000s
    assert re.fullmatch(r"[↑↓→] [+-][\d,]+\.\d\d", value_at_risk[3])  # signed change
    scorecard = dict((row[0], row) for row in html_tables(sections["scorecard"])[0][1:])
    assert re.fullmatch(r"\d+\.\d%", scorecard["Escalated to L2/L3"][1])
    assert re.fullmatch(r"[↑↓→] [+-]\d+\.\d pp", scorecard["Escalated to L2/L3"][3])
    assert re.fullmatch(r"\d+\.\d\d", scorecard["Time to restore, median (h)"][1])


def test_the_scorecard_rows_are_the_reviews_kpis_each_with_its_sparkline(sections, weekly):
    (table,) = html_tables(sections["scorecard"])
    assert table[0][:4] == ["KPI", "this week", "before", "change"]
    assert [row[0] for row in table[1:]] == [label for label, _, _ in SCORECARD]
    for row, (_, kpi, subject) in zip(table[1:], SCORECARD, strict=True):
        expected = kpi_row(weekly, kpi, subject)
        assert_shows(row[1], expected["value"])
        assert_shows(row[2], expected["previous"])
        assert_shows(row[3], expected["change"])
    for cells in list(html_cells(sections["scorecard"]))[1:]:
        svgs = [e for e in cells[-1].iter() if local(e) == "svg"]
        assert len(svgs) == 1
    # The trend runs over the trend weeks, this one last.
    first = weekly.window.start - pd.Timedelta(weeks=weekly.settings.trend_weeks - 1)
    assert f"trend ({first:%d %b} to {weekly.window.start:%d %b})" in table[0][4]


def test_each_process_shows_its_minutes_and_value_most_value_first(sections, weekly):
    kpis = weekly.kpis[weekly.kpis["subject"] != "all"]
    minutes = kpis[kpis["kpi"] == "business_minutes_lost"].set_index("subject")
    values = kpis[kpis["kpi"] == "value_at_risk"].set_index("subject")["value"]
    assert len(minutes) == len(weekly.process_names) == 8
    tables = html_tables(sections["processes"])
    (table,) = [t for t in tables if t[0][0] == "process"]
    rows = table[1:]
    assert sorted(row[0] for row in rows) == sorted(minutes.index)
    for process, lost, change, value in rows:
        assert_shows(lost, minutes.loc[process, "value"])
        assert_shows(change, minutes.loc[process, "change"])
        assert_shows(value, values[process])
    shown_values = [values[row[0]] for row in rows]
    assert shown_values == sorted(shown_values, reverse=True)


def test_the_processes_are_charted_inline_as_svg_with_their_names_as_text(sections, weekly):
    charts = [e for e in sections["processes"] if local(e) == "div"]
    assert [e.get("class") for e in charts] == ["chart", "chart"]
    bars, timeline = ([s for s in chart.iter() if local(s) == "svg"] for chart in charts)
    assert len(bars) == len(timeline) == 1
    labels = " ".join("".join(e.itertext()) for e in bars[0].iter() if local(e) == "text")
    for name in weekly.process_names.values():
        assert name in labels  # text stays text (svg.fonttype none)
    legend = " ".join("".join(e.itertext()) for e in timeline[0].iter() if local(e) == "text")
    assert "business minutes lost per process" in legend


def test_hotspots_list_the_flagged_keys_first_with_their_counts(sections, weekly):
    expected = shown_hotspots(weekly)
    assert list(expected["flag"][:2]) == ["chronic", "emerging"]  # the fixtures' planted pair
    (table, *_) = html_tables(sections["hotspots"])
    assert table[0][:6] == ["#", "key", "flag", "incidents", "L2/L3", "L3"]
    rows = [row for row in table[1:] if len(row) == 9]
    assert [row[1] for row in rows] == list(expected["key"])
    assert [row[2] for row in rows] == list(expected["flag"])
    for row, (_, hotspot) in zip(rows, expected.iterrows(), strict=True):
        assert [int(cell) for cell in row[3:6]] == [
            hotspot["incidents"],
            hotspot["escalated"],
            hotspot["reached_l3"],
        ]
    flagged = int((weekly.hotspots["flag"] != "").sum())
    summary = text_of(sections["hotspots"][0])
    assert summary.startswith(f"{flagged} flagged of {len(weekly.hotspots)} keys")
    notes = [row[1] for row in table[1:] if len(row) == 2]  # the reasons under each key
    for note, (_, hotspot) in zip(notes, expected.iterrows(), strict=True):
        assert note.startswith(f"{hotspot['escalated']} of {hotspot['incidents']} incidents")
        assert (hotspot["problem_record"] in note) and bool(hotspot["flag"]) == bool(
            hotspot["problem_record"]
        )


def test_the_costliest_incidents_are_the_reviews_in_its_order(sections, weekly):
    (table,) = html_tables(sections["costliest"])
    rows = table[1:]
    expected = weekly.costliest
    assert len(expected) == weekly.settings.costliest
    assert [row[0].split()[0] for row in rows] == list(expected["incident_id"])
    for row, (_, incident) in zip(rows, expected.iterrows(), strict=True):
        assert row[1] == f"P{incident['priority']}"
        assert_shows(row[3], incident["impact_score"])
        assert_shows(row[4], incident["value_at_risk"])
        assert row[5] == incident["explanation"]
        assert incident["explanation"].endswith(incident["top_process"])


def test_the_misprioritised_are_the_reviews(sections, weekly):
    (table,) = html_tables(sections["misprioritised"])
    found = weekly.misprioritised
    assert len(found) > 0
    assert [row[0] for row in table[1:]] == list(found["incident_id"])
    for row, (_, incident) in zip(table[1:], found.iterrows(), strict=True):
        assert row[2:4] == [f"P{incident['priority']}", f"P{incident['suggested_priority']}"]
    assert text_of(sections["misprioritised"][0]).startswith(f"{len(found)} incidents")


def test_understated_incidents_come_before_overstated_ones(model, incidents, settings):
    """W44 has both directions (a P1 on a service that reaches no process)."""
    found = review(model, settings=settings, as_of=AS_OF, week="2026-W44", incidents=incidents)
    table = found.misprioritised
    understated = table[table["direction"] == "understated"]["incident_id"]
    overstated = table[table["direction"] == "overstated"]["incident_id"]
    assert len(understated) > 10 and len(overstated) >= 1
    lines = md_sections(render(found, "md"))["Mis-prioritised incidents"]
    shown = [line[2:].split(" ")[0] for line in lines if line.startswith("- ")]
    assert shown == [*understated[:10], *overstated[:10]]


def test_map_coverage_is_the_reviews(sections, weekly):
    coverage = weekly.coverage
    paragraph = text_of(sections["coverage"][0])
    found = re.match(
        r"([\d,]+) incidents this week: ([\d.]+)% placed on a service of the map "
        r"\(([\d,]+) by CI, ([\d,]+) by match rules\), ([\d,]+) not placed",
        paragraph,
    )
    assert found, paragraph
    numbers = [int(found.group(i).replace(",", "")) for i in (1, 3, 4, 5)]
    assert numbers == [coverage.incidents, coverage.by_ci, coverage.by_match, coverage.unmapped]
    assert coverage.by_ci + coverage.by_match + coverage.unmapped == coverage.incidents
    assert_shows(found.group(2) + "%", coverage.share)
    for ci, count in coverage.unknown_cis:
        assert f"{ci} ({count})" in paragraph
    findings = [text_of(li) for e in sections["coverage"] for li in e.iter("li")]
    assert findings == list(weekly.map_findings)


def test_the_notes_and_data_trust_are_shown(page, sections, weekly):
    notes = [text_of(div) for div in page.iter("div") if div.get("class") == "note"]
    assert notes == [f"Note: {note}" for note in weekly.notes]
    (table,) = html_tables(sections["data-trust"])
    trust = weekly.data_trust
    assert [row[0] for row in table[1:]] == list(trust["source"])
    assert [int(row[1]) for row in table[1:]] == list(trust["incidents"])
    assert [int(row[4].split()[0]) for row in table[1:]] == list(trust["quarantined"])
    assert [row[4].split(maxsplit=1)[1] for row in table[1:]] == list(trust["quarantined_over"])


def test_the_html_fetches_nothing_and_runs_nothing(page, weekly_html):
    tags = {local(e) for e in page.iter()}
    assert not tags & {"script", "link", "iframe", "object", "embed", "img", "base", "image"}
    for element in page.iter():
        for name, value in element.attrib.items():
            attribute = name.rpartition("}")[2].lower()
            assert not attribute.startswith("on"), (element.tag, name)
            if attribute in ("src", "href", "action", "srcset", "data", "poster"):
                assert not EXTERNAL.match(value), (element.tag, name, value)
    styles = " ".join("".join(e.itertext()) for e in page.iter() if local(e) == "style")
    assert "@import" not in styles and "url(" not in styles
    assert "http-equiv" not in weekly_html.lower()


def test_charts_are_inline_svg_and_ids_are_unique(page, weekly):
    svgs = [e for e in page.iter() if local(e) == "svg"]
    assert len(svgs) == len(SCORECARD) + 2  # a sparkline a KPI, the bars, the timeline
    assert all(e.tag == "{http://www.w3.org/2000/svg}svg" for e in svgs)
    ids = [e.get("id") for e in page.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    # Every reference inside a chart (clip paths, markers) is to an id of the page.
    for element in page.iter():
        for value in element.attrib.values():
            for target in re.findall(r"^#(.+)$|url\(#([^)]+)\)", value):
                assert (target[0] or target[1]) in ids


# --- Markdown ---------------------------------------------------------------------------


def test_the_markdown_has_the_same_sections_and_headline(md, weekly, weekly_md):
    assert list(md)[1:] == [title for _, title in SECTIONS]
    assert weekly_md.startswith(f"# Impact report, {WEEK_TITLE}\n")
    (table,) = md_tables(md["Headline"])
    assert table[0] == ["", "this week", "the week before", "change"]
    assert [row[0] for row in table[1:]] == [label for label, _ in HEADLINE]
    for row, (_, kpi) in zip(table[1:], HEADLINE, strict=True):
        expected = kpi_row(weekly, kpi)
        assert row[1].startswith("**") and row[1].endswith("**")
        assert_shows(row[1], expected["value"])
        assert_shows(row[2], expected["previous"])
        assert_shows(row[3], expected["change"])


def test_the_markdown_scorecard_and_processes(md, weekly):
    (table,) = md_tables(md["Joint KPI scorecard"])
    assert [row[0] for row in table[1:]] == [label for label, _, _ in SCORECARD]
    for row, (_, kpi, subject) in zip(table[1:], SCORECARD, strict=True):
        expected = kpi_row(weekly, kpi, subject)
        assert_shows(row[1], expected["value"])
        assert_shows(row[2], expected["previous"])
        assert len(row[4]) == weekly.settings.trend_weeks  # one bar a week
    (table,) = md_tables(md["Business minutes lost and value at risk per process"])
    for process, lost, change, value in table[1:]:
        assert_shows(lost, kpi_row(weekly, "business_minutes_lost", process)["value"])
        assert_shows(change, kpi_row(weekly, "business_minutes_lost", process)["change"])
        assert_shows(value, kpi_row(weekly, "value_at_risk", process)["value"])
    assert len(table) - 1 == len(weekly.process_names)


def test_the_markdown_hotspots_costliest_and_coverage(md, weekly):
    expected = shown_hotspots(weekly)
    items = [
        re.match(r"(\d+)\. \*\*(.+?)\*\*(?: \((\w+)\))?: (\d+) of (\d+) incidents", line)
        for line in md["Escalation hotspots"]
        if re.match(r"\d+\. ", line)
    ]
    assert all(items)
    assert [m.group(2) for m in items] == list(expected["key"])
    assert [m.group(3) or "" for m in items] == list(expected["flag"])
    assert [(int(m.group(4)), int(m.group(5))) for m in items] == list(
        zip(expected["escalated"], expected["incidents"], strict=True)
    )
    (table,) = md_tables(md["Costliest incidents"])
    assert [row[0] for row in table[1:]] == list(weekly.costliest["incident_id"])
    for row, value in zip(table[1:], weekly.costliest["value_at_risk"], strict=True):
        assert_shows(row[4], value)
    coverage = " ".join(md["Map coverage and quality"])
    assert f"{weekly.coverage.incidents} incidents this week" in coverage
    assert f"({weekly.coverage.by_ci} by CI, {weekly.coverage.by_match} by match" in coverage


# --- JSON and CSV -----------------------------------------------------------------------


def test_the_json_edition_is_the_review(weekly):
    document = json.loads(render(weekly, "json"))
    assert document["schema"] == JSON_SCHEMA == "impactlens.review/1"
    assert document["period"]["kind"] == "week" and document["period"]["label"] == "2026-W47"
    assert pd.Timestamp(document["period"]["start"]) == weekly.window.start
    assert pd.Timestamp(document["as_of"]) == AS_OF
    assert document["map_version"] == weekly.map_version
    assert document["notes"] == list(weekly.notes)
    hotspots = pd.DataFrame(document["hotspots"], columns=list(weekly.hotspots.columns))
    pd.testing.assert_frame_equal(
        hotspots.fillna(pd.NA).astype(object),
        weekly.hotspots.reset_index(drop=True).fillna(pd.NA).astype(object),
        check_exact=False,
    )
    kpis = document["kpis"]
    assert len(kpis) == len(weekly.kpis)
    for record, (_, row) in zip(kpis, weekly.kpis.iterrows(), strict=True):
        assert (record["kpi"], record["subject"]) == (row["kpi"], row["subject"])
        assert record["value"] == pytest.approx(row["value"], nan_ok=True)
        assert record["previous"] == pytest.approx(row["previous"], nan_ok=True)
        assert record["trend"] == pytest.approx(list(row["trend"]), nan_ok=True)
    coverage = document["coverage"]
    assert (coverage["incidents"], coverage["by_ci"], coverage["unmapped"]) == (
        weekly.coverage.incidents,
        weekly.coverage.by_ci,
        weekly.coverage.unmapped,
    )
    assert [i["incident_id"] for i in document["costliest"]] == list(
        weekly.costliest["incident_id"]
    )


def test_every_csv_reads_back_as_its_table(weekly):
    files = render_files(weekly, "csv")
    tables = report_tables(weekly)
    assert sorted(files) == sorted(f"{name}.csv" for name in tables)
    assert len(tables) == 10
    for name, table in tables.items():
        read = pd.read_csv(io.StringIO(files[f"{name}.csv"]), keep_default_na=False)
        assert list(read.columns) == [str(c) for c in table.columns], name
        assert len(read) == len(table), name
        for key in ("incident_id", "key", "kpi", "subject", "source", "provider"):
            if key in table.columns:
                assert list(read[key].astype(str)) == list(table[key].astype(str)), (name, key)
    incidents = pd.read_csv(io.StringIO(files["incidents.csv"]))
    assert sorted(incidents["incident_id"]) == sorted(weekly.week_incidents["incident_id"])
    assert len(incidents) == weekly.coverage.incidents
    kpis = pd.read_csv(io.StringIO(files["kpis.csv"]))
    assert kpis["value"].to_numpy() == pytest.approx(weekly.kpis["value"].to_numpy(), rel=1e-6)
    trend = kpis["trend"].str.split("|").map(lambda parts: [float(p) for p in parts])
    for got, expected in zip(trend, weekly.kpis["trend"], strict=True):
        assert got == pytest.approx(list(expected), rel=1e-5, nan_ok=True)


def test_a_review_without_a_map_still_writes_every_csv_with_its_header(incidents, settings):
    found = review(None, settings=settings, as_of=AS_OF, week="2026-W47", incidents=incidents)
    for name, text in render_files(found, "csv").items():
        assert text.strip(), f"{name} has not even a header"
        pd.read_csv(io.StringIO(text))
    page = md_sections(render(found, "md"))
    assert "No service map" in " ".join(page["Business minutes lost and value at risk per process"])


# --- the monthly edition ----------------------------------------------------------------


@pytest.fixture(scope="module")
def monthly(model, incidents, settings):
    return review(model, settings=settings, as_of=AS_OF, month="2026-10", incidents=incidents)


@pytest.fixture(scope="module")
def september(model, incidents, settings):
    return review(model, settings=settings, as_of=AS_OF, month="2026-09", incidents=incidents)


def test_the_monthly_edition_is_titled_and_trended_by_month(monthly):
    assert monthly.window.kind == "month"
    months = monthly.settings.monthly_trend
    assert months == 6
    assert all(len(trend) == months for trend in monthly.kpis["trend"])
    html = render(monthly, "html")
    page = parse_html(html)
    assert text_of(page.find("body/h1")) == "Impact report, October 2026"
    first = pd.Period("2026-10", "M") - (months - 1)
    (table,) = html_tables(html_sections(page)["scorecard"])
    assert table[0][:2] == ["KPI", "this month"]
    assert f"trend ({first:%b %Y} to Oct 2026)" in table[0][4]
    document = json.loads(render(monthly, "json"))
    assert document["period"]["kind"] == "month" and document["period"]["label"] == "2026-10"
    assert len(document["period"]["trend_starts"]) == months
    text = text_of(page)
    assert "this week" not in text and "the week before" not in text
    assert "this month" in text


def test_monthly_hotspot_reasons_speak_of_the_month(monthly):
    md = md_sections(render(monthly, "md"))
    reasons = [line for line in md["Escalation hotspots"] if re.match(r"\d+\. ", line)]
    emerging = [line for line in reasons if "(emerging)" in line]
    assert emerging and all("escalated this month against" in line for line in emerging)
    assert not any("week" in line for line in reasons)


def test_the_monthly_scorecard_compares_with_september(monthly, september):
    (table,) = md_tables(md_sections(render(monthly, "md"))["Joint KPI scorecard"])
    assert table[0][:3] == ["KPI", "this month", "before"]
    for row, (_, kpi, subject) in zip(table[1:], SCORECARD, strict=True):
        before = kpi_row(september, kpi, subject)["value"]
        assert kpi_row(monthly, kpi, subject)["previous"] == pytest.approx(before, nan_ok=True)
        assert_shows(row[2], before)
        assert_shows(row[1], kpi_row(monthly, kpi, subject)["value"])


# --- a week without incidents, and a week not over --------------------------------------


@pytest.fixture(scope="module")
def quiet(model, incidents, settings):
    """Week 2026-W01: months before the fixtures' first incident (2026-08-31)."""
    return review(model, settings=settings, as_of=AS_OF, week="2026-W01", incidents=incidents)


def test_a_week_without_incidents_renders_every_edition_and_says_so(quiet):
    assert quiet.coverage.incidents == 0 and quiet.hotspots.empty and quiet.costliest.empty
    note = "no incidents were opened in week 2026-W01"
    assert any(n.startswith(note) for n in quiet.notes)
    page = parse_html(render(quiet, "html"))
    notes = [text_of(div) for div in page.iter("div") if div.get("class") == "note"]
    assert any(note in n for n in notes)
    sections = html_sections(page)
    (headline,) = html_tables(sections["headline"])
    for row in headline[1:]:
        assert_shows(row[1], 0.0)
        assert_shows(row[2], 0.0)
    assert text_of(sections["hotspots"][1]) == "No incidents this week."
    assert text_of(sections["costliest"][0]).startswith("No incident this week cost")
    assert text_of(sections["misprioritised"][0]) == "None this week."
    assert text_of(sections["coverage"][0]) == (
        "No incidents were opened this week: nothing to place on the map."
    )
    md = render(quiet, "md")
    assert f"> Note: {note}" in md
    (table,) = md_tables(md_sections(md)["Headline"])
    assert [row[1] for row in table[1:]] == ["**0**", "**0.00**", "**0**"]
    document = json.loads(render(quiet, "json"))
    assert document["hotspots"] == [] and document["costliest"] == []
    assert document["coverage"]["incidents"] == 0
    tables = report_tables(quiet)
    for name, text in render_files(quiet, "csv").items():
        table = pd.read_csv(io.StringIO(text))
        assert list(table.columns) == [str(c) for c in tables[name.removesuffix(".csv")].columns]


def test_a_week_not_over_says_its_figures_are_partial(model, incidents, settings):
    as_of = pd.Timestamp("2026-11-18T12:00:00Z")  # Wednesday noon of W47
    found = review(model, settings=settings, as_of=as_of, week="2026-W47", incidents=incidents)
    note = "week 2026-W47 is not over (as of 2026-11-18 12:00 UTC): its figures are partial"
    assert note in found.notes
    assert f"> Note: {note}" in render(found, "md")
    page = parse_html(render(found, "html"))
    assert f"Note: {note}" in [text_of(d) for d in page.iter("div") if d.get("class") == "note"]
    opened = pd.to_datetime(found.week_incidents["opened_at"], utc=True)
    assert len(opened) and opened.max() <= as_of
