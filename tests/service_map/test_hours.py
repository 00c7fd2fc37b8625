"""Weekly hours: the grammar, merging, and an error message that names each bad part."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from impactlens.service_map.hours import InvalidHoursError, WeeklyHours, parse_hours, weekly_hours

from impactlens.errors import ImpactlensError, InvalidTimezoneError

FULL_WEEK = tuple((day, 0, 1440) for day in range(7))
# 09:00 = 9 * 60 = 540, 17:00 = 17 * 60 = 1020
OFFICE = tuple((day, 540, 1020) for day in range(5))


# --- the grammar ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["24x7", "24X7", "  24x7  ", "24 x 7"])
def test_24x7_is_the_whole_week(spec: str) -> None:
    assert parse_hours(spec) == FULL_WEEK
    assert weekly_hours(spec).always_open


def test_weekday_range() -> None:
    assert parse_hours("mon-fri 09:00-17:00") == OFFICE


def test_several_ranges_case_insensitive() -> None:
    # sat = 5; 10:00 = 600, 14:00 = 840
    assert parse_hours("Mon-Fri 09:00-17:00, SAT 10:00-14:00") == (*OFFICE, (5, 600, 840))


def test_whitespace_is_tolerated() -> None:
    spec = "  mon - fri   09:00 - 17:00 ,sat\t10:00-14:00 "
    assert parse_hours(spec) == (*OFFICE, (5, 600, 840))


def test_single_day() -> None:
    # wed = 2; 10:30 = 630, 11:15 = 675
    assert parse_hours("wed 10:30-11:15") == ((2, 630, 675),)


def test_single_digit_hour_is_accepted() -> None:
    assert parse_hours("mon 9:00-17:00") == ((0, 540, 1020),)


def test_day_range_wraps_over_the_weekend() -> None:
    # fri-mon = fri (4), sat (5), sun (6), mon (0); 08:00 = 480, 12:00 = 720
    assert parse_hours("fri-mon 08:00-12:00") == (
        (0, 480, 720),
        (4, 480, 720),
        (5, 480, 720),
        (6, 480, 720),
    )


def test_a_range_from_a_day_to_itself_is_that_day() -> None:
    assert parse_hours("tue-tue 08:00-12:00") == ((1, 480, 720),)


def test_daily_is_every_day() -> None:
    assert parse_hours("daily 06:00-07:00") == tuple((day, 360, 420) for day in range(7))
    assert parse_hours("daily 00:00-24:00") == FULL_WEEK


def test_overnight_range_is_split_at_midnight() -> None:
    # 22:00 = 1320, 06:00 = 360; each listed day keeps 22:00-24:00, the next day 00:00-06:00
    assert parse_hours("mon-fri 22:00-06:00") == (
        (0, 1320, 1440),
        (1, 0, 360),
        (1, 1320, 1440),
        (2, 0, 360),
        (2, 1320, 1440),
        (3, 0, 360),
        (3, 1320, 1440),
        (4, 0, 360),
        (4, 1320, 1440),
        (5, 0, 360),
    )


def test_overnight_from_sunday_wraps_to_monday() -> None:
    # 02:00 = 120 on Monday (0), 22:00 = 1320 on Sunday (6)
    assert parse_hours("sun 22:00-02:00") == ((0, 0, 120), (6, 1320, 1440))


def test_overnight_ending_at_midnight_is_the_evening_only() -> None:
    # 18:00 = 1080; the "next day" part 00:00-00:00 is empty and dropped
    assert parse_hours("mon 18:00-00:00") == ((0, 1080, 1440),)


def test_24_00_ends_a_day() -> None:
    # 20:00 = 1200
    assert parse_hours("sat 20:00-24:00") == ((5, 1200, 1440),)


def test_overlapping_and_touching_ranges_merge() -> None:
    # 09:00-12:00 and 11:00-14:00 overlap, 14:00-15:00 touches: one window 540..900
    assert parse_hours("mon 09:00-12:00, mon 11:00-14:00, mon 14:00-15:00") == ((0, 540, 900),)


def test_ranges_merge_across_a_day_range_and_a_day() -> None:
    # mon-wed 09:00-12:00 plus tue 10:00-13:00: tuesday becomes 540..780
    assert parse_hours("tue 10:00-13:00, mon-wed 09:00-12:00") == (
        (0, 540, 720),
        (1, 540, 780),
        (2, 540, 720),
    )


def test_windows_of_different_days_do_not_merge() -> None:
    assert parse_hours("mon 22:00-24:00, tue 00:00-02:00") == ((0, 1320, 1440), (1, 0, 120))


def test_ranges_that_cover_the_week_are_always_open() -> None:
    hours = weekly_hours("daily 00:00-12:00, daily 12:00-24:00")
    assert hours.windows == FULL_WEEK
    assert hours.always_open


def test_almost_the_whole_week_is_not_always_open() -> None:
    assert not weekly_hours("daily 00:00-23:59").always_open
    assert not weekly_hours("mon-sat 00:00-24:00").always_open


def test_weekly_hours_keeps_spec_and_zone() -> None:
    hours = weekly_hours("mon-fri 09:00-17:00", "Europe/London")
    assert hours == WeeklyHours(
        spec="mon-fri 09:00-17:00", timezone="Europe/London", windows=OFFICE
    )
    assert weekly_hours("24x7").timezone == "UTC"
    with pytest.raises(dataclasses.FrozenInstanceError):
        hours.timezone = "UTC"  # type: ignore[misc]
    assert hash(hours) == hash(weekly_hours("mon-fri 09:00-17:00", "Europe/London"))


# --- errors: each names the part at fault --------------------------------------------------


def error_of(spec: str, timezone: str = "UTC") -> str:
    with pytest.raises(InvalidHoursError) as caught:
        weekly_hours(spec, timezone)
    return str(caught.value)


def test_invalid_hours_is_an_impactlens_error() -> None:
    assert issubclass(InvalidHoursError, ImpactlensError)


def test_unknown_day() -> None:
    assert error_of("mon-fry 09:00-17:00") == (
        "'mon-fry 09:00-17:00': unknown day 'fry' (use mon, tue, wed, thu, fri, sat, sun or daily)"
    )


def test_unknown_day_in_the_second_range_quotes_that_range() -> None:
    message = error_of("mon-fri 09:00-17:00, satur 10:00-14:00")
    assert message.startswith("'satur 10:00-14:00': unknown day 'satur'")


def test_too_many_days() -> None:
    assert "bad days 'mon-tue-wed'" in error_of("mon-tue-wed 09:00-17:00")


@pytest.mark.parametrize(
    ("spec", "bad"),
    [
        ("mon 9am-5pm", "'9am'"),
        ("mon 0900-1700", "'0900'"),
        ("mon 09:60-17:00", "'09:60'"),
        ("mon 09:00-17:5", "'17:5'"),
    ],
)
def test_bad_time(spec: str, bad: str) -> None:
    message = error_of(spec)
    assert message.startswith(f"{spec!r}: bad time {bad}")


def test_bad_time_range() -> None:
    assert "bad time range '09:00-12:00-17:00'" in error_of("mon 09:00-12:00-17:00")


@pytest.mark.parametrize("time", ["24:30", "25:00", "99:00"])
def test_time_after_24_00(time: str) -> None:
    assert error_of(f"mon 09:00-{time}") == (
        f"'mon 09:00-{time}': time '{time}' is out of range (00:00 to 24:00)"
    )


def test_24_00_cannot_start_a_range() -> None:
    assert "cannot start at 24:00" in error_of("mon 24:00-06:00")


def test_start_equal_to_end() -> None:
    assert error_of("mon-fri 09:00-09:00") == (
        "'mon-fri 09:00-09:00': start and end are both 09:00 (for a whole day use 00:00-24:00)"
    )


@pytest.mark.parametrize("spec", ["", "   ", "\n"])
def test_empty_spec(spec: str) -> None:
    assert error_of(spec).startswith("empty hours")


def test_trailing_comma() -> None:
    assert error_of("mon-fri 09:00-17:00,") == (
        "'mon-fri 09:00-17:00,': range 2 of 2 is empty "
        "(a stray ',' before, after or between ranges)"
    )


@pytest.mark.parametrize(
    ("spec", "which"),
    [
        (", mon 09:00-17:00", "range 1 of 2"),
        ("mon 09:00-17:00,, tue 09:00-17:00", "range 2 of 3"),
    ],
)
def test_other_stray_commas(spec: str, which: str) -> None:
    assert f"{which} is empty" in error_of(spec)


@pytest.mark.parametrize("spec", ["mon-fri", "09:00-17:00", "mon fri 09:00-17:00"])
def test_missing_or_extra_parts(spec: str) -> None:
    assert error_of(spec).startswith(f"{spec!r}: expected '<days> <HH:MM>-<HH:MM>'")


def test_24x7_cannot_be_combined() -> None:
    assert "'24x7' cannot be combined" in error_of("24x7, mon 09:00-10:00")


def test_hours_must_be_text() -> None:
    assert error_of(9) == "hours must be text, not int"  # type: ignore[arg-type]


def zone_error_of(spec: str, timezone: str) -> str:
    with pytest.raises(InvalidTimezoneError) as caught:
        weekly_hours(spec, timezone)
    return str(caught.value)


def test_unknown_time_zone() -> None:
    message = zone_error_of("24x7", "Europe/Lndon")
    assert message.startswith("time zone 'Europe/Lndon' is not an IANA zone name")
    assert "Europe/London" in message  # the hint


def test_time_zone_in_the_wrong_case_gets_a_hint() -> None:
    assert zone_error_of("24x7", "utc") == (
        "time zone 'utc' is not an IANA zone name (did you mean UTC?)"
    )


@pytest.mark.parametrize("zone", ["", "America", "../etc/passwd", "Mars/Olympus_Mons"])
def test_other_unknown_time_zones(zone: str) -> None:
    assert zone_error_of("24x7", zone).startswith(f"time zone {zone!r} is not an IANA zone name")


def test_a_huge_time_zone_name_is_cut_short_in_the_message() -> None:
    message = zone_error_of("24x7", "Mars/" + "x" * 1_000_000)
    assert len(message) < 200
    assert "(1,000,005 characters)" in message


def test_a_long_run_of_spaces_is_read_in_linear_time() -> None:
    # re.sub(r"\s*-\s*") took minutes on this; the message quotes an excerpt only.
    message = error_of("mon" + " " * 2_000_000 + "x")
    assert "bad time range 'x'" in message
    assert len(message) < 300


def test_the_hours_are_checked_before_the_zone() -> None:
    assert "unknown day" in error_of("mon-fry 09:00-17:00", "Europe/Lndon")


# --- properties ----------------------------------------------------------------------------

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def ranges(draw: st.DrawFn) -> tuple[str, list[int], int, int]:
    """One range as text, with its days, start and end worked out independently."""
    first = draw(st.integers(0, 6))
    kind = draw(st.sampled_from(["day", "range", "daily"]))
    if kind == "daily":
        text, days = "daily", list(range(7))
    elif kind == "day":
        text, days = DAYS[first], [first]
    else:
        length = draw(st.integers(1, 7))
        last = (first + length - 1) % 7
        text, days = f"{DAYS[first]}-{DAYS[last]}", [(first + i) % 7 for i in range(length)]
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(0, 1440).filter(lambda minute: minute != start))
    return f"{text} {_clock(start)}-{_clock(end)}", days, start, end


@given(st.lists(ranges(), min_size=1, max_size=4))
def test_windows_match_a_painted_week(parts: list[tuple[str, list[int], int, int]]) -> None:
    # Paint each minute of the week that some range covers, then read the windows back.
    painted = [False] * (7 * 1440)
    for _, days, start, end in parts:
        for day in days:
            stop = end if start < end else 1440 + end  # overnight runs into the next day
            for minute in range(day * 1440 + start, day * 1440 + stop):
                painted[minute % (7 * 1440)] = True

    windows = parse_hours(", ".join(text for text, *_ in parts))

    assert list(windows) == sorted(windows)
    for day, start, end in windows:
        assert 0 <= day <= 6 and 0 <= start < end <= 1440
    for (day_a, _, end_a), (day_b, start_b, _) in itertools.pairwise(windows):
        assert day_a != day_b or end_a < start_b  # merged: no overlap, no touching
    covered = [False] * (7 * 1440)
    for day, start, end in windows:
        for minute in range(day * 1440 + start, day * 1440 + end):
            covered[minute] = True
    assert covered == painted
