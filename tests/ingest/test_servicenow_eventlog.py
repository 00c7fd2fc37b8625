"""The ServiceNow incident event log: a small hand-checked sample and the real UCI log.

``samples/servicenow/eventlog.csv`` has the UCI log's fields and formats (``?`` for
missing, day-first times without seconds, ``3 - Moderate``). Its incidents, by line:

- INC0000045 (2-7): Group 56 -> ? -> Group 56 -> Group 70, then closed.
- INC0000047 (8-12): rows out of order; two rows with sys_mod_count 2 (line 11 at
  29/2 23:00 comes before line 8 at 1/3 10:00); reopened at line 12 and sent back to
  Group 70; open, so resolved_at is '?'.
- INC0000057 (13-15): line 14 has an impossible date (31/2): that row is rejected, the
  others still make the incident.
- INC0000060 (16-17): its latest event has priority 'urgent': rejected as a whole.
- INC0000062 (18-19): its latest event has closed_at '1/3/2016 7h05': rejected as a whole.
- line 20: no number. INC0000065 (21-22): line 21 has sys_mod_count 'x'; line 22 is
  closed with resolved_at '?', which is normal data.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impactlens.ingest.read import read_rows
from impactlens.ingest.servicenow import parse_servicenow_eventlog

from impactlens.errors import MissingColumnsError

SAMPLE = Path(__file__).parent / "samples" / "servicenow" / "eventlog.csv"
REAL_LOG = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "servicenow-uci"
    / "incident_event_log.csv.gz"
)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture(scope="module")
def sample():
    return parse_servicenow_eventlog(read_rows(SAMPLE))


def test_latest_state_per_incident(sample):
    incidents = sample.incidents.set_index("incident_id")
    assert incidents.index.tolist() == ["INC0000045", "INC0000047", "INC0000057", "INC0000065"]
    columns = ["state", "priority", "reassignment_count", "reopen_count", "assignment_group"]
    assert incidents[columns].values.tolist() == [
        ["Closed", 3, 1, 0, "Group 70"],
        ["Active", 2, 2, 1, "Group 70"],
        ["Closed", 3, 1, 0, "Group 20"],
        ["Closed", 4, 0, 0, "Group 12"],
    ]
    first = incidents.loc["INC0000045"]
    assert first["opened_at"] == utc("2016-02-29 01:16")
    assert first["resolved_at"] == utc("2016-02-29 11:29")
    assert first["closed_at"] == utc("2016-03-05 12:00")
    assert first["updated_at"] == utc("2016-03-05 12:00")
    assert (first["impact"], first["urgency"]) == (2, 2)
    assert (first["category"], first["subcategory"], first["location"]) == (
        "Category 55",
        "Subcategory 170",
        "Location 143",
    )
    assert pd.isna(first["ci"]) and pd.isna(first["problem_id"])
    reopened = incidents.loc["INC0000047"]
    assert pd.isna(reopened["resolved_at"]) and pd.isna(reopened["closed_at"])
    assert reopened["updated_at"] == utc("2016-03-02 09:00")
    assert (reopened["ci"], reopened["problem_id"], reopened["caused_by_change"]) == (
        "WEBSRV01",
        "Problem ID  2",
        "Change 1",
    )
    assert pd.isna(incidents.loc["INC0000065", "resolved_at"])


def test_history_has_one_entry_per_change_of_group(sample):
    history = sample.history[["incident_id", "at", "assignment_group"]].values.tolist()
    assert history == [
        ["INC0000045", utc("2016-02-29 01:23"), "Group 56"],
        ["INC0000045", utc("2016-02-29 10:00"), "Group 70"],  # '?' between is skipped
        ["INC0000047", utc("2016-02-29 04:40"), "Group 70"],
        ["INC0000047", utc("2016-02-29 06:00"), "Group 24"],
        ["INC0000047", utc("2016-03-02 09:00"), "Group 70"],
        ["INC0000057", utc("2016-02-29 06:11"), "Group 70"],
        ["INC0000057", utc("2016-03-06 03:00"), "Group 20"],  # line 14 is rejected
        ["INC0000065", utc("2016-03-04 09:00"), "Group 12"],
    ]
    assert sample.history["support_tier"].isna().all()
    assert (sample.history["source"] == "servicenow").all()


def test_rejected_rows_and_incidents_say_why(sample):
    rejected = list(
        zip(
            sample.rejected["line"],
            sample.rejected["problem"],
            sample.rejected["reason"],
            strict=True,
        )
    )
    assert rejected == [
        (14, "bad timestamp", "sys_updated_at '31/2/2016 07:00' is not a date (day-first)"),
        (
            16,
            "incident rejected",
            "INC0000060 is rejected as a whole: its latest event (line 17) is unusable",
        ),
        (
            17,
            "bad priority",
            "priority 'urgent' is not a priority from 1 to 5; it is the latest event of "
            "INC0000060, so the incident is rejected as a whole",
        ),
        (
            18,
            "incident rejected",
            "INC0000062 is rejected as a whole: its latest event (line 19) is unusable",
        ),
        (
            19,
            "bad timestamp",
            "closed_at '1/3/2016 7h05' is not a date (day-first); it is the latest event of "
            "INC0000062, so the incident is rejected as a whole",
        ),
        (20, "missing value", "missing number"),
        (21, "bad number", "sys_mod_count 'x' is not a whole number"),
    ]


def test_every_event_is_used_or_rejected(sample):
    raw = read_rows(SAMPLE)
    used = raw[raw["number"].isin(sample.incidents["incident_id"])].index
    assert sorted([*used.difference(sample.rejected["line"]), *sample.rejected["line"]]) == (
        raw.index.tolist()
    )


def test_a_full_tie_is_settled_by_file_order():
    raw = pd.DataFrame(
        {
            "number": ["INC1", "INC1"],
            "sys_mod_count": ["3", "3"],
            "sys_updated_at": ["1/3/2016 10:00", "1/3/2016 10:00"],
            "opened_at": ["29/2/2016 01:16", "29/2/2016 01:16"],
            "priority": ["3 - Moderate", "2 - High"],
            "assignment_group": ["Group 1", "Group 2"],
        },
        dtype="string",
    )
    batch = parse_servicenow_eventlog(raw)
    assert batch.incidents["priority"].tolist() == [2]
    assert batch.history["assignment_group"].tolist() == ["Group 1", "Group 2"]


def test_an_incident_whose_latest_event_has_no_group_keeps_its_last_known_group():
    # INC1's rows are out of order: by sys_mod_count its groups are Group 1, Group 2, ?, ?
    # (the last group in the file, Group 1, is its first). INC2 never has a group. INC3's
    # Group 6 event has an unreadable time: rejected, so its last known group is Group 5.
    raw = pd.DataFrame(
        {
            "number": ["INC1"] * 4 + ["INC2"] * 2 + ["INC3"] * 3,
            "sys_mod_count": ["1", "3", "0", "2", "0", "1", "0", "1", "2"],
            "sys_updated_at": ["29/2/2016 03:00", "29/2/2016 05:00", "29/2/2016 02:00",
                               "29/2/2016 04:00", "29/2/2016 02:00", "29/2/2016 03:00",
                               "29/2/2016 02:00", "31/2/2016 07:00", "29/2/2016 04:00"],
            "opened_at": ["29/2/2016 01:16"] * 9,
            "priority": ["3 - Moderate"] * 9,
            "assignment_group": ["Group 2", "?", "Group 1", "?", "?", "?",
                                 "Group 5", "Group 6", "?"],
        },
        dtype="string",
    )  # fmt: skip
    batch = parse_servicenow_eventlog(raw)
    assert batch.incidents[["incident_id", "assignment_group"]].fillna("-").values.tolist() == [
        ["INC1", "Group 2"],
        ["INC2", "-"],
        ["INC3", "Group 5"],
    ]
    # the history is still one entry per change of a known group
    assert batch.history[["incident_id", "at", "assignment_group"]].values.tolist() == [
        ["INC1", utc("2016-02-29 02:00"), "Group 1"],
        ["INC1", utc("2016-02-29 03:00"), "Group 2"],
        ["INC3", utc("2016-02-29 02:00"), "Group 5"],
    ]
    assert batch.rejected[["line", "reason"]].values.tolist() == [
        [9, "sys_updated_at '31/2/2016 07:00' is not a date (day-first)"]
    ]


def test_sys_updated_on_is_accepted_for_sys_updated_at_and_iso_times():
    raw = pd.DataFrame(
        {
            "number": ["INC1", "INC1"],
            "sys_mod_count": ["0", "1"],
            "sys_updated_on": ["2016-02-29 01:20:00", "2016-02-29 02:00:00"],
            "opened_at": ["2016-02-29 01:16:00"] * 2,
            "priority": ["3"] * 2,
            "assignment_group": ["Service Desk", "Network"],
        },
        dtype="string",
    )
    batch = parse_servicenow_eventlog(raw, day_first=False)
    assert batch.incidents["updated_at"].tolist() == [utc("2016-02-29 02:00")]
    assert batch.history["at"].tolist() == [utc("2016-02-29 01:20"), utc("2016-02-29 02:00")]


def test_an_event_without_sys_updated_at_is_rejected():
    raw = pd.DataFrame(
        {
            "number": ["INC1", "INC1"],
            "sys_mod_count": ["0", "1"],
            "sys_updated_at": ["29/2/2016 01:20", "?"],
            "opened_at": ["29/2/2016 01:16"] * 2,
            "priority": ["3 - Moderate"] * 2,
        },
        dtype="string",
    )
    batch = parse_servicenow_eventlog(raw)
    assert batch.incidents.empty
    assert batch.rejected["reason"].tolist() == [
        "INC1 is rejected as a whole: its latest event (line 3) is unusable",
        "missing sys_updated_at; it is the latest event of INC1, so the incident is rejected "
        "as a whole",
    ]


def test_an_event_without_sys_mod_count_is_rejected_and_the_rest_count():
    raw = pd.DataFrame(
        {
            "number": ["INC1", "INC1"],
            "sys_mod_count": ["?", "0"],
            "sys_updated_at": ["29/2/2016 01:20", "29/2/2016 01:30"],
            "opened_at": ["29/2/2016 01:16"] * 2,
            "priority": ["3 - Moderate"] * 2,
        },
        dtype="string",
    )
    batch = parse_servicenow_eventlog(raw)
    assert batch.incidents["updated_at"].tolist() == [utc("2016-02-29 01:30")]
    assert batch.rejected[["line", "reason"]].values.tolist() == [[2, "missing sys_mod_count"]]


@pytest.mark.parametrize(
    "missing", ["number", "opened_at", "priority", "sys_mod_count", "sys_updated_at"]
)
def test_a_missing_required_column_is_named(missing):
    raw = read_rows(SAMPLE).drop(columns=[missing])
    with pytest.raises(
        MissingColumnsError, match=f"event log: missing required column '{missing}'"
    ):
        parse_servicenow_eventlog(raw)


@functools.cache
def sample_rows() -> pd.DataFrame:
    return read_rows(SAMPLE)


@settings(max_examples=10, deadline=None)
@given(st.randoms(use_true_random=False))
def test_row_order_does_not_matter(random):
    """Shuffled events give the same incidents, history and rejected lines."""
    raw = sample_rows()
    expected = parse_servicenow_eventlog(raw)
    rows = list(range(len(raw)))
    random.shuffle(rows)
    batch = parse_servicenow_eventlog(raw.iloc[rows])

    def by_key(frame, *keys):
        return frame.sort_values(list(keys)).reset_index(drop=True)

    pd.testing.assert_frame_equal(
        by_key(batch.incidents, "incident_id"), by_key(expected.incidents, "incident_id")
    )
    pd.testing.assert_frame_equal(
        by_key(batch.history, "incident_id", "at"), by_key(expected.history, "incident_id", "at")
    )
    assert sorted(batch.rejected["line"]) == sorted(expected.rejected["line"])


# --- the real UCI event log -----------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    if not REAL_LOG.exists():
        pytest.skip(f"real event log {REAL_LOG} is absent (../shared/data not beside the clone)")
    started = time.perf_counter()
    batch = parse_servicenow_eventlog(read_rows(REAL_LOG))
    seconds = time.perf_counter() - started
    # The independent reading: pandas' C parser, plain string operations, no project code.
    events = pd.read_csv(REAL_LOG, dtype=str, keep_default_na=False)
    events["mod"] = events["sys_mod_count"].astype(int)
    events["updated"] = pd.to_datetime(events["sys_updated_at"], format="%d/%m/%Y %H:%M")
    events["row"] = np.arange(len(events))
    events = events.sort_values(["number", "mod", "updated", "row"])
    return batch, events, seconds


@pytest.mark.realdata
def test_real_log_reads_every_incident_and_rejects_nothing(real):
    batch, events, seconds = real
    reasons = batch.rejected[["line", "reason"]].head(20).values.tolist()
    assert batch.rejected.empty, f"{len(batch.rejected)} rejected rows, e.g. {reasons}"
    assert len(batch.incidents) == events["number"].nunique() == 24_918
    assert batch.incidents["incident_id"].is_unique
    # a loop per incident takes far longer; the parse itself takes about 1 s
    assert seconds < 15, f"reading and parsing took {seconds:.1f} s"


@pytest.mark.realdata
def test_real_log_incidents_take_their_latest_event(real):
    batch, events, _ = real
    latest = events.groupby("number").tail(1).set_index("number")
    incidents = batch.incidents.set_index("incident_id").loc[latest.index]
    for column in ("reassignment_count", "reopen_count"):
        expected = latest[column].astype(int)
        assert (incidents[column].astype(int) == expected).all(), column
    assert (incidents["priority"] == latest["priority"].str[0].astype(int)).all()
    assert set(incidents["priority"]) <= {1, 2, 3, 4}
    assert incidents["state"].tolist() == latest["incident_state"].tolist()
    assert (incidents["updated_at"].dt.tz_localize(None) == latest["updated"]).all()
    # counts given in ../shared/data/README.md
    assert (incidents["reassignment_count"] >= 3).sum() == 2_848
    assert (incidents["reopen_count"] > 0).sum() == 275


@pytest.mark.realdata
def test_real_log_incidents_without_a_group_on_their_latest_event_keep_their_last_one(real):
    batch, events, _ = real
    latest = events.groupby("number").tail(1).set_index("number")
    no_group = latest["assignment_group"] == "?"
    known = events[events["assignment_group"] != "?"]
    last_known = known.groupby("number")["assignment_group"].last()
    assert no_group.sum() == 2_157
    assert latest.index[no_group].isin(last_known.index).sum() == 1_784
    expected = latest["assignment_group"].mask(no_group, last_known.reindex(latest.index))
    got = batch.incidents.set_index("incident_id").loc[latest.index, "assignment_group"]
    assert got.notna().sum() == expected.notna().sum() == 24_918 - 2_157 + 1_784
    assert got.fillna("-").tolist() == expected.fillna("-").tolist()


@pytest.mark.realdata
def test_real_log_history_is_one_entry_per_change_of_group(real):
    batch, events, _ = real
    known = events[events["assignment_group"] != "?"]
    previous = known.groupby("number")["assignment_group"].shift()
    changes = known[known["assignment_group"] != previous]
    expected = pd.DataFrame(
        {
            "incident_id": changes["number"].to_numpy(),
            "at": changes["updated"].dt.tz_localize("UTC").to_numpy(),
            "assignment_group": changes["assignment_group"].to_numpy(),
        }
    )
    got = batch.history.sort_values("incident_id", kind="stable")
    assert len(got) == len(expected)
    assert got["incident_id"].tolist() == expected["incident_id"].tolist()
    assert got["assignment_group"].tolist() == expected["assignment_group"].tolist()
    assert (got["at"].to_numpy() == expected["at"].to_numpy()).all()
    per_incident = got.groupby("incident_id").size()
    assert per_incident.reindex(batch.incidents["incident_id"], fill_value=0).sum() == len(got)
