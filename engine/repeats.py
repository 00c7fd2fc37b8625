"""Repeats: the same thing going wrong again soon after.

An incident is a *repeat* when it was opened at most ``repeat_days`` after an earlier
incident with the same *repeat key*: its service, else its CI, else its category. The
earlier incident may be older than any week being reviewed. One definition, used by the
hotspots and the KPI scorecard alike (`engine.facts` works it out once). Pure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from impactlens.engine.columns import first_known

__all__ = ["REPEAT_KEY_COLUMNS", "repeat_flags", "repeat_keys"]

REPEAT_KEY_COLUMNS = ("service_id", "ci", "category")
NO_KEY = "(none)"


def repeat_keys(incidents: pd.DataFrame) -> pd.Series:
    """The repeat key of each incident, as text (``(none)`` when nothing is known).

    >>> repeat_keys(pd.DataFrame({"service_id": ["wms", None], "ci": [None, "X1"]})).tolist()
    ['wms', 'X1']
    """
    return first_known(incidents, REPEAT_KEY_COLUMNS, missing=NO_KEY).rename("repeat_key")


def repeat_flags(keys: pd.Series, opened_at: pd.Series, *, repeat_days: float) -> np.ndarray:
    """Whether each incident was opened within `repeat_days` after another on its key.

    >>> opened = pd.Series(pd.to_datetime(["2026-11-01", "2026-11-10", "2026-11-30"], utc=True))
    >>> repeat_flags(pd.Series(["a", "a", "a"]), opened, repeat_days=14).tolist()
    [False, True, False]
    """
    codes, _ = pd.factorize(keys)
    opened = pd.to_datetime(opened_at, utc=True).to_numpy(dtype="datetime64[us]").view(np.int64)
    order = np.lexsort((opened, codes))
    same_key = codes[order][1:] == codes[order][:-1]
    gap = np.diff(opened[order])
    within = np.zeros(order.size, dtype=bool)
    within[1:] = same_key & (gap <= int(repeat_days * 86_400_000_000))
    flags = np.zeros(order.size, dtype=bool)
    flags[order] = within
    return flags
