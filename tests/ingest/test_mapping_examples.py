"""The two worked examples of ``docs/ingest-mapping.md`` whose files are samples here.

A bank's ITIL export with its activity file (``samples/bank``: the BPI Challenge 2014
layout, ``;``, Latin-1, day-first, decimal comma, blank rows at the end) and a car
maker's incident event log (``samples/carmaker``: the BPI Challenge 2013 VINST layout,
UTF-8 with byte order marks, ISO 8601 with offsets). The doc's mapping must be the sample
mapping and the doc's CSV lines the samples' lines; the files are then read exactly as the
doc says, and every value below was worked out by hand from the sample rows. Storing them
(on SQLite and PostgreSQL) is ``tests/store/test_mapped_examples.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from impactlens.engine.tiers import support_tiers
from impactlens.ingest.formats import read_batch

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ingest-mapping.md"
BANK = Path(__file__).parent / "samples" / "bank"
CARMAKER = Path(__file__).parent / "samples" / "carmaker"
EXAMPLES = {
    "Example: a bank's ITIL export with its activity file": (
        BANK / "bank.yaml",
        [BANK / "Detail_Incident.csv", BANK / "Detail_Incident_Activity.csv"],
        "latin-1",
    ),
    "Example: a car maker's incident event log": (
        CARMAKER / "carmaker.yaml",
        [CARMAKER / "vinst_incidents.csv"],
        "utf-8-sig",
    ),
}


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def doc_section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    sections = {part.splitlines()[0]: part for part in re.split(r"^## ", text, flags=re.M)}
    return sections[title]


def read_bank():
    return read_batch(
        BANK / "Detail_Incident.csv",
        format="csv",
        mapping=BANK / "bank.yaml",
        history=BANK / "Detail_Incident_Activity.csv",
    )


def read_carmaker():
    return read_batch(
        CARMAKER / "vinst_incidents.csv", format="csv", mapping=CARMAKER / "carmaker.yaml"
    )


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("incident_id")


def tiers_of(batch) -> dict[str, tuple[str, str]]:
    derived = support_tiers(batch.incidents, batch.history)
    return {
        incident: (tier, rule)
        for incident, tier, rule in zip(
            batch.incidents["incident_id"], derived.incident_tier, derived.incident_rule,
            strict=True,
        )
    }  # fmt: skip


def history_of(batch, incident_id: str) -> list[tuple[str, str | None]]:
    rows = batch.history[batch.history["incident_id"] == incident_id]
    return [
        (group, None if pd.isna(tier) else tier)
        for group, tier in zip(rows["assignment_group"], rows["support_tier"], strict=True)
    ]


# --- the doc shows the sample files -------------------------------------------------------


@pytest.mark.parametrize("title", list(EXAMPLES))
def test_the_docs_mapping_is_the_sample_mapping_file(title):
    mapping, files, _ = EXAMPLES[title]
    section = doc_section(title)
    shown = re.search(r"```yaml\n(.*?)```", section, flags=re.S).group(1)

    assert shown == mapping.read_text(encoding="utf-8")
    for path in (mapping, *files):
        assert str(path.relative_to(ROOT)) in section or path.name in section


@pytest.mark.parametrize("title", list(EXAMPLES))
def test_the_docs_csv_lines_are_lines_of_the_sample_files(title):
    _, files, encoding = EXAMPLES[title]
    shown = re.search(r"```csv\n(.*?)```", doc_section(title), flags=re.S).group(1)
    lines = {
        line.lstrip("\ufeff")
        for path in files
        for line in path.read_bytes().decode(encoding).splitlines()
    }

    assert [line for line in shown.splitlines() if line not in lines] == []


# --- the bank ------------------------------------------------------------------------------


def test_the_bank_counts():
    read = read_bank()

    assert (read.records, read.blank_rows) == (20, 5)  # 3 blank rows, and 2 in the activities
    assert len(read.batch.incidents) == 16
    assert len(read.batch.history) == 26
    assert read.batch.rejected["line"].tolist() == [18, 19, 20, 21, 35, 40, 41]
    assert read.batch.rejected["problem"].tolist() == [
        "bad timestamp", "missing value", "resolved before opened", "bad number",
        "bad timestamp", "unknown incident", "unknown incident",
    ]  # fmt: skip


def test_the_bank_rejects_say_why():
    reasons = read_bank().batch.rejected["reason"].tolist()

    assert reasons == [
        "Open Time '31-2-2013 10:00' is not a date (expected a day-first date such as "
        "31/12/2026 14:30 or ISO 8601)",
        "missing Incident ID",
        "Resolved Time 2013-10-09T06:30:00Z is before Open Time 2013-10-09T08:00:00Z",
        "# Reassignments '1,5' is not a whole number of 0 or more",
        "history file: DateStamp '32-10-2013 14:00:00' is not a date (expected a day-first "
        "date such as 31/12/2026 14:30 or ISO 8601)",
        "history file: incident 'IM0099999' is not in the incidents file",
        "history file: incident 'IM0000024' has no accepted row in the incidents file "
        "(its rows there are quarantined)",
    ]


def test_the_bank_incidents_as_the_doc_shows_them():
    incidents = by_id(read_bank().batch.incidents)

    # Amsterdam: UTC+1 in February and December, UTC+2 in October.
    assert incidents.loc["IM0000004", "opened_at"] == utc("2012-02-05 12:32")
    assert incidents.loc["IM0000005", "opened_at"] == utc("2012-03-12 14:44")
    assert incidents.loc["IM0000011", "opened_at"] == utc("2013-10-01 06:15")
    assert incidents.loc["IM0000005", "reopened_at"] == utc("2013-12-02 08:16")
    assert incidents.loc["IM0000016", "reopened_at"] == utc("2013-10-07 07:00")
    assert incidents.loc["IM0000021", "reopened_at"] == utc("2013-10-08 08:00")
    reopened = incidents["reopen_count"].dropna()
    assert reopened.to_dict() == {"IM0000005": 1, "IM0000016": 1, "IM0000021": 1}
    assert incidents.loc["IM0000004", "service_component"] == "WBS000162"
    assert incidents.loc["IM0000004", "ci"] == "SUB000508"
    assert incidents.loc["IM0000014", "urgency"] == 5  # "5 - Very Low"
    assert incidents.loc["IM0000015", "reassignment_count"] == 2  # "2,0", a decimal comma
    assert incidents.loc["IM0000017", "state"] == "Work in progress"
    assert pd.isna(incidents.loc["IM0000017", "resolved_at"])
    # The incidents file has no group: each incident's last group in the activities.
    assert incidents.loc["IM0000004", "assignment_group"] == "TEAM0001"
    assert incidents.loc["IM0000011", "assignment_group"] == "TEAM0197"
    assert pd.isna(incidents.loc["IM0000019", "assignment_group"])  # no activities
    assert set(incidents["source"]) == {"bank"}


def test_the_bank_history_in_time_order_with_the_banks_tiers():
    batch = read_bank().batch

    assert history_of(batch, "IM0000004") == [("TEAM0001", "L1"), ("TEAM0008", "L2"),
                                              ("TEAM0001", "L1")]  # fmt: skip
    # Two activities at 09:00: the later line is the later assignment.
    assert history_of(batch, "IM0000011") == [("TEAM0003", "L1"), ("TEAM0015", "L2"),
                                              ("TEAM0197", "L3")]  # fmt: skip
    # Out of order in the file; in time order here.
    assert history_of(batch, "IM0000012") == [("TEAM0003", "L1"), ("TEAM0031", "L2")]
    # An activity without a group is skipped; one with an unreadable time is quarantined.
    assert history_of(batch, "IM0000006") == [("TEAM0001", "L1")]
    assert history_of(batch, "IM0000018") == [("TEAM0001", "L1"), ("TEAM0197", "L3")]
    at = batch.history.set_index(["incident_id", "assignment_group"])["at"]
    assert at[("IM0000005", "TEAM0191")] == utc("2012-03-12 14:50")


def test_the_bank_tiers_the_analysis_derives():
    tiers = tiers_of(read_bank().batch)

    assert tiers["IM0000004"] == ("L2", "explicit")
    assert tiers["IM0000005"] == ("L3", "explicit")
    assert tiers["IM0000011"] == ("L3", "explicit")
    assert tiers["IM0000014"] == ("L1", "explicit")
    assert tiers["IM0000017"] == ("L2", "explicit")
    assert tiers["IM0000020"] == ("L2", "reassignment")  # no activities; # Reassignments 1
    assert tiers["IM0000019"] == ("L1", "reassignment")


# --- the car maker -------------------------------------------------------------------------


def test_the_carmaker_counts():
    read = read_carmaker()

    assert (read.records, read.blank_rows) == (32, 2)
    assert len(read.batch.incidents) == 8
    assert len(read.batch.history) == 12
    rejected = read.batch.rejected
    assert list(zip(rejected["line"], rejected["problem"], strict=True)) == [
        (25, "incident rejected"), (26, "incident rejected"), (27, "bad priority"),
        (29, "bad timestamp"), (31, "missing value"),
    ]  # fmt: skip
    assert rejected["reason"].tolist()[2] == (
        "Impact 'Critical' is not a priority in values.priority (Major, High, Medium, Low) "
        "or a number from 1 to 5; it is the latest event of 1-600012345, so the incident "
        "is rejected as a whole"
    )


def test_the_carmaker_incidents_as_the_doc_shows_them():
    incidents = by_id(read_carmaker().batch.incidents)
    first = incidents.loc["1-364285768"]

    assert first["opened_at"] == utc("2010-03-31 14:59:42")  # the first event
    assert first["resolved_at"] == utc("2010-04-06 13:44:47")  # entering Completed
    assert first["updated_at"] == utc("2010-04-13 15:50:21")  # the latest event
    assert (first["state"], first["priority"], first["reopen_count"]) == ("Closed", 3, 0)
    assert (first["service_component"], first["location"]) == ("PROD582", "France")
    assert (first["assignment_group"], first["reassignment_count"]) == ("D5 3rd", 1)
    reopened = incidents.loc["1-467153946"]
    assert reopened["resolved_at"] == utc("2012-05-04 14:45:10")  # the second resolution
    assert reopened["reopened_at"] == utc("2012-05-03 06:30")
    assert reopened["reopen_count"] == 1
    tie = incidents.loc["1-523964961"]
    assert (tie["state"], tie["resolved_at"]) == ("Resolved", utc("2012-05-14 09:00"))
    still_open = incidents.loc["1-541000337"]
    assert still_open["state"] == "Wait - Vendor" and pd.isna(still_open["resolved_at"])
    assert still_open["priority"] == 1  # Major
    assert "1-600012345" not in incidents.index
    # One event of 1-640000002 came with a byte order mark before its number.
    assert incidents.loc["1-640000002", "resolved_at"] == utc("2012-07-04 13:30")
    assert incidents.loc["1-612000001", "resolved_at"] == utc("2012-07-02 07:00")


def test_the_carmaker_history_is_each_change_of_team():
    batch = read_carmaker().batch

    assert history_of(batch, "1-364285768") == [("G230 2nd", None), ("D5 3rd", None)]
    assert history_of(batch, "1-541000337") == [("G230 2nd", None), ("V13 2nd 3rd", None)]
    # The 31 June event (V5 3rd) is quarantined: it counts for nothing.
    assert history_of(batch, "1-612000001") == [("N25 2nd", None)]
    at = batch.history.set_index(["incident_id", "assignment_group"])["at"]
    assert at[("1-467153946", "V5 3rd")] == utc("2012-05-03 06:30")


def test_the_carmaker_tiers_the_analysis_derives_from_the_team_names():
    tiers = tiers_of(read_carmaker().batch)

    assert tiers["1-364285768"] == ("L3", "group name")  # G230 2nd, then D5 3rd
    assert tiers["1-505209501"] == ("L2", "group name")  # L1 2nd: a first-line team's 2nd line
    assert tiers["1-523964961"] == ("L2", "group name")  # G97 2nd, then D8 (no line)
    assert tiers["1-530000120"] == ("L1", "reassignment")  # D8 alone, never reassigned
    assert tiers["1-541000337"] == ("L3", "group name")  # V13 2nd 3rd: the higher
