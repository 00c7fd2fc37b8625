"""The mapping keys for exports as they come: delimiter, decimal, encoding, activity logs,
history files, tier patterns, and the reopened_at and service_component columns.

Small hand-made inputs; every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import pandas as pd
import pytest
from impactlens.ingest.formats import read_batch
from impactlens.ingest.mapped_csv import build_mapping, parse_mapped_csv
from impactlens.ingest.mapping import MappingValidationError

from impactlens.errors import InputFileError, MissingColumnsError

BASE = {"columns": {"Ref": "incident_id", "Raised": "opened_at", "Sev": "priority"}}
LOG = {
    "columns": {"Ref": "incident_id", "Sev": "priority", "Status": "state"},
    "activity_log": {"event_time": "When", "group": "Team", "status": "Status",
                     "resolved_statuses": ["Resolved"]},
}  # fmt: skip


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def frame(columns: dict[str, list]) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype="string")


def issues_of(records) -> list[str]:
    with pytest.raises(MappingValidationError) as caught:
        build_mapping(records)
    return [str(issue) for issue in caught.value.issues]


def history_of(batch, incident_id):
    rows = batch.history[batch.history["incident_id"] == incident_id]
    return list(zip(rows["at"], rows["assignment_group"], strict=True))


# --- the new keys, validated ----------------------------------------------------------------


def test_reader_keys_take_the_names_people_write():
    mapping = build_mapping(BASE | {"delimiter": "tab", "decimal": ",", "encoding": "ISO-8859-1"})
    assert (mapping.delimiter, mapping.decimal, mapping.encoding) == ("\t", ",", "latin-1")
    assert build_mapping(BASE | {"encoding": "windows-1252"}).encoding == "cp1252"
    assert build_mapping(BASE | {"encoding": "UTF8"}).encoding == "utf-8"
    assert build_mapping(BASE | {"delimiter": "\t"}).delimiter == "\t"
    defaults = build_mapping(BASE)
    assert (defaults.delimiter, defaults.decimal, defaults.encoding) == (",", ".", "utf-8")


def test_bad_reader_keys_each_say_what_they_may_be():
    assert issues_of(BASE | {"delimiter": ":", "decimal": ";", "encoding": "utf-16"}) == [
        "delimiter: must be ',', ';', '|' or a tab (\"\\t\" or tab), got the string ':'",
        "decimal: Input should be ',' or '.', got the string ';'",
        "encoding: must be utf-8, utf-8-sig, latin-1 or cp1252, got the string 'utf-16'",
    ]


def test_bad_activity_log_and_history_sections_are_placed():
    got = issues_of(
        {
            "columns": {"Ref": "incident_id", "Sev": "priority"},
            "activity_log": {"group": "Team", "when": "When", "resolved_statuses": ["Done"],
                             "reopen_activities": "Reopen"},
            "history": {"incident_id": "Ref", "event_time": "At"},
        }
    )  # fmt: skip
    assert got == [
        "activity_log.event_time: missing",
        "activity_log.when: unknown key (expected one of: event_time, group, status, "
        "resolved_statuses, activity, reopen_activities)",
        "history.group: missing",
        "history: an activity log is its own history: give activity_log or history, not both",
        "activity_log.resolved_statuses: needs activity_log.status, the column the values are in",
        "activity_log.reopen_activities: needs activity_log.activity, the column the values are in",
    ]


def test_an_activity_log_needs_no_opened_at_column():
    mapping = build_mapping(LOG)
    assert mapping.activity_log is not None
    assert mapping.activity_log.resolved_statuses == ("Resolved",)


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ([["L3", "3rd"], ["L4", "4th"]], "tier_patterns[1]: 'L4' is not a support tier (L1, L2, L3)"),
        ([["L2", "(2nd"]], "tier_patterns[0]: '(2nd' is not a regular expression "
                           "(missing ), unterminated subpattern at position 0)"),
        ([["L2"]], "tier_patterns[0]: expected [tier, pattern]"),
        ({"L2": "2nd"}, "tier_patterns: tier patterns must be a list of [tier, pattern] pairs "
                        "(or tables with tier and pattern), checked in order"),
    ],
)  # fmt: skip
def test_bad_tier_patterns_are_mapping_issues_with_their_place(patterns, message):
    assert issues_of(BASE | {"tier_patterns": patterns}) == [message]


def test_tier_patterns_are_kept_in_order_with_tiers_upper_case():
    mapping = build_mapping(
        BASE | {"tier_patterns": [["l3", "3rd"], {"tier": "L2", "pattern": "2nd"}]}
    )
    assert mapping.tier_patterns == (("L3", "3rd"), ("L2", "2nd"))


# --- decimal, reopened_at, service_component ----------------------------------------------------


def test_numbers_with_a_decimal_comma():
    raw = frame({"Ref": ["A", "B", "C", "D"], "Raised": ["2026-11-02"] * 4,
                 "Sev": ["2,0", "3", "P1", "1,5"], "Moves": ["2,0", "1.000", "0", "1"]})  # fmt: skip
    mapping = {"columns": BASE["columns"] | {"Moves": "reassignment_count"}, "decimal": ","}

    batch = parse_mapped_csv(raw, mapping)

    # 1.000 is a thousand where the decimal mark is a comma; 1,5 is no priority.
    assert batch.incidents["priority"].tolist() == [2, 3, 1]
    assert batch.incidents["reassignment_count"].tolist() == [2, 1000, 0]
    assert batch.rejected["reason"].tolist() == [
        "Sev '1,5' is not a priority or a number from 1 to 5"
    ]


def test_with_a_decimal_point_a_comma_is_no_number():
    raw = frame({"Ref": ["A"], "Raised": ["2026-11-02"], "Sev": ["2"], "Moves": ["2,0"]})
    mapping = {"columns": BASE["columns"] | {"Moves": "reassignment_count"}}
    assert parse_mapped_csv(raw, mapping).rejected["problem"].tolist() == ["bad number"]


def test_a_reopen_time_is_one_reopen():
    raw = frame(
        {
            "Ref": ["A", "B", "C", "D", "E"],
            "Raised": ["2026-11-02 09:00"] * 5,
            "Sev": ["3"] * 5,
            "Reopened": ["2026-11-03 10:00", None, "2026-11-04 08:00", "2026-11-05 08:00",
                         "2026-11-01 08:00"],
            "Reopens": [None, None, "0", "3", None],
            "Component": ["WBS000162", None, "WBS000088", "Payroll", None],
        }
    )  # fmt: skip
    mapping = {"columns": BASE["columns"] | {"Reopened": "reopened_at", "Reopens": "reopen_count",
                                             "Component": "service_component"}}  # fmt: skip

    batch = parse_mapped_csv(raw, mapping)

    got = batch.incidents.set_index("incident_id")
    # A: a time and no count: 1. B: neither. C: a time and a count of 0: at least 1. D: 3.
    assert got["reopen_count"].tolist() == [1, pd.NA, 1, 3]
    assert got.loc["A", "reopened_at"] == utc("2026-11-03 10:00")
    assert got.loc["A", "updated_at"] == utc("2026-11-03 10:00")  # the latest moment known
    assert got["service_component"].tolist() == ["WBS000162", pd.NA, "WBS000088", "Payroll"]
    assert batch.rejected["reason"].tolist() == [
        "Reopened 2026-11-01T08:00:00Z is before Raised 2026-11-02T09:00:00Z"
    ]
    assert batch.rejected["problem"].tolist() == ["reopened before opened"]


def test_a_reopen_time_is_no_date_in_values():
    assert issues_of(BASE | {"values": {"reopened_at": {"never": "x"}}}) == [
        "values.reopened_at: timestamps are read with date_format, not values"
    ]


# --- activity logs --------------------------------------------------------------------------------

# A: Desk, resolved by Apps 2nd at 10:00, reopened at 11:00, resolved by Dev 3rd at 12:00.
# B: with Desk at 09:10; its latest event (09:40) names no team: it keeps Desk.
EVENTS = frame(
    {
        "Ref": ["A", "B", "A", "A", "A", "B"],
        "When": ["2026-11-02 09:00", "2026-11-02 09:10", "2026-11-02 10:00", "2026-11-02 11:00",
                 "2026-11-02 12:00", "2026-11-02 09:40"],
        "Status": ["New", "New", "Resolved", "Open", "Resolved", "Work"],
        "Team": ["Desk", "Desk", "Apps 2nd", "Apps 2nd", "Dev 3rd", None],
        "Sev": ["3", "4", "3", "2", "2", "4"],
    }
)  # fmt: skip


def test_each_incident_is_its_latest_event_with_what_the_events_say():
    batch = parse_mapped_csv(EVENTS, LOG)

    got = batch.incidents.set_index("incident_id")
    assert got.index.tolist() == ["A", "B"]
    assert got["opened_at"].tolist() == [utc("2026-11-02 09:00"), utc("2026-11-02 09:10")]
    assert got["updated_at"].tolist() == [utc("2026-11-02 12:00"), utc("2026-11-02 09:40")]
    assert got["state"].tolist() == ["Resolved", "Work"]
    assert got["priority"].tolist() == [2, 4]  # the latest row's
    assert got.loc["A", "resolved_at"] == utc("2026-11-02 12:00")  # resolved again at 12:00
    assert pd.isna(got.loc["B", "resolved_at"])
    assert got["reopen_count"].tolist() == [1, 0]  # Resolved -> Open at 11:00
    assert got.loc["A", "reopened_at"] == utc("2026-11-02 11:00")
    assert got["assignment_group"].tolist() == ["Dev 3rd", "Desk"]
    assert got["reassignment_count"].tolist() == [2, 0]
    assert batch.rejected.empty


def test_the_history_is_each_change_of_group_at_its_time():
    batch = parse_mapped_csv(EVENTS, LOG)

    assert history_of(batch, "A") == [(utc("2026-11-02 09:00"), "Desk"),
                                      (utc("2026-11-02 10:00"), "Apps 2nd"),
                                      (utc("2026-11-02 12:00"), "Dev 3rd")]  # fmt: skip
    assert history_of(batch, "B") == [(utc("2026-11-02 09:10"), "Desk")]
    assert batch.history["support_tier"].isna().all()  # no tier_patterns: the analysis says


def test_events_are_ordered_by_time_and_ties_by_the_file():
    # The same events, the file in reverse; then two at one moment.
    reversed_batch = parse_mapped_csv(EVENTS.iloc[::-1].reset_index(drop=True), LOG)
    assert reversed_batch.incidents.set_index("incident_id")["state"].to_dict() == {
        "B": "Work",
        "A": "Resolved",
    }
    tie = frame({"Ref": ["A", "A"], "When": ["2026-11-02 09:00"] * 2, "Status": ["New", "Resolved"],
                 "Team": ["Desk", "Apps"], "Sev": ["3", "3"]})  # fmt: skip
    got = parse_mapped_csv(tie, LOG)
    assert got.incidents["state"].tolist() == ["Resolved"]  # the later line
    assert got.incidents["resolved_at"].tolist() == [utc("2026-11-02 09:00")]
    assert got.history["assignment_group"].tolist() == ["Desk", "Apps"]


def test_reopen_activities_count_reopens():
    raw = frame({"Ref": ["A", "A", "A"], "When": ["2026-11-02 09:00", "2026-11-03 09:00",
                 "2026-11-04 09:00"], "Type": ["Open", "reopen", "Update"], "Sev": ["3"] * 3})  # fmt: skip
    mapping = {"columns": {"Ref": "incident_id", "Sev": "priority"},
               "activity_log": {"event_time": "When", "activity": "Type",
                                "reopen_activities": ["Reopen"]}}  # fmt: skip

    got = parse_mapped_csv(raw, mapping).incidents

    assert (got.loc[0, "reopen_count"], got.loc[0, "reopened_at"]) == (1, utc("2026-11-03 09:00"))
    assert pd.isna(got.loc[0, "resolved_at"]) and got.loc[0, "state"] is pd.NA
    assert pd.isna(got.loc[0, "assignment_group"])  # no group column: no history
    assert pd.isna(got.loc[0, "reassignment_count"])


def test_mapped_columns_win_over_what_the_events_say():
    raw = EVENTS.assign(Opened=["2026-11-01 08:00"] * 6, Moves=["5"] * 6)
    mapping = LOG | {"columns": LOG["columns"] | {"Opened": "opened_at",
                                                  "Moves": "reassignment_count"}}  # fmt: skip

    got = parse_mapped_csv(raw, mapping).incidents.set_index("incident_id")

    assert got["opened_at"].tolist() == [utc("2026-11-01 08:00")] * 2
    assert got["reassignment_count"].tolist() == [5, 5]


def test_a_bad_event_counts_for_nothing_and_a_bad_latest_event_rejects_the_incident():
    raw = frame(
        {
            "Ref": ["A", "A", "A", None, "B", "B"],
            "When": ["2026-11-02 09:00", "2026-11-02 31:00", "2026-11-02 11:00",
                     "2026-11-02 12:00", "2026-11-02 09:00", "2026-11-02 10:00"],
            "Status": ["New", "Work", "Work", "New", "New", "Resolved"],
            "Team": ["Desk", "Apps 2nd", "Desk", "Desk", "Desk", "Desk"],
            "Sev": ["3", "3", "3", "3", "3", "urgent"],
        }
    )  # fmt: skip

    batch = parse_mapped_csv(raw, LOG)

    assert batch.incidents["incident_id"].tolist() == ["A"]
    assert history_of(batch, "A") == [(utc("2026-11-02 09:00"), "Desk")]  # not Apps 2nd
    assert batch.incidents["reassignment_count"].tolist() == [0]
    assert list(zip(batch.rejected["line"], batch.rejected["reason"], strict=True)) == [
        (3, "When '2026-11-02 31:00' is not a date (expected ISO 8601)"),
        (5, "missing Ref"),
        (6, "B is rejected as a whole: its latest event (line 7) is unusable"),
        (7, "Sev 'urgent' is not a priority or a number from 1 to 5; it is the latest event "
            "of B, so the incident is rejected as a whole"),
    ]  # fmt: skip


def test_an_activity_log_names_its_missing_columns():
    with pytest.raises(MissingColumnsError, match="missing required column 'Team'"):
        parse_mapped_csv(EVENTS.drop(columns=["Team"]), LOG)


def test_incidents_of_an_activity_log_opened_after_as_of_are_rejected():
    batch = parse_mapped_csv(EVENTS, LOG, as_of="2026-11-02T09:05:00Z")
    assert batch.incidents["incident_id"].tolist() == ["A"]
    assert batch.rejected["problem"].tolist() == ["incident rejected", "opened after as_of"]


# --- a separate history file --------------------------------------------------------------------

INCIDENTS = frame({"Ref": ["A", "B", "C", "D"], "Raised": ["2026-11-02 09:00"] * 4,
                   "Sev": ["3", "3", "3", "P9"], "Group": ["Desk", "Desk", None, "Desk"]})  # fmt: skip
WITH_HISTORY = {"columns": BASE["columns"] | {"Group": "assignment_group"},
                "history": {"incident_id": "Ticket", "event_time": "At", "group": "Team"}}  # fmt: skip
ACTIVITIES = frame(
    {
        "Ticket": ["A", "A", "A", "B", "E", "A", "D"],
        "At": ["2026-11-02 09:00", "2026-11-02 11:00", "2026-11-02 10:00", "2026-11-02 09:30",
               "2026-11-02 09:00", "soon", "2026-11-02 09:00"],
        "Team": ["Desk", "Dev", "Apps", None, "Desk", "Desk", "Desk"],
    }
)  # fmt: skip


def test_a_history_file_gives_the_assignment_history():
    batch = parse_mapped_csv(INCIDENTS, WITH_HISTORY, history=ACTIVITIES)

    # A: in time order. B: its only activity names no team: it keeps its own group.
    assert history_of(batch, "A") == [(utc("2026-11-02 09:00"), "Desk"),
                                      (utc("2026-11-02 10:00"), "Apps"),
                                      (utc("2026-11-02 11:00"), "Dev")]  # fmt: skip
    assert history_of(batch, "B") == [(utc("2026-11-02 09:00"), "Desk")]
    assert history_of(batch, "C") == []
    got = batch.incidents.set_index("incident_id")
    assert got["assignment_group"].tolist() == ["Desk", "Desk", pd.NA]  # the file's own
    assert got["reassignment_count"].tolist() == [2, pd.NA, pd.NA]
    assert list(zip(batch.rejected["line"], batch.rejected["reason"], strict=True)) == [
        (5, "Sev 'P9' is not a priority or a number from 1 to 5"),
        (6, "history file: incident 'E' is not in the incidents file"),
        (7, "history file: At 'soon' is not a date (expected ISO 8601)"),
        (8, "history file: incident 'D' has no accepted row in the incidents file (its rows "
            "there are quarantined)"),
    ]  # fmt: skip


def test_an_incident_without_a_group_takes_its_last_from_the_history_file():
    mapping = WITH_HISTORY | {"columns": BASE["columns"]}
    batch = parse_mapped_csv(INCIDENTS.drop(columns=["Group"]), mapping, history=ACTIVITIES)

    got = batch.incidents.set_index("incident_id")["assignment_group"]
    assert got.tolist() == ["Dev", pd.NA, pd.NA]


def test_a_history_file_names_its_missing_columns():
    with pytest.raises(MissingColumnsError, match="history CSV for mapping 'csv': missing "
                                                  "required column 'Team'"):  # fmt: skip
        parse_mapped_csv(INCIDENTS, WITH_HISTORY, history=ACTIVITIES.drop(columns=["Team"]))


def test_a_history_file_needs_the_mappings_history_section():
    with pytest.raises(InputFileError, match="no history section"):
        parse_mapped_csv(INCIDENTS, BASE, history=ACTIVITIES)


# --- tier patterns, applied at ingest ---------------------------------------------------------------

PATTERNS = [["L1", "(?i)desk"], ["L3", "(?i)dev|3rd"], ["L2", "(?i)apps|2nd"]]


def test_tier_patterns_set_the_history_tiers_of_an_activity_log():
    batch = parse_mapped_csv(EVENTS, LOG | {"tier_patterns": PATTERNS})

    tiers = batch.history.set_index(["incident_id", "assignment_group"])["support_tier"]
    assert tiers.to_dict() == {("A", "Desk"): "L1", ("A", "Apps 2nd"): "L2",
                               ("A", "Dev 3rd"): "L3", ("B", "Desk"): "L1"}  # fmt: skip
    assert batch.incidents["support_tier"].isna().all()  # its history has the tiers


def test_tier_patterns_set_the_history_tiers_of_a_history_file():
    mapping = WITH_HISTORY | {"tier_patterns": PATTERNS}
    batch = parse_mapped_csv(INCIDENTS, mapping, history=ACTIVITIES)

    assert batch.history["support_tier"].tolist() == ["L1", "L1", "L2", "L3"]  # B, then A
    assert batch.incidents["support_tier"].isna().all()


def test_without_a_history_tier_patterns_tier_each_incident_by_its_group():
    raw = frame({"Ref": ["A", "B", "C", "D"], "Raised": ["2026-11-02"] * 4, "Sev": ["3"] * 4,
                 "Group": ["Service Desk", "Core Dev", "Printers", "Apps"],
                 "Tier": [None, None, None, "L3"]})  # fmt: skip
    mapping = {"columns": BASE["columns"] | {"Group": "assignment_group", "Tier": "support_tier"},
               "tier_patterns": PATTERNS}  # fmt: skip

    batch = parse_mapped_csv(raw, mapping)

    # D's own tier is kept; Printers matches no pattern: the analysis places it.
    assert batch.incidents["support_tier"].tolist() == ["L1", "L3", pd.NA, "L3"]
    assert batch.history["support_tier"].tolist() == ["L1", "L3", pd.NA, "L2"]


def test_without_tier_patterns_nothing_is_tiered_at_ingest():
    raw = frame({"Ref": ["A"], "Raised": ["2026-11-02"], "Sev": ["3"], "Group": ["Apps 2nd"]})
    batch = parse_mapped_csv(raw, {"columns": BASE["columns"] | {"Group": "assignment_group"}})
    assert batch.incidents["support_tier"].isna().all()
    assert batch.history["support_tier"].isna().all()


# --- through read_batch: --history with --mapping ----------------------------------------------


def test_history_with_a_mapping_is_read_with_its_delimiter_and_encoding(tmp_path):
    incidents = tmp_path / "incidents.csv"
    incidents.write_bytes("Ref;Raised;Sev\r\nA;2-11-2026 09:00;3\r\n;;\r\n".encode("latin-1"))
    history = tmp_path / "activities.csv"
    history.write_bytes("Ticket;At;Team\r\nA;2-11-2026 09:00;Équipe 1\r\nA;2-11-2026 "
                        "10:00;Équipe 2\r\n;;\r\n".encode("latin-1"))  # fmt: skip
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "delimiter: ';'\nencoding: latin-1\nday_first: true\n"
        "columns: {Ref: incident_id, Raised: opened_at, Sev: priority}\n"
        "history: {incident_id: Ticket, event_time: At, group: Team}\n",
        encoding="utf-8",
    )

    read = read_batch(incidents, format="csv", mapping=mapping, history=history)

    assert (read.records, read.blank_rows) == (1, 2)
    assert read.batch.history["assignment_group"].tolist() == ["Équipe 1", "Équipe 2"]
    assert read.batch.incidents["assignment_group"].tolist() == ["Équipe 2"]


def test_history_is_refused_where_the_mapping_cannot_read_it(tmp_path):
    incidents = tmp_path / "incidents.csv"
    incidents.write_text("Ref,When,Sev,Status,Team\nA,2026-11-02,3,New,Desk\n", encoding="utf-8")
    history = tmp_path / "h.csv"
    history.write_text("Ticket,At,Team\n", encoding="utf-8")
    plain = tmp_path / "plain.yaml"
    plain.write_text("columns: {Ref: incident_id, When: opened_at, Sev: priority}\n")
    log = tmp_path / "log.yaml"
    log.write_text("columns: {Ref: incident_id, Sev: priority}\nactivity_log: {event_time: When}\n")

    with pytest.raises(InputFileError, match=r"has no history section naming the columns"):
        read_batch(incidents, format="csv", mapping=plain, history=history)
    with pytest.raises(InputFileError, match=r"activity log, which is its own history"):
        read_batch(incidents, format="csv", mapping=log, history=history)
    with pytest.raises(InputFileError, match=r"--history applies to --format csv only"):
        read_batch(incidents, format="jira", history=history)


def test_missing_history_columns_name_the_history_file(tmp_path):
    incidents = tmp_path / "incidents.csv"
    incidents.write_text("Ref,When,Sev\nA,2026-11-02,3\n", encoding="utf-8")
    history = tmp_path / "h.csv"
    history.write_text("Ticket,At\nA,2026-11-02\n", encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "columns: {Ref: incident_id, When: opened_at, Sev: priority}\n"
        "history: {incident_id: Ticket, event_time: At, group: Team}\n"
    )

    with pytest.raises(MissingColumnsError) as caught:
        read_batch(incidents, format="csv", mapping=mapping, history=history)

    assert str(caught.value) == (
        f"{history} (history CSV for mapping 'csv'): missing required column 'Team'"
    )
