"""Any CSV through a mapping file: the helpdesk sample, the documented examples, bad mappings.

``samples/mapped/helpdesk.csv`` is read with day-first dates in Europe/London, across both
2026 clock changes (forward at 01:00 on 29 March, back at 02:00 on 25 October). The two
worked examples of ``docs/ingest-mapping.md`` are extracted from the doc and parsed.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from impactlens.ingest.batch import INCIDENT_COLUMNS
from impactlens.ingest.canonical import record_start_lines
from impactlens.ingest.mapped_csv import (
    CsvMapping,
    MappingValidationError,
    build_mapping,
    load_mapping,
    parse_mapped_csv,
)
from impactlens.ingest.read import read_rows

from impactlens.errors import InputFileError, MissingColumnsError

SAMPLES = Path(__file__).parent / "samples" / "mapped"
DOC = Path(__file__).resolve().parents[2] / "docs" / "ingest-mapping.md"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def csv_text(text: str) -> pd.DataFrame:
    data = text.encode("utf-8")
    frame = pd.read_csv(io.BytesIO(data), dtype="string", keep_default_na=False, na_values=[""])
    frame.index = pd.Index(record_start_lines(data, len(frame)), name="line")
    return frame


def issues_of(records) -> list[str]:
    with pytest.raises(MappingValidationError) as caught:
        build_mapping(records)
    return [str(issue) for issue in caught.value.issues]


BASE = {"columns": {"Ref": "incident_id", "Raised": "opened_at", "Sev": "priority"}}


# --- the helpdesk sample -----------------------------------------------------------------


@pytest.fixture(scope="module")
def helpdesk():
    return parse_mapped_csv(
        read_rows(SAMPLES / "helpdesk.csv"), load_mapping(SAMPLES / "helpdesk.yaml")
    )


def test_helpdesk_good_rows(helpdesk):
    incidents = helpdesk.incidents
    assert tuple(incidents.columns) == INCIDENT_COLUMNS
    assert incidents["incident_id"].tolist() == ["HD-2", "HD-3", "HD-1"]
    assert incidents["priority"].tolist() == [1, 2, 2]  # Critical; P2; Major
    assert incidents["support_tier"].tolist() == ["L3", pd.NA, "L2"]
    assert incidents["reopen_count"].tolist() == [0, pd.NA, 1]
    assert incidents["ci"].tolist() == ["CORE-RTR-1", "REPORTS", "TIMESHEET01"]
    assert incidents["category"].tolist() == ["Helpdesk"] * 3  # the default
    assert (incidents["source"] == "helpdesk").all()


def test_helpdesk_times_across_clock_changes(helpdesk):
    by_id = helpdesk.incidents.set_index("incident_id")
    # 25/10 01:30 happens twice in London: the first, in BST (UTC+1).
    assert by_id.loc["HD-2", "opened_at"] == utc("2026-10-25T00:30:00Z")
    assert by_id.loc["HD-2", "resolved_at"] == utc("2026-10-25T00:45:00Z")
    assert by_id.loc["HD-2", "updated_at"] == utc("2026-10-25T00:45:00Z")  # latest known
    assert by_id.loc["HD-3", "opened_at"] == utc("2026-11-02T09:00:00Z")  # ISO 8601 accepted
    # 29/03 01:30 does not exist in London: moved forward to 02:00 BST.
    assert by_id.loc["HD-1", "opened_at"] == utc("2026-03-29T01:00:00Z")
    assert by_id.loc["HD-1", "resolved_at"] == utc("2026-03-29T02:50:00Z")
    assert by_id.loc["HD-1", "updated_at"] == utc("2026-03-29T03:00:00Z")


def test_helpdesk_rejected_rows(helpdesk):
    got = list(zip(helpdesk.rejected["line"], helpdesk.rejected["problem"],
                   helpdesk.rejected["reason"], strict=True))  # fmt: skip
    assert got == [
        (2, "duplicate incident_id", "duplicate incident_id HD-1: kept line 10 (updated_at "
            "2026-03-29T03:00:00Z); this row's updated_at 2026-03-29T02:00:00Z is not newer"),
        (5, "bad timestamp", "Raised '31/02/2026 10:00' is not a date (expected a day-first "
            "date such as 31/12/2026 14:30 or ISO 8601)"),
        (6, "bad priority", "Sev 'Whenever' is not a priority in values.priority (Critical, "
            "Major, Minor, Cosmetic) or a number from 1 to 5"),
        (7, "bad number", "Reopened 'two' is not a whole number of 0 or more"),
        (8, "bad value", "Tier 'Vendor' is not a support tier (L1, L2 or L3; map other names "
            "under values.support_tier)"),
        (9, "missing value", "missing Raised"),
        (11, "missing value", "missing Ref"),
    ]  # fmt: skip
    raw = json.loads(helpdesk.rejected["raw"].iloc[-1])
    assert raw["Team"] == "NULL" and raw["Title"] == "Unlabelled ticket"


def test_helpdesk_history_is_each_group_at_opening(helpdesk):
    history = helpdesk.history
    assert history["incident_id"].tolist() == ["HD-2", "HD-3", "HD-1"]
    assert history["assignment_group"].tolist() == [
        "Core Network",
        "Apps 2nd Line",
        "Apps 2nd Line",
    ]
    assert history["at"].tolist() == [utc("2026-10-25T00:30:00Z"), utc("2026-11-02T09:00:00Z"),
                                      utc("2026-03-29T01:00:00Z")]  # fmt: skip


def test_a_missing_mapped_column_names_it():
    raw = read_rows(SAMPLES / "helpdesk.csv").drop(columns=["Sev", "Tier"])
    with pytest.raises(MissingColumnsError, match="missing required columns 'Sev', 'Tier'"):
        parse_mapped_csv(raw, load_mapping(SAMPLES / "helpdesk.yaml"))


def test_source_argument_overrides_the_mappings():
    raw = read_rows(SAMPLES / "helpdesk.csv")
    batch = parse_mapped_csv(raw, load_mapping(SAMPLES / "helpdesk.yaml"), source="hd-eu")
    assert set(batch.incidents["source"]) == set(batch.rejected["source"]) == {"hd-eu"}


def test_defaults_fill_columns_the_file_lacks_and_empty_priorities():
    raw = pd.DataFrame({"Ref": ["A", "B"], "Raised": ["2026-11-02 10:00"] * 2,
                        "Sev": ["1", None]}, dtype="string")  # fmt: skip
    mapping = BASE | {"defaults": {"priority": 3, "location": "Leeds", "impact": 2}}
    batch = parse_mapped_csv(raw, mapping)
    assert batch.incidents["priority"].tolist() == [1, 3]
    assert batch.incidents["location"].tolist() == ["Leeds", "Leeds"]
    assert batch.incidents["impact"].tolist() == [2, 2]
    assert str(batch.incidents["impact"].dtype) == "Int64"


def test_value_maps_for_text_keep_unlisted_values():
    raw = pd.DataFrame({"Ref": ["A", "B"], "Raised": ["2026-11-02"] * 2, "Sev": ["2", "2"],
                        "Status": ["Work in progress", "On hold"]}, dtype="string")  # fmt: skip
    mapping = {"columns": BASE["columns"] | {"Status": "state"},
               "values": {"state": {"work in PROGRESS": "open"}}}  # fmt: skip
    assert parse_mapped_csv(raw, mapping).incidents["state"].tolist() == ["open", "On hold"]


def test_a_mapping_may_be_given_as_a_validated_model():
    mapping = build_mapping(BASE | {"source": "x"})
    assert isinstance(mapping, CsvMapping)
    raw = pd.DataFrame({"Ref": ["A"], "Raised": ["2026-11-02"], "Sev": ["P4"]}, dtype="string")
    assert parse_mapped_csv(raw, mapping).incidents["priority"].tolist() == [4]


# --- the documented examples ---------------------------------------------------------------


def doc_examples() -> dict[str, tuple[str, dict]]:
    """Heading -> (CSV text, decoded YAML) for each ``## Example`` of the doc."""
    text = DOC.read_text(encoding="utf-8")
    examples = {}
    for section in re.split(r"^## ", text, flags=re.MULTILINE):
        if not section.startswith("Example"):
            continue
        blocks = dict(re.findall(r"```(csv|yaml)\n(.*?)```", section, flags=re.DOTALL))
        examples[section.splitlines()[0]] = (blocks["csv"], yaml.safe_load(blocks["yaml"]))
    return examples


def test_the_doc_has_its_worked_examples():
    # The bank and car maker examples read sample files: test_mapping_examples.py.
    assert sorted(doc_examples()) == [
        "Example: a BMC Remedy-like incident export",
        "Example: a Freshservice-like ticket export",
        "Example: a bank's ITIL export with its activity file",
        "Example: a car maker's incident event log",
    ]


def test_the_remedy_example_parses_as_the_doc_says():
    csv, mapping = doc_examples()["Example: a BMC Remedy-like incident export"]
    batch = parse_mapped_csv(csv_text(csv), mapping)
    assert batch.rejected.empty
    got = batch.incidents.set_index("incident_id")
    assert got["opened_at"].tolist() == [utc("2026-11-02T14:15:00Z"), utc("2026-11-03T03:00:00Z"),
                                         utc("2026-11-04T13:05:00Z")]  # fmt: skip
    assert got["resolved_at"].tolist()[:2] == [
        utc("2026-11-02T16:45:00Z"),
        utc("2026-11-03T06:30:00Z"),
    ]
    assert got["closed_at"].tolist()[0] == utc("2026-11-03T13:00:00Z")
    assert got["updated_at"].tolist()[1] == utc("2026-11-03T06:31:12Z")
    assert got["priority"].tolist() == [2, 1, 4]
    assert got["impact"].tolist() == [2, 1, 4]
    assert got["urgency"].tolist() == [2, 1, 4]
    assert got["ci"].tolist() == ["ORDERWEB01", "CORESW-DC1", pd.NA]
    assert got["category"].tolist() == ["Application", "Infrastructure", "Hardware"]
    assert got["assignment_group"].tolist()[0] == "Order Apps 2nd Line"
    assert (got["source"] == "remedy").all()


def test_the_freshservice_example_parses_as_the_doc_says():
    csv, mapping = doc_examples()["Example: a Freshservice-like ticket export"]
    batch = parse_mapped_csv(csv_text(csv), mapping)
    assert batch.rejected.empty
    got = batch.incidents.set_index("incident_id")
    assert got["opened_at"].tolist() == [utc("2026-11-02T08:52:00Z"), utc("2026-11-02T13:10:00Z"),
                                         utc("2026-11-03T04:30:00Z")]  # fmt: skip
    assert got["updated_at"].tolist() == [utc("2026-11-03T03:30:00Z"), utc("2026-11-02T14:26:00Z"),
                                          utc("2026-11-03T04:30:00Z")]  # fmt: skip
    assert got["state"].tolist() == ["closed", "resolved", "open"]
    assert got["priority"].tolist() == [3, 1, 4]
    assert got["urgency"].tolist() == [2, 1, 3]
    assert got["impact"].tolist() == [3, 1, 3]
    assert got["assignment_group"].tolist() == ["Service Desk", "Payments Ops", "Service Desk"]
    assert got["subcategory"].tolist() == ["Email", pd.NA, "Monitor"]


def test_the_docs_error_example_is_what_validation_says():
    text = DOC.read_text(encoding="utf-8")
    shown = re.search(r"is invalid \(2 errors\):\n(.*?)\n```", text, flags=re.DOTALL).group(1)
    mapping = {
        "columns": {"Incident ID": "incident_id", "Opened": "opend_at", "Submit Date": "opened_at",
                    "Priority": "priority"},
        "values": {"priority": {"Urgent": "P1"}},
    }  # fmt: skip
    assert issues_of(mapping) == [line.strip() for line in shown.splitlines()]


# --- validating mappings ----------------------------------------------------------------------


def test_every_problem_is_reported_with_its_place():
    got = issues_of(
        {
            "source": "",
            "columns": {"Ref": "incident_id", "When": "opened_at", "Also when": "opened_at",
                        "Who": "assignee", "Svc": "service_id", "Count": "reopen_count"},
            "values": {"priority": {"Urgent": 0, "High": "2"}, "opened_at": {"now": "today"},
                       "support_tier": {"2nd": "L4"}, "reopen_count": {"once": -1},
                       "colour": {"red": 1}, "state": 3},
            "defaults": {"incident_id": "X", "category": ["a"], "urgency": 9},
            "date_format": "%d/%m/%Q",
            "day_first": "sometimes",
            "timezone": "Mars/Olympus",
            "extra": 1,
        }
    )  # fmt: skip
    assert got == [
        "source: String should have at least 1 character, got the string ''",
        "columns.Who: unknown canonical column 'assignee'",
        "columns.Svc: unknown canonical column 'service_id' (source comes from the mapping's "
        "source; service_id from the service map)",
        "values.colour: unknown canonical column 'colour'",
        "values.state: Input should be a valid dictionary, got int 3",
        "date_format: '%d/%m/%Q' is not a strptime format ('Q' is a bad directive in format "
        "'%d/%m/%Q')",
        "day_first: Input should be a valid boolean, unable to interpret input, got the string "
        "'sometimes'",
        "timezone: time zone 'Mars/Olympus' is not an IANA zone name (for example "
        "Europe/Berlin or UTC)",
        "extra: unknown key (expected one of: source, columns, values, date_format, day_first, "
        "timezone, defaults, delimiter, decimal, encoding, activity_log, history, tier_patterns)",
        "columns.Also when: opened_at is already mapped from 'When'",
        "columns: no column is mapped to priority, and defaults has no priority",
        "values.priority.Urgent: priority must be a whole number from 1 to 5, got int 0",
        "values.priority.High: priority must be a whole number from 1 to 5, got the string '2'",
        "values.opened_at: timestamps are read with date_format, not values",
        "values.support_tier.2nd: support_tier must be L1, L2 or L3, got the string 'L4'",
        "values.reopen_count.once: reopen_count must be a whole number of 0 or more, got int -1",
        "defaults.incident_id: incident_id cannot have a default",
        "defaults.category: category must be text, got list ['a']",
        "defaults.urgency: urgency must be a whole number from 1 to 5, got int 9",
        "day_first: give date_format or day_first, not both",
    ]


def test_a_near_miss_column_name_gets_a_hint():
    assert issues_of({"columns": BASE["columns"] | {"Opened": "opend_at"}}) == [
        "columns.Opened: unknown canonical column 'opend_at' (did you mean 'opened_at'?)"
    ]


@pytest.mark.parametrize(
    ("date_format", "message"),
    [
        ("dd/mm/yyyy", "date_format: 'dd/mm/yyyy' has no strptime directive such as %d or %Y"),
        ([], "date_format: must be a strptime format or a list of them, got list []"),
        (5, "date_format: must be a strptime format or a list of them, got int 5"),
    ],
)
def test_bad_date_formats(date_format, message):
    assert issues_of(BASE | {"date_format": date_format}) == [message]


def test_required_columns_must_be_mapped():
    assert issues_of({"columns": {"Title": "short_description"}}) == [
        "columns: no column is mapped to incident_id",
        "columns: no column is mapped to opened_at",
        "columns: no column is mapped to priority, and defaults has no priority",
    ]
    assert issues_of({"values": {}}) == ["columns: missing"]


def test_value_keys_that_yaml_reads_as_numbers_match_the_text():
    mapping = yaml.safe_load("columns: {Ref: incident_id, Raised: opened_at, Sev: priority}\n"
                             "values: {priority: {1: 1, 2: 2, 9: 5}}")  # fmt: skip
    raw = pd.DataFrame({"Ref": ["A"], "Raised": ["2026-11-02"], "Sev": ["9"]}, dtype="string")
    assert parse_mapped_csv(raw, mapping).incidents["priority"].tolist() == [5]


def test_value_keys_that_differ_only_in_case_are_a_problem():
    assert issues_of(BASE | {"values": {"priority": {"High": 2, "HIGH": 1}}}) == [
        "values.priority.HIGH: repeats 'High' (values match ignoring case)"
    ]


def test_a_list_of_date_formats_is_tried_in_order():
    raw = pd.DataFrame({"Ref": ["A", "B"], "Raised": ["2026/11/02 10:00", "02 Nov 2026"],
                        "Sev": ["1", "1"]}, dtype="string")  # fmt: skip
    mapping = BASE | {"date_format": ["%Y/%m/%d %H:%M", "%d %b %Y"]}
    batch = parse_mapped_csv(raw, mapping)
    assert batch.incidents["opened_at"].tolist() == [
        utc("2026-11-02T10:00:00Z"),
        utc("2026-11-02T00:00:00Z"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "columns: [a, b",
            "line 1, column 15: not valid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        ("- just\n- a list\n", "(top level): must be a mapping, got list ['just', 'a list']"),
        ("", "(top level): must be a mapping, got nothing"),
    ],
)
def test_a_mapping_file_that_is_not_a_mapping(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingValidationError) as caught:
        load_mapping(path)
    assert str(caught.value.issues[0]) == message
    assert str(path) in str(caught.value)


def test_a_missing_or_undecodable_mapping_file(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        load_mapping(tmp_path / "nope.yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes("source: caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputFileError, match="not UTF-8 text"):
        load_mapping(path)
