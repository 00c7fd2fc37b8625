"""Escalation hotspots: the places whose incidents keep reaching second and third line.

A *key* is where incidents are counted: by default the incident's service, else its CI,
else its category (`hotspot_keys`); or any combination of service, ci, category,
subcategory, assignment_group and location. For one week (the *window*) and the
`HotspotRules.baseline_weeks` weeks before it, `find_hotspots` counts per key:

- ``incidents``, ``escalated`` (reached L2 or L3), ``reached_l3``, ``escalation_rate``;
- ``repeats``: its repeat incidents (`engine.repeats`: the same repeat key again within
  ``repeat_days``; worked out once in `engine.facts`, as the KPIs count them);
- ``ping_pong`` (A -> B -> A between groups, or 3+ reassignments) and ``reopens``
  (incidents reopened at least once);
- time to restore (``ttr_median_hours``, ``ttr_p90_hours``, restored incidents only);
- ``impact_score`` (weighted business minutes lost) and ``repeat_impact``: the impact
  score of its escalated repeats, the figure hotspots are ranked by;

and flags it with the small-count-safe tests of `engine.rates`, on weekly counts of
*escalated* incidents (DESIGN.md, "Escalation hotspots"):

- **emerging**: at least ``min_escalated`` escalated this week, a gamma-Poisson p-value
  below ``alpha`` against the key's own baseline, and a shrunk rate ratio of at least
  ``min_rate_ratio``;
- **chronic**: escalated incidents this week, and over the whole baseline: the weight of
  evidence (the key's escalated total against a typical key's over as many weeks,
  allowing for weeks that vary, `engine.rates.overdispersed_tail`; and its escalations a
  larger share of its own incidents than the typical share, `engine.rates.binomial_tail`:
  both below ``alpha``), an effect worth acting on (at least ``min_rate_ratio`` times
  the typical key's weekly mean), and persistence that tolerates quiet weeks (above the
  typical key's mean in at least ``chronic_weeks`` of the baseline weeks: 5 of 8 by
  default, so a key that escalates several times as often as the typical key week after
  week stays chronic when three of its weeks dipped).

Flagged keys come first, then everything by ``repeat_impact``, escalated count and
incident count. Every row says why in words (``reasons``), and a flagged one suggests a
problem record. Pure: frames in, a frame out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from impactlens.engine.columns import first_known, require_columns
from impactlens.engine.escalation import assignment_steps
from impactlens.engine.keys import NO_VALUE, check_key_fields, joined_key
from impactlens.engine.rates import (
    binomial_tail,
    fit_gamma_prior,
    negative_binomial_tail,
    overdispersed_tail,
    within_key_dispersion,
)
from impactlens.engine.weeks import week_of

from impactlens.errors import InvalidSettingsError
from impactlens.text import counted

__all__ = [
    "HOTSPOT_COLUMNS",
    "HOTSPOT_INPUT_COLUMNS",
    "SORT_ORDERS",
    "HotspotRules",
    "find_hotspots",
    "hotspot_keys",
    "sort_column",
    "sort_hotspots",
]

HOTSPOT_INPUT_COLUMNS = (
    "source", "incident_id", "opened_at", "key", "escalated", "reached_l3", "ping_pong",
    "bounce", "reopened", "repeat", "ttr_hours", "impact_score",
)  # fmt: skip
HOTSPOT_COLUMNS = (
    "rank", "key", "flag", "incidents", "escalated", "reached_l3", "escalation_rate",
    "repeats", "ping_pong", "reopens", "ttr_median_hours", "ttr_p90_hours", "impact_score",
    "repeat_impact", "top_process", "top_process_minutes", "baseline_escalated_per_week",
    "rate_ratio", "p_value", "times_typical", "baseline_share", "typical_share",
    "chronic_p_value", "weeks_above_typical",
    "top_handoff", "reasons", "problem_record",
)  # fmt: skip
DEFAULT_KEY_COLUMNS = ("service_id", "ci", "category")  # service, else CI, else category


@dataclass(frozen=True)
class HotspotRules:
    """The thresholds of hotspot flagging (stated in the module docstring)."""

    baseline_weeks: int = 8
    alpha: float = 0.01
    min_escalated: int = 3
    min_rate_ratio: float = 2.0
    chronic_weeks: int = 5
    period: str = "week"  # what one count covers ("month" in the monthly edition): for the reasons

    def __post_init__(self) -> None:
        if self.baseline_weeks < 1:
            raise InvalidSettingsError(
                f"baseline_weeks must be 1 or more, not {self.baseline_weeks}"
            )
        if not 1 <= self.chronic_weeks <= self.baseline_weeks:
            raise InvalidSettingsError(
                f"chronic_weeks must be from 1 to baseline_weeks ({self.baseline_weeks}), "
                f"not {self.chronic_weeks}"
            )


def hotspot_keys(incidents: pd.DataFrame, group_by: Sequence[str] = ()) -> pd.Series:
    """The hotspot key of each incident, as text.

    With no `group_by`: the service, else the CI, else the category, else ``(none)``.
    Otherwise the `engine.keys.KEY_FIELDS` named, joined with `` / `` (a missing value
    is ``(none)``).

    >>> frame = pd.DataFrame({"service_id": ["wms", None, None], "ci": [None, "X1", None],
    ...     "category": ["Apps", "Net", "Net"], "assignment_group": ["A", "B", None]})
    >>> hotspot_keys(frame).tolist()
    ['wms', 'X1', 'Net']
    >>> hotspot_keys(frame, ["category", "assignment_group"]).tolist()
    ['Apps / A', 'Net / B', 'Net / (none)']
    """
    check_key_fields(group_by, what="group hotspots by")
    if group_by:
        return joined_key(incidents, group_by, where="hotspot_keys").rename("key")
    return first_known(incidents, DEFAULT_KEY_COLUMNS, missing=NO_VALUE).rename("key")


def find_hotspots(
    incidents: pd.DataFrame,
    bounds: pd.DatetimeIndex,
    *,
    rules: HotspotRules = HotspotRules(),
    repeat_days: float,
    history: pd.DataFrame | None = None,
    process_minutes: pd.DataFrame | None = None,
    process_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per key with incidents in the window: `HOTSPOT_COLUMNS`, best first.

    Parameters
    ----------
    incidents : DataFrame
        `HOTSPOT_INPUT_COLUMNS`: the facts of `engine.facts` and ``key`` from
        `hotspot_keys`. Incidents opened outside `bounds` are ignored.
    bounds : DatetimeIndex
        ``baseline_weeks + 2`` week boundaries (`engine.weeks.week_bounds`); the last week
        is the window.
    repeat_days : float
        The repeat window the ``repeat`` facts were worked out with (for the reasons).
    history : DataFrame, optional
        Assignment history (``source, incident_id, assignment_group``), for each key's
        most frequent handoff in the window.
    process_minutes : DataFrame, optional
        ``row`` (position in `incidents`), ``process_id``, ``impact_minutes``: each
        incident's impact per process (`engine.impact.process_impacts` with ``with_rows``),
        for the process each key cost most.
    process_names : mapping, optional
        Display names of processes for the reasons.
    """
    require_columns(incidents, HOTSPOT_INPUT_COLUMNS, where="find_hotspots")
    weeks = rules.baseline_weeks + 1
    if len(bounds) != weeks + 1:
        raise InvalidSettingsError(
            f"bounds has {len(bounds)} moments; baseline_weeks={rules.baseline_weeks} "
            f"needs {weeks + 1}"
        )
    repeat = incidents["repeat"].to_numpy(dtype=bool)
    week = week_of(incidents["opened_at"], bounds)
    in_range = np.flatnonzero(week >= 0)
    codes, keys = pd.factorize(incidents["key"].fillna(NO_VALUE).to_numpy()[in_range])
    escalated = incidents["escalated"].to_numpy(dtype=bool)
    cell = codes * weeks + week[in_range]  # (key, week) of each incident in range
    counts = np.bincount(cell[escalated[in_range]], minlength=len(keys) * weeks)
    counts = counts.reshape(len(keys), weeks)
    volume = np.bincount(cell, minlength=len(keys) * weeks).reshape(len(keys), weeks)

    window = in_range[week[in_range] == weeks - 1]
    window_codes = codes[week[in_range] == weeks - 1]
    present = np.unique(window_codes)
    if present.size == 0:
        return pd.DataFrame({name: [] for name in HOTSPOT_COLUMNS})

    table = _window_counts(incidents, window, window_codes, repeat, len(keys))
    table["key"] = keys
    table = table.iloc[present].reset_index(drop=True)
    this_week, baseline = counts[present, -1], counts[present, :-1]
    table = table.assign(
        **_flags(
            this_week,
            baseline,
            counts[:, :-1],
            rules,
            baseline_incidents=volume[present, :-1].sum(axis=1),
            every_baseline_incidents=int(volume[:, :-1].sum()),
        )
    )
    table = table.assign(**_top_process(window, window_codes, present, process_minutes))
    table["top_handoff"] = _top_handoffs(incidents, window, window_codes, present, history)
    table = _ranked(table)
    names = dict(process_names or {})
    table["reasons"] = [
        _reasons(row, rules, repeat_days, names) for row in table.itertuples(index=False)
    ]
    table["problem_record"] = [
        _problem_record(row, rules.period) for row in table.itertuples(index=False)
    ]
    return table[list(HOTSPOT_COLUMNS)]


# What a hotspot table can be sorted by, and the column that orders it (largest first;
# "rank" is the table's own order: flagged first, then by the impact of escalated repeats).
SORT_ORDERS: Mapping[str, str] = {
    "rank": "rank",
    "impact": "impact_score",
    "repeat_impact": "repeat_impact",
    "escalated": "escalated",
    "reached_l3": "reached_l3",
    "incidents": "incidents",
    "repeats": "repeats",
    "ping_pong": "ping_pong",
    "reopens": "reopens",
    "escalation_rate": "escalation_rate",
    "ttr": "ttr_median_hours",
}


def sort_column(by: str) -> str:
    """The column `by` (one of `SORT_ORDERS`) sorts by; `InvalidSettingsError` otherwise."""
    if by not in SORT_ORDERS:
        raise InvalidSettingsError(
            f"cannot sort hotspots by {by!r}: choose from {', '.join(SORT_ORDERS)}"
        )
    return SORT_ORDERS[by]


def sort_hotspots(hotspots: pd.DataFrame, by: str = "rank") -> pd.DataFrame:
    """`find_hotspots`' table sorted by `by` (`SORT_ORDERS`), largest first, ties in rank
    order; the ``rank`` column keeps the flagged-first ranking.

    >>> table = pd.DataFrame({"rank": [1, 2, 3], "key": ["a", "b", "c"],
    ...                       "reached_l3": [0, 5, 5]})
    >>> sort_hotspots(table, "reached_l3")["key"].tolist()
    ['b', 'c', 'a']
    """
    column = sort_column(by)
    if column == "rank":
        return hotspots.sort_values("rank", kind="stable", ignore_index=True)
    return hotspots.sort_values(
        [column, "rank"], ascending=[False, True], na_position="last", kind="stable",
        ignore_index=True,
    )  # fmt: skip


def _window_counts(
    incidents: pd.DataFrame,
    window: np.ndarray,
    codes: np.ndarray,
    repeat: np.ndarray,
    size: int,
) -> pd.DataFrame:
    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        chosen = weights[mask] if weights is not None else None
        return np.bincount(codes[mask], weights=chosen, minlength=size)

    every = np.ones(window.size, dtype=bool)
    escalated = incidents["escalated"].to_numpy(dtype=bool)[window]
    repeats = repeat[window]
    impact = incidents["impact_score"].to_numpy(dtype=np.float64)[window]
    reopened = incidents["reopened"].to_numpy(dtype=bool)[window]
    table = pd.DataFrame(
        {
            "incidents": count(every).astype(np.int64),
            "escalated": count(escalated).astype(np.int64),
            "reached_l3": count(incidents["reached_l3"].to_numpy(dtype=bool)[window]),
            "repeats": count(repeats).astype(np.int64),
            "ping_pong": count(incidents["ping_pong"].to_numpy(dtype=bool)[window]),
            "reopens": count(reopened).astype(np.int64),
            "impact_score": count(every, impact),
            "repeat_impact": count(escalated & repeats, impact),
        }
    )
    table = table.astype({"reached_l3": "int64", "ping_pong": "int64"})
    table["escalation_rate"] = table["escalated"] / table["incidents"].where(table["incidents"] > 0)
    hours = incidents["ttr_hours"].to_numpy(dtype=np.float64)[window]
    known = ~np.isnan(hours)
    restore = pd.Series(hours[known]).groupby(codes[known])
    table["ttr_median_hours"] = restore.median().reindex(range(size)).to_numpy()
    table["ttr_p90_hours"] = restore.quantile(0.9).reindex(range(size)).to_numpy()
    bounce = incidents["bounce"].astype("string").to_numpy()[window]
    table["top_bounce"] = _most_common(codes, bounce, size)
    return table


def _flags(
    this_week: np.ndarray,
    baseline: np.ndarray,
    every_baseline: np.ndarray,
    rules: HotspotRules,
    *,
    baseline_incidents: np.ndarray,
    every_baseline_incidents: int,
) -> dict[str, np.ndarray]:
    """Emerging and chronic flags, with the figures that decided them.

    `baseline`: escalated per week of the keys shown; `every_baseline`: of every key with
    incidents in the weeks (the population "typical" is taken from); the incidents
    counts are the keys' baseline incidents and all keys' together.
    """
    weeks = rules.baseline_weeks
    prior = fit_gamma_prior(every_baseline.sum(axis=1), weeks)
    before = baseline.sum(axis=1)
    p_value = negative_binomial_tail(this_week, before, weeks, prior)
    rate_ratio = ((prior.a0 + this_week) / (prior.b0 + 1.0)) / (
        (prior.a0 + before) / (prior.b0 + weeks)
    )
    emerging = (
        (this_week >= rules.min_escalated)
        & (p_value < rules.alpha)
        & (rate_ratio >= rules.min_rate_ratio)
    )
    typical = float(every_baseline.mean()) if every_baseline.size else 0.0
    dispersion = within_key_dispersion(every_baseline)
    typical_share = (
        float(every_baseline.sum()) / every_baseline_incidents if every_baseline_incidents else 0.0
    )
    # Both must hold: far more escalations than a typical key collects, and a larger share
    # of its own incidents than the typical share (the weaker of the two is reported).
    chronic_p = np.maximum(
        overdispersed_tail(before, weeks * typical, dispersion),
        binomial_tail(before, baseline_incidents, typical_share),
    )
    times_typical = (
        np.divide(before / weeks, typical) if typical > 0 else np.full(before.shape, np.inf)
    )
    above = (baseline > typical).sum(axis=1)
    chronic = (
        (this_week > 0)
        & (chronic_p < rules.alpha)
        & (times_typical >= rules.min_rate_ratio)
        & (above >= rules.chronic_weeks)
    )
    flag = np.where(
        chronic & emerging,
        "chronic, emerging",
        np.where(chronic, "chronic", np.where(emerging, "emerging", "")),
    )
    return {
        "flag": flag,
        "baseline_escalated_per_week": before / weeks,
        "rate_ratio": rate_ratio,
        "p_value": p_value,
        "times_typical": times_typical,
        "chronic_p_value": chronic_p,
        "weeks_above_typical": above,
        "typical_per_week": np.full(this_week.shape, typical),
        "baseline_escalated": before,
        "baseline_share": np.divide(
            before, baseline_incidents, out=np.zeros(before.shape), where=baseline_incidents > 0
        ),
        "typical_share": np.full(this_week.shape, typical_share),
        "escalated_this_week": this_week,
    }


def _top_process(
    window: np.ndarray,
    codes: np.ndarray,
    present: np.ndarray,
    process_minutes: pd.DataFrame | None,
) -> dict[str, np.ndarray]:
    """The process each key cost most impact minutes in the window, and those minutes."""
    missing = {
        "top_process": np.full(present.size, None, dtype=object),
        "top_process_minutes": np.zeros(present.size),
    }
    if process_minutes is None or process_minutes.empty:
        return missing
    require_columns(process_minutes, ("row", "process_id", "impact_minutes"), where="find_hotspots")
    code_of_row = pd.Series(codes, index=window)
    pairs = process_minutes[process_minutes["row"].isin(window)]
    pairs = pairs.assign(code=code_of_row.reindex(pairs["row"].to_numpy()).to_numpy())
    sums = pairs.groupby(["code", "process_id"], sort=True)["impact_minutes"].sum().reset_index()
    sums = sums[sums["impact_minutes"] > 0]
    best = sums.sort_values(["code", "impact_minutes"], ascending=[True, False], kind="stable")
    best = best.drop_duplicates("code").set_index("code")
    return {
        "top_process": best["process_id"].reindex(present).astype(object).to_numpy(),
        "top_process_minutes": best["impact_minutes"].reindex(present).fillna(0.0).to_numpy(),
    }


def _top_handoffs(
    incidents: pd.DataFrame,
    window: np.ndarray,
    codes: np.ndarray,
    present: np.ndarray,
    history: pd.DataFrame | None,
) -> np.ndarray:
    """Each key's most frequent handoff in the window, ``A -> B (n)``."""
    result = np.full(present.size, None, dtype=object)
    if history is None or history.empty:
        return result
    steps = assignment_steps(history, incidents.iloc[window])  # positions in the window
    following = np.flatnonzero(steps.incident[1:] == steps.incident[:-1])
    names = steps.groups
    pairs = pd.DataFrame(
        {
            "code": codes[steps.incident[following]],
            "handoff": names[steps.group[following]] + " -> " + names[steps.group[following + 1]],
        }
    )
    if pairs.empty:
        return result
    sizes = pairs.groupby(["code", "handoff"]).size().rename("n").reset_index()
    sizes = sizes.sort_values(["code", "n", "handoff"], ascending=[True, False, True])
    best = sizes.drop_duplicates("code").set_index("code")
    text = best["handoff"] + " (" + best["n"].astype(str) + ")"
    return text.reindex(present).astype(object).to_numpy()


def _ranked(table: pd.DataFrame) -> pd.DataFrame:
    table = table.assign(flagged=table["flag"] != "")
    table = table.sort_values(
        ["flagged", "repeat_impact", "escalated", "incidents", "key"],
        ascending=[False, False, False, False, True],
        kind="stable",
    ).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def _reasons(
    row: Any, rules: HotspotRules, repeat_days: float, process_names: Mapping[str, str]
) -> str:
    parts = [f"{row.escalated} of {counted(row.incidents, 'incident')} reached L2 or L3"]
    if row.reached_l3:
        parts[0] += f" ({row.reached_l3} reached L3)"
    if row.repeats:
        parts.append(
            f"{counted(row.repeats, 'repeat')} (back within {counted(repeat_days, 'day')} of a fix)"
        )
    if row.ping_pong:
        between = (
            row.top_bounce.replace(" <-> ", " and ") if isinstance(row.top_bounce, str) else None
        )
        parts.append(
            f"{row.ping_pong} ping-pong between {between}"
            if between
            else f"{row.ping_pong} ping-pong (3+ reassignments)"
        )
    if row.reopens:
        parts.append(f"{row.reopens} reopened")
    if row.top_process and row.top_process_minutes > 0:
        name = process_names.get(row.top_process, row.top_process)
        parts.append(f"{row.top_process_minutes:,.0f} business minutes of {name}")
    weeks, period = rules.baseline_weeks, rules.period
    if "emerging" in row.flag:
        parts.append(
            f"emerging: {row.escalated_this_week} escalated this {period} against "
            f"{row.baseline_escalated_per_week:.1f} a {period} in the {counted(weeks, period)} before "
            f"(rate ratio {row.rate_ratio:.1f}, p = {row.p_value:.2g})"
        )
    if "chronic" in row.flag:
        parts.append(
            f"chronic: {row.baseline_escalated} escalated in the {counted(weeks, period)} before "
            f"({row.baseline_share:.0%} of its incidents, the typical key "
            f"{row.typical_share:.0%}), {row.times_typical:.1f} times the typical key's "
            f"{row.typical_per_week:.1f} a {period} (p = {row.chronic_p_value:.2g}), above it in "
            f"{row.weeks_above_typical} of those {counted(weeks, period)}"
        )
    return "; ".join(parts)


def _problem_record(row: Any, period: str) -> str:
    if not row.flag:
        return ""
    text = f"Raise a problem record for {row.key}: {row.flag} L2/L3 escalations"
    if row.repeats:
        text += f", {counted(row.repeats, 'repeat')} this {period}"
    if isinstance(row.top_handoff, str):
        text += f"; most frequent handoff {row.top_handoff}"
    return text


def _most_common(codes: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per code, the most frequent non-missing value (ties: the first in name order)."""
    result = np.full(size, None, dtype=object)
    known = pd.notna(values)
    if not known.any():
        return result
    frame = pd.DataFrame({"code": codes[known], "value": values[known]})
    sizes = frame.groupby(["code", "value"]).size().rename("n").reset_index()
    sizes = sizes.sort_values(["code", "n", "value"], ascending=[True, False, True])
    best = sizes.drop_duplicates("code")
    result[best["code"].to_numpy()] = best["value"].to_numpy(dtype=object)
    return result
