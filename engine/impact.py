"""Each incident's business impact: minutes lost, value at risk, and the path that explains it.

For an incident on service ``s`` with priority ``k``, and each business process ``p``
(DESIGN.md, "Impact semantics")::

    severity          = priority_weights[k]
    impact_minutes    = severity * exposure(s, p) * business_minutes(incident, p)
    value_at_risk     = impact_minutes / 60 * value_per_hour(p)
    impact_score      = sum over p of tier_weights[criticality(p)] * impact_minutes(i, p)

Business minutes depend on a process only through its calendar (weekly hours and time
zone), and processes share calendars; an always-open calendar (``24x7``) is open at every
instant whatever its zone, so all of them are one calendar. `build_impact_model` folds
the exposures into per-calendar, per-node weights once per map. `score_incidents` then
works one calendar at a time, and only on the incidents whose service reaches a process
of that calendar (about a fifth of the (incident, calendar) pairs on a realistic map):
no dense incidents x calendars matrix, no per-incident loop. `process_impacts`
enumerates the (incident, process) pairs from a sparse (CSR) form of the exposure table,
also built once per map, so its memory grows with the pairs, never with incidents x
processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
from impactlens.engine.business_minutes import business_minutes
from impactlens.engine.columns import require_columns
from impactlens.engine.exposure import ExposureTable, compute_exposure
from impactlens.service_map.graph import impact_graph
from impactlens.service_map.hours import WeeklyHours, Window, weekly_hours
from impactlens.service_map.model import BusinessProcess, ServiceMap
from impactlens.service_map.version import map_version

from impactlens.errors import InvalidIncidentsError
from impactlens.moments import utc_moment

__all__ = [
    "INCIDENT_SCORE_COLUMNS",
    "PROCESS_IMPACT_COLUMNS",
    "SCORING_INPUT_COLUMNS",
    "ImpactModel",
    "build_impact_model",
    "explain",
    "process_impacts",
    "score_incidents",
]

SCORING_INPUT_COLUMNS = ("incident_id", "opened_at", "resolved_at", "priority", "service_id")
INCIDENT_SCORE_COLUMNS = (
    "incident_id",
    "mapped",
    "service_id",
    "severity",
    "impact_score",
    "impact_minutes",
    "value_at_risk",
    "top_process",
    "explanation",
)
PROCESS_IMPACT_COLUMNS = (
    "incident_id",
    "process_id",
    "exposure",
    "business_minutes",
    "impact_minutes",
    "value_at_risk",
)


# Not a node or process position: unmapped incidents, nodes that reach no process.
_NONE = -1


@dataclass(frozen=True)
class ImpactModel:
    """Everything about a map that scoring needs, computed once per map.

    ``calendars`` are the distinct calendars of the processes (every always-open one
    counts once) and ``process_calendar[j]`` is the calendar of process column ``j``.

    Arrays indexed ``[calendar, node]`` fold the exposures of a node to the processes of
    calendar ``calendars[c]``; they are calendar-major so that one calendar's values are
    contiguous, as `score_incidents` reads them a calendar at a time. ``reaches``: the
    node has exposure > 0 to a process of that calendar; ``score_weight`` (tier weight x
    exposure), ``minutes_weight`` (exposure) and ``value_weight`` (exposure x value per
    minute), each summed over the calendar's processes; ``top_process`` is the process
    column with the largest tier weight x exposure in that calendar (``-1`` if none;
    ties go to the larger exposure x value) and ``top_weight`` that largest value.
    ``threatened_process[node]`` is the ``top_process`` of the calendar with the largest
    ``top_weight`` (the first such calendar): the process an incident on the node
    threatens most when it falls outside every process's hours.

    ``pair_start``, ``pair_process`` and ``pair_exposure`` are the exposure table in
    compressed sparse rows: the processes that node ``i`` reaches (exposure > 0), in
    column order, are ``pair_process[pair_start[i]:pair_start[i + 1]]``, with their
    exposures in ``pair_exposure``. ``value_per_hour[j]`` is process column ``j``'s.
    Treat the arrays as read-only. ``explained`` caches explanation texts as scoring
    makes them. ``version`` is the map's content hash
    (`impactlens.service_map.version.map_version`), which every score names.
    """

    service_map: ServiceMap
    version: str
    graph: nx.DiGraph[str]
    exposure: ExposureTable
    calendars: tuple[WeeklyHours, ...]
    process_calendar: np.ndarray
    reaches: np.ndarray
    score_weight: np.ndarray
    minutes_weight: np.ndarray
    value_weight: np.ndarray
    top_process: np.ndarray
    top_weight: np.ndarray
    threatened_process: np.ndarray
    pair_start: np.ndarray
    pair_process: np.ndarray
    pair_exposure: np.ndarray
    value_per_hour: np.ndarray
    # Explanation texts by (node, process column) code (`_explanations`), kept as they are
    # made: one map's paths never change, so a long-lived model (the API's, a settling
    # run's) works each out once, not once per call.
    explained: dict[int, str] = field(default_factory=dict, compare=False, repr=False)


def build_impact_model(service_map: ServiceMap) -> ImpactModel:
    """Graph, exposures, per-calendar weights and sparse exposures of a validated map."""
    graph = impact_graph(service_map)
    exposure = compute_exposure(graph)
    processes = [service_map.process(process_id) for process_id in exposure.processes]
    calendars, process_calendar = _calendars(processes)
    tier = np.array([service_map.scoring.tier_weights[p.criticality] for p in processes])
    value_per_hour = np.array([float(p.value_per_hour) for p in processes])
    value_per_minute = value_per_hour / 60.0

    values = exposure.values
    shape = (len(calendars), values.shape[0])
    reaches = np.zeros(shape, dtype=bool)
    score_weight, minutes_weight, value_weight = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    top_process = np.full(shape, _NONE, dtype=np.int64)
    top_weight = np.zeros(shape)
    every_node = np.arange(shape[1])
    for calendar in range(len(calendars)):
        columns = np.flatnonzero(process_calendar == calendar)
        block = values[:, columns]
        weighted = block * tier[columns]
        valued = block * value_per_minute[columns]
        reaches[calendar] = (block > 0).any(axis=1)
        score_weight[calendar] = weighted.sum(axis=1)
        minutes_weight[calendar] = block.sum(axis=1)
        value_weight[calendar] = valued.sum(axis=1)
        # Ties on tier weight x exposure go to the process worth more per hour (x exposure).
        best = (weighted + 1e-12 * valued).argmax(axis=1)
        top_weight[calendar] = weighted[every_node, best]
        top_process[calendar] = np.where(reaches[calendar], columns[best], _NONE)
    if calendars:
        threatened = top_process[top_weight.argmax(axis=0), every_node]
    else:
        threatened = np.full(shape[1], _NONE, dtype=np.int64)

    # Row-major nonzeros are grouped by node and ascend by column within a node.
    pair_node, pair_process = np.nonzero(values)
    pair_start = np.zeros(values.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_node, minlength=values.shape[0]), out=pair_start[1:])
    return ImpactModel(
        service_map=service_map,
        version=map_version(service_map),
        graph=graph,
        exposure=exposure,
        calendars=calendars,
        process_calendar=process_calendar,
        reaches=reaches,
        score_weight=score_weight,
        minutes_weight=minutes_weight,
        value_weight=value_weight,
        top_process=top_process,
        top_weight=top_weight,
        threatened_process=threatened,
        pair_start=pair_start,
        pair_process=pair_process.astype(np.int64),
        pair_exposure=values[pair_node, pair_process],
        value_per_hour=value_per_hour,
    )


def _calendars(
    processes: list[BusinessProcess],
) -> tuple[tuple[WeeklyHours, ...], np.ndarray]:
    """The distinct calendars of `processes`, and each process's calendar index.

    A calendar is its windows and its time zone, except that an always-open calendar is
    open at every instant in any zone (`business_minutes` gives it the elapsed time), so
    ``24x7`` in six zones is one calendar, and business minutes are computed once for it.
    (Being one calendar, a tie on tier weight x exposure among them goes to the one worth
    more, as inside any calendar, no longer to the zone listed first.)
    """
    parsed: dict[tuple[str, str], WeeklyHours] = {}
    index_of: dict[tuple[tuple[Window, ...], str | None], int] = {}
    calendars: list[WeeklyHours] = []
    process_calendar = np.zeros(len(processes), dtype=np.int64)
    for column, process in enumerate(processes):
        text = (process.hours, process.timezone)
        if text not in parsed:
            parsed[text] = weekly_hours(*text)
        hours = parsed[text]
        key = (hours.windows, None if hours.always_open else hours.timezone)
        if key not in index_of:
            index_of[key] = len(calendars)
            calendars.append(hours)
        process_calendar[column] = index_of[key]
    return tuple(calendars), process_calendar


def score_incidents(
    incidents: pd.DataFrame, model: ImpactModel, *, as_of: pd.Timestamp
) -> pd.DataFrame:
    """One row per incident: ``INCIDENT_SCORE_COLUMNS`` (plus ``mapped_by`` if present).

    Needs ``SCORING_INPUT_COLUMNS``: timestamps timezone-aware (or naive UTC), priority
    1-5, ``service_id`` missing for unmapped incidents. An incident still open (no
    ``resolved_at``) counts up to `as_of`; nothing after `as_of` counts. ``impact_minutes``
    and ``value_at_risk`` are summed over processes; ``top_process`` is the process that
    contributes most to ``impact_score`` (or, when the incident fell outside every
    process's hours, the one it threatens most).
    """
    require_columns(incidents, SCORING_INPUT_COLUMNS, where="score_incidents")
    nodes = _node_rows(incidents["service_id"], model.exposure)
    mapped = nodes >= 0
    severity = _severity(incidents["priority"], model)
    opened, ended = _interval(incidents, as_of=as_of)
    count = len(incidents)
    score, minutes_lost, value = np.zeros(count), np.zeros(count), np.zeros(count)
    # The calendar whose top process contributes most to the score, and that contribution.
    best, best_calendar = np.zeros(count), np.zeros(count, dtype=np.int64)
    for calendar, rows, minutes in _minutes_per_calendar(nodes, opened, ended, model):
        at = nodes[rows]
        score[rows] += minutes * model.score_weight[calendar, at]
        minutes_lost[rows] += minutes * model.minutes_weight[calendar, at]
        value[rows] += minutes * model.value_weight[calendar, at]
        contribution = minutes * model.top_weight[calendar, at]
        better = contribution > best[rows]  # strictly: a tie stays with the earlier calendar
        best[rows[better]] = contribution[better]
        best_calendar[rows[better]] = calendar
    safe_nodes = np.where(mapped, nodes, 0)
    top_column = np.where(
        best > 0,
        model.top_process[best_calendar, safe_nodes],
        model.threatened_process[safe_nodes],
    )
    top_column = np.where(mapped, top_column, _NONE)

    process_names = pd.array(list(model.exposure.processes), dtype="str")
    result = pd.DataFrame(
        {
            "incident_id": _text_column(incidents["incident_id"]),
            "mapped": mapped,
            "service_id": _text_column(incidents["service_id"]),
            "severity": severity,
            "impact_score": severity * score,
            "impact_minutes": severity * minutes_lost,
            "value_at_risk": severity * value,
            "top_process": process_names.take(top_column, allow_fill=True),
            "explanation": _explanations(nodes, top_column, model),
        },
        index=incidents.index,
    )
    if not mapped.all():
        # Only the CI of the unmapped rows: copying whole rows would cost more than the rest.
        ci = incidents["ci"][~mapped] if "ci" in incidents.columns else None
        result.loc[~mapped, "explanation"] = _why_unmapped(ci, incidents.index[~mapped])
    if "mapped_by" in incidents.columns:
        result["mapped_by"] = _text_column(incidents["mapped_by"])
    return result


def process_impacts(
    incidents: pd.DataFrame, model: ImpactModel, *, as_of: pd.Timestamp, with_rows: bool = False
) -> pd.DataFrame:
    """One row per (incident, process) with exposure > 0: ``PROCESS_IMPACT_COLUMNS``.

    Rows come in incident order, then process column order. With `with_rows`, a last
    column ``row`` gives each pair's incident as a position in `incidents` (ids need not
    be unique across sources).
    """
    require_columns(incidents, SCORING_INPUT_COLUMNS, where="process_impacts")
    nodes = _node_rows(incidents["service_id"], model.exposure)
    mapped = nodes >= 0
    safe_nodes = np.where(mapped, nodes, 0)
    first_pair = model.pair_start[safe_nodes]
    pairs_per_incident = np.where(mapped, model.pair_start[safe_nodes + 1] - first_pair, 0)
    total = int(pairs_per_incident.sum())
    if total == 0:
        names = (*PROCESS_IMPACT_COLUMNS, "row") if with_rows else PROCESS_IMPACT_COLUMNS
        return pd.DataFrame({name: [] for name in names})
    # Pair k belongs to incident rows[k]; its place in the CSR is its node's first pair
    # plus its rank among that incident's pairs.
    rows = np.repeat(np.arange(len(incidents)), pairs_per_incident)
    before = np.cumsum(pairs_per_incident) - pairs_per_incident  # pairs of earlier incidents
    pair = np.repeat(first_pair - before, pairs_per_incident) + np.arange(total)
    columns = model.pair_process[pair]
    exposure = model.pair_exposure[pair]
    del pair, before

    opened, ended = _interval(incidents, as_of=as_of)
    minutes = np.zeros(total)
    # Pairs grouped by calendar in one pass, rather than one pass over them per calendar.
    by_calendar, bounds = _grouped(model.process_calendar[columns], len(model.calendars))
    slot = np.zeros(len(incidents), dtype=np.int64)  # an incident's place in `reached`
    for calendar, reached, reached_minutes in _minutes_per_calendar(nodes, opened, ended, model):
        # Business minutes once per incident, then per pair: each pair's incident reaches
        # this calendar, so it is in `reached`.
        chosen = by_calendar[bounds[calendar] : bounds[calendar + 1]]
        slot[reached] = np.arange(reached.size)
        minutes[chosen] = reached_minutes[slot[rows[chosen]]]
    del by_calendar, slot
    impact_minutes = _severity(incidents["priority"], model)[rows] * exposure * minutes
    pairs = pd.DataFrame(
        {
            "incident_id": _text_column(incidents["incident_id"], rows),
            "process_id": pd.array(list(model.exposure.processes), dtype="str").take(columns),
            "exposure": exposure,
            "business_minutes": minutes,
            "impact_minutes": impact_minutes,
            "value_at_risk": impact_minutes / 60.0 * model.value_per_hour[columns],
        }
    )
    if with_rows:
        pairs["row"] = rows
    return pairs


def explain(model: ImpactModel, service_id: str, process_id: str) -> str:
    """The strongest path as text: ``pay-api -> hr-app (x0.4) -> payroll (x0.5)``.

    A factor is shown after the node its edge leads into, only when it is below 1; a
    redundancy group reached through several of its members says so
    (``san -> db-orders (takes down 2 of its 2 members) -> checkout``).
    Empty when the service does not reach the process.
    """
    return " -> ".join(
        step.node
        + (f" (x{step.factor:g})" if step.factor < 1.0 else "")
        + (f" ({step.note})" if step.note else "")
        for step in model.exposure.path(service_id, process_id)
    )


def _node_rows(service_ids: pd.Series, exposure: ExposureTable) -> np.ndarray:
    """Exposure-table row per incident; -1 where the service is missing or unknown."""
    codes, uniques = pd.factorize(service_ids.astype("string"), use_na_sentinel=True)
    positions = exposure.node_positions
    unique_rows = np.array([positions.get(str(u), _NONE) for u in uniques] + [_NONE])
    return unique_rows[np.where(codes >= 0, codes, len(uniques))]


def _severity(priority: pd.Series, model: ImpactModel) -> np.ndarray:
    levels = priority.to_numpy(dtype=np.int64)
    if levels.size and (levels.min() < 1 or levels.max() > 5):
        bad = sorted(set(levels[(levels < 1) | (levels > 5)].tolist()))[:5]
        raise InvalidIncidentsError(f"priority must be 1-5, got {bad}")
    weights = np.zeros(6)
    for level, weight in model.service_map.scoring.priority_weights.items():
        weights[level] = weight
    severity: npt.NDArray[np.float64] = weights[levels]
    return severity


def _interval(incidents: pd.DataFrame, *, as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each incident's counted time, clipped to `as_of`, as naive UTC."""
    as_of = utc_moment(as_of)
    opened = _clipped(_utc_series(incidents["opened_at"]), as_of)
    ended = _clipped(_utc_series(incidents["resolved_at"]).fillna(as_of), as_of)
    return opened.dt.tz_localize(None).to_numpy(), ended.dt.tz_localize(None).to_numpy()


def _clipped(stamps: pd.Series[pd.Timestamp], upper: pd.Timestamp) -> pd.Series[pd.Timestamp]:
    # pandas-stubs: Series.clip takes no Timestamp bound, though pandas clips datetimes by one
    clipped: pd.Series[pd.Timestamp] = stamps.clip(upper=upper)  # type: ignore[call-overload]
    return clipped


def _minutes_per_calendar(
    nodes: np.ndarray, opened: np.ndarray, ended: np.ndarray, model: ImpactModel
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Per calendar: the index, the incident rows (ascending) whose node reaches one of
    its processes, and their business minutes in it.

    Only those rows: an incident on a service that serves none of a calendar's processes
    loses nothing in it, and on a realistic map most (incident, calendar) pairs are such.
    """
    mapped = nodes >= 0
    safe_nodes = np.where(mapped, nodes, 0)
    for index, calendar in enumerate(model.calendars):
        rows = np.flatnonzero(mapped & model.reaches[index, safe_nodes])
        if rows.size:
            yield index, rows, business_minutes(opened[rows], ended[rows], calendar)


def _grouped(labels: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of `labels` (ints in ``[0, groups)``) grouped by label, ascending within a
    group; group ``g`` is ``order[bounds[g]:bounds[g + 1]]``.

    numpy's stable sort of 8- or 16-bit integers is a radix sort: one linear pass.
    """
    small = labels.astype(np.uint16) if groups <= 1 << 16 else labels
    order = np.argsort(small, kind="stable")
    bounds = np.zeros(groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(labels, minlength=groups), out=bounds[1:])
    return order, bounds


def _explanations(
    nodes: np.ndarray, top_column: np.ndarray, model: ImpactModel
) -> pd.api.extensions.ExtensionArray:
    """Explanation text per incident, worked out once per distinct (service, process) and
    model (`ImpactModel.explained`).

    The text column is built by ``take`` from the distinct texts, not as an object array
    of a million Python strings.
    """
    width = len(model.exposure.processes) + 1
    codes, keys = pd.factorize((nodes + 1) * width + (top_column + 1))
    known = model.explained
    for key in keys.tolist():
        if key not in known:
            known[key] = _explain_pair(key // width - 1, key % width - 1, model)
    return pd.array([known[key] for key in keys.tolist()], dtype="str").take(codes)


def _text_column(
    values: pd.Series, rows: np.ndarray | None = None
) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """`values` (or its `rows`) as an output column: text becomes ``str``.

    Arrow-backed text converts without passing through Python objects; any other dtype
    goes through numpy, letting the frame infer its type as before.
    """
    array: pd.api.extensions.ExtensionArray = (
        values.array if rows is None else values.array.take(rows)
    )
    if isinstance(array.dtype, pd.StringDtype):
        return array.astype("str")
    return array.to_numpy()


def _why_unmapped(ci: pd.Series | None, index: pd.Index) -> pd.Series:
    """Why each incident (labelled by `index`, with CI `ci` if the frame has one) is unmapped."""
    ci = pd.Series(pd.NA, index=index) if ci is None else ci
    ci = ci.astype("string").str.strip().replace({"": pd.NA})
    named = "not mapped: no service has the id or alias '" + ci.fillna("") + "'"
    return named.where(ci.notna(), "not mapped: no CI, and no service's match rule fits")


def _explain_pair(node: int, column: int, model: ImpactModel) -> str:
    if node == _NONE:
        return ""
    service_id = model.exposure.nodes[node]
    if column != _NONE:
        return explain(model, service_id, model.exposure.processes[column])
    blocked = [
        f"{service_id} -> {group} ({data['note']}: its failure alone does not take the group down)"
        for _, group, data in model.graph.out_edges(service_id, data=True)
        if data.get("note") and data["factor"] == 0.0
    ]
    return "; ".join(blocked) or f"{service_id} reaches no business process"


def _utc_series(values: pd.Series) -> pd.Series[pd.Timestamp]:
    stamps = pd.to_datetime(values)
    if getattr(stamps.dt, "tz", None) is None:
        return stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC")
