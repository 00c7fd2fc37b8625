"""ServiceNow incident exports: reading files (`read_rows`) and `parse_servicenow`.

Samples in ``samples/servicenow/`` follow ServiceNow's documented export shapes: the CSV
export (display values, field names as headers, every field quoted), the CSV export with
field labels as headers, the Table API ``{"result": [...]}`` with
``sysparm_display_value=all`` and with raw values (references as ``{"link", "value"}``),
and the JSON export ``{"records": [...]}`` (raw values, ``dv_`` display values). Expected
values below were worked out by hand from those files.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import impactlens.ingest.read
import pandas as pd
import pytest
from impactlens.ingest.batch import HISTORY_COLUMNS, INCIDENT_COLUMNS, REJECTED_COLUMNS
from impactlens.ingest.read import read_rows
from impactlens.ingest.servicenow import parse_servicenow

from impactlens.errors import ImpactlensError, InputFileError, MissingColumnsError

SAMPLES = Path(__file__).parent / "samples" / "servicenow"
UTC = "datetime64[us, UTC]"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def parse_sample(name: str, **kwargs):
    return parse_servicenow(read_rows(SAMPLES / name), **kwargs)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
    return path


def frame(**columns) -> pd.DataFrame:
    """A raw frame of text, as `read_rows` gives, with defaults for required fields."""
    size = max(len(v) for v in columns.values())
    defaults = {
        "number": [f"INC{i}" for i in range(1, size + 1)],
        "opened_at": ["2026-11-02 09:00:00"] * size,
        "priority": ["3 - Moderate"] * size,
    }
    return pd.DataFrame(defaults | columns, dtype="string")


# --- the CSV export -------------------------------------------------------------------


def test_csv_export_gives_the_good_rows_typed():
    batch = parse_sample("incidents.csv")
    incidents = batch.incidents.set_index("incident_id")
    assert incidents.index.tolist() == ["INC0010001", "INC0010002", "INC0010003"]
    first = incidents.loc["INC0010001"]
    assert first["opened_at"] == utc("2026-11-02 09:00")
    assert first["resolved_at"] == utc("2026-11-02 10:30")
    assert first["closed_at"] == utc("2026-11-05 10:30")
    assert first["updated_at"] == utc("2026-11-05 10:30:05")
    assert (first["state"], first["priority"], first["impact"], first["urgency"]) == (
        "Closed",
        1,
        1,
        1,
    )
    assert (first["ci"], first["category"], first["subcategory"]) == (
        "PAYAPI01",
        "Software",
        "Payments",
    )
    assert (first["assignment_group"], first["location"]) == ("Payments Ops", "London")
    assert (first["reassignment_count"], first["reopen_count"]) == (2, 0)
    assert (first["problem_id"], first["caused_by_change"]) == ("PRB0040001", "CHG0030002")
    # the newer of the two INC0010002 rows; its quoted description spans two lines
    second = incidents.loc["INC0010002"]
    assert (second["state"], second["priority"]) == ("In Progress", 3)
    assert pd.isna(second["resolved_at"]) and pd.isna(second["ci"])
    assert second["short_description"] == "VPN drops\nevery few minutes"
    assert incidents.loc["INC0010003", "short_description"] == (
        'Checkout slow, "sometimes" times out'
    )
    assert incidents["priority"].tolist() == [1, 3, 2]
    assert (batch.incidents["source"] == "servicenow").all()
    assert batch.incidents["service_id"].isna().all()
    assert batch.incidents["support_tier"].isna().all()


def test_csv_export_rejects_bad_rows_with_line_and_reason():
    rejected = parse_sample("incidents.csv").rejected
    assert list(zip(rejected["line"], rejected["problem"], rejected["reason"], strict=True)) == [
        (
            6,
            "duplicate number",
            "duplicate number INC0010002: line 3 is kept "
            "(sys_updated_on 2026-11-03T08:00:00Z; this row 2026-11-02T11:20:00Z)",
        ),
        (7, "bad timestamp", "opened_at '2026-02-31 10:00:00' is not a date"),
        (8, "missing value", "missing priority"),
        (
            9,
            "resolved before opened",
            "resolved_at 2026-11-04T11:00:00Z is before opened_at 2026-11-04T12:00:00Z",
        ),
    ]
    assert (rejected["source"] == "servicenow").all()


def test_every_row_is_either_an_incident_or_rejected():
    raw = read_rows(SAMPLES / "incidents.csv")
    batch = parse_servicenow(raw)
    assert len(batch.incidents) + len(batch.rejected) == len(raw) == 7


def test_a_rejected_row_keeps_its_raw_fields_as_json_text():
    raw_row = json.loads(parse_sample("incidents.csv").rejected["raw"].iloc[2])
    assert raw_row["number"] == "INC0010005"
    assert raw_row["priority"] is None  # empty in the file
    assert raw_row["short_description"] == "No priority"
    assert raw_row["impact"] == "2 - Medium"


def test_history_is_the_assignment_group_at_opened_at():
    history = parse_sample("incidents.csv").history
    assert history[["incident_id", "at", "assignment_group"]].values.tolist() == [
        ["INC0010001", utc("2026-11-02 09:00"), "Payments Ops"],
        ["INC0010002", utc("2026-11-02 11:15"), "Service Desk"],
    ]  # INC0010003 has no group: no history row


def test_the_canonical_columns_and_dtypes():
    batch = parse_sample("incidents.csv")
    assert tuple(batch.incidents.columns) == INCIDENT_COLUMNS
    assert tuple(batch.history.columns) == HISTORY_COLUMNS
    assert tuple(batch.rejected.columns) == REJECTED_COLUMNS
    dtypes = batch.incidents.dtypes.astype(str).to_dict()
    for column in ("opened_at", "resolved_at", "closed_at", "updated_at", "reopened_at"):
        assert dtypes.pop(column) == UTC
    assert dtypes.pop("priority") == "int64"
    for column in ("impact", "urgency", "reassignment_count", "reopen_count"):
        assert dtypes.pop(column) == "Int64"
    assert set(dtypes.values()) == {"string"}
    assert batch.history.dtypes.astype(str).tolist() == [
        "string",
        "string",
        UTC,
        "string",
        "string",
    ]
    assert batch.rejected.dtypes.astype(str).tolist() == [
        "string",
        "int64",
        "string",
        "string",
        "string",
    ]


def test_naive_times_are_in_the_given_time_zone():
    # 2026-11-02 09:00 in New York is EST (UTC-5): DST ended on 1 November 2026
    batch = parse_sample("incidents.csv", timezone="America/New_York")
    assert batch.incidents["opened_at"].iloc[0] == utc("2026-11-02 14:00")


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ImpactlensError, match="time zone 'Mars/Olympus' is not an IANA zone name"):
        parse_servicenow(frame(number=["INC1"]), timezone="Mars/Olympus")


def test_daylight_saving_edges_are_real_times_not_bad_rows():
    raw = frame(opened_at=["2026-03-29 02:30:00", "2026-10-25 02:30:00"])
    batch = parse_servicenow(raw, timezone="Europe/Paris")
    assert batch.rejected.empty
    # the spring gap moves forward to 03:00 CEST; the autumn repeat is the first (CEST)
    assert batch.incidents["opened_at"].tolist() == [
        utc("2026-03-29 01:00"),
        utc("2026-10-25 00:30"),
    ]


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("2026-11-02 09:00:00", False, "2026-11-02 09:00"),
        ("2026-11-02T09:00:00Z", False, "2026-11-02 09:00"),
        ("2026-11-02T10:00:00+01:00", True, "2026-11-02 09:00"),
        ("02/11/2026 09:00:00", True, "2026-11-02 09:00"),
        ("02/11/2026 09:00:00", False, "2026-02-11 09:00"),
        ("2/11/2026 9:00", True, "2026-11-02 09:00"),
        ("02.11.2026 09:00", True, "2026-11-02 09:00"),
        ("11-02-2026 09:00:00 PM", False, "2026-11-02 21:00"),
        ("2026-11-02", False, "2026-11-02 00:00"),
    ],
)
def test_servicenow_date_formats(text, day_first, expected):
    batch = parse_servicenow(frame(opened_at=[text]), day_first=day_first)
    assert batch.rejected.empty, batch.rejected["reason"].tolist()
    assert batch.incidents["opened_at"].iloc[0] == utc(expected)


def test_an_unreadable_date_says_which_order_it_was_read_in():
    batch = parse_servicenow(frame(opened_at=["31/2/2016 10:00", "13/13/2016"]), day_first=True)
    assert batch.rejected["reason"].tolist() == [
        "opened_at '31/2/2016 10:00' is not a date (day-first)",
        "opened_at '13/13/2016' is not a date (day-first)",
    ]
    batch = parse_servicenow(frame(opened_at=["29/2/2016 10:00"]))
    assert batch.rejected["reason"].tolist() == [
        "opened_at '29/2/2016 10:00' is not a date (month-first)"
    ]


# --- values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 - Critical", 1),
        ("2 - High", 2),
        ("3 - Moderate", 3),
        ("4 - Low", 4),
        ("5 - Planning", 5),
        ("2", 2),
        (" 4 ", 4),
        ("3.0", 3),
        ("Critical", 1),
        ("moderate", 3),
    ],
)
def test_priorities_as_display_or_raw_values(text, expected):
    batch = parse_servicenow(frame(priority=[text]))
    assert batch.incidents["priority"].tolist() == [expected]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0", "priority '0' is not a priority from 1 to 5"),
        ("6 - Other", "priority '6 - Other' is not a priority from 1 to 5"),
        ("2.5", "priority '2.5' is not a priority from 1 to 5"),
        ("Urgent", "priority 'Urgent' is not a priority from 1 to 5"),
        ("?", "missing priority"),
        ("NULL", "missing priority"),
        ("   ", "missing priority"),
    ],
)
def test_unreadable_priorities_are_rejected(text, reason):
    batch = parse_servicenow(frame(priority=[text]))
    assert batch.incidents.empty
    assert batch.rejected["reason"].tolist() == [reason]


def test_missing_markers_are_missing_values():
    raw = frame(
        number=["INC1", "INC2", "INC3", "INC4"],
        cmdb_ci=["?", "NULL", "  ", "n/a"],
        impact=["?", "NULL", "2 - Medium", None],
        resolved_at=["?", "NULL", " ", None],
    )
    batch = parse_servicenow(raw)
    assert batch.rejected.empty
    assert batch.incidents["ci"].isna().all()
    assert batch.incidents["resolved_at"].isna().all()
    assert batch.incidents["impact"].tolist() == [pd.NA, pd.NA, 2, pd.NA]


def test_unreadable_numbers_are_rejected_not_dropped():
    raw = frame(
        number=["INC1", "INC2", "INC3"],
        impact=["severe", "High", "1 - High"],
        reassignment_count=["1", "two", "0"],
    )
    batch = parse_servicenow(raw)
    assert batch.incidents[["incident_id", "impact"]].values.tolist() == [["INC3", 1]]
    assert batch.rejected["reason"].tolist() == [
        "impact 'severe' is not a number (or High, Medium, Low)",
        "reassignment_count 'two' is not a whole number",
    ]


def test_raw_state_codes_become_their_labels():
    raw = frame(incident_state=["1", "2", "3", "6", "7", "8", "Awaiting User Info"])
    batch = parse_servicenow(raw)
    assert batch.incidents["state"].tolist() == [
        "New",
        "In Progress",
        "On Hold",
        "Resolved",
        "Closed",
        "Canceled",
        "Awaiting User Info",
    ]


def test_incident_state_wins_over_state_and_fills_from_it():
    raw = frame(number=["INC1", "INC2"], incident_state=["Resolved", None], state=["Closed", "New"])
    assert parse_servicenow(raw).incidents["state"].tolist() == ["Resolved", "New"]


def test_updated_at_without_sys_updated_on_is_the_latest_known_moment():
    raw = frame(
        number=["INC1", "INC2"],
        opened_at=["2026-11-02 09:00:00", "2026-11-02 09:00:00"],
        resolved_at=["2026-11-02 10:00:00", None],
        closed_at=["2026-11-04 10:00:00", None],
    )
    assert parse_servicenow(raw).incidents["updated_at"].tolist() == [
        utc("2026-11-04 10:00"),
        utc("2026-11-02 09:00"),
    ]


def test_duplicates_keep_the_newest_update_and_the_first_of_equals():
    raw = frame(
        number=["INC1", "INC1", "INC2", "INC2", "INC1"],
        sys_updated_on=[
            "2026-11-02 09:00:00",
            "2026-11-03 09:00:00",
            "2026-11-02 09:00:00",
            "2026-11-02 09:00:00",
            "2026-11-01 09:00:00",
        ],
        priority=["1", "2", "3", "4", "5"],
    )
    batch = parse_servicenow(raw)
    assert batch.incidents[["incident_id", "priority"]].values.tolist() == [
        ["INC1", 2],
        ["INC2", 3],
    ]
    assert batch.rejected["line"].tolist() == [2, 5, 6]
    assert batch.rejected["reason"].iloc[1] == (
        "duplicate number INC2: line 4 is kept "
        "(sys_updated_on 2026-11-02T09:00:00Z; this row 2026-11-02T09:00:00Z)"
    )


def test_a_duplicate_of_a_rejected_row_is_not_a_duplicate():
    raw = frame(number=["INC1", "INC1"], priority=["9", "2"])
    batch = parse_servicenow(raw)
    assert batch.incidents["priority"].tolist() == [2]
    assert batch.rejected["reason"].tolist() == ["priority '9' is not a priority from 1 to 5"]


@pytest.mark.parametrize("missing", ["number", "opened_at", "priority"])
def test_a_missing_required_column_is_named(missing):
    raw = frame(number=["INC1"]).drop(columns=[missing])
    with pytest.raises(MissingColumnsError, match=f"missing required column '{missing}'"):
        parse_servicenow(raw)


def test_no_records_give_an_empty_batch():
    assert parse_servicenow(pd.DataFrame()).incidents.empty
    header_only = parse_servicenow(frame(number=[]))
    assert header_only.incidents.empty and header_only.rejected.empty
    assert header_only.incidents["opened_at"].dtype == UTC


def test_without_a_line_index_rows_count_from_line_2():
    batch = parse_servicenow(frame(number=["INC1", None]))
    assert batch.rejected[["line", "reason"]].values.tolist() == [[3, "missing number"]]


def test_a_1_mb_field_is_kept_whole(tmp_path):
    text = "x" * 1_000_000
    path = write(
        tmp_path,
        "big.csv",
        f'number,opened_at,priority,short_description\nINC1,2026-11-02 09:00:00,2,"{text}"\n'
        "INC2,2026-11-02 09:00:00,3,small\n",
    )
    batch = parse_servicenow(read_rows(path))
    assert batch.incidents["short_description"].str.len().tolist() == [1_000_000, 5]


# --- other documented shapes ----------------------------------------------------------


def test_table_api_with_display_values_all():
    # Display values are the user's (Europe/Paris, dd/MM/yyyy); the UTC values are used.
    batch = parse_sample("incidents_table_api.json", timezone="Europe/Paris")
    assert batch.rejected.empty
    incidents = batch.incidents.set_index("incident_id")
    first = incidents.loc["INC0010007"]
    assert first["opened_at"] == utc("2026-11-02 09:00")
    assert first["resolved_at"] == utc("2026-11-02 10:45")
    assert first["updated_at"] == utc("2026-11-02 10:45:02")
    assert pd.isna(first["closed_at"])
    assert (first["state"], first["priority"], first["impact"], first["urgency"]) == (
        "Resolved",
        2,
        2,
        1,
    )
    # references: the display value (the name), not the sys_id
    assert (first["ci"], first["assignment_group"]) == ("PAYAPI01", "Payments Ops")
    assert first["category"] == "Software"
    second = incidents.loc["INC0010008"]
    assert (second["state"], second["problem_id"]) == ("On Hold", "PRB0040002")
    assert pd.isna(second["assignment_group"])
    assert batch.history["incident_id"].tolist() == ["INC0010007"]


def test_table_api_with_raw_values():
    batch = parse_sample("incidents_table_api_raw.json")
    incident = batch.incidents.iloc[0]
    assert (incident["incident_id"], incident["state"], incident["priority"]) == (
        "INC0010009",
        "New",
        4,
    )
    # a reference without its display value is its sys_id: that is what the export holds
    assert incident["assignment_group"] == "d625dccec0a8016700a222a0f7900d06"
    assert incident["opened_at"] == utc("2026-11-03 08:00")


def test_json_export_records_prefer_dv_display_values():
    batch = parse_sample("incidents_export.json")
    assert batch.rejected.empty
    assert batch.incidents[
        ["incident_id", "state", "priority", "assignment_group"]
    ].values.tolist() == [
        ["INC0010180", "New", 3, "d625dccec0a8016700a222a0f7900d06"],
        ["INC0010181", "In Progress", 2, "Service Desk"],
    ]
    assert batch.incidents["opened_at"].tolist() == [
        utc("2010-02-23 22:51:49"),
        utc("2010-02-24 08:00"),
    ]


def test_csv_export_with_field_labels_as_headers():
    batch = parse_sample("incidents_labels.csv")
    incident = batch.incidents.iloc[0]
    assert (incident["incident_id"], incident["priority"], incident["state"]) == (
        "INC0010010",
        3,
        "Resolved",
    )
    assert (incident["assignment_group"], incident["ci"]) == ("Network Ops", "CORE-SW-01")
    assert incident["updated_at"] == utc("2026-11-05 09:00:01")
    assert incident["reassignment_count"] == 1


# --- read_rows ------------------------------------------------------------------------


def test_read_rows_gives_text_and_the_line_each_record_starts_on():
    raw = read_rows(SAMPLES / "incidents.csv")
    assert raw.index.name == "line"
    assert raw.index.tolist() == [2, 3, 5, 6, 7, 8, 9]
    assert set(raw.dtypes.astype(str)) == {"string"}
    assert raw["priority"].iloc[0] == "1 - Critical"
    assert pd.isna(raw["resolved_at"].iloc[1])  # an empty field is NA


def test_read_rows_json_lines_and_nested_values():
    raw = read_rows(SAMPLES / "incidents_table_api.json")
    assert raw.index.tolist() == [3, 29]
    assert raw["assignment_group"].tolist() == ["Payments Ops", pd.NA]
    assert raw["opened_at"].tolist() == ["2026-11-02T09:00:00Z", "2026-11-03T08:00:00Z"]
    assert raw["state"].tolist() == ["Resolved", "On Hold"]


def test_read_rows_json_list_of_records(tmp_path):
    records = [
        {"number": "INC1", "active": True, "reassignment_count": 2, "closed_at": None},
        {"number": "INC2", "active": False, "extra": {"a": 1}, "tags": ["x"]},
    ]
    path = write(tmp_path, "incidents.json", json.dumps(records, indent=1))
    raw = read_rows(path)
    assert raw.index.tolist() == [2, 8]
    assert raw.columns.tolist() == [
        "number",
        "active",
        "reassignment_count",
        "closed_at",
        "extra",
        "tags",
    ]
    assert raw.iloc[0].tolist() == ["INC1", "true", "2", pd.NA, pd.NA, pd.NA]
    assert raw.iloc[1].tolist() == ["INC2", "false", pd.NA, pd.NA, '{"a": 1}', '["x"]']


def test_read_rows_gzipped_csv_and_json(tmp_path):
    text = (SAMPLES / "incidents.csv").read_text()
    assert read_rows(write(tmp_path, "x.csv.gz", text)).index.tolist() == [2, 3, 5, 6, 7, 8, 9]
    text = (SAMPLES / "incidents_export.json").read_text()
    assert read_rows(write(tmp_path, "x.json.gz", text))["number"].tolist() == [
        "INC0010180",
        "INC0010181",
    ]


@pytest.mark.parametrize("content", ["number,priority\n", "number,priority"])
def test_a_header_alone_gives_no_rows(tmp_path, content):
    raw = read_rows(write(tmp_path, "header.csv", content))
    assert raw.columns.tolist() == ["number", "priority"] and raw.empty


def test_read_rows_numbers_repeated_headers_as_pandas_does(tmp_path):
    # Jira's export repeats a header for each value of a multi-valued field
    path = write(tmp_path, "jira.csv", "Key,Labels,Labels,Labels.1\nITSM-1,a,b,c\n")
    raw = read_rows(path)
    assert raw.columns.tolist() == ["Key", "Labels", "Labels.2", "Labels.1"]
    assert raw.iloc[0].tolist() == ["ITSM-1", "a", "b", "c"]


def test_read_rows_handles_a_byte_order_mark_and_crlf(tmp_path):
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbfnumber,priority\r\nINC1,2\r\n\r\nINC2,3\r\n")
    raw = read_rows(path)
    assert raw.columns.tolist() == ["number", "priority"]
    assert raw.index.tolist() == [2, 4]


def test_a_record_longer_than_a_read_block_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(impactlens.ingest.read, "BLOCK_SIZE", 1 << 16)
    text = "y" * 200_000
    path = write(tmp_path, "long.csv", f'number,short_description\nINC1,"{text}"\nINC2,b\n')
    assert read_rows(path)["short_description"].str.len().tolist() == [200_000, 1]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("none.csv", None, r"none\.csv: no such file"),
        ("incidents.txt", "number\nINC1\n", r"cannot tell the format from the name"),
        ("empty.csv", "", r"empty\.csv: the file is empty"),
        ("blank.json", "  \n", r"the file is empty"),
        ("empty.csv.gz", "", r"the file is empty"),
        ("garbage.csv", bytes(range(256)) * 4, r"binary data, not text \(a NUL byte on line 1\)"),
        (
            "latin1.csv",
            b"number,short_description\nINC1,caf\xe9 au lait\n",
            r"not valid UTF-8 on line 2, byte 9 of the line \(bytes e9 20 61 75\)",
        ),
        (
            "utf16.csv",
            "number\nINC1\n".encode("utf-16"),
            r"UTF-16 text; save or export it as UTF-8",
        ),
        (
            "semicolons.csv",
            "number;opened_at;priority\nINC1;2026-11-02;2\n",
            r"looks like a ';'-separated file",
        ),
        ("tabs.csv", "number\topened_at\nINC1\t2026-11-02\n", r"looks like a tab-separated file"),
        (
            "ragged.csv",
            "number,priority\nINC1,2\nINC2,3,x\n",
            r"line 3 has 3 fields where the header has 2",
        ),
        (
            "cut.csv",
            'number,priority,short_description\nINC1,2,ok\nINC2,3,"half a',
            r"the record on line 3 ends inside a quoted field \(the file ends mid-record",
        ),
        (
            "short.csv",
            "number,priority,short_description\nINC1,2,ok\nINC2,3",
            r"line 3 has 2 fields where the header has 3 \(the file ends mid-record",
        ),
        ("bad.json", '{"result": [{"number": "INC1"},, ]}', r"not valid JSON on line 1, column 32"),
        ("cut.json", '{"result": [{"number": "INC1"}, {"numb', r"looks truncated"),
        ("scalar.json", "42", r"a single value, not a list of records"),
        (
            "other.json",
            '{"incidents": []}',
            r"'result' or 'records' list \(its keys: 'incidents'\)",
        ),
        (
            "error.json",
            '{"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}',
            r"a ServiceNow error response, not records \(User Not Authenticated; Required",
        ),
        (
            "lists.json",
            '[{"number": "INC1"},\n["INC2"]]',
            r"record 2 \(line 2\) is a list, not an object",
        ),
    ],
)
def test_unreadable_files_are_clear_input_file_errors(tmp_path, name, content, message):
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    with pytest.raises(InputFileError, match=message):
        read_rows(path)


def test_a_truncated_gzip_file_says_so(tmp_path):
    data = gzip.compress((SAMPLES / "incidents.csv").read_bytes())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"cut\.csv\.gz: the gzip stream ends early"):
        read_rows(path)


def test_not_gzip_data_behind_a_gz_name_and_gzip_behind_a_csv_name(tmp_path):
    path = tmp_path / "plain.csv.gz"
    path.write_text("number\nINC1\n")
    with pytest.raises(InputFileError, match=r"plain\.csv\.gz: not a readable gzip file"):
        read_rows(path)
    path = tmp_path / "packed.csv"
    path.write_bytes(gzip.compress(b"number\nINC1\n"))
    with pytest.raises(InputFileError, match=r"gzip-compressed; name it packed\.csv\.gz"):
        read_rows(path)


def test_a_directory_is_no_file(tmp_path):
    with pytest.raises(InputFileError, match="is a directory, not a file"):
        read_rows(tmp_path)
