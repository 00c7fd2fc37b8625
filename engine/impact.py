"""Each incident's business impact: minutes lost, value at risk, and the path that explains it.

For an incident on service ``s`` with priority ``k``, and each business process ``p``
(DESIGN.md, "Impact semantics")::

    severity          = priority_weights[k]
    impact_minutes    = severity * exposure(s, p) * business_minutes(incident, p)
    value_at_risk     = impact_minutes / 60 * value_per_hour(p)
    impact_score      = sum over p of tier_weights[criticality(p)] * impact_minutes(i, p)

Business minutes depend on a process only through its calendar (hours and time zone),
and processes share calendars. So `build_impact_model` folds exposures into per-service,
per-calendar weights once, and `score_incidents` computes business minutes once per
calendar for all incidents: no per-pair work, no per-incident loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from engine.business_minutes import business_minutes
from engine.columns import require_columns
from engine.exposure import NO_HOP, ExposureTable, compute_exposure
from impactlens.errors import InvalidIncidentsError
from impactlens.moments import utc_moment
from service_map.graph import impact_graph
from service_map.hours import WeeklyHours, weekly_hours
from service_map.model import ServiceMap

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


@dataclass(frozen=True)
class ImpactModel:
    """Everything about a map that scoring needs, computed once per map.

    Arrays indexed ``[node, calendar]`` fold the exposures of a node to the processes
    that share calendar ``calendars[c]``: ``score_weight`` (tier weight x exposure),
    ``minutes_weight`` (exposure) and ``value_weight`` (exposure x value per minute).
    ``top_process[node, c]`` is the process column with the largest tier weight x
    exposure in that calendar (``-1`` if none) and ``top_weight`` that largest value.
    """

    service_map: ServiceMap
    graph: nx.DiGraph
    exposure: ExposureTable
    calendars: tuple[WeeklyHours, ...]
    process_calendar: np.ndarray
    score_weight: np.ndarray
    minutes_weight: np.ndarray
    value_weight: np.ndarray
    top_process: np.ndarray
    top_weight: np.ndarray


def build_impact_model(service_map: ServiceMap) -> ImpactModel:
    """Graph, exposures and per-calendar weights of a validated map."""
    graph = impact_graph(service_map)
    exposure = compute_exposure(graph)
    processes = [service_map.process(process_id) for process_id in exposure.processes]
    calendar_of: dict[tuple[str, str], int] = {}
    for process in processes:
        calendar_of.setdefault((process.hours, process.timezone), len(calendar_of))
    calendars = tuple(weekly_hours(hours, zone) for hours, zone in calendar_of)
    process_calendar = np.array(
        [calendar_of[(p.hours, p.timezone)] for p in processes], dtype=np.int64
    )
    tier = np.array([service_map.scoring.tier_weights[p.criticality] for p in processes])
    value_per_minute = np.array([p.value_per_hour / 60.0 for p in processes])

    values = exposure.values
    shape = (values.shape[0], len(calendars))
    score_weight, minutes_weight, value_weight = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    top_process = np.full(shape, NO_HOP, dtype=np.int64)
    top_weight = np.zeros(shape)
    for calendar in range(len(calendars)):
        columns = np.flatnonzero(process_calendar == calendar)
        block = values[:, columns]
        weighted = block * tier[columns]
        score_weight[:, calendar] = weighted.sum(axis=1)
        minutes_weight[:, calendar] = block.sum(axis=1)
        value_weight[:, calendar] = (block * value_per_minute[columns]).sum(axis=1)
        # Ties on tier weight x exposure go to the process worth more per hour.
        ranking = weighted + 1e-12 * block * value_per_minute[columns]
        best = ranking.argmax(axis=1)
        top_weight[:, calendar] = weighted[np.arange(shape[0]), best]
        top_process[:, calendar] = np.where(block.max(axis=1) > 0, columns[best], NO_HOP)
    return ImpactModel(
        service_map=service_map,
        graph=graph,
        exposure=exposure,
        calendars=calendars,
        process_calendar=process_calendar,
        score_weight=score_weight,
        minutes_weight=minutes_weight,
        value_weight=value_weight,
        top_process=top_process,
        top_weight=top_weight,
    )


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
    minutes = _calendar_minutes(incidents, model, as_of=as_of)
    safe_nodes = np.where(mapped, nodes, 0)
    masked = mapped[:, None]

    def weighted(weights: np.ndarray) -> np.ndarray:
        return severity * np.where(masked, minutes * weights[safe_nodes], 0.0).sum(axis=1)

    contribution = np.where(masked, minutes * model.top_weight[safe_nodes], 0.0)
    best_calendar = contribution.argmax(axis=1)
    top_column = model.top_process[safe_nodes, best_calendar]
    threatened = model.top_process[safe_nodes, model.top_weight[safe_nodes].argmax(axis=1)]
    top_column = np.where(contribution.max(axis=1) > 0, top_column, threatened)
    top_column = np.where(mapped, top_column, NO_HOP)

    process_names = np.array([*model.exposure.processes, None], dtype=object)
    result = pd.DataFrame(
        {
            "incident_id": incidents["incident_id"].to_numpy(),
            "mapped": mapped,
            "service_id": incidents["service_id"].to_numpy(),
            "severity": severity,
            "impact_score": weighted(model.score_weight),
            "impact_minutes": weighted(model.minutes_weight),
            "value_at_risk": weighted(model.value_weight),
            "top_process": process_names[top_column],
            "explanation": _explanations(nodes, top_column, model),
        },
        index=incidents.index,
    )
    result.loc[~mapped, "explanation"] = _why_unmapped(incidents.loc[~mapped])
    if "mapped_by" in incidents.columns:
        result["mapped_by"] = incidents["mapped_by"].to_numpy()
    return result


def process_impacts(
    incidents: pd.DataFrame, model: ImpactModel, *, as_of: pd.Timestamp
) -> pd.DataFrame:
    """One row per (incident, process) with exposure > 0: ``PROCESS_IMPACT_COLUMNS``."""
    require_columns(incidents, SCORING_INPUT_COLUMNS, where="process_impacts")
    nodes = _node_rows(incidents["service_id"], model.exposure)
    rows, columns = np.nonzero(
        model.exposure.values[np.where(nodes >= 0, nodes, 0)] * (nodes >= 0)[:, None]
    )
    if rows.size == 0:
        return pd.DataFrame({name: [] for name in PROCESS_IMPACT_COLUMNS})
    opened, ended = _interval(incidents, as_of=as_of)
    minutes = np.zeros(rows.size)
    pair_calendars = model.process_calendar[columns]
    for calendar_index, calendar in enumerate(model.calendars):
        chosen = pair_calendars == calendar_index
        if chosen.any():
            picked = rows[chosen]
            minutes[chosen] = business_minutes(opened[picked], ended[picked], calendar)
    exposure = model.exposure.values[nodes[rows], columns]
    severity = _severity(incidents["priority"], model)[rows]
    impact_minutes = severity * exposure * minutes
    value_per_hour = np.array(
        [model.service_map.process(p).value_per_hour for p in model.exposure.processes]
    )
    return pd.DataFrame(
        {
            "incident_id": incidents["incident_id"].to_numpy()[rows],
            "process_id": np.asarray(model.exposure.processes, dtype=object)[columns],
            "exposure": exposure,
            "business_minutes": minutes,
            "impact_minutes": impact_minutes,
            "value_at_risk": impact_minutes / 60.0 * value_per_hour[columns],
        }
    )


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
    unique_rows = np.array([positions.get(str(u), NO_HOP) for u in uniques] + [NO_HOP])
    return unique_rows[np.where(codes >= 0, codes, len(uniques))]


def _severity(priority: pd.Series, model: ImpactModel) -> np.ndarray:
    levels = priority.to_numpy(dtype=np.int64)
    if levels.size and (levels.min() < 1 or levels.max() > 5):
        bad = sorted(set(levels[(levels < 1) | (levels > 5)].tolist()))[:5]
        raise InvalidIncidentsError(f"priority must be 1-5, got {bad}")
    weights = np.zeros(6)
    for level, weight in model.service_map.scoring.priority_weights.items():
        weights[level] = weight
    return weights[levels]


def _interval(incidents: pd.DataFrame, *, as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each incident's counted time, clipped to `as_of`, as naive UTC."""
    as_of = utc_moment(as_of)
    opened = _utc_series(incidents["opened_at"]).clip(upper=as_of)
    ended = _utc_series(incidents["resolved_at"]).fillna(as_of).clip(upper=as_of)
    return opened.dt.tz_localize(None).to_numpy(), ended.dt.tz_localize(None).to_numpy()


def _calendar_minutes(
    incidents: pd.DataFrame, model: ImpactModel, *, as_of: pd.Timestamp
) -> np.ndarray:
    opened, ended = _interval(incidents, as_of=as_of)
    minutes = np.zeros((len(incidents), len(model.calendars)))
    for index, calendar in enumerate(model.calendars):
        minutes[:, index] = business_minutes(opened, ended, calendar)
    return minutes


def _explanations(nodes: np.ndarray, top_column: np.ndarray, model: ImpactModel) -> np.ndarray:
    """Explanation text per incident, computed once per distinct (service, process)."""
    width = len(model.exposure.processes) + 1
    keys, codes = np.unique((nodes + 1) * width + (top_column + 1), return_inverse=True)
    texts = np.array(
        [_explain_pair(int(key // width) - 1, int(key % width) - 1, model) for key in keys],
        dtype=object,
    )
    return texts[codes]


def _why_unmapped(incidents: pd.DataFrame) -> pd.Series:
    ci = incidents["ci"] if "ci" in incidents.columns else pd.Series(pd.NA, index=incidents.index)
    ci = ci.astype("string").str.strip().replace("", pd.NA)
    named = "not mapped: no service has the id or alias '" + ci.fillna("") + "'"
    return named.where(ci.notna(), "not mapped: no CI, and no service's match rule fits")


def _explain_pair(node: int, column: int, model: ImpactModel) -> str:
    if node == NO_HOP:
        return ""
    service_id = model.exposure.nodes[node]
    if column != NO_HOP:
        return explain(model, service_id, model.exposure.processes[column])
    blocked = [
        f"{service_id} -> {group} ({note}: its failure alone does not take the group down)"
        for _, group, note in model.graph.out_edges(service_id, data="note")
        if note and model.graph.edges[service_id, group]["factor"] == 0.0
    ]
    return "; ".join(blocked) or f"{service_id} reaches no business process"


def _utc_series(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values)
    if getattr(stamps.dt, "tz", None) is None:
        return stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC")
