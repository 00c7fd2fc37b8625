"""ISO weeks in a time zone: labels, UTC boundaries across DST changes, which week a moment is in.

Calendar facts used below, worked out by hand:

- 2026-01-01 is a Thursday, so 2026 has 53 ISO weeks and week 1 starts Monday 2025-12-29;
  2025-01-01 is a Wednesday (and 2025 is not a leap year), so 2025 has only 52.
- Monday of week n of 2026 = 2025-12-29 + 7 (n - 1) days: W10 = 03-02, W13 = 03-23,
  W43 = 10-19, W44 = 10-26, W45 = 11-02, W47 = 11-16, W53 = 12-28.
- Europe/Berlin: CET +1, CEST +2; summer time starts Sun 2026-03-29 02:00 and ends
  Sun 2026-10-25 03:00 (last Sundays of March and October).
- America/New_York: EST -5, EDT -4; summer time starts Sun 2026-03-08 and ends
  Sun 2026-11-01 (second Sunday of March, first Sunday of November).
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from impactlens.engine.weeks import (
    last_complete_week,
    parse_week,
    week_bounds,
    week_label,
    week_of,
)

from impactlens.errors import ImpactlensError, InvalidTimezoneError, InvalidWeekError


def utc(*moments: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(moments), utc=True, format="ISO8601"))


def hours(bounds: pd.DatetimeIndex) -> list[float]:
    return [(b - a).total_seconds() / 3600 for a, b in pairwise(bounds)]


# --- parse_week / week_label ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "monday"),
    [
        ("2026-W47", date(2026, 11, 16)),
        ("2026W47", date(2026, 11, 16)),
        ("  2026-W47 ", date(2026, 11, 16)),  # surrounding spaces are stripped
        ("2026-W01", date(2025, 12, 29)),  # week 1 of 2026 starts in 2025
        ("2026-W53", date(2026, 12, 28)),  # 2026 starts on a Thursday: it has a week 53
        ("2020-W53", date(2020, 12, 28)),  # 2020 starts on a Wednesday and is a leap year
    ],
)
def test_parse_week_gives_the_monday(label, monday):
    assert parse_week(label) == monday
    assert monday.weekday() == 0


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("2025-W53", "week '2025-W53' does not exist: 2025 has no week 53"),
        ("2026-W54", "week '2026-W54' does not exist: 2026 has no week 54"),
        ("2026-W00", "week '2026-W00' does not exist: 2026 has no week 0"),
        ("2026-W60", "week '2026-W60' does not exist: 2026 has no week 60"),
    ],
)
def test_weeks_that_do_not_exist_are_invalid(label, message):
    with pytest.raises(InvalidWeekError) as raised:
        parse_week(label)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "label", ["2026-47", "2026-W7", "26-W47", "2026-w47x", "W47", "", "2026-11-16", "2026-W4 7"]
)
def test_text_that_is_not_an_iso_week_is_invalid(label):
    with pytest.raises(InvalidWeekError, match="is not an ISO week such as 2026-W47"):
        parse_week(label)


def test_invalid_week_error_is_an_impactlens_error():
    # every edge (CLI, API, flows) translates ImpactlensError once
    assert issubclass(InvalidWeekError, ImpactlensError)


@pytest.mark.parametrize(
    ("day", "label"),
    [
        (date(2026, 11, 16), "2026-W47"),
        (date(2026, 11, 22), "2026-W47"),  # Sunday: still week 47
        (date(2027, 1, 3), "2026-W53"),  # early January in the last week of 2026
        (date(2025, 12, 29), "2026-W01"),  # late December in week 1 of 2026
    ],
)
def test_week_label(day, label):
    assert week_label(day) == label


def test_week_label_inverts_parse_week_over_two_years():
    labels = [f"2026-W{n:02d}" for n in range(1, 54)] + [f"2027-W{n:02d}" for n in range(1, 53)]
    assert [week_label(parse_week(label)) for label in labels] == labels


# --- week_bounds ------------------------------------------------------------------------------


def test_bounds_in_utc_are_mondays_at_midnight():
    bounds = week_bounds("2026-W47", "UTC", weeks_before=2)
    assert list(bounds) == list(
        pd.to_datetime(["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"], utc=True)
    )
    assert str(bounds.tz) == "UTC"


def test_bounds_of_week_53_run_into_the_next_year():
    assert list(week_bounds("2026-W53")) == list(
        pd.to_datetime(["2026-12-28", "2027-01-04"], utc=True)
    )


def test_berlin_autumn_change_makes_week_43_169_hours():
    # Mon 10-19 00:00 CEST = 10-18 22:00 UTC; Mon 10-26 00:00 CET = 10-25 23:00 UTC: 169 h.
    # W44 (10-26 .. 11-02) has no change: 10-25 23:00 -> 11-01 23:00 UTC, 168 h.
    bounds = week_bounds("2026-W44", "Europe/Berlin", weeks_before=1)
    assert list(bounds) == list(
        pd.to_datetime(["2026-10-18 22:00", "2026-10-25 23:00", "2026-11-01 23:00"], utc=True)
    )
    assert hours(bounds) == [169.0, 168.0]


def test_berlin_spring_change_makes_week_13_167_hours():
    # Mon 03-23 00:00 CET = 03-22 23:00 UTC; Mon 03-30 00:00 CEST = 03-29 22:00 UTC: 167 h.
    bounds = week_bounds("2026-W13", "Europe/Berlin")
    assert list(bounds) == list(pd.to_datetime(["2026-03-22 23:00", "2026-03-29 22:00"], utc=True))
    assert hours(bounds) == [167.0]


def test_new_york_autumn_change_on_2026_11_01_makes_week_44_169_hours():
    # Mon 10-26 00:00 EDT = 04:00 UTC; Mon 11-02 00:00 EST = 05:00 UTC: 169 h.
    # W45: 11-02 05:00 -> 11-09 05:00 UTC, 168 h.
    bounds = week_bounds("2026-W45", "America/New_York", weeks_before=1)
    assert list(bounds) == list(
        pd.to_datetime(["2026-10-26 04:00", "2026-11-02 05:00", "2026-11-09 05:00"], utc=True)
    )
    assert hours(bounds) == [169.0, 168.0]


def test_new_york_spring_change_makes_week_10_167_hours():
    # Mon 03-02 00:00 EST = 05:00 UTC; Mon 03-09 00:00 EDT = 04:00 UTC: 167 h.
    bounds = week_bounds("2026-W10", "America/New_York")
    assert list(bounds) == list(pd.to_datetime(["2026-03-02 05:00", "2026-03-09 04:00"], utc=True))
    assert hours(bounds) == [167.0]


def test_weeks_before_counts_back_over_a_year_end():
    bounds = week_bounds("2027-W01", "UTC", weeks_before=2)
    # 2027-W01 starts Mon 2027-01-04; two weeks before: 2026-W52 (12-21) and 2026-W53 (12-28)
    assert list(bounds.strftime("%Y-%m-%d")) == [
        "2026-12-21",
        "2026-12-28",
        "2027-01-04",
        "2027-01-11",
    ]


def test_bad_zone_and_negative_weeks_before_are_refused():
    with pytest.raises(InvalidTimezoneError, match="time zone 'Mars/Olympus' is not an IANA zone"):
        week_bounds("2026-W47", "Mars/Olympus")
    with pytest.raises(InvalidWeekError, match="weeks_before must be 0 or more, not -1"):
        week_bounds("2026-W47", "UTC", weeks_before=-1)
    with pytest.raises(InvalidWeekError, match="2025 has no week 53"):
        week_bounds("2025-W53", "Europe/Berlin")


# --- week_of ----------------------------------------------------------------------------------


def test_sunday_evening_in_berlin_is_decided_on_the_berlin_clock():
    # W44 and W45 in Berlin (CET, +1): [10-25 23:00, 11-01 23:00) and [11-01 23:00, 11-08 23:00)
    bounds = week_bounds("2026-W45", "Europe/Berlin", weeks_before=1)
    moments = utc(
        "2026-11-01 22:30",  # Sun 23:30 in Berlin: still W44 (index 0)
        "2026-11-01 23:30",  # Sun 23:30 UTC = Mon 00:30 in Berlin: W45 (index 1)
        "2026-11-01 23:00",  # exactly Mon 00:00 in Berlin: the new week
        "2026-11-01 22:59:59.999999",  # one microsecond before: the old week
        "2026-10-25 23:00",  # first moment of W44
        "2026-10-25 22:59",  # before the first week: -1
        "2026-11-08 23:00",  # the end of the last week is outside: -1
    )
    assert week_of(moments, bounds).tolist() == [0, 1, 1, 0, 0, -1, -1]
    # the same moments on the UTC clock: the Sunday 23:30 UTC one is still in W44 there
    utc_bounds = week_bounds("2026-W45", "UTC", weeks_before=1)  # [10-26, 11-02, 11-09)
    assert week_of(moments, utc_bounds).tolist() == [0, 0, 0, 0, -1, -1, 1]


def test_week_of_across_the_autumn_change_in_berlin():
    # W43 is [10-18 22:00, 10-25 23:00) UTC: 10-25 22:30 UTC is Sun 23:30 CET, still W43
    # (with a fixed +2 offset it would wrongly be Mon 00:30, W44).
    bounds = week_bounds("2026-W44", "Europe/Berlin", weeks_before=1)
    moments = utc("2026-10-18 21:59", "2026-10-18 22:00", "2026-10-25 22:30", "2026-10-25 23:00")
    assert week_of(moments, bounds).tolist() == [-1, 0, 0, 1]


def test_week_of_in_new_york_around_2026_11_01():
    # W44 [10-26 04:00, 11-02 05:00) UTC. Sun 11-01 23:30 EST = 11-02 04:30 UTC: W44;
    # Mon 11-02 00:00 EST = 05:00 UTC: W45.
    bounds = week_bounds("2026-W45", "America/New_York", weeks_before=1)
    moments = utc("2026-11-02 04:30", "2026-11-02 05:00", "2026-10-26 03:59")
    assert week_of(moments, bounds).tolist() == [0, 1, -1]


def test_week_of_missing_and_local_times():
    bounds = week_bounds("2026-W47", "UTC")
    moments = pd.Series(
        [pd.NaT, pd.Timestamp("2026-11-16 00:30", tz="Europe/Berlin")]  # = 11-15 23:30 UTC
    )
    assert week_of(moments, bounds).tolist() == [-1, -1]
    # tz-aware moments in another zone are compared as the same instants
    moments = pd.Series(pd.to_datetime(["2026-11-16 01:30"]).tz_localize("Europe/Berlin"))
    assert week_of(moments, bounds).tolist() == [0]  # 00:30 UTC on Monday
    assert isinstance(week_of(moments, bounds), np.ndarray)


# --- last_complete_week -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "zone", "label"),
    [
        ("2026-11-23T00:00:00Z", "UTC", "2026-W47"),  # Monday 00:00: W47 has just ended
        ("2026-11-22T23:59:59Z", "UTC", "2026-W46"),  # Sunday: W47 is still running
        # Sun 23:30 UTC = Mon 00:30 in Berlin: W47 is complete there but not in UTC
        ("2026-11-22T23:30:00Z", "Europe/Berlin", "2026-W47"),
        ("2026-11-22T22:59:59Z", "Europe/Berlin", "2026-W46"),  # Sun 23:59:59 CET
        ("2026-11-22T23:00:00Z", "Europe/Berlin", "2026-W47"),  # exactly Mon 00:00 CET
        # Mon 11-23 03:00 UTC = Sun 11-22 22:00 EST: New York is still in W47
        ("2026-11-23T03:00:00Z", "America/New_York", "2026-W46"),
        ("2026-11-23T05:00:00Z", "America/New_York", "2026-W47"),  # Mon 00:00 EST
        ("2027-01-04T12:00:00Z", "UTC", "2026-W53"),  # the week before 2027-W01
        ("2026-01-07T12:00:00Z", "UTC", "2026-W01"),  # a Wednesday of W02
    ],
)
def test_last_complete_week(as_of, zone, label):
    assert last_complete_week(pd.Timestamp(as_of), zone) == label


def test_last_complete_week_with_a_bad_zone():
    with pytest.raises(InvalidTimezoneError, match="is not an IANA zone name"):
        last_complete_week(pd.Timestamp("2026-11-23T00:00:00Z"), "Nowhere/Town")
