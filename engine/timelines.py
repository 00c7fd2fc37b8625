"""Per-process timelines: business minutes lost per process and period, counted once.

DESIGN.md, "Impact semantics", last paragraph. Process timelines (`process_timelines`). For process ``p`` the impact level at moment
``t`` is the largest ``severity x exposure(s, p)`` over the incidents open at ``t`` on
any service ``s`` and over the group outages under way at ``t`` (on the group's node):

    L_p(t) = max(severity_i * exposure(s_i, p) for i open at t), 0 if none
    impact_minutes(p, period)       = integral of L_p over p's business minutes in it
    business_minutes_hit(p, period) = p's business minutes in it during which L_p > 0
    value_at_risk(p, period)        = impact_minutes / 60 * value_per_hour(p)

So two incidents on one outage are counted once, at the larger of their levels, where
summing `engine.impact.process_impacts` would count the outage twice. The computation is
exact and has no loop per incident or pair: the (incident, process) pairs are expanded
from the model's sparse exposure rows; each process's incident endpoints and the period
bounds cut its time into elementary segments, numbered by one global sort over
(process, time) (a sort of events by time, then a stable radix sort by process); each
pair covers a range of segments, and every segment's level, the maximum over the ranges
covering it, comes from `max_over_ranges` for all pairs at once (power-of-two blocks and
64-leaf chunks: a shallow segment tree pushed down with whole-array steps). Business
minutes of the segments come from `engine.business_minutes.cumulative_business_minutes`,
one call per calendar, and the segments of one (process, period) are consecutive, so one
`np.add.reduceat` sums them. Memory grows with the pairs.

Pure: no I/O, no clock (``as_of`` is a parameter).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from impactlens.engine.business_minutes import cumulative_business_minutes
from impactlens.engine.columns import require_columns
from impactlens.engine.correlation import group_outages
from impactlens.engine.impact import SCORING_INPUT_COLUMNS, ImpactModel, _node_rows, _severity
from impactlens.engine.intervals import (
    CHUNK,
    MINUTE,
    bounds_index,
    counted_interval,
    max_over_ranges,
    microseconds,
    stable_order,
)
from impactlens.engine.propagation import concatenated_ranges

from impactlens.moments import utc_moment

__all__ = ["TIMELINE_COLUMNS", "process_timelines"]

TIMELINE_COLUMNS = (
    "process_id",
    "period",
    "period_start",
    "impact_minutes",
    "value_at_risk",
    "business_minutes_hit",
)
# What process_timelines reads from an outages table (GROUP_OUTAGE_COLUMNS has them).
_OUTAGE_INPUT_COLUMNS = ("group_id", "start", "end", "severity")


def process_timelines(
    incidents: pd.DataFrame,
    model: ImpactModel,
    *,
    as_of: pd.Timestamp,
    bounds: pd.DatetimeIndex,
    outages: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Impact per (process, period), de-duplicated across incidents: ``TIMELINE_COLUMNS``.

    Parameters
    ----------
    incidents : DataFrame
        ``SCORING_INPUT_COLUMNS``; unmapped incidents (no ``service_id``) are ignored.
    model : ImpactModel
    as_of : Timestamp
        An open incident counts up to it; nothing after it counts.
    bounds : DatetimeIndex
        Strictly increasing period boundaries (timezone-aware, or naive meaning UTC);
        period ``i`` is ``[bounds[i], bounds[i + 1])``.
    outages : DataFrame, optional
        Group outages (``group_id``, ``start``, ``end``, ``severity``, as
        `group_outages` returns); by default `group_outages` of the same incidents.

    Returns
    -------
    DataFrame
        One row per process (``model.exposure.processes`` order) and period, zeros
        included: ``period`` (0-based), ``period_start`` (``bounds[i]``),
        ``impact_minutes`` (the integral of the process's level over its business
        minutes), ``value_at_risk`` and ``business_minutes_hit`` (business minutes with
        any impact at all).

    Examples
    --------
    Two overlapping incidents on one web shop: P1 10:00-11:00 and P3 10:30-12:00. The
    shop loses 1.0 x 60 + 0.3 x 60 = 78 minutes over 120 minutes hit, not the sum of
    the incidents (60 + 27 = 87 minutes over 150):

    >>> from impactlens.service_map.build import build_service_map
    >>> from impactlens.engine.impact import build_impact_model
    >>> m = build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "criticality": 1, "value_per_hour": 600}],
    ...     "services": [{"id": "shop"}],
    ...     "supports": [{"service": "shop", "process": "sales"}]})
    >>> at = pd.Timestamp("2026-11-02T10:00Z")
    >>> incidents = pd.DataFrame({"incident_id": ["A", "B"],
    ...     "opened_at": [at, at + pd.Timedelta("30min")],
    ...     "resolved_at": [at + pd.Timedelta("1h"), at + pd.Timedelta("2h")],
    ...     "priority": [1, 3], "service_id": ["shop", "shop"]})
    >>> week = pd.date_range("2026-11-02", periods=2, freq="7D", tz="UTC")
    >>> out = process_timelines(incidents, build_impact_model(m), as_of=week[-1],
    ...                         bounds=week)
    >>> out.drop(columns="period_start").to_dict("records")
    [{'process_id': 'sales', 'period': 0, 'impact_minutes': 78.0, 'value_at_risk': 780.0, 'business_minutes_hit': 120.0}]
    """
    require_columns(incidents, SCORING_INPUT_COLUMNS, where="process_timelines")
    period_bounds = bounds_index(bounds)
    edges = period_bounds.as_unit("us").asi8
    processes = model.exposure.processes
    periods = max(edges.size - 1, 0)
    impact = np.zeros(len(processes) * periods)
    hit = np.zeros(len(processes) * periods)
    if periods and processes:
        if outages is None:
            outages = group_outages(incidents, model, as_of=as_of)
        require_columns(outages, _OUTAGE_INPUT_COLUMNS, where="process_timelines (outages)")
        node, severity, start, end = _impact_sources(incidents, outages, model, as_of=as_of)
        start = np.maximum(start, edges[0])
        end = np.minimum(end, edges[-1])
        safe = np.where(node >= 0, node, 0)
        reaches = np.where(node >= 0, np.diff(model.pair_start)[safe], 0) > 0
        keep = np.flatnonzero(reaches & (severity > 0) & (start < end))
        if keep.size:
            impact, hit = _integrate(
                node[keep], severity[keep], start[keep], end[keep], edges, model
            )
    count = len(processes) * periods
    column = np.repeat(np.arange(len(processes)), periods)
    return pd.DataFrame(
        {
            "process_id": pd.array(list(processes), dtype="str").take(column),
            "period": np.tile(np.arange(periods, dtype=np.int64), len(processes)),
            "period_start": period_bounds[:-1][np.tile(np.arange(periods), len(processes))]
            if count
            else period_bounds[:0],
            "impact_minutes": impact,
            "value_at_risk": impact / 60.0 * model.value_per_hour[column],
            "business_minutes_hit": hit,
        }
    )


def _impact_sources(
    incidents: pd.DataFrame, outages: pd.DataFrame, model: ImpactModel, *, as_of: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Node row, severity, start and end (us) of every incident, then of every outage."""
    nodes = _node_rows(incidents["service_id"], model.exposure)
    severity = _severity(incidents["priority"], model)
    start, end = counted_interval(incidents, as_of=as_of)
    if len(outages):
        limit = microseconds(pd.DatetimeIndex([utc_moment(as_of)]))[0]
        groups = outages["group_id"].astype("string")
        nodes = np.concatenate(
            [nodes, np.array([model.exposure.node_index(g) for g in groups], dtype=np.int64)]
        )
        severity = np.concatenate([severity, outages["severity"].to_numpy(dtype=np.float64)])
        start = np.concatenate([start, np.minimum(microseconds(outages["start"]), limit)])
        end = np.concatenate([end, np.minimum(microseconds(outages["end"]), limit)])
    return nodes, severity, start, end


def _integrate(
    node: np.ndarray,
    severity: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    edges: np.ndarray,
    model: ImpactModel,
) -> tuple[np.ndarray, np.ndarray]:
    """Impact minutes and business minutes hit per (process, period), flattened.

    Sources (incidents, then outages) are all mapped, with severity > 0, a non-empty
    ``[start, end)`` inside ``[edges[0], edges[-1]]`` and at least one process reached.

    Points. Every period bound is a point of every process, and every source's start and
    end are points of each process it reaches. The events (bounds, starts, ends) are
    sorted by time, expanded to their processes in that order, then sorted stably by
    process (processes ranked calendar by calendar): so the points are in (process,
    time) order, each process's points begin with its first bound, and point ``j`` to
    point ``j + 1`` is segment ``j`` (zero-length where times tie, which is harmless:
    it has no business minutes). A pair (source, process) covers segments
    ``[left, right)``, from its start point to its end point, at level severity x
    exposure. The segments of one (process, period) are consecutive, from the point of
    the period's first bound on.
    """
    sources, bound_count = node.size, edges.size
    processes = len(model.exposure.processes)
    periods = bound_count - 1
    # Processes ranked by calendar, so that each calendar's points are one slice.
    by_calendar = np.argsort(model.process_calendar, kind="stable")
    process_rank = np.empty(processes, dtype=np.int64)
    process_rank[by_calendar] = np.arange(processes)
    first = model.pair_start[node]
    count = model.pair_start[node + 1] - first
    # Events: bounds (each reaching every process: the tail of `ranked`), starts, ends.
    ranked = np.concatenate([process_rank[model.pair_process], np.arange(processes)])
    if processes <= 1 << 16:
        ranked = ranked.astype(np.uint16)  # the stable sort by process is then a radix sort
    event_time = np.concatenate([edges, start, end])
    event_first = np.concatenate([np.full(bound_count, model.pair_process.size), first, first])
    event_count = np.concatenate([np.full(bound_count, processes), count, count])
    del count

    order = np.argsort(event_time, kind="stable")
    expanded = event_count[order]
    event_offset = np.empty(order.size, dtype=np.int64)  # each event's first point
    event_offset[order] = np.cumsum(expanded) - expanded
    point_rank = ranked[concatenated_ranges(event_first[order], expanded)]
    del event_first, event_count, ranked
    point_event = np.repeat(order.astype(np.int32), expanded)
    del order, expanded
    by_process = stable_order(point_rank, processes)
    per_process = np.bincount(point_rank, minlength=processes)
    del point_rank
    sorted_event = point_event[by_process]
    del point_event
    small = by_process.size < (1 << 31) - CHUNK  # chunk arithmetic stays within 32 bits
    position = np.empty(by_process.size, dtype=np.int32 if small else np.int64)
    position[by_process] = np.arange(by_process.size, dtype=position.dtype)

    # Per source: how far its end's points lie after its start's (in the expansion), and
    # where its exposures are in the model's sparse rows relative to its start's points.
    start_offset = event_offset[bound_count : bound_count + sources]
    end_shift = event_offset[bound_count + sources :] - start_offset
    exposure_shift = first - start_offset
    del first, start_offset
    # Pairs in the order of their start points, so the leaves are written left to right.
    left = np.flatnonzero((sorted_event >= bound_count) & (sorted_event < bound_count + sources))
    source = sorted_event[left] - bound_count
    item = by_process[left]
    del by_process
    right = position[item + end_shift[source]]
    level = severity[source] * model.pair_exposure[item + exposure_shift[source]]
    del item, source, end_shift, exposure_shift
    leaf_level = max_over_ranges(sorted_event.size, left, right, level)
    del left, right, level

    minutes = _segment_business_minutes(event_time[sorted_event], per_process, model)
    del sorted_event
    # Cell (process rank r, period i) starts at the point of bound i of process r.
    bound_point = event_offset[:periods, None] + np.arange(processes)[None, :]
    cell_start = position[bound_point.T.ravel()]
    del position
    impact = np.add.reduceat(leaf_level * minutes, cell_start)
    hit = np.add.reduceat(np.where(leaf_level > 0, minutes, 0.0), cell_start)
    # Back from process rank to process column order.
    impact = impact.reshape(processes, periods)[process_rank].ravel()
    hit = hit.reshape(processes, periods)[process_rank].ravel()
    return impact, hit


def _segment_business_minutes(
    point_time: np.ndarray, per_process: np.ndarray, model: ImpactModel
) -> np.ndarray:
    """Business minutes of every segment (point ``j`` to ``j + 1``) in its process's
    calendar; 0 for the last point.

    Points are grouped by process rank (``per_process`` of them each), ranked calendar by
    calendar, so one calendar's points are one slice and ``F`` (cumulative business
    minutes) is one call per calendar. A segment running from one process's last point
    into the next process's first gets a meaningless (finite) value; no pair covers it.
    """
    point_first = np.concatenate([[0], np.cumsum(per_process)])
    per_calendar = np.bincount(model.process_calendar, minlength=len(model.calendars))
    calendar_first = point_first[np.concatenate([[0], np.cumsum(per_calendar)])]
    cumulative = np.zeros(point_time.size + 1)
    for index, hours in enumerate(model.calendars):
        low, high = calendar_first[index], calendar_first[index + 1]
        if low == high:
            continue
        times = point_time[low:high]
        if hours.always_open:
            np.divide(times - times.min(), MINUTE, out=cumulative[low:high])
        else:
            cumulative[low:high] = cumulative_business_minutes(times.view("datetime64[us]"), hours)
    cumulative[-1] = cumulative[-2]
    return np.diff(cumulative)
