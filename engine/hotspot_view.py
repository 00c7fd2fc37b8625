"""One hotspot, looked at closely: what a service desk lead opens from the hotspot list.

From a `WeeklyReview` (no recomputation): the key's row of the hotspot table, its
incidents of the period, the handoffs between assignment groups they went through (the
handoff graph's edges), the business processes they hurt, and the key's incidents and
escalations in each period of the baseline and the period itself. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from impactlens.engine.escalation import handoffs
from impactlens.engine.hotspots import hotspot_keys
from impactlens.engine.keys import incident_positions
from impactlens.engine.weekly import WeeklyReview
from impactlens.engine.weeks import week_of

__all__ = ["HOTSPOT_INCIDENT_COLUMNS", "HotspotView", "hotspot_view"]

HOTSPOT_INCIDENT_COLUMNS = (
    "source", "incident_id", "opened_at", "resolved_at", "priority", "service_id", "ci",
    "assignment_group", "support_tier", "escalated", "reached_l3", "repeat", "ping_pong",
    "reopened", "impact_score", "value_at_risk", "top_process", "explanation",
    "short_description",
)  # fmt: skip


@dataclass(frozen=True)
class HotspotView:
    """``hotspot``: the key's row of `WeeklyReview.hotspots` (empty when the key had no
    incident in the period); ``incidents``: its incidents opened in the period
    (`HOTSPOT_INCIDENT_COLUMNS`, costliest first); ``handoffs``: ``from_group, to_group,
    handoffs, incidents``; ``processes``: ``process_id, name, incidents,
    impact_minutes, value_at_risk``, most impact first; ``trend``: per period of the
    hotspot test (baseline, then the period), ``period_start, incidents, escalated``."""

    key: str
    hotspot: pd.Series
    incidents: pd.DataFrame
    handoffs: pd.DataFrame
    processes: pd.DataFrame
    trend: pd.DataFrame


def hotspot_view(review: WeeklyReview, key: str) -> HotspotView:
    """`key` (as `WeeklyReview.hotspots` names it) of `review`, close up."""
    table = review.facts.incidents
    keys = hotspot_keys(table, review.settings.group_by).to_numpy()
    mine = keys == key
    bounds = review.window.hotspot_bounds
    period = week_of(table["opened_at"], bounds)
    last = len(bounds) - 2
    in_period = mine & (period == last)
    week = table[in_period]
    ordered = week.sort_values(["impact_score", "incident_id"], ascending=[False, True])
    columns = [name for name in HOTSPOT_INCIDENT_COLUMNS if name in ordered.columns]

    history = review.facts.history
    theirs = history[incident_positions(history, week) >= 0] if len(history) else history
    passed = handoffs(theirs) if len(theirs) else _no_handoffs()

    pairs = review.facts.pairs
    hurt = pairs[np.isin(pairs["row"].to_numpy(), np.flatnonzero(in_period))]
    hurt = hurt[hurt["impact_minutes"] > 0]
    processes = (
        hurt.groupby("process_id")
        .agg(
            incidents=("row", "nunique"),
            impact_minutes=("impact_minutes", "sum"),
            value_at_risk=("value_at_risk", "sum"),
        )
        .reset_index()
        .sort_values(["impact_minutes", "process_id"], ascending=[False, True])
    )
    processes.insert(1, "name", processes["process_id"].map(review.process_names))

    escalated = table["escalated"].to_numpy(dtype=bool)
    counted = [
        (
            bounds[i],
            int((mine & (period == i)).sum()),
            int((mine & escalated & (period == i)).sum()),
        )
        for i in range(last + 1)
    ]
    trend = pd.DataFrame(counted, columns=["period_start", "incidents", "escalated"])
    found = review.hotspots[review.hotspots["key"] == key]
    return HotspotView(
        key=key,
        hotspot=found.iloc[0] if len(found) else pd.Series(dtype=object),
        incidents=ordered[columns].reset_index(drop=True),
        handoffs=passed,
        processes=processes.reset_index(drop=True),
        trend=trend,
    )


def _no_handoffs() -> pd.DataFrame:
    return pd.DataFrame({"from_group": [], "to_group": [], "handoffs": [], "incidents": []})
