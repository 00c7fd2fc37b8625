"""The joint KPI scorecard (engine/kpis.py), every number worked out by hand.

Most tests use four ISO weeks in Europe/Berlin, 2026-W43 to W46 (week 0 to 3). The
clocks go back on Sunday 2026-10-25 (CEST, UTC+2 -> CET, UTC+1), inside week 0, so the
boundaries (Monday 00:00 Berlin) in UTC are:

    e_start 2026-10-18T22:00Z   W43 starts (Mon 19 Oct 00:00 CEST; a 169-hour week)
    e0      2026-10-25T23:00Z   W43 ends, W44 starts (Mon 26 Oct 00:00 CET)
    e1      2026-11-01T23:00Z   W45 starts (Mon 2 Nov 00:00 CET)
    e2      2026-11-08T23:00Z   W46 starts (Mon 9 Nov 00:00 CET)
    e3      2026-11-15T23:00Z   W46 ends

The incidents (`BERLIN`), with the week each was opened in (Berlin wall clock):

    row id opened (UTC)  resolved (UTC)  group week  esc l3 pp  reopen repeat
    0   A  10-18 21:59   open            Desk  -1    T   T  T   3      F   Sun 23:59 CEST: W42
    1   B  10-18 22:00   10-26 01:00     Apps   0    T   F  T   0      F   Mon 00:00 exactly
    2   C  10-25 22:59   10-26 00:00     Apps   0    F   F  T   1      T   Sun 23:59 CET
    3   D  11-01 23:00   11-02 05:00     Net    2    T   T  F   2      F   Mon 00:00 exactly
    4   E  11-08 22:59   open            Net    2    F   F  F   (NA)   T   Sun 23:59
    5   F  11-08 23:00   11-09 03:00     Desk   3    T   F  F   0      T   Mon 00:00 exactly
    6   G  11-10 10:00   11-10 12:00     Apps   3    T   T  F   1      T
    7   H  11-15 23:00   open            Apps  -1    T   T  T   1      F   W47 Mon 00:00
    8   I  11-11 08:00   11-11 10:00     Net    3    T   F  F   0      T
    9   J  11-12 00:00   11-12 10:00     Net    3    F   F  T   0      F

Week 1 (W44) has no incident opened in it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from impactlens.engine.impact import build_impact_model, process_impacts
from impactlens.engine.kpis import KPI_COLUMNS, KPI_INPUT_COLUMNS, kpi_scorecard
from impactlens.engine.timelines import process_timelines
from impactlens.engine.weeks import week_bounds

from impactlens.errors import MissingColumnsError

NAN = float("nan")
BERLIN_BOUNDS = week_bounds("2026-W46", "Europe/Berlin", weeks_before=3)


def incidents_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """`KPI_INPUT_COLUMNS` from short rows (times in UTC, ``None`` = still open), with the
    outcome facts `engine.facts` adds: ``ttr_hours`` and ``reopened``."""
    frame = pd.DataFrame.from_records(rows)
    for column in ("opened_at", "resolved_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return with_outcomes(frame)


def with_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    hours = (frame["resolved_at"] - frame["opened_at"]).dt.total_seconds() / 3600
    reopened = pd.to_numeric(frame["reopen_count"]).fillna(0) > 0
    return frame.assign(ttr_hours=hours, reopened=reopened.to_numpy())


def berlin_row(
    opened: str,
    resolved: str | None,
    group: str,
    flags: str,
    reopen: float | None,
    repeat: bool,
) -> dict[str, Any]:
    escalated, reached_l3, ping_pong = (flag == "T" for flag in flags)
    return {
        "opened_at": f"2026-{opened}:00Z",
        "resolved_at": None if resolved is None else f"2026-{resolved}:00Z",
        "assignment_group": group,
        "escalated": escalated,
        "reached_l3": reached_l3,
        "ping_pong": ping_pong,
        "reopen_count": reopen,
        "repeat": repeat,
    }


BERLIN = incidents_frame(
    [
        berlin_row("10-18T21:59", None, "Desk", "TTT", 3, False),  # A
        berlin_row("10-18T22:00", "10-26T01:00", "Apps", "TFT", 0, False),  # B
        berlin_row("10-25T22:59", "10-26T00:00", "Apps", "FFT", 1, True),  # C
        berlin_row("11-01T23:00", "11-02T05:00", "Net", "TTF", 2, False),  # D
        berlin_row("11-08T22:59", None, "Net", "FFF", None, True),  # E
        berlin_row("11-08T23:00", "11-09T03:00", "Desk", "TFF", 0, True),  # F
        berlin_row("11-10T10:00", "11-10T12:00", "Apps", "TTF", 1, True),  # G
        berlin_row("11-15T23:00", None, "Apps", "TTT", 1, False),  # H
        berlin_row("11-11T08:00", "11-11T10:00", "Net", "TFF", 0, True),  # I
        berlin_row("11-12T00:00", "11-12T10:00", "Net", "FFT", 0, False),  # J
    ]
)

# Which incident hurt which process: `row` is the position in BERLIN.
PAIRS = pd.DataFrame.from_records(
    [
        (0, "otc", 99.0),  # A: critical, but opened before the weeks
        (1, "otc", 30.0),  # B: critical
        (2, "otc", 0.0),  # C: reaches otc, but 0 impact minutes: not critical
        (2, "pay", 50.0),  # C: criticality 2 only
        (3, "otc", 12.5),  # D
        (4, "otc", 20.0),  # E (still open)
        (5, "otc", 1.0),  # F
        (6, "mkt", 5.0),  # G: criticality 3 only
        (7, "otc", 5.0),  # H: opened after the weeks
        (8, "otc", 3.0),  # I
        (8, "pay", 4.0),
        (9, "otc", 7.0),  # J
        (9, "unknown", 10.0),  # a process without a criticality: ignored
    ],
    columns=["row", "process_id", "impact_minutes"],
)
CRITICALITY = {"otc": 1, "pay": 2, "mkt": 3}

# Hand-built timelines over the 4 weeks (a missing (process, period) is 0).
TIMELINES = pd.DataFrame.from_records(
    [
        ("otc", 0, 10.0, 1000.0),
        ("otc", 2, 30.0, 3000.0),
        ("otc", 3, 5.0, 500.0),
        ("pay", 0, 0.0, 0.0),
        ("pay", 2, 4.0, 80.0),
        ("pay", 3, 6.0, 120.0),
        ("new", 3, 1.5, 10.0),  # no name given: shown by its id
    ],
    columns=["process_id", "period", "impact_minutes", "value_at_risk"],
)
NAMES = {"otc": "Order to cash", "pay": "Payroll"}


@pytest.fixture(scope="module")
def berlin() -> pd.DataFrame:
    return kpi_scorecard(
        BERLIN,
        BERLIN_BOUNDS,
        timelines=TIMELINES,
        pairs=PAIRS,
        process_criticality=CRITICALITY,
        process_names=NAMES,
    )


def pick(table: pd.DataFrame, kpi: str, subject: str) -> pd.Series:
    rows = table[(table["kpi"] == kpi) & (table["subject"] == subject)]
    assert len(rows) == 1, (kpi, subject, rows)
    return rows.iloc[0]


def assert_trend(table: pd.DataFrame, kpi: str, subject: str, expected: list[float]) -> None:
    """The row's trend is `expected`; value, previous and change follow from it."""
    row = pick(table, kpi, subject)
    np.testing.assert_allclose(row["trend"], expected, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        [row["value"], row["previous"], row["change"]],
        [expected[-1], expected[-2], expected[-1] - expected[-2]],
        rtol=1e-12,
        equal_nan=True,
    )


def test_columns_and_kpis_in_the_documented_order(berlin):
    assert tuple(berlin.columns) == KPI_COLUMNS
    kpis = list(dict.fromkeys(berlin["kpi"]))
    assert kpis == [
        "incidents",
        "business_critical_incidents",
        "business_minutes_lost",
        "value_at_risk",
        "ttr_median_hours",
        "ttr_p90_hours",
        "escalation_rate_l2",
        "escalation_rate_l3",
        "repeat_rate",
        "ping_pong_rate",
        "reopen_rate",
        "open_at_week_end",
        "opened",
    ]
    assert all(len(trend) == 4 for trend in berlin["trend"])


def test_incidents_count_in_the_berlin_week_they_were_opened(berlin):
    # A (Sun 23:59 CEST) and H (the next Monday 00:00) are outside; B, D, F open weeks
    # at Monday 00:00 exactly; C and E close theirs at Sunday 23:59.
    # week 0: B, C; week 1: none; week 2: D, E; week 3: F, G, I, J
    assert_trend(berlin, "incidents", "all", [2, 0, 2, 4])
    row = pick(berlin, "incidents", "all")
    assert (row["value"], row["previous"], row["change"]) == (4, 2, 2)


def test_business_critical_incidents(berlin):
    # impact minutes > 0 on a criticality-1 process (otc), opened in the week:
    # week 0: B (C's otc pair has 0 minutes); week 2: D, E; week 3: F, I, J
    assert_trend(berlin, "business_critical_incidents", "all", [1, 0, 2, 3])


def test_critical_criticality_widens_business_critical():
    # criticality 2 counts too: C (pay 50 minutes) joins week 0; G (mkt, 3) still not
    table = kpi_scorecard(
        BERLIN, BERLIN_BOUNDS, pairs=PAIRS, process_criticality=CRITICALITY,
        critical_criticality=2,
    )  # fmt: skip
    assert_trend(table, "business_critical_incidents", "all", [2, 0, 2, 3])


def test_time_to_restore_of_business_critical_resolved_incidents(berlin):
    # week 0: B 10-18 22:00 -> 10-26 01:00 = 7 d 3 h = 171 h
    # week 1: none -> NaN
    # week 2: D 23:00 -> 05:00 = 6 h (E is critical but still open: left out)
    # week 3: F 4 h, I 2 h, J 10 h -> sorted [2, 4, 10]: median 4;
    #         p90 at position 0.9 x 2 = 1.8: 4 + 0.8 x (10 - 4) = 8.8
    assert_trend(berlin, "ttr_median_hours", "business-critical", [171, NAN, 6, 4])
    assert_trend(berlin, "ttr_p90_hours", "business-critical", [171, NAN, 6, 8.8])


@pytest.mark.parametrize(
    ("kpi", "expected"),
    [
        # week 0 of {B, C}, week 2 of {D, E}, week 3 of {F, G, I, J}; week 1 has none
        ("escalation_rate_l2", [1 / 2, NAN, 1 / 2, 3 / 4]),  # B | D | F, G, I
        ("escalation_rate_l3", [0 / 2, NAN, 1 / 2, 1 / 4]),  # - | D | G
        ("repeat_rate", [1 / 2, NAN, 1 / 2, 3 / 4]),  # C | E | F, G, I
        ("ping_pong_rate", [2 / 2, NAN, 0 / 2, 1 / 4]),  # B, C | - | J
        ("reopen_rate", [1 / 2, NAN, 1 / 2, 1 / 4]),  # C | D (E's NA is 0) | G
    ],
)
def test_rates_are_shares_of_the_weeks_incidents(berlin, kpi, expected):
    # A and H (outside the weeks) are escalated, L3 and ping-pong: they count nowhere
    assert_trend(berlin, kpi, "all", expected)


def test_open_at_week_end_and_opened_per_group(berlin):
    # ends e0 10-25 23:00, e1 11-01 23:00, e2 11-08 23:00, e3 11-15 23:00 (UTC)
    # Desk: A (opened before the weeks, never resolved) is open at every end.
    # Apps: B (resolved 10-26 01:00) and C (resolved 10-26 00:00) are open at e0 only;
    #       H opens exactly at e3: not opened before that week ended.
    # Net: D opens exactly at e1 and is resolved before e2: never open at an end;
    #      E (opened 23:59 before e2, never resolved) is open at e2 and e3.
    # F, G, I, J are resolved within their week.
    assert_trend(berlin, "open_at_week_end", "Desk", [1, 1, 1, 1])
    assert_trend(berlin, "open_at_week_end", "Apps", [2, 0, 0, 0])
    assert_trend(berlin, "open_at_week_end", "Net", [0, 0, 1, 1])
    # opened in the week: Desk F (week 3); Apps B, C (0), G (3); Net D, E (2), I, J (3)
    assert_trend(berlin, "opened", "Desk", [0, 0, 0, 1])
    assert_trend(berlin, "opened", "Apps", [2, 0, 0, 1])
    assert_trend(berlin, "opened", "Net", [0, 0, 2, 2])


def test_group_rows_most_open_at_the_last_week_end_first_then_by_name(berlin):
    # open at e3: Desk 1, Net 1 (a tie: by name), Apps 0
    for kpi in ("open_at_week_end", "opened"):
        assert berlin[berlin["kpi"] == kpi]["subject"].tolist() == ["Desk", "Net", "Apps"]


def test_business_minutes_and_value_at_risk_from_the_timelines(berlin):
    # otc [10, 0, 30, 5] + pay [0, 0, 4, 6] + new [0, 0, 0, 1.5]
    assert_trend(berlin, "business_minutes_lost", "all", [10, 0, 34, 12.5])
    assert_trend(berlin, "business_minutes_lost", "Order to cash", [10, 0, 30, 5])
    assert_trend(berlin, "business_minutes_lost", "Payroll", [0, 0, 4, 6])
    assert_trend(berlin, "business_minutes_lost", "new", [0, 0, 0, 1.5])
    # otc [1000, 0, 3000, 500] + pay [0, 0, 80, 120] + new [0, 0, 0, 10]
    assert_trend(berlin, "value_at_risk", "all", [1000, 0, 3080, 630])
    assert_trend(berlin, "value_at_risk", "Order to cash", [1000, 0, 3000, 500])
    assert_trend(berlin, "value_at_risk", "Payroll", [0, 0, 80, 120])
    assert_trend(berlin, "value_at_risk", "new", [0, 0, 0, 10])
    for kpi in ("business_minutes_lost", "value_at_risk"):
        subjects = berlin[berlin["kpi"] == kpi]["subject"].tolist()
        assert subjects[0] == "all"
        assert sorted(subjects[1:]) == ["Order to cash", "Payroll", "new"]


def test_without_pairs_or_timelines():
    table = kpi_scorecard(BERLIN, BERLIN_BOUNDS)
    assert not table["kpi"].isin(["business_minutes_lost", "value_at_risk"]).any()
    assert_trend(table, "business_critical_incidents", "all", [0, 0, 0, 0])
    assert_trend(table, "ttr_median_hours", "business-critical", [NAN] * 4)
    assert_trend(table, "ttr_p90_hours", "business-critical", [NAN] * 4)
    assert_trend(table, "incidents", "all", [2, 0, 2, 4])


def test_a_missing_input_column_is_named():
    with pytest.raises(MissingColumnsError, match="repeat"):
        kpi_scorecard(BERLIN.drop(columns="repeat"), BERLIN_BOUNDS)
    assert set(KPI_INPUT_COLUMNS) <= set(BERLIN.columns)


def test_resolved_exactly_at_the_week_end_is_not_open_then():
    # docs/weekly.md: open_at_week_end = "opened before the week ended, not resolved by
    # then". K is opened Wed 2026-11-11 and resolved at the week's very end, Monday
    # 2026-11-16 00:00 UTC: it was resolved by then, so Ops has 0 open at that end.
    # L is resolved one second later: still open at the end.
    bounds = week_bounds("2026-W46", "UTC")
    frame = incidents_frame(
        [
            berlin_row("11-11T10:00", "11-16T00:00", "Ops", "FFF", 0, False),  # K
            berlin_row("11-11T10:00", "11-16T00:00", "Web", "FFF", 0, False),  # L
        ]
    )
    frame.loc[1, "resolved_at"] += pd.Timedelta(seconds=1)
    table = kpi_scorecard(frame, bounds)
    assert pick(table, "open_at_week_end", "Web")["value"] == 1
    assert pick(table, "open_at_week_end", "Ops")["value"] == 0


# --- end to end: make_map, process_impacts and process_timelines -----------------------


def test_scorecard_end_to_end_counts_overlapping_incidents_once(make_map, make_incidents):
    # Base map (tests/conftest.py): pay-api -> web -> order-to-cash (1.0, 24x7 UTC,
    # 6000/h, criticality 1); pay-api -0.4-> hr-app -0.5-> payroll (0.2; mon-fri
    # 09:00-17:00 UTC, 1200/h, criticality 2). Weeks W45, W46 (UTC).
    #
    #   X hr-app  P3 (0.3) Fri 11-06 16:00 -> Mon 11-09 10:00  opened in W45
    #   Y pay-api P2 (0.6) Tue 11-10 10:00 -> 12:00            opened in W46
    #   Z web     P1 (1.0) Tue 11-10 11:00 -> 11:30            opened in W46
    #
    # order-to-cash, W46: Y's level 0.6, Z's 1.0 while both are open:
    #   10:00-11:00 0.6 x 60 = 36; 11:00-11:30 max(0.6, 1.0) x 30 = 30;
    #   11:30-12:00 0.6 x 30 = 18 -> 84 minutes (not Y 72 + Z 30 = 102); 8400.00
    # payroll (hours only): X level 0.3 x 0.5 = 0.15: Fri 16:00-17:00 (W45) 9 and
    #   Mon 09:00-10:00 (W46) 9; Y level 0.6 x 0.2 = 0.12 over 120 minutes: 14.4
    #   -> W45 9 (180.00), W46 9 + 14.4 = 23.4 (468.00)
    # all: W45 9 (180), W46 84 + 23.4 = 107.4 (8400 + 468 = 8868)
    model = build_impact_model(make_map())
    bounds = week_bounds("2026-W46", "UTC", weeks_before=1)
    as_of = pd.Timestamp("2026-11-20T00:00:00Z")
    incidents = make_incidents(
        [
            {
                "service_id": "hr-app",
                "priority": 3,
                "opened_at": "2026-11-06T16:00:00Z",
                "resolved_at": "2026-11-09T10:00:00Z",
                "assignment_group": "HR",
            },
            {
                "service_id": "pay-api",
                "priority": 2,
                "opened_at": "2026-11-10T10:00:00Z",
                "resolved_at": "2026-11-10T12:00:00Z",
                "assignment_group": "Payments",
            },
            {
                "service_id": "web",
                "priority": 1,
                "opened_at": "2026-11-10T11:00:00Z",
                "resolved_at": "2026-11-10T11:30:00Z",
                "assignment_group": "Web",
            },
        ]
    ).assign(escalated=False, reached_l3=False, ping_pong=False, reopen_count=0, repeat=False)
    incidents = with_outcomes(incidents)
    pairs = process_impacts(incidents, model, as_of=as_of, with_rows=True)
    timelines = process_timelines(incidents, model, as_of=as_of, bounds=bounds)
    processes = model.service_map.processes
    table = kpi_scorecard(
        incidents,
        bounds,
        timelines=timelines,
        pairs=pairs,
        process_criticality={p.id: p.criticality for p in processes},
        process_names={p.id: p.name for p in processes},
    )
    assert_trend(table, "business_minutes_lost", "all", [9, 107.4])
    assert_trend(table, "business_minutes_lost", "Order to cash", [0, 84])
    assert_trend(table, "business_minutes_lost", "Payroll", [9, 23.4])
    assert_trend(table, "value_at_risk", "all", [180, 8868])
    assert_trend(table, "value_at_risk", "Order to cash", [0, 8400])
    assert_trend(table, "value_at_risk", "Payroll", [180, 468])

    # Per incident the outage counts twice on order-to-cash: Y 0.6 x 120 = 72, Z 30
    on_otc = pairs[pairs["process_id"] == "order-to-cash"]
    assert on_otc.set_index("row")["impact_minutes"].to_dict() == pytest.approx({1: 72.0, 2: 30.0})
    assert on_otc["impact_minutes"].sum() == pytest.approx(102.0)
    # Y and Z hurt order-to-cash (criticality 1); X only payroll (2)
    assert_trend(table, "business_critical_incidents", "all", [0, 2])
    assert_trend(table, "incidents", "all", [1, 2])
    # TTR of Y 2 h and Z 0.5 h: median 1.25; p90 0.5 + 0.9 x 1.5 = 1.85
    assert_trend(table, "ttr_median_hours", "business-critical", [NAN, 1.25])
    assert_trend(table, "ttr_p90_hours", "business-critical", [NAN, 1.85])
    # X is open at the end of W45 (resolved Mon 10:00), nothing at the end of W46
    assert_trend(table, "open_at_week_end", "HR", [1, 0])
