"""Moments in time as impactlens means them: timezone-aware, in UTC; naive means UTC."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

__all__ = ["utc_moment"]


def utc_moment(value: str | datetime | pd.Timestamp) -> pd.Timestamp:
    """The moment as a UTC `pd.Timestamp`; a naive value is taken to be UTC.

    >>> utc_moment("2026-11-23T01:00:00+01:00"), utc_moment("2026-11-23")
    (Timestamp('2026-11-23 00:00:00+0000', tz='UTC'), Timestamp('2026-11-23 00:00:00+0000', tz='UTC'))
    """
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
