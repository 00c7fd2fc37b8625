"""Value parsing shared by the adapters, and the checks of `assemble_batch`, by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from impactlens.ingest.batch import HISTORY_COLUMNS, INCIDENT_COLUMNS, REJECTED_COLUMNS
from impactlens.ingest.rows import RowProblems, assemble_batch
from impactlens.ingest.values import (
    leading_number,
    missing_as_na,
    p_number,
    parse_timestamps,
    priority_from_text,
    tier_from_level,
    whole_numbers,
)

from impactlens.errors import ImpactlensError


def text(*values) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def iso(stamps: pd.Series) -> list[str | None]:
    return [None if pd.isna(s) else s.strftime("%Y-%m-%dT%H:%M:%SZ") for s in stamps]


# --- missing values and numbers ---------------------------------------------------------


def test_missing_markers_are_na_and_text_is_stripped():
    got = missing_as_na(text("  web  ", "", " ", "?", "NULL", "null", "N/A", "n/a", "NA", None))
    assert got.tolist() == ["web", *[pd.NA] * 7, "NA", pd.NA]
    assert got.dtype == "string"


def test_leading_number_needs_the_number_to_stand_alone():
    got = leading_number(text("1 - Critical", "2-High", " 3 ", "4.0", "1-Extensive/Widespread",
                              "5: Planning", "2.5", "12abc", "P1", "", None))  # fmt: skip
    assert got.tolist() == [1, 2, 3, 4, 1, 5, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA]


def test_p_numbers_and_severities():
    got = p_number(text("P1", "p5", "P 2", "SEV-1", "sev 3", "Sev2", "P1 - High", "Priority 1"))
    assert got.tolist() == [1, 5, 2, 1, 3, 2, pd.NA, pd.NA]


def test_priority_names_first_then_p_numbers_then_leading_numbers_within_1_to_5():
    names = {"Urgent": 1, "high": 2}
    priority, unknown = priority_from_text(
        text("urgent", " HIGH ", "P3", "4 - Low", "5", "P6", "0", "Blocker", "?", None), names
    )
    assert priority.tolist() == [1, 2, 3, 4, 5, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA]
    assert unknown.tolist() == [False] * 5 + [True, True, True, False, False]


def test_whole_numbers_refuse_fractions_negatives_and_words():
    numbers, bad = whole_numbers(text("0", "7", "3.0", "2.5", "-1", "seven", "", None))
    assert numbers.tolist() == [0, 7, 3, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA]
    assert bad.tolist() == [False, False, False, True, True, True, False, False]


def test_escalation_levels_become_tiers_with_3_and_above_as_l3():
    levels = pd.Series([1, 2, 3, 4, 0, -1, None], dtype="Int64")
    assert tier_from_level(levels).tolist() == ["L1", "L2", "L3", "L3", pd.NA, pd.NA, pd.NA]


# --- timestamps ------------------------------------------------------------------------


def test_iso_with_offsets_is_converted_and_naive_is_local_time():
    stamps, bad = parse_timestamps(
        text("2026-11-02T09:00:00Z", "2026-11-02T11:00:00+02:00", "2026-11-02T10:00:00.000+0100",
             "2026-11-02 10:00", "2026-11-02", "2026-07-01T12:00"),
        timezone="Europe/Berlin",
    )  # fmt: skip
    assert iso(stamps) == [
        "2026-11-02T09:00:00Z",
        "2026-11-02T09:00:00Z",
        "2026-11-02T09:00:00Z",
        "2026-11-02T09:00:00Z",  # CET is UTC+1
        "2026-11-01T23:00:00Z",
        "2026-07-01T10:00:00Z",  # CEST is UTC+2
    ]
    assert not bad.any()
    assert str(stamps.dtype) == "datetime64[us, UTC]"


def test_formats_are_tried_in_order_then_iso():
    stamps, bad = parse_timestamps(
        text("12/Nov/26 9:41 AM", "12/Nov/26 12:05 PM", "12/Nov/26 12:00 AM",
             "2026-11-12T09:41:00Z", "31/Nov/26 9:00 AM", "12/Nov/26 13:00 PM", "?", ""),
        formats=["%d/%b/%y %I:%M %p"],
    )  # fmt: skip
    assert iso(stamps) == [
        "2026-11-12T09:41:00Z",
        "2026-11-12T12:05:00Z",
        "2026-11-12T00:00:00Z",
        "2026-11-12T09:41:00Z",
        None,
        None,
        None,
        None,
    ]
    assert bad.tolist() == [False, False, False, False, True, True, False, False]


def test_day_first_and_month_first_read_the_same_text_differently():
    source = text("02/11/2026 14:30", "02.11.2026", "13/01/2026 08:00")
    day_first, day_bad = parse_timestamps(source, day_first=True)
    month_first, month_bad = parse_timestamps(source, day_first=False)
    assert iso(day_first) == [
        "2026-11-02T14:30:00Z",
        "2026-11-02T00:00:00Z",
        "2026-01-13T08:00:00Z",
    ]
    assert iso(month_first)[0] == "2026-02-11T14:30:00Z"
    assert month_bad.tolist() == [False, True, True]  # no month 13; dots are day-first only
    assert not day_bad.any()


def test_without_day_first_only_iso_is_read():
    _, bad = parse_timestamps(text("02/11/2026 14:30", "2026-11-02 14:30"))
    assert bad.tolist() == [True, False]


def test_clock_changes_repeated_hour_is_summer_time_and_skipped_hour_moves_forward():
    # Europe/London, 2026: clocks go forward at 01:00 on 29 March, back at 02:00 on 25 Oct.
    stamps, bad = parse_timestamps(
        text("2026-03-29 01:30", "2026-03-29 02:30", "2026-10-25 01:30", "2026-10-25 02:30"),
        timezone="Europe/London",
    )
    assert iso(stamps) == [
        "2026-03-29T01:00:00Z",  # 01:30 does not exist: moved to 02:00 BST
        "2026-03-29T01:30:00Z",
        "2026-10-25T00:30:00Z",  # 01:30 happens twice: the first, in BST
        "2026-10-25T02:30:00Z",
    ]
    assert not bad.any()


def test_a_format_with_an_offset_is_converted_not_localised():
    stamps, _ = parse_timestamps(
        text("2026-11-02 10:00:00 +0530"), formats=["%Y-%m-%d %H:%M:%S %z"], timezone="Asia/Tokyo"
    )
    assert iso(stamps) == ["2026-11-02T04:30:00Z"]


def test_an_unknown_time_zone_is_a_clear_error():
    with pytest.raises(
        ImpactlensError, match="time zone 'Europe/Atlantis' is not an IANA zone name"
    ):
        parse_timestamps(text("2026-11-02"), timezone="Europe/Atlantis")


@given(
    moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
)
def test_any_moment_written_with_any_offset_reads_back_as_the_same_moment(moment, offset_minutes):
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    local = moment.astimezone(
        __import__("datetime").timezone(timedelta(minutes=offset_minutes))
    ).isoformat()
    stamps, bad = parse_timestamps(text(local), timezone="America/New_York")
    assert not bad.any()
    assert stamps.iloc[0] == pd.Timestamp(moment)


# --- assemble_batch ----------------------------------------------------------------------


def utc(*values) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True)).astype("datetime64[us, UTC]")


def assemble(columns, *, rows, **kwargs):
    problems = kwargs.pop("problems", RowProblems(rows))
    return assemble_batch(
        columns,
        problems=problems,
        raw_json=lambda at: [f'{{"row": {i}}}' for i in at],
        lines=np.arange(rows, dtype=np.int64) + 2,
        source="test",
        **kwargs,
    )


def test_assembled_batch_has_the_contract_columns_and_dtypes():
    batch = assemble(
        {
            "incident_id": text("A"),
            "opened_at": utc("2026-11-02T09:00:00Z"),
            "priority": pd.Series([2], dtype="Int64"),
            "impact": pd.Series([pd.NA], dtype="Int64"),
        },
        rows=1,
    )
    assert tuple(batch.incidents.columns) == INCIDENT_COLUMNS
    assert tuple(batch.history.columns) == HISTORY_COLUMNS
    assert tuple(batch.rejected.columns) == REJECTED_COLUMNS
    dtypes = batch.incidents.dtypes.astype(str).to_dict()
    assert {dtypes[c] for c in ("opened_at", "resolved_at", "closed_at", "updated_at")} == {
        "datetime64[us, UTC]"
    }
    assert dtypes["priority"] == "int64"
    assert {dtypes[c] for c in ("impact", "urgency", "reassignment_count", "reopen_count")} == {
        "Int64"
    }
    assert dtypes["incident_id"] == dtypes["ci"] == dtypes["service_id"] == "string"
    row = batch.incidents.iloc[0]
    assert row["source"] == "test" and pd.isna(row["service_id"]) and pd.isna(row["support_tier"])
    assert row["updated_at"] == pd.Timestamp("2026-11-02T09:00:00Z")


def test_required_values_order_of_times_as_of_and_duplicates_are_checked():
    batch = assemble(
        {
            "incident_id": text("A", None, "C", "D", "E", "A", "A", "F"),
            "opened_at": utc(*["2026-11-02T09:00:00Z"] * 3, None, "2026-11-02T09:00:00Z",
                             "2026-11-02T09:00:00Z", "2026-11-02T09:00:00Z",
                             "2026-11-20T00:00:00Z"),
            "resolved_at": utc(None, None, "2026-11-02T08:00:00Z", None, None,
                               "2026-11-02T12:00:00Z", None, None),
            "closed_at": utc(*[None] * 4, "2026-11-01T00:00:00Z", None, None, None),
            "updated_at": utc("2026-11-02T10:00:00Z", *[None] * 7),
            "priority": pd.Series([1, 2, 3, 4, 5, 1, 1, 1], dtype="Int64"),
        },
        rows=8,
        names={"opened_at": "Created"},
        as_of="2026-11-10T00:00:00Z",
    )  # fmt: skip
    assert batch.incidents["incident_id"].tolist() == ["A"]
    assert batch.incidents["resolved_at"].tolist() == [pd.Timestamp("2026-11-02T12:00:00Z")]
    assert list(zip(batch.rejected["line"], batch.rejected["problem"], batch.rejected["reason"],
                    strict=True)) == [
        (2, "duplicate incident_id", "duplicate incident_id A: kept line 7 (updated_at "
            "2026-11-02T12:00:00Z); this row's updated_at 2026-11-02T10:00:00Z is not newer"),
        (3, "missing value", "missing incident_id"),
        (4, "resolved before opened",
            "resolved_at 2026-11-02T08:00:00Z is before Created 2026-11-02T09:00:00Z"),
        (5, "missing value", "missing Created"),
        (6, "closed before opened",
            "closed_at 2026-11-01T00:00:00Z is before Created 2026-11-02T09:00:00Z"),
        (8, "duplicate incident_id", "duplicate incident_id A: kept line 7 (updated_at "
            "2026-11-02T12:00:00Z); this row's updated_at 2026-11-02T09:00:00Z is not newer"),
        (9, "opened after as_of",
            "Created 2026-11-20T00:00:00Z is after as_of 2026-11-10T00:00:00Z"),
    ]  # fmt: skip
    assert batch.rejected["raw"].tolist()[0] == '{"row": 0}'


def test_duplicates_with_the_same_updated_at_keep_the_first_row():
    batch = assemble(
        {
            "incident_id": text("A", "A"),
            "opened_at": utc("2026-11-02T09:00:00Z", "2026-11-02T09:00:00Z"),
            "priority": pd.Series([1, 2], dtype="Int64"),
        },
        rows=2,
    )
    assert batch.incidents["priority"].tolist() == [1]
    assert batch.rejected["line"].tolist() == [3]


def test_history_of_rejected_incidents_is_dropped_and_the_rest_kept_in_order():
    history = pd.DataFrame(
        {
            "row": [1, 0, 0, 1],
            "at": utc("2026-11-02T10:00:00Z", "2026-11-02T11:00:00Z", "2026-11-02T09:00:00Z",
                      "2026-11-02T09:00:00Z"),
            "assignment_group": ["X", "Desk", "Desk", "X"],
            "support_tier": pd.Series([pd.NA, "L2", "L1", pd.NA], dtype="string"),
        }
    )  # fmt: skip
    batch = assemble(
        {
            "incident_id": text("A", "B"),
            "opened_at": utc("2026-11-02T09:00:00Z", "2026-11-02T09:00:00Z"),
            "priority": pd.Series([1, None], dtype="Int64"),
        },
        rows=2,
        history=history,
    )
    assert batch.history["incident_id"].tolist() == ["A", "A"]
    assert batch.history["support_tier"].tolist() == ["L1", "L2"]
    assert batch.history["source"].tolist() == ["test", "test"]
    assert str(batch.history["at"].dtype) == "datetime64[us, UTC]"


def test_a_row_keeps_its_first_problem():
    problems = RowProblems(2)
    problems.add(np.array([True, False]), "bad timestamp", "first")
    problems.add(np.array([True, True]), "bad priority", lambda rows: [f"second {r}" for r in rows])
    assert problems.reason.tolist() == ["first", "second 1"]
    assert problems.ok.tolist() == [False, False]
