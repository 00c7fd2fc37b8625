"""The canonical incident CSV: real files in tmp_path, read, then split into good and rejected.

``line`` is the line of the file a row starts on; the header is line 1.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from impactlens.ingest.canonical import parse_canonical_incidents, read_canonical_csv

from impactlens.errors import InputFileError, MissingColumnsError

AS_OF = pd.Timestamp("2026-11-10T00:00:00Z")


def write(tmp_path: Path, text: str, name: str = "incidents.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    return parse_canonical_incidents(read_canonical_csv(write(tmp_path, text)), **kwargs)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


MIXED = """\
incident_id,opened_at,resolved_at,priority,ci
INC1,2026-11-02T09:00:00Z,2026-11-02T10:00:00Z,2,web
INC2,yesterday,,2,web
INC3,2026-11-02T09:00:00Z,2026-11-02T08:00:00Z,2,web
INC4,2026-11-02T09:00:00Z,,0,web
INC5,2026-11-02T09:00:00Z,,6,web
INC6,2026-11-02T09:00:00Z,,2.5,web
INC7,2026-11-02T09:00:00Z,,,web
INC8,2026-11-02T09:00:00Z,,high,web
,2026-11-02T09:00:00Z,,2,web
INC1,2026-11-03T09:00:00Z,,3,web
INC11,2026-11-12T09:00:00Z,,3,web
INC12,2026-11-02T11:00:00+02:00,2026-11-02 12:00,1,  pay-api \n\
INC13,2026-11-02T09:00:00Z,31/12/2026 10:00,2,web
INC14,,,2,web
INC1,2026-11-04T09:00:00Z,,3,web
INC16,2026-11-09T23:59:59Z,,5,
"""


def test_every_bad_row_is_rejected_with_its_line_and_reason(tmp_path):
    _, rejected = load(tmp_path, MIXED, as_of=AS_OF)
    got = list(zip(rejected["line"], rejected["reason"], strict=True))
    assert got == [
        # INC1 again at lines 11 and 16: the row updated last (line 16) is kept
        (
            2,
            "duplicate incident_id INC1: kept line 16 (updated_at 2026-11-04T09:00:00Z); "
            "this row's updated_at 2026-11-02T10:00:00Z is not newer",
        ),
        (3, "opened_at 'yesterday' is not an ISO 8601 timestamp"),
        (4, "resolved_at 2026-11-02T08:00:00Z is before opened_at 2026-11-02T09:00:00Z"),
        (5, "priority 0 is not a whole number from 1 to 5"),
        (6, "priority 6 is not a whole number from 1 to 5"),
        (7, "priority 2.5 is not a whole number from 1 to 5"),
        (8, "missing priority"),
        (9, "priority high is not a whole number from 1 to 5"),
        (10, "missing incident_id"),
        (
            11,
            "duplicate incident_id INC1: kept line 16 (updated_at 2026-11-04T09:00:00Z); "
            "this row's updated_at 2026-11-03T09:00:00Z is not newer",
        ),
        (12, "opened_at 2026-11-12T09:00:00Z is after as_of 2026-11-10T00:00:00+00:00"),
        (14, "resolved_at '31/12/2026 10:00' is not an ISO 8601 timestamp"),
        (15, "missing opened_at"),
    ]


def test_good_rows_in_a_file_with_bad_rows_are_all_kept(tmp_path):
    incidents, rejected = load(tmp_path, MIXED, as_of=AS_OF)
    # 16 data rows = 3 good + 13 rejected; nothing dropped silently
    assert len(incidents) + len(rejected) == 16
    assert incidents["incident_id"].tolist() == ["INC12", "INC1", "INC16"]
    assert incidents["line"].tolist() == [13, 16, 17]
    assert incidents["priority"].tolist() == [1, 3, 5]
    assert incidents["opened_at"].tolist() == [
        utc("2026-11-02T09:00:00Z"),  # INC12: 11:00+02:00 = 09:00 UTC
        utc("2026-11-04T09:00:00Z"),  # INC1's newest row
        utc("2026-11-09T23:59:59Z"),  # 1 s before as_of: kept
    ]
    assert incidents["resolved_at"].iloc[0] == utc("2026-11-02T12:00:00Z")  # naive = UTC
    assert pd.isna(incidents["resolved_at"].iloc[1])
    assert pd.isna(incidents["resolved_at"].iloc[2])  # still open
    assert incidents["ci"].iloc[0] == "pay-api"  # text is stripped
    assert pd.isna(incidents["ci"].iloc[2])  # empty text is missing


def test_rejected_rows_keep_their_raw_values_as_text(tmp_path):
    _, rejected = load(tmp_path, MIXED, as_of=AS_OF)
    assert list(rejected.columns[:1]) == ["line"]
    assert {"reason", "incident_id", "opened_at", "resolved_at", "priority", "ci"} <= set(
        rejected.columns
    )
    yesterday = rejected[rejected["line"] == 3].iloc[0]
    assert yesterday["opened_at"] == "yesterday"
    assert yesterday["incident_id"] == "INC2"
    high = rejected[rejected["line"] == 9].iloc[0]
    assert high["priority"] == "high"


def test_reasons_quote_the_priority_as_the_file_wrote_it(tmp_path):
    # With only numbers and an empty cell, the reader types the column as float; the
    # reason should still say "6", not "6.0" (DESIGN.md: precise errors, what/where/why).
    text = """\
incident_id,opened_at,priority
A,2026-11-02T09:00:00Z,2
B,2026-11-02T09:00:00Z,
C,2026-11-02T09:00:00Z,6
D,2026-11-02T09:00:00Z,0
"""
    incidents, rejected = load(tmp_path, text)
    assert incidents["incident_id"].tolist() == ["A"]
    assert list(zip(rejected["line"], rejected["reason"], strict=True)) == [
        (3, "missing priority"),
        (4, "priority 6 is not a whole number from 1 to 5"),
        (5, "priority 0 is not a whole number from 1 to 5"),
    ]


def test_the_row_updated_last_of_a_duplicated_id_is_kept_and_the_others_name_it(tmp_path):
    text = """\
incident_id,opened_at,priority
X,2026-11-02T09:00:00Z,2
Y,2026-11-02T09:00:00Z,3
X,2026-11-02T10:00:00Z,1
X,2026-11-02T11:00:00Z,1
"""
    incidents, rejected = load(tmp_path, text)
    # no resolved_at or updated_at: each row's updated_at is its opened_at
    assert incidents[["line", "incident_id", "priority"]].values.tolist() == [
        [3, "Y", 3],
        [5, "X", 1],
    ]
    assert list(zip(rejected["line"], rejected["reason"], strict=True)) == [
        (
            2,
            "duplicate incident_id X: kept line 5 (updated_at 2026-11-02T11:00:00Z); "
            "this row's updated_at 2026-11-02T09:00:00Z is not newer",
        ),
        (
            4,
            "duplicate incident_id X: kept line 5 (updated_at 2026-11-02T11:00:00Z); "
            "this row's updated_at 2026-11-02T10:00:00Z is not newer",
        ),
    ]


def test_an_updated_at_column_decides_and_ties_keep_the_first_row(tmp_path):
    text = """\
incident_id,opened_at,priority,updated_at,closed_at,state,impact,urgency
X,2026-11-02T09:00:00Z,2,2026-11-05T00:00:00Z,2026-11-03T00:00:00Z,Closed,1,2
X,2026-11-02T09:00:00Z,1,2026-11-04T00:00:00Z,,In Progress,,
Y,2026-11-02T09:00:00Z,3,,,,,
Y,2026-11-02T09:00:00Z,4,,,,,
Z,2026-11-02T09:00:00Z,3,,2026-11-01T00:00:00Z,,,
W,2026-11-02T09:00:00Z,3,,,,7,
"""
    incidents, rejected = load(tmp_path, text)
    assert incidents[["line", "incident_id", "priority"]].values.tolist() == [
        [2, "X", 2],  # its updated_at is later, though it comes first
        [4, "Y", 3],  # a tie: the first row
    ]
    kept = incidents.set_index("incident_id")
    assert kept.loc["X", "closed_at"] == utc("2026-11-03T00:00:00Z")
    assert (kept.loc["X", "state"], kept.loc["X", "impact"], kept.loc["X", "urgency"]) == (
        "Closed", 1, 2,
    )  # fmt: skip
    assert kept.loc["Y", "updated_at"] == utc("2026-11-02T09:00:00Z")  # opened_at
    assert list(zip(rejected["line"], rejected["problem"], strict=True)) == [
        (3, "duplicate incident_id"),
        (5, "duplicate incident_id"),
        (6, "closed before opened"),
        (7, "bad impact"),
    ]
    assert rejected["reason"].tolist()[2:] == [
        "closed_at 2026-11-01T00:00:00Z is before opened_at 2026-11-02T09:00:00Z",
        "impact 7 is not a whole number from 1 to 5",
    ]


def test_a_duplicate_of_a_rejected_row_is_the_first_usable_one(tmp_path):
    # Line 2 is rejected for its priority, so line 3 is the first usable X and is kept.
    text = """\
incident_id,opened_at,priority
X,2026-11-02T09:00:00Z,9
X,2026-11-02T10:00:00Z,1
"""
    incidents, rejected = load(tmp_path, text)
    assert incidents[["line", "incident_id"]].values.tolist() == [[3, "X"]]
    assert list(zip(rejected["line"], rejected["reason"], strict=True)) == [
        (2, "priority 9 is not a whole number from 1 to 5")
    ]


@pytest.mark.parametrize(
    ("opened", "expected"),
    [
        # every value naive: naive means UTC
        (
            ["2026-11-02T09:00:00", "2026-11-02 17:30:00"],
            ["2026-11-02T09:00:00Z", "2026-11-02T17:30:00Z"],
        ),
        # every value with an offset: converted to UTC (09:00+02:00 = 07:00Z; 09:00-05:00 =
        # 14:00Z)
        (
            ["2026-11-02T09:00:00+02:00", "2026-11-02T09:00:00-05:00"],
            ["2026-11-02T07:00:00Z", "2026-11-02T14:00:00Z"],
        ),
        # mixed in one column
        (
            ["2026-11-02T09:00:00", "2026-11-02T09:00:00+02:00"],
            ["2026-11-02T09:00:00Z", "2026-11-02T07:00:00Z"],
        ),
    ],
    ids=["naive", "offsets", "mixed"],
)
def test_naive_timestamps_are_utc_and_offsets_are_converted(tmp_path, opened, expected):
    text = "incident_id,opened_at,priority\n" + "".join(
        f"I{n},{stamp},2\n" for n, stamp in enumerate(opened)
    )
    incidents, rejected = load(tmp_path, text)
    assert rejected.empty
    assert str(incidents["opened_at"].dt.tz) == "UTC"
    assert incidents["opened_at"].tolist() == [utc(stamp) for stamp in expected]


def test_a_naive_as_of_means_utc(tmp_path):
    # Spec gap: naive timestamps mean UTC in files, and score_incidents takes a naive
    # as_of as UTC; parse_canonical_incidents should too (not raise TypeError).
    text = """\
incident_id,opened_at,priority
A,2026-11-09T23:00:00Z,2
B,2026-11-10T01:00:00Z,2
"""
    incidents, rejected = load(tmp_path, text, as_of=pd.Timestamp("2026-11-10T00:00:00"))
    assert incidents["incident_id"].tolist() == ["A"]
    assert rejected["line"].tolist() == [3]


def test_line_numbers_count_physical_lines_of_a_multiline_field(tmp_path):
    # ServiceNow exports quote descriptions that contain newlines: INC1 spans lines 2-3,
    # so INC2 starts on line 4 of the file.
    text = (
        "incident_id,opened_at,priority,short_description\n"
        'INC1,2026-11-02T09:00:00Z,2,"checkout fails\nafter deploy"\n'
        "INC2,2026-11-02T09:00:00Z,9,bad priority\n"
    )
    incidents, rejected = load(tmp_path, text)
    assert incidents["short_description"].tolist() == ["checkout fails\nafter deploy"]
    assert incidents["line"].tolist() == [2]
    assert rejected["line"].tolist() == [4]


def test_line_numbers_count_blank_lines(tmp_path):
    # A blank line 3 is skipped by the reader, but INC2 is still on line 4 of the file.
    text = (
        "incident_id,opened_at,priority\n"
        "INC1,2026-11-02T09:00:00Z,2\n"
        "\n"
        "INC2,2026-11-02T09:00:00Z,9\n"
    )
    _, rejected = load(tmp_path, text)
    assert rejected["line"].tolist() == [4]


def test_line_numbers_with_crlf_escaped_quotes_commas_and_blank_lines(tmp_path):
    data = (
        b"incident_id,opened_at,priority,short_description\r\n"  # line 1
        b'A,2026-11-02T09:00:00Z,2,"say ""hi""\r\n'  # line 2, A starts
        b'then go"\r\n'  # line 3, A ends
        b"\r\n"  # line 4, blank
        b"B,2026-11-02T09:00:00Z,9,x\r\n"  # line 5
        b'C,2026-11-02T09:00:00Z,2,"a,b"\r\n'  # line 6
        b"D,,2,y\r\n"  # line 7
    )
    path = tmp_path / "incidents.csv"
    path.write_bytes(data)
    incidents, rejected = parse_canonical_incidents(read_canonical_csv(path))
    assert incidents[["line", "incident_id"]].values.tolist() == [[2, "A"], [6, "C"]]
    assert incidents["short_description"].tolist() == ['say "hi"\r\nthen go', "a,b"]
    assert list(zip(rejected["line"], rejected["reason"], strict=True)) == [
        (5, "priority 9 is not a whole number from 1 to 5"),
        (7, "missing opened_at"),
    ]


def test_line_numbers_with_an_inch_mark_before_a_multiline_field(tmp_path):
    # The reader takes a '"' inside an unquoted field literally (27" monitor), so it does
    # not open a quoted section; B spans lines 3-4, so C is on line 5 of the file.
    text = (
        "incident_id,opened_at,priority,short_description\n"  # line 1
        'A,2026-11-02T09:00:00Z,2,27" monitor broken\n'  # line 2
        'B,2026-11-02T09:00:00Z,2,"two\nlines"\n'  # lines 3-4
        "C,2026-11-02T09:00:00Z,9,x\n"  # line 5
    )
    incidents, rejected = load(tmp_path, text)
    assert incidents["short_description"].tolist() == ['27" monitor broken', "two\nlines"]
    assert incidents["line"].tolist() == [2, 3]
    assert list(zip(rejected["line"], rejected["reason"], strict=True)) == [
        (5, "priority 9 is not a whole number from 1 to 5")
    ]


@pytest.mark.parametrize("missing", ["incident_id", "opened_at", "priority"])
def test_a_missing_required_column_is_named(tmp_path, missing):
    columns = [c for c in ("incident_id", "opened_at", "priority", "ci") if c != missing]
    values = {"incident_id": "A", "opened_at": "2026-11-02T09:00:00Z", "priority": "2", "ci": "web"}
    text = ",".join(columns) + "\n" + ",".join(values[c] for c in columns) + "\n"
    raw = read_canonical_csv(write(tmp_path, text))
    with pytest.raises(MissingColumnsError) as caught:
        parse_canonical_incidents(raw)
    assert caught.value.missing == [missing]
    assert repr(missing) in str(caught.value)


def test_two_missing_required_columns_are_both_named(tmp_path):
    raw = read_canonical_csv(write(tmp_path, "incident_id,ci\nA,web\n"))
    with pytest.raises(MissingColumnsError) as caught:
        parse_canonical_incidents(raw)
    assert caught.value.missing == ["opened_at", "priority"]


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",  # an image
        bytes(range(256)) * 4,  # binary noise
        b"",  # empty
        b"incident_id,opened_at,priority\nA,2026-11-02T09:00:00Z,2,extra,more\n",  # ragged
    ],
    ids=["png", "binary", "empty", "ragged"],
)
def test_a_file_that_is_not_csv_is_an_input_file_error(tmp_path, content):
    path = tmp_path / "incidents.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=r"incidents\.csv"):
        read_canonical_csv(path)


def test_a_missing_file_or_a_directory_is_an_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        read_canonical_csv(tmp_path / "nope.csv")
    with pytest.raises(InputFileError):
        read_canonical_csv(tmp_path)


def test_a_gzipped_file_keeps_its_line_numbers(tmp_path):
    import gzip

    text = (
        "incident_id,opened_at,priority,short_description\n"  # line 1
        'A,2026-11-02T09:00:00Z,2,"two\nlines"\n'  # lines 2-3
        "\n"  # line 4, blank
        "B,2026-11-02T09:00:00Z,9,x\n"  # line 5
    )
    path = tmp_path / "incidents.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    incidents, rejected = parse_canonical_incidents(read_canonical_csv(path))
    assert incidents[["line", "incident_id"]].values.tolist() == [[2, "A"]]
    assert incidents["short_description"].tolist() == ["two\nlines"]
    assert rejected["line"].tolist() == [5]


def test_a_broken_gzip_file_is_an_input_file_error(tmp_path):
    path = tmp_path / "incidents.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(InputFileError, match=r"incidents\.csv\.gz"):
        read_canonical_csv(path)


def test_a_last_line_without_a_newline_is_numbered(tmp_path):
    text = "incident_id,opened_at,priority\nA,2026-11-02T09:00:00Z,2\nB,2026-11-02T09:00:00Z,9"
    incidents, rejected = load(tmp_path, text)
    assert incidents["line"].tolist() == [2]
    assert rejected["line"].tolist() == [3]


@pytest.mark.parametrize(
    ("ids", "kept", "repeated"),
    [
        (["A1", "A2", "A3"], ["A1", "A2", "A3"], []),  # ascending: no repeats possible
        (["A3", "A2", "A1"], ["A3", "A2", "A1"], []),  # newest first
        (["A1", "A2", "A2", "A3"], ["A1", "A2", "A3"], [4]),  # sorted, with a repeat
        (["A3", "A2", "A2"], ["A3", "A2"], [4]),  # newest first, with a repeat
        (["B", "A", "B", "C", "A"], ["B", "A", "C"], [4, 6]),  # unsorted
        (["A", "A"], ["A"], [3]),
        (["A"], ["A"], []),
    ],
)
def test_duplicates_are_found_whatever_the_order_of_ids(tmp_path, ids, kept, repeated):
    text = "incident_id,opened_at,priority\n" + "".join(
        f"{incident},2026-11-02T09:00:00Z,2\n" for incident in ids
    )
    incidents, rejected = load(tmp_path, text)
    assert incidents["incident_id"].tolist() == kept
    assert rejected["line"].tolist() == repeated
    assert set(rejected["problem"]) <= {"duplicate incident_id"}


def test_a_sorted_id_repeating_a_rejected_row_is_kept(tmp_path):
    # A1's first row is rejected, so ids of usable rows (A1, A2) still rise: nothing repeats.
    text = """\
incident_id,opened_at,priority
A1,2026-11-02T09:00:00Z,9
A1,2026-11-02T10:00:00Z,1
A2,2026-11-02T10:00:00Z,1
"""
    incidents, rejected = load(tmp_path, text)
    assert incidents[["line", "incident_id"]].values.tolist() == [[3, "A1"], [4, "A2"]]
    assert rejected["line"].tolist() == [2]


def test_a_file_of_good_rows_gives_every_row_and_an_empty_reject_table(tmp_path):
    text = "incident_id,opened_at,priority,ci\n" + "".join(
        f"I{n},2026-11-02T09:00:00Z,{n % 5 + 1}, web \n" for n in range(5)
    )
    incidents, rejected = load(tmp_path, text)
    assert incidents["line"].tolist() == [2, 3, 4, 5, 6]
    assert incidents["priority"].tolist() == [1, 2, 3, 4, 5]
    assert incidents["ci"].tolist() == ["web"] * 5
    assert list(incidents.index) == [0, 1, 2, 3, 4]
    assert rejected.empty
    assert list(rejected.columns[:3]) == ["line", "problem", "reason"]


def test_byte_order_marks_at_the_start_and_inside_values_are_dropped(tmp_path):
    data = (
        "\ufeffincident_id,opened_at,priority,ci\n"
        "A,2026-11-02T09:00:00Z,2,web\n"
        "\ufeffB,2026-11-02T09:00:00Z,3,\ufeffpay-api\n"  # a second file pasted on
    ).encode("utf-8")
    path = tmp_path / "bom.csv"
    path.write_bytes(data)
    incidents, rejected = parse_canonical_incidents(read_canonical_csv(path))
    assert rejected.empty
    assert incidents["incident_id"].tolist() == ["A", "B"]
    assert incidents["ci"].tolist() == ["web", "pay-api"]
