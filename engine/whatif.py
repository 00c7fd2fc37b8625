"""What-if: a week's business impact re-scored with a changed map, or without some incidents.

Both answers compare process timelines (`engine.timelines.process_timelines`, so
concurrent incidents count once) over the same week: before, as it happened; after,
with the new map (a redundancy group added, a dependency made soft) or with a hotspot's
incidents removed, as if its problem had been fixed. Pure.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from impactlens.engine.hotspots import hotspot_keys
from impactlens.engine.impact import ImpactModel
from impactlens.engine.resolution import resolve_services
from impactlens.engine.timelines import process_timelines
from impactlens.engine.weekly import WeeklyReview

from impactlens.errors import ImpactlensError, InvalidSettingsError
from impactlens.text import counted

__all__ = [
    "WHATIF_COLUMNS",
    "UnknownHotspotError",
    "WhatIf",
    "compare_timelines",
    "savings_sentence",
    "whatif_map",
    "whatif_without",
]


class UnknownHotspotError(ImpactlensError):
    """A hotspot key that no incident of the reviewed week has."""


WHATIF_COLUMNS = (
    "process_id", "process", "impact_minutes_before", "impact_minutes_after", "minutes_saved",
    "value_at_risk_before", "value_at_risk_after", "value_saved",
)  # fmt: skip


@dataclass(frozen=True)
class WhatIf:
    """A what-if's answer: `WHATIF_COLUMNS` per process, and how many incidents active in
    the week the change touched (removed, or placed on the map differently)."""

    table: pd.DataFrame
    incidents: int


def whatif_map(review: WeeklyReview, after: ImpactModel) -> WhatIf:
    """The reviewed week re-scored with the map `after` (e.g. a redundancy group added).

    Before is the review's own timeline of the week; after, the same incidents are
    placed on `after`'s services and its timeline is worked out. Processes of either map
    appear; one missing from a map counts 0 there. A map that places none of the week's
    incidents is refused (`InvalidSettingsError`): the comparison would mean nothing.
    """
    window = review.window
    incidents = review.facts.incidents
    moved = resolve_services(incidents, after.service_map)
    active = _active_in_week(incidents, review)
    if active.any() and not moved["mapped"].to_numpy(dtype=bool)[active].any():
        raise InvalidSettingsError(
            f"the new map places none of the {counted(int(active.sum()), 'incident')} active in week "
            f"{review.week} on its services (no id, alias or match rule fits them): there "
            "is nothing to compare"
        )
    after_timeline = process_timelines(
        moved, after, as_of=review.as_of, bounds=pd.DatetimeIndex([window.start, window.end])
    )
    changed = (
        _active_in_week(incidents, review)
        & (
            moved["service_id"].astype("string").fillna("")
            != incidents["service_id"].astype("string").fillna("")
        ).to_numpy()
    )
    names = {p.id: p.name for p in after.service_map.processes}
    return WhatIf(
        table=compare_timelines(
            _week_timeline(review),
            after_timeline,
            process_names={**names, **review.process_names},
        ),
        incidents=int(changed.sum()),
    )


def whatif_without(review: WeeklyReview, model: ImpactModel, *, key: str) -> WhatIf:
    """The reviewed week without the incidents of hotspot `key` (in the review's key),
    as if its problem had been fixed. `model` is the map the review was made with.

    Raises `UnknownHotspotError` when no incident active in the week has that key.
    """
    if model.version != review.map_version:
        raise InvalidSettingsError(
            f"the what-if's map (version {model.version}) is not the one the week was "
            f"reviewed with (version {review.map_version})"
        )
    incidents = review.facts.incidents
    keys = hotspot_keys(incidents, review.settings.group_by)
    removed = (keys == key).to_numpy()
    active = _active_in_week(incidents, review)
    if not (removed & active).any():
        close = difflib.get_close_matches(key, keys[active].unique().tolist(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownHotspotError(f"no incident of week {review.week} has the key {key!r}{hint}")
    window = review.window
    after_timeline = process_timelines(
        incidents[~removed],
        model,
        as_of=review.as_of,
        bounds=pd.DatetimeIndex([window.start, window.end]),
    )
    return WhatIf(
        table=compare_timelines(
            _week_timeline(review), after_timeline, process_names=review.process_names
        ),
        incidents=int((removed & active).sum()),
    )


def _week_timeline(review: WeeklyReview) -> pd.DataFrame:
    """The review's timeline rows of the reviewed week (its last trend period)."""
    timelines = review.timelines
    if timelines.empty:
        raise InvalidSettingsError("a what-if needs a week reviewed with a service map")
    last_period: pd.Series[bool] = timelines["period"] == timelines["period"].max()
    return timelines[last_period]


def _active_in_week(incidents: pd.DataFrame, review: WeeklyReview) -> np.ndarray:
    opened = pd.to_datetime(incidents["opened_at"], utc=True)
    restored = pd.to_datetime(incidents["resolved_at"], utc=True)
    return ((opened < review.window.end) & ~(restored < review.window.start)).to_numpy()


def compare_timelines(
    before: pd.DataFrame, after: pd.DataFrame, *, process_names: Mapping[str, str]
) -> pd.DataFrame:
    """Per process, impact minutes and value at risk before and after, and what was saved.

    Summed over periods; processes with no impact either way are left out; most minutes
    saved first.

    >>> before = pd.DataFrame({"process_id": ["otc"], "impact_minutes": [90.0],
    ...     "value_at_risk": [9000.0]})
    >>> after = before.assign(impact_minutes=[30.0], value_at_risk=[3000.0])
    >>> compare_timelines(before, after, process_names={"otc": "Order to cash"})[
    ...     ["process", "minutes_saved", "value_saved"]].to_dict("records")
    [{'process': 'Order to cash', 'minutes_saved': 60.0, 'value_saved': 6000.0}]
    """
    columns = ["impact_minutes", "value_at_risk"]
    old = before.groupby("process_id")[columns].sum()
    new = after.groupby("process_id")[columns].sum()
    both = old.merge(
        new, how="outer", left_index=True, right_index=True, suffixes=("_before", "_after")
    ).fillna(0.0)
    both = both[(both.abs() > 0).any(axis=1)]
    table = pd.DataFrame(
        {
            "process_id": both.index.astype(str),
            "process": [process_names.get(p, p) for p in both.index],
            "impact_minutes_before": both["impact_minutes_before"].to_numpy(),
            "impact_minutes_after": both["impact_minutes_after"].to_numpy(),
            "value_at_risk_before": both["value_at_risk_before"].to_numpy(),
            "value_at_risk_after": both["value_at_risk_after"].to_numpy(),
        }
    )
    table["minutes_saved"] = table["impact_minutes_before"] - table["impact_minutes_after"]
    table["value_saved"] = table["value_at_risk_before"] - table["value_at_risk_after"]
    table = table.sort_values(["minutes_saved", "process_id"], ascending=[False, True])
    return table[list(WHATIF_COLUMNS)].reset_index(drop=True)


def savings_sentence(diff: pd.DataFrame, change: str) -> str:
    """One sentence on what `change` (e.g. "fixing hotspot inventory-sync") would have saved.

    >>> diff = pd.DataFrame({"process": ["Order to cash"], "minutes_saved": [41.0],
    ...     "value_saved": [4100.0]})
    >>> savings_sentence(diff, "fixing hotspot inventory-sync")
    'fixing hotspot inventory-sync would have saved 41 business minutes of Order to cash (4,100.00 of value at risk); 41 business minutes and 4,100.00 in all'
    """
    changed = diff[diff["minutes_saved"].abs() > 0.005]
    if changed.empty:
        return f"{change} would have changed no business impact"
    total_minutes, total_value = changed["minutes_saved"].sum(), changed["value_saved"].sum()
    saved = total_minutes >= 0
    top = changed.iloc[
        changed["minutes_saved"].argmax() if saved else changed["minutes_saved"].argmin()
    ]
    verb = "saved" if saved else "added"
    return (
        f"{change} would have {verb} {abs(top['minutes_saved']):,.0f} business minutes of "
        f"{top['process']} ({abs(top['value_saved']):,.2f} of value at risk); "
        f"{abs(total_minutes):,.0f} business minutes and {abs(total_value):,.2f} in all"
    )
