"""The joint KPI scorecard: one table that IT and the business both read, week by week.

For each week of `bounds` (the last is the scorecard's week, the others its trend), over
the incidents *opened* that week unless said otherwise:

- ``incidents`` and ``business_critical_incidents``: those whose impact reached a process
  of criticality ``critical_criticality`` or more critical (impact minutes > 0 on it);
- ``business_minutes_lost`` and ``value_at_risk``, per process and in total, from the
  process timelines of `engine.correlation` (the union of impact intervals in that week,
  whenever the incidents were opened: concurrent incidents are not counted twice);
- ``ttr_median_hours`` / ``ttr_p90_hours`` of the business-critical incidents restored;
- ``escalation_rate_l2`` (reached L2 or L3), ``escalation_rate_l3``, ``repeat_rate``,
  ``ping_pong_rate``, ``reopen_rate``: shares of the week's incidents;
- ``open_at_week_end`` per assignment group: incidents opened before the week ended and
  not resolved by then (one resolved at the very end is not open) (the capacity view), and ``opened`` per assignment group.

Each row carries the week's ``value``, the week before (``previous``), the ``change``
and the whole ``trend`` (oldest first). Pure: frames in, a frame out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import numpy as np
import pandas as pd
from impactlens.engine.columns import require_columns
from impactlens.engine.weeks import week_of

__all__ = ["KPI_COLUMNS", "KPI_INPUT_COLUMNS", "kpi_scorecard"]

KPI_INPUT_COLUMNS = (
    "opened_at", "resolved_at", "assignment_group", "escalated", "reached_l3", "ping_pong",
    "reopened", "repeat", "ttr_hours",
)  # fmt: skip
KPI_COLUMNS = ("kpi", "subject", "value", "previous", "change", "trend")
_ALL = "all"


def kpi_scorecard(
    incidents: pd.DataFrame,
    bounds: pd.DatetimeIndex,
    *,
    timelines: pd.DataFrame | None = None,
    pairs: pd.DataFrame | None = None,
    process_criticality: Mapping[str, int] | None = None,
    process_names: Mapping[str, str] | None = None,
    critical_criticality: int = 1,
) -> pd.DataFrame:
    """`KPI_COLUMNS`, one row per KPI (and subject: a process, an assignment group).

    Parameters
    ----------
    incidents : DataFrame
        `KPI_INPUT_COLUMNS`: the facts of `engine.facts` (``resolved_at`` is when the
        service was restored; ``repeat``, ``ttr_hours`` and ``reopened`` are the one
        definition the hotspots use too).
    bounds : DatetimeIndex
        Week boundaries (`engine.weeks.week_bounds`); the last week is the scorecard's.
    timelines : DataFrame, optional
        `engine.correlation.process_timelines` over the same `bounds`.
    pairs : DataFrame, optional
        ``row``, ``process_id``, ``impact_minutes`` (`engine.impact.process_impacts` with
        ``with_rows``): which incidents hurt which process, for business-critical ones.
    process_criticality, process_names : mappings, optional
        Of the processes in `pairs` and `timelines`.
    """
    require_columns(incidents, KPI_INPUT_COLUMNS, where="kpi_scorecard")
    weeks = len(bounds) - 1
    week = week_of(incidents["opened_at"], bounds)
    in_week = week >= 0
    names = dict(process_names or {})
    rows: list[tuple[str, str, np.ndarray]] = []

    def per_week(mask: np.ndarray) -> np.ndarray:
        return np.bincount(week[in_week & mask], minlength=weeks).astype(np.float64)

    everything = np.ones(len(incidents), dtype=bool)
    count = per_week(everything)
    rows.append(("incidents", _ALL, count))
    critical = _business_critical(len(incidents), pairs, process_criticality, critical_criticality)
    rows.append(("business_critical_incidents", _ALL, per_week(critical)))
    rows.extend(_timeline_rows(timelines, weeks, names))

    opened = pd.to_datetime(incidents["opened_at"], utc=True)
    resolved = pd.to_datetime(incidents["resolved_at"], utc=True)
    hours = incidents["ttr_hours"].to_numpy(dtype=np.float64)
    restored = in_week & critical & ~np.isnan(hours)
    by_week = pd.Series(hours[restored]).groupby(week[restored])
    rows.append(("ttr_median_hours", "business-critical", _weekly(by_week.median(), weeks)))
    rows.append(("ttr_p90_hours", "business-critical", _weekly(by_week.quantile(0.9), weeks)))

    share = np.where(count > 0, 1.0 / np.where(count > 0, count, 1.0), np.nan)
    reopened = incidents["reopened"].to_numpy(dtype=bool)
    for kpi, column in (
        ("escalation_rate_l2", incidents["escalated"].to_numpy(dtype=bool)),
        ("escalation_rate_l3", incidents["reached_l3"].to_numpy(dtype=bool)),
        ("repeat_rate", incidents["repeat"].to_numpy(dtype=bool)),
        ("ping_pong_rate", incidents["ping_pong"].to_numpy(dtype=bool)),
        ("reopen_rate", reopened),
    ):
        rows.append((kpi, _ALL, per_week(column) * share))
    rows.extend(_workload_rows(incidents, opened, resolved, week, bounds))
    return _table(rows)


def _business_critical(
    size: int,
    pairs: pd.DataFrame | None,
    criticality: Mapping[str, int] | None,
    critical_criticality: int,
) -> np.ndarray:
    critical = np.zeros(size, dtype=bool)
    if pairs is None or pairs.empty or not criticality:
        return critical
    require_columns(pairs, ("row", "process_id", "impact_minutes"), where="kpi_scorecard pairs")
    codes, processes = pd.factorize(pairs["process_id"])
    levels = np.array([criticality.get(str(p), np.nan) for p in processes], dtype=np.float64)
    level = levels[codes] if codes.size else np.zeros(0)
    hurt = (pairs["impact_minutes"].to_numpy() > 0) & (level <= critical_criticality)
    critical[pairs["row"].to_numpy(dtype=np.int64)[hurt]] = True
    return critical


def _timeline_rows(
    timelines: pd.DataFrame | None, weeks: int, names: Mapping[str, str]
) -> list[tuple[str, str, np.ndarray]]:
    if timelines is None:
        return []
    require_columns(
        timelines, ("process_id", "period", "impact_minutes", "value_at_risk"),
        where="kpi_scorecard timelines",
    )  # fmt: skip
    rows = []
    for kpi, column in (
        ("business_minutes_lost", "impact_minutes"),
        ("value_at_risk", "value_at_risk"),
    ):
        table = timelines.pivot_table(
            index="process_id", columns="period", values=column, aggfunc="sum", sort=False
        ).reindex(columns=range(weeks), fill_value=0.0)
        table = table.fillna(0.0)
        rows.append((kpi, _ALL, table.sum(axis=0).to_numpy()))
        for label, values in table.iterrows():
            process_id = cast(str, label)  # pandas-stubs types row labels as Hashable
            rows.append((kpi, names.get(process_id, process_id), values.to_numpy()))
    return rows


def _workload_rows(
    incidents: pd.DataFrame,
    opened: pd.Series,
    resolved: pd.Series,
    week: np.ndarray,
    bounds: pd.DatetimeIndex,
) -> list[tuple[str, str, np.ndarray]]:
    """Per assignment group: open at each week's end, and opened in each week."""
    weeks = len(bounds) - 1
    group = incidents["assignment_group"].astype("string").fillna("(none)").to_numpy(dtype=object)
    codes, groups = pd.factorize(group)
    open_counts = np.zeros((len(groups), weeks))
    for index in range(weeks):
        end = bounds[index + 1]
        still_open = ((opened < end) & ~(resolved <= end)).to_numpy()
        open_counts[:, index] = np.bincount(codes[still_open], minlength=len(groups))
    in_week = week >= 0
    opened_counts = np.bincount(
        codes[in_week] * weeks + week[in_week], minlength=len(groups) * weeks
    ).reshape(len(groups), weeks)
    order = np.lexsort((np.asarray(groups, dtype=str), -open_counts[:, -1]))
    rows = []
    for index in order:
        rows.append(("open_at_week_end", str(groups[index]), open_counts[index]))
    for index in order:
        rows.append(("opened", str(groups[index]), opened_counts[index].astype(np.float64)))
    return rows


def _weekly(values: pd.Series, weeks: int) -> np.ndarray:
    return values.reindex(range(weeks)).to_numpy(dtype=np.float64)


def _table(rows: list[tuple[str, str, np.ndarray]]) -> pd.DataFrame:
    values = np.array([trend[-1] for _, _, trend in rows])
    previous = np.array([trend[-2] if len(trend) > 1 else np.nan for _, _, trend in rows])
    return pd.DataFrame(
        {
            "kpi": [kpi for kpi, _, _ in rows],
            "subject": [subject for _, subject, _ in rows],
            "value": values,
            "previous": previous,
            "change": values - previous,
            "trend": [list(map(float, trend)) for _, _, trend in rows],
        }
    )
