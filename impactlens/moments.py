"""Moments in time as impactlens means them: timezone-aware, in UTC; naive means UTC.

Time zones are IANA names (``Europe/Berlin``); `time_zone` is the one place that checks
a name a user gave, so every surface refuses a bad one with the same message.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import pandas as pd

from impactlens.errors import InvalidTimezoneError

__all__ = ["time_zone", "utc_moment"]


def time_zone(name: str, *, where: str | None = None) -> zoneinfo.ZoneInfo:
    """The IANA time zone called `name`, or an `InvalidTimezoneError` that says why not.

    Parameters
    ----------
    name : str
        An IANA zone name such as ``Europe/Berlin`` or ``UTC`` (case as the database
        writes it).
    where : str, optional
        The option or place the name came from (``--timezone``), put before the message.

    Returns
    -------
    zoneinfo.ZoneInfo

    Raises
    ------
    InvalidTimezoneError
        For anything that is not a zone name: ``Mars/Olympus``, ``""``, ``America``
        (a folder of zones), ``../etc/passwd``, a number; with close names as a hint.

    Examples
    --------
    >>> time_zone("Europe/Berlin")
    zoneinfo.ZoneInfo(key='Europe/Berlin')
    >>> time_zone("Mars/Olympus")
    Traceback (most recent call last):
    ...
    impactlens.errors.InvalidTimezoneError: time zone 'Mars/Olympus' is not an IANA zone name (for example Europe/Berlin or UTC)
    >>> time_zone("utc", where="--timezone")
    Traceback (most recent call last):
    ...
    impactlens.errors.InvalidTimezoneError: --timezone: time zone 'utc' is not an IANA zone name (did you mean UTC?)
    """
    if isinstance(name, str) and name.strip() and len(name) <= 255:
        try:
            return zoneinfo.ZoneInfo(name)
        # ValueError: a path such as '../x'; OSError: a folder, an unreadable or
        # too-long name; ZoneInfoNotFoundError (a KeyError): no such zone.
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InvalidTimezoneError(name, where=where, suggestions=_zone_suggestions(name))


def _zone_suggestions(name: object) -> list[str]:
    """Zone names close to `name` (its case corrected first), for the error's hint."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        return []
    import difflib

    known = sorted(zoneinfo.available_timezones())
    by_case = {zone.lower(): zone for zone in known}
    if name.strip().lower() in by_case:
        return [by_case[name.strip().lower()]]
    return difflib.get_close_matches(name, known, n=3)


def utc_moment(value: str | datetime | pd.Timestamp) -> pd.Timestamp:
    """The moment as a UTC `pd.Timestamp`; a naive value is taken to be UTC.

    >>> utc_moment("2026-11-23T01:00:00+01:00"), utc_moment("2026-11-23")
    (Timestamp('2026-11-23 00:00:00+0000', tz='UTC'), Timestamp('2026-11-23 00:00:00+0000', tz='UTC'))
    """
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
