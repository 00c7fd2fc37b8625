"""Business minutes: hand-worked cases, DST days, input shapes, and properties."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impactlens.engine.business_minutes import business_minutes, cumulative_business_minutes
from impactlens.service_map.hours import WeeklyHours, weekly_hours

from impactlens.errors import InvalidIncidentsError

OFFICE_UTC = weekly_hours("mon-fri 09:00-17:00", "UTC")


def utc(*stamps: str | None) -> pd.DatetimeIndex:
    """Naive timestamps meaning UTC."""
    return pd.DatetimeIndex(list(stamps))


def minutes(opened: list[str | None], ended: list[str | None], hours: WeeklyHours) -> list:
    return business_minutes(utc(*opened), utc(*ended), hours).tolist()


# --- hand-worked cases ---------------------------------------------------------------------


def test_24x7_counts_every_minute() -> None:
    # Fri 2026-11-20 16:00 -> Mon 2026-11-23 10:00 = 3 days - 6 h = 66 h = 3960 min
    assert minutes(["2026-11-20 16:00"], ["2026-11-23 10:00"], weekly_hours("24x7")) == [3960.0]


def test_office_hours_across_a_weekend() -> None:
    # Fri 16:00-17:00 = 60, Sat and Sun closed, Mon 09:00-10:00 = 60: 60 + 60 = 120
    assert minutes(["2026-11-20 16:00"], ["2026-11-23 10:00"], OFFICE_UTC) == [120.0]


def test_incident_inside_a_weekend_is_zero() -> None:
    # Sat 2026-11-21 08:00 -> Sun 2026-11-22 20:00: no window
    assert minutes(["2026-11-21 08:00"], ["2026-11-22 20:00"], OFFICE_UTC) == [0.0]


def test_incident_inside_the_day() -> None:
    # Wed 2026-11-18 10:15 -> 11:45 = 90 min, all within 09:00-17:00
    assert minutes(["2026-11-18 10:15"], ["2026-11-18 11:45"], OFFICE_UTC) == [90.0]


def test_seconds_count_as_fractions() -> None:
    # 09:00:30 -> 09:01:00 = 30 s = 0.5 min; 08:59:45 -> 09:00:15 = 15 s in hours = 0.25 min
    assert minutes(
        ["2026-11-18 09:00:30", "2026-11-18 08:59:45"],
        ["2026-11-18 09:01:00", "2026-11-18 09:00:15"],
        OFFICE_UTC,
    ) == [0.5, 0.25]


def test_new_york_office_in_winter_and_summer() -> None:
    new_york = weekly_hours("mon-fri 09:00-17:00", "America/New_York")
    # Wed 2026-01-14 13:00-21:00 UTC is 08:00-16:00 EST (UTC-5): 09:00-16:00 = 480 - 60 = 420
    # Wed 2026-07-15 13:00-21:00 UTC is 09:00-17:00 EDT (UTC-4): all 480
    assert minutes(
        ["2026-01-14 13:00", "2026-07-15 13:00"],
        ["2026-01-14 21:00", "2026-07-15 21:00"],
        new_york,
    ) == [420.0, 480.0]


def test_london_spring_forward_day() -> None:
    london = weekly_hours("daily 00:00-03:00", "Europe/London")
    # Sun 2026-03-29: 00:00 GMT = 00:00 UTC .. 03:00 BST = 02:00 UTC: 120 min (the
    # 28th's window, 00:00-03:00 UTC, is before the incident opened)
    assert minutes(["2026-03-28 12:00"], ["2026-03-29 12:00"], london) == [120.0]


def test_london_fall_back_day() -> None:
    london = weekly_hours("daily 00:00-03:00", "Europe/London")
    # Sun 2026-10-25: 00:00 BST = 23:00 UTC on the 24th .. 03:00 GMT = 03:00 UTC: 240 min
    assert minutes(["2026-10-24 12:00"], ["2026-10-25 12:00"], london) == [240.0]


def test_ambiguous_end_takes_the_later_occurrence() -> None:
    london = weekly_hours("sun 00:00-01:30", "Europe/London")
    # 2026-10-25 01:00-02:00 happens twice. Start 00:00 BST = 23:00 UTC on the 24th; the
    # end 01:30 is taken at its second occurrence, 01:30 GMT = 01:30 UTC: 150 min
    assert minutes(["2026-10-24 12:00"], ["2026-10-25 12:00"], london) == [150.0]


def test_ambiguous_start_takes_the_earlier_occurrence() -> None:
    london = weekly_hours("sun 01:30-03:00", "Europe/London")
    # Start 01:30 BST (first occurrence) = 00:30 UTC; end 03:00 GMT = 03:00 UTC: 150 min
    assert minutes(["2026-10-24 12:00"], ["2026-10-25 12:00"], london) == [150.0]


def test_nonexistent_start_shifts_forward() -> None:
    london = weekly_hours("sun 01:30-04:00", "Europe/London")
    # 2026-03-29 01:30 does not exist; it becomes 02:00 BST = 01:00 UTC.
    # End 04:00 BST = 03:00 UTC: 120 min
    assert minutes(["2026-03-28 12:00"], ["2026-03-29 12:00"], london) == [120.0]


def test_24x7_in_london_counts_real_minutes_across_spring_forward() -> None:
    london = ZoneInfo("Europe/London")
    opened = pd.Series([pd.Timestamp("2026-03-29 00:00", tz=london)])
    ended = pd.Series([pd.Timestamp("2026-03-29 03:00", tz=london)])
    # 00:00 GMT -> 03:00 BST: 3 h on the wall clock, 2 h (120 min) of real time
    for hours in (
        weekly_hours("24x7", "Europe/London"),
        weekly_hours("daily 00:00-24:00", "Europe/London"),
    ):
        assert business_minutes(opened, ended, hours).tolist() == [120.0]


def test_overnight_window() -> None:
    nights = weekly_hours("mon-fri 22:00-06:00", "UTC")
    # Fri 2026-11-20 20:00 -> Sat 08:00: Fri 22:00-24:00 = 120 + Sat 00:00-06:00 = 360: 480.
    # Sat 2026-11-21 20:00 -> Mon 2026-11-23 08:00: Saturday and Sunday nights are not
    # listed, and Monday 00:00-06:00 belongs to Sunday's night: 0
    assert minutes(
        ["2026-11-20 20:00", "2026-11-21 20:00"],
        ["2026-11-21 08:00", "2026-11-23 08:00"],
        nights,
    ) == [480.0, 0.0]


def test_many_windows_within_an_hour() -> None:
    # Three 1-minute windows (09:00, 09:02, 09:04) inside one hour: 09:00-09:05 -> 3 min,
    # 09:00:30-09:04:30 -> 0.5 + 1 + 0.5 = 2 min
    blinks = weekly_hours("daily 09:00-09:01, daily 09:02-09:03, daily 09:04-09:05")
    assert minutes(
        ["2026-11-18 09:00", "2026-11-18 09:00:30"],
        ["2026-11-18 09:05", "2026-11-18 09:04:30"],
        blinks,
    ) == [3.0, 2.0]


def test_end_at_or_before_start_is_zero() -> None:
    assert minutes(
        ["2026-11-18 10:00", "2026-11-18 12:00"],
        ["2026-11-18 10:00", "2026-11-18 11:00"],
        OFFICE_UTC,
    ) == [0.0, 0.0]
    assert minutes(["2026-11-18 12:00"], ["2026-11-18 11:00"], weekly_hours("24x7")) == [0.0]


@pytest.mark.parametrize("hours", [OFFICE_UTC, weekly_hours("24x7")], ids=["office", "24x7"])
def test_missing_times_give_nan(hours: WeeklyHours) -> None:
    result = minutes(
        [None, "2026-11-18 10:00", None, "2026-11-18 10:00"],
        ["2026-11-18 11:00", None, None, "2026-11-18 11:00"],
        hours,
    )
    assert np.isnan(result[:3]).all()
    assert result[3] == 60.0  # 10:00-11:00 is inside the office day


def test_all_missing_gives_all_nan() -> None:
    assert np.isnan(minutes([None, None], [None, None], OFFICE_UTC)).all()


def test_empty_input() -> None:
    result = business_minutes(utc(), utc(), OFFICE_UTC)
    assert result.dtype == np.float64 and result.shape == (0,)


def test_lengths_must_match() -> None:
    with pytest.raises(InvalidIncidentsError, match="differ in length"):
        business_minutes(utc("2026-11-18 10:00"), utc(), OFFICE_UTC)


# --- input shapes: units, awareness, containers ---------------------------------------------

OPENED = ["2026-11-20 16:00", "2026-11-18 10:15"]
ENDED = ["2026-11-23 10:00", "2026-11-18 11:45"]
EXPECTED = [120.0, 90.0]  # from the weekend and in-the-day cases above


@pytest.mark.parametrize("opened_unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("ended_unit", ["s", "ns"])
def test_any_datetime_unit(opened_unit: str, ended_unit: str) -> None:
    opened = np.array(OPENED, dtype=f"datetime64[{opened_unit}]")
    ended = np.array(ENDED, dtype=f"datetime64[{ended_unit}]")
    assert business_minutes(opened, ended, OFFICE_UTC).tolist() == EXPECTED


def test_naive_input_equals_utc_aware_input() -> None:
    naive = business_minutes(pd.Series(utc(*OPENED)), pd.Series(utc(*ENDED)), OFFICE_UTC)
    aware = business_minutes(
        pd.Series(utc(*OPENED)).dt.tz_localize("UTC"),
        pd.Series(utc(*ENDED)).dt.tz_localize("UTC"),
        OFFICE_UTC,
    )
    assert naive.tolist() == aware.tolist() == EXPECTED


def test_aware_input_in_another_zone_is_converted() -> None:
    # The same instants written in Tokyo time (UTC+9), with a non-default index
    opened = pd.Series(utc(*OPENED).tz_localize("UTC").tz_convert("Asia/Tokyo"), index=[7, 3])
    ended = pd.Series(utc(*ENDED).tz_localize("UTC").tz_convert("Asia/Tokyo"), index=[7, 3])
    assert business_minutes(opened, ended, OFFICE_UTC).tolist() == EXPECTED


def test_arrow_backed_timestamps() -> None:
    arrow = pd.ArrowDtype(pa.timestamp("us", tz="UTC"))
    opened = pd.Series(utc(*OPENED).tz_localize("UTC")).astype(arrow)
    ended = pd.Series(utc(*ENDED).tz_localize("UTC")).astype(arrow)
    assert business_minutes(opened, ended, OFFICE_UTC).tolist() == EXPECTED


def test_cumulative_business_minutes() -> None:
    # From Fri 16:00: Fri 18:00 -> 60 (16:00-17:00), Mon 10:00 -> 60 + 60 = 120; NaT -> NaN
    times = utc("2026-11-20 18:00", "2026-11-20 16:00", None, "2026-11-23 10:00")
    result = cumulative_business_minutes(times, OFFICE_UTC)
    assert result[[0, 1, 3]].tolist() == [60.0, 0.0, 120.0]
    assert np.isnan(result[2])
    assert cumulative_business_minutes(times, weekly_hours("24x7"))[3] == 3960.0


def test_inputs_are_not_mutated() -> None:
    opened = pd.Series(utc(*OPENED)).dt.tz_localize("UTC")
    ended = pd.Series(utc(*ENDED))
    before = opened.copy(), ended.copy()
    business_minutes(opened, ended, weekly_hours("mon-fri 09:00-17:00", "Europe/Paris"))
    pd.testing.assert_series_equal(opened, before[0])
    pd.testing.assert_series_equal(ended, before[1])


# --- properties ----------------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Dublin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
    "America/Santiago",
    "America/Havana",
]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
YEAR_START = int(pd.Timestamp("2026-01-01").timestamp())
# Days on which some zone above changes its clocks, to land intervals near them often.
CHANGES = [
    int(pd.Timestamp(day).timestamp())
    for day in [
        "2026-03-08",
        "2026-03-29",
        "2026-04-05",
        "2026-09-06",
        "2026-09-27",
        "2026-10-04",
        "2026-10-25",
        "2026-11-01",
    ]
]


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def calendars(draw: st.DrawFn) -> WeeklyHours:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        first, last = draw(st.integers(0, 6)), draw(st.integers(0, 6))
        days = draw(st.sampled_from([DAYS[first], f"{DAYS[first]}-{DAYS[last]}", "daily"]))
        # Starts and ends on the quarter hour often, so they hit the DST hours often.
        start = draw(st.integers(0, 95)) * 15 + draw(st.sampled_from([0, 0, 0, 7]))
        end = draw(st.integers(0, 96).map(lambda q: q * 15).filter(lambda m, s=start: m != s))
        parts.append(f"{days} {_clock(start)}-{_clock(end)}")
    return weekly_hours(", ".join(parts), draw(st.sampled_from(ZONES)))


instants = st.one_of(
    st.integers(YEAR_START, YEAR_START + 365 * 86400),
    st.builds(
        lambda day, shift: day + shift, st.sampled_from(CHANGES), st.integers(-3 * 86400, 3 * 86400)
    ),
)
durations = st.integers(0, 9 * 86400)


def as_times(seconds: list[int]) -> np.ndarray:
    return np.array(seconds, dtype=np.int64).astype("datetime64[s]")


@given(calendars(), st.lists(st.tuples(instants, durations), min_size=1, max_size=6))
def test_within_zero_and_the_elapsed_minutes(
    hours: WeeklyHours, rows: list[tuple[int, int]]
) -> None:
    opened = [start for start, _ in rows]
    ended = [start + length for start, length in rows]
    result = business_minutes(as_times(opened), as_times(ended), hours)
    elapsed = np.array([length / 60 for _, length in rows])
    assert (result >= 0).all()
    assert (result <= elapsed + 1e-9).all()


@given(calendars(), instants, durations, durations)
def test_additive(hours: WeeklyHours, a: int, first: int, second: int) -> None:
    b, c = a + first, a + first + second
    whole, left, right = business_minutes(as_times([a, a, b]), as_times([c, b, c]), hours)
    assert whole == pytest.approx(left + right, abs=1e-6)


@given(
    st.sampled_from(ZONES),
    st.lists(st.tuples(instants, st.integers(-86400, 9 * 86400)), min_size=1, max_size=6),
)
def test_24x7_is_the_plain_difference(zone: str, rows: list[tuple[int, int]]) -> None:
    opened = [start for start, _ in rows]
    ended = [start + length for start, length in rows]
    result = business_minutes(as_times(opened), as_times(ended), weekly_hours("24x7", zone))
    assert result.tolist() == [max(length, 0) / 60 for _, length in rows]


@settings(max_examples=150, deadline=None)
@given(calendars(), st.lists(st.tuples(instants, durations), min_size=1, max_size=4))
def test_matches_a_day_by_day_reference(hours: WeeklyHours, rows: list[tuple[int, int]]) -> None:
    opened = [start for start, _ in rows]
    ended = [start + length for start, length in rows]
    result = business_minutes(as_times(opened), as_times(ended), hours)
    expected = [
        _reference_minutes(start, end, hours) for start, end in zip(opened, ended, strict=True)
    ]
    assert result.tolist() == pytest.approx(expected, abs=1e-9)


# A slow, independent model of the documented semantics with datetime and zoneinfo: each
# window of each local day placed in UTC (nonexistent times forward, ambiguous starts
# early, ambiguous ends late), the union of those intervals, and its overlap with the
# incident.


def _reference_minutes(start: int, end: int, hours: WeeklyHours) -> float:
    zone = ZoneInfo(hours.timezone)
    first = dt.datetime.fromtimestamp(start, dt.UTC).date() - dt.timedelta(days=2)
    last = dt.datetime.fromtimestamp(end, dt.UTC).date() + dt.timedelta(days=2)
    intervals = []
    day = first
    while day <= last:
        midnight = dt.datetime.combine(day, dt.time())
        for weekday, open_minute, close_minute in hours.windows:
            if day.weekday() == weekday:
                opens = _wall_to_utc(midnight + dt.timedelta(minutes=open_minute), zone, min)
                closes = _wall_to_utc(midnight + dt.timedelta(minutes=close_minute), zone, max)
                if opens < closes:
                    intervals.append((opens, closes))
        day += dt.timedelta(days=1)
    covered, reach = 0, None
    for opens, closes in sorted(intervals):
        opens, closes = max(opens, start), min(closes, end)
        if reach is not None:
            opens = max(opens, reach)
        if opens < closes:
            covered += closes - opens
        reach = closes if reach is None else max(reach, closes)
    return covered / 60


def _wall_to_utc(wall: dt.datetime, zone: ZoneInfo, pick) -> int:
    candidates = [int(wall.replace(tzinfo=zone, fold=fold).timestamp()) for fold in (0, 1)]
    valid = [c for c in candidates if _wall(c, zone) == wall]
    if valid:
        return pick(valid)
    # In a gap: the first instant whose wall clock reads `wall` or later (the change).
    low, high = min(candidates), max(candidates)
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(middle, zone) >= wall:
            high = middle
        else:
            low = middle
    return high


def _wall(instant: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(instant, zone).replace(tzinfo=None)
