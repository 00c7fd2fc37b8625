"""`time_zone`: the one check of a time zone name a user gave."""

from __future__ import annotations

import zoneinfo

import pytest

from impactlens.errors import InvalidTimezoneError
from impactlens.moments import time_zone


def test_an_iana_name_is_its_zone():
    assert time_zone("Europe/Berlin") == zoneinfo.ZoneInfo("Europe/Berlin")
    assert time_zone("UTC").key == "UTC"


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "", "   ", "America", "../etc/passwd", "/etc/localtime", "a\x00b",
             "x" * 5_000, 5, None]
)  # fmt: skip
def test_anything_else_is_refused_with_one_message(name):
    with pytest.raises(InvalidTimezoneError) as caught:
        time_zone(name)
    message = str(caught.value)
    assert "is not an IANA zone name (" in message
    assert "\n" not in message and len(message) < 250


def test_the_message_hints_at_close_names_and_the_right_case():
    with pytest.raises(
        InvalidTimezoneError, match=r"'utc' is not an IANA zone name \(did you mean UTC\?\)"
    ):
        time_zone("utc")
    with pytest.raises(InvalidTimezoneError, match="did you mean Europe/London"):
        time_zone("Europe/Lndon")


def test_where_names_the_option():
    with pytest.raises(InvalidTimezoneError, match=r"^--timezone: time zone 'Mars/Olympus'"):
        time_zone("Mars/Olympus", where="--timezone")
