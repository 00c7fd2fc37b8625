"""What-if: a week's business impact re-scored with a changed map, or without some incidents.

Both answers compare process timelines (`engine.timelines.process_timelines`, so
concurrent incidents count once) over the same week: before, as it happened; after,
with the new map (a redundancy group added, a dependency made soft) or with a hotspot's
incidents removed, as if its problem had been fixed. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from impactlens.engine.impact import ImpactModel
from impactlens.engine.resolution import resolve_services
from impactlens.engine.timelines import process_timelines

__all__ = [
    "WHATIF_COLUMNS",
    "compare_timelines",
    "savings_sentence",
    "whatif_map",
    "whatif_without",
]

WHATIF_COLUMNS = (
    "process_id", "process", "impact_minutes_before", "impact_minutes_after", "minutes_saved",
    "value_at_risk_before", "value_at_risk_after", "value_saved",
)  # fmt: skip


def whatif_map(
    incidents: pd.DataFrame,
    before: ImpactModel,
    after: ImpactModel,
    *,
    as_of: pd.Timestamp,
    bounds: pd.DatetimeIndex,
) -> pd.DataFrame:
    """`WHATIF_COLUMNS` for the period `bounds` (first to last), scored with each map.

    `incidents` are canonical (their services are resolved against each map afresh).
    Processes of either map appear; one missing from a map counts 0 there.
    """
    span = bounds[[0, -1]]
    old = process_timelines(
        resolve_services(incidents, before.service_map), before, as_of=as_of, bounds=span
    )
    new = process_timelines(
        resolve_services(incidents, after.service_map), after, as_of=as_of, bounds=span
    )
    names = {p.id: p.name for p in (*before.service_map.processes, *after.service_map.processes)}
    return compare_timelines(old, new, process_names=names)


def whatif_without(
    incidents: pd.DataFrame,
    model: ImpactModel,
    removed: np.ndarray,
    *,
    as_of: pd.Timestamp,
    bounds: pd.DatetimeIndex,
) -> pd.DataFrame:
    """`WHATIF_COLUMNS` for the period `bounds`, with and without the `removed` incidents.

    `incidents` have their ``service_id`` resolved; `removed` is a boolean mask over them.
    """
    span = bounds[[0, -1]]
    old = process_timelines(incidents, model, as_of=as_of, bounds=span)
    new = process_timelines(
        incidents[~np.asarray(removed, dtype=bool)], model, as_of=as_of, bounds=span
    )
    names = {p.id: p.name for p in model.service_map.processes}
    return compare_timelines(old, new, process_names=names)


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
    top = changed.loc[
        changed["minutes_saved"].idxmax() if saved else changed["minutes_saved"].idxmin()
    ]
    verb = "saved" if saved else "added"
    return (
        f"{change} would have {verb} {abs(top['minutes_saved']):,.0f} business minutes of "
        f"{top['process']} ({abs(top['value_saved']):,.2f} of value at risk); "
        f"{abs(total_minutes):,.0f} business minutes and {abs(total_value):,.2f} in all"
    )
