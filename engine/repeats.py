"""Repeats: the same problem back soon after it was fixed.

An incident is a *repeat* when the last incident with the same *symptom* before it had
been restored, at most ``repeat_days`` before it was opened: the fix did not hold. The symptom is by
default the incident's CI (else its service) together with its category and
subcategory; or the `engine.keys.KEY_FIELDS` a setting names.

Both halves keep the figure meaningful. Keyed by the busy service alone, or counted from
the earlier incident's opening, "another incident like it within 14 days" is true of
nearly every incident (99.8% on the bundled fixtures, 99.9% on a real ServiceNow log)
and tells a lead nothing. An incident opened while the same symptom is still open is a
second report of one outage (`engine.correlation` groups those), not a repeat. The
earlier incident may be older than any week being reviewed. One definition, used by
the hotspots and the KPI scorecard alike (`engine.facts` works it out once). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from impactlens.engine.columns import first_known, text_values
from impactlens.engine.keys import NO_VALUE, SEPARATOR, joined_key

__all__ = ["SYMPTOM_COLUMNS", "repeat_flags", "repeat_keys"]

# The default symptom: the CI, else the service; then category and subcategory.
SYMPTOM_COLUMNS = (("ci", "service_id"), "category", "subcategory")


def repeat_keys(incidents: pd.DataFrame, fields: Sequence[str] = ()) -> pd.Series:
    """The repeat key (symptom) of each incident, as text.

    By default the CI, else the service, then the category and the subcategory (each
    ``(none)`` when missing or absent); with `fields`, those `engine.keys.KEY_FIELDS`.

    >>> frame = pd.DataFrame({"service_id": ["wms", "wms"], "ci": [None, "X1"],
    ...                       "category": ["Apps", "Apps"], "subcategory": ["Login", None]})
    >>> repeat_keys(frame).tolist()
    ['wms / Apps / Login', 'X1 / Apps / (none)']
    >>> repeat_keys(frame, ["service"]).tolist()
    ['wms', 'wms']
    """
    if fields:
        return joined_key(incidents, fields, where="repeat_keys").rename("repeat_key")
    what, *rest = SYMPTOM_COLUMNS
    key = first_known(incidents, what, missing=NO_VALUE)
    for column in rest:
        part = (
            text_values(incidents[column]).fillna(NO_VALUE)
            if column in incidents.columns
            else NO_VALUE
        )
        key = key + SEPARATOR + part
    return key.rename("repeat_key")


def repeat_flags(
    keys: pd.Series,
    opened_at: pd.Series,
    restored_at: pd.Series,
    *,
    repeat_days: float,
) -> np.ndarray:
    """Whether each incident is a repeat: the incident opened last before it on its key
    (ties: earlier in the input) was restored at most `repeat_days` before it opened.

    >>> opened = pd.Series(pd.to_datetime(["2026-11-01", "2026-11-10", "2026-11-12",
    ...                                     "2026-11-20", "2026-12-30"], utc=True))
    >>> restored = opened + pd.Timedelta(days=3)  # 11-04, 11-13, 11-15, 11-23, 01-02
    >>> repeat_flags(pd.Series(["a"] * 5), opened, restored, repeat_days=14).tolist()
    [False, True, False, True, False]

    The second opened 6 days after the first was fixed; the third while the second was
    still open (a second report of one outage, not a repeat); the fourth 5 days after
    the third was fixed; the fifth 37 days after the last fix.
    """
    codes, _ = pd.factorize(keys)
    opened = pd.to_datetime(opened_at, utc=True).to_numpy(dtype="datetime64[us]")
    restored = pd.to_datetime(restored_at, utc=True).to_numpy(dtype="datetime64[us]")
    order = np.lexsort((np.arange(codes.size), opened.view(np.int64), codes))
    previous = order[:-1]
    current = order[1:]
    gap = opened[current] - restored[previous]  # NaT where the previous is still open
    window = np.timedelta64(int(repeat_days * 86_400_000_000), "us")
    same_key = (codes[current] == codes[previous]) & (codes[current] >= 0)
    fixed_before = ~np.isnat(gap) & (gap >= np.timedelta64(0, "us")) & (gap <= window)
    flags = np.zeros(codes.size, dtype=bool)
    flags[current] = same_key & fixed_before
    return flags
