"""Incidents whose priority disagrees with the business impact their service threatens.

The priority a business impact suggests (DESIGN.md, "Impact semantics", for exposure and
business minutes): for each (incident, process) pair with exposure > 0::

    level = criticality(p)
          + 0  if exposure >= HARD_EXPOSURE (0.9)     the service all but stops p
          + 1  if exposure >= SOFT_EXPOSURE (0.4)     (SOFT_STEP) it degrades p
          + 2  otherwise                              (WEAK_STEP) it grazes p
          + 1  if business_minutes == 0               (OUTSIDE_HOURS_STEP) p was closed

    suggested_priority = min over the incident's pairs of level, clipped to 1..5

The pair with the lowest level decides (ties: more business minutes, then the map's
process order) and is reported with the flag. Exposures are compared with a tolerance of
1e-9, so a product such as ``0.8 x 0.5`` counts as 0.4 whatever its last bit.

Two kinds of flag:

- ``understated``: ``priority - suggested_priority >= min_gap`` (default 2). A P4 on a
  service that feeds a criticality-1 process hard, during its hours, suggests P1: gap 3.
- ``overstated``: a P1 (``OVERSTATED_PRIORITY``) on a mapped service that serves no
  business process at all, directly or through anything that depends on it. Its
  ``suggested_priority`` is left missing: the map says nothing about what it should be,
  only that nothing the business runs on stops. A member of a redundancy group that
  reaches processes only through its group (exposure 0 because its failure alone leaves
  the group up) is *not* flagged: a P1 there can be right when the other members are
  down too, which `engine.correlation` judges, not a per-incident rule.

Unmapped incidents are never flagged: their exposure is unknown.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from impactlens.engine.columns import require_columns
from impactlens.engine.impact import (
    SCORING_INPUT_COLUMNS,
    ImpactModel,
    _node_rows,
    _text_column,
    explain,
    process_impacts,
)

from impactlens.errors import InvalidIncidentsError, InvalidSettingsError

__all__ = [
    "DEFAULT_MIN_GAP",
    "HARD_EXPOSURE",
    "MISPRIORITISED_COLUMNS",
    "OUTSIDE_HOURS_STEP",
    "OVERSTATED_PRIORITY",
    "PAIR_COLUMNS",
    "SOFT_EXPOSURE",
    "SOFT_STEP",
    "WEAK_STEP",
    "misprioritised",
]

MISPRIORITISED_COLUMNS = (
    "incident_id",
    "service_id",
    "priority",
    "suggested_priority",
    "direction",
    "process_id",
    "exposure",
    "business_minutes",
    "reason",
)
# What `misprioritised` reads from `process_impacts` rows (or the caller's `pairs`).
PAIR_COLUMNS = ("incident_id", "process_id", "exposure", "business_minutes")

HARD_EXPOSURE = 0.9  # at or above: the process's own criticality
SOFT_EXPOSURE = 0.4  # at or above (below HARD_EXPOSURE): one level less urgent
SOFT_STEP = 1
WEAK_STEP = 2  # exposure below SOFT_EXPOSURE
OUTSIDE_HOURS_STEP = 1  # no minute of the incident fell in the process's hours
OVERSTATED_PRIORITY = 1
DEFAULT_MIN_GAP = 2
HIGHEST_PRIORITY, LOWEST_PRIORITY = 1, 5

_TOLERANCE = 1e-9
_NONE = -1


def misprioritised(
    incidents: pd.DataFrame,
    model: ImpactModel,
    *,
    as_of: pd.Timestamp,
    pairs: pd.DataFrame | None = None,
    min_gap: int = DEFAULT_MIN_GAP,
) -> pd.DataFrame:
    """The incidents whose priority their business impact contradicts.

    Parameters
    ----------
    incidents : DataFrame
        ``SCORING_INPUT_COLUMNS``, ``service_id`` resolved (missing = unmapped),
        ``priority`` 1-5; ``incident_id`` unique when `pairs` is given.
    model : ImpactModel
        From `engine.impact.build_impact_model`.
    as_of : Timestamp
        Open incidents count up to here (only used when `pairs` is not given).
    pairs : DataFrame, optional
        ``PAIR_COLUMNS`` of `engine.impact.process_impacts` for these incidents, when the
        caller already has them; computed otherwise. With a ``row`` column, it gives
        each pair's incident as a position in `incidents` (-1: another incident);
        without, pairs are matched by ``incident_id``. Rows of incidents not in
        `incidents` are ignored. Whether a service reaches no process at all is read
        from `model`, never from the absence of pairs.
    min_gap : int
        How many levels a priority must be below the suggested one to be flagged
        ``understated`` (at least 1).

    Returns
    -------
    DataFrame
        ``MISPRIORITISED_COLUMNS``, only flagged incidents: ``understated`` first (largest
        gap, then most business minutes, then input order), then ``overstated`` (input
        order). ``priority`` and ``suggested_priority`` are nullable ``Int64``;
        ``process_id``, ``exposure`` and ``business_minutes`` are the deciding pair's.
        An ``overstated`` row has no suggested priority, no process, exposure 0 and no
        business minutes.

    Raises
    ------
    MissingColumnsError
        When `incidents` or `pairs` lacks a needed column.
    InvalidIncidentsError
        On a priority outside 1-5, or, with `pairs`, repeated incident ids or pairs
        naming a process the map does not have.

    Examples
    --------
    A P4 on a service that alone serves a criticality-1, 24x7 process, for an hour:

    >>> from impactlens.service_map.build import build_service_map
    >>> from impactlens.engine.impact import build_impact_model
    >>> model = build_impact_model(build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "name": "Sales", "criticality": 1}],
    ...     "services": [{"id": "web"}, {"id": "intranet"}],
    ...     "supports": [{"service": "web", "process": "sales"}]}))
    >>> incidents = pd.DataFrame({"incident_id": ["A", "B"],
    ...     "opened_at": pd.to_datetime(["2026-11-02 09:00Z"] * 2),
    ...     "resolved_at": pd.to_datetime(["2026-11-02 10:00Z"] * 2),
    ...     "priority": [4, 1], "service_id": ["web", "intranet"]})
    >>> out = misprioritised(incidents, model, as_of=pd.Timestamp("2026-11-03", tz="UTC"))
    >>> out[["incident_id", "suggested_priority", "direction"]].values.tolist()
    [['A', 1, 'understated'], ['B', <NA>, 'overstated']]
    >>> print(out["reason"][0])
    P4 on web, which feeds Sales (criticality 1) at exposure 1 (web -> sales); 60 business minutes in its hours; its business impact suggests P1
    """
    require_columns(incidents, SCORING_INPUT_COLUMNS, where="misprioritised")
    if min_gap < 1:
        raise InvalidSettingsError(f"min_gap must be at least 1, got {min_gap}")
    priority = _priorities(incidents["priority"])
    nodes = _node_rows(incidents["service_id"], model.exposure)
    if pairs is None:
        pairs = process_impacts(incidents, model, as_of=as_of)
        pair_incident = _computed_pair_rows(nodes, model)
        if pair_incident.size != len(pairs):  # not the layout it documents: look ids up
            pair_incident = _given_pair_rows(pairs["incident_id"], incidents["incident_id"])
    else:
        require_columns(pairs, PAIR_COLUMNS, where="misprioritised pairs")
        if "row" in pairs.columns:  # positions in `incidents` (ids may repeat across sources)
            pair_incident = pairs["row"].to_numpy(dtype=np.int64)
        else:
            pair_incident = _given_pair_rows(pairs["incident_id"], incidents["incident_id"])

    deciding, suggested = _deciding_pairs(pairs, pair_incident, nodes, model)
    gap = priority - suggested
    understated = np.flatnonzero((deciding != _NONE) & (gap >= min_gap))
    minutes = pairs["business_minutes"].to_numpy(dtype=np.float64)
    deciding_minutes = minutes[deciding[understated]]
    # Largest gap, then most business minutes; lexsort is stable, so input order after.
    understated = understated[np.lexsort((-deciding_minutes, -gap[understated]))]
    overstated = _overstated(priority, nodes, model)

    rows = np.concatenate([understated, overstated])
    pair_rows = deciding[understated]
    none = [None] * overstated.size
    process_ids = pairs["process_id"].array.take(pair_rows).astype(object).tolist()
    exposures = pairs["exposure"].to_numpy(dtype=np.float64)[pair_rows]
    understated_minutes = minutes[pair_rows]
    service_ids = incidents["service_id"].array.take(rows).astype(object).tolist()
    suggestions = suggested[understated].tolist()
    reasons = _understated_reasons(
        model,
        priority[understated].tolist(),
        service_ids[: understated.size],
        process_ids,
        exposures.tolist(),
        understated_minutes.tolist(),
        suggestions,
    ) + [
        _overstated_reason(level, service_id)
        for level, service_id in zip(
            priority[overstated].tolist(), service_ids[understated.size :], strict=True
        )
    ]
    return pd.DataFrame(
        {
            "incident_id": _text_column(incidents["incident_id"], rows),
            "service_id": pd.array(service_ids, dtype="str"),
            "priority": pd.array(priority[rows], dtype="Int64"),
            "suggested_priority": pd.array([*suggestions, *none], dtype="Int64"),
            "direction": pd.array(
                ["understated"] * understated.size + ["overstated"] * overstated.size,
                dtype="str",
            ),
            "process_id": pd.array([*process_ids, *none], dtype="str"),
            "exposure": np.concatenate([exposures, np.zeros(overstated.size)]),
            "business_minutes": np.concatenate(
                [understated_minutes, np.full(overstated.size, np.nan)]
            ),
            "reason": pd.array(reasons, dtype="str"),
        },
        columns=list(MISPRIORITISED_COLUMNS),
    )


def _priorities(values: pd.Series) -> np.ndarray:
    """Priorities as int64, each 1-5."""
    if values.isna().any():
        raise InvalidIncidentsError("priority must be 1-5, got a missing value")
    levels = values.to_numpy(dtype=np.int64)
    bad = (levels < HIGHEST_PRIORITY) | (levels > LOWEST_PRIORITY)
    if bad.any():
        raise InvalidIncidentsError(
            f"priority must be 1-5, got {sorted(set(levels[bad].tolist()))[:5]}"
        )
    return levels


def _computed_pair_rows(nodes: np.ndarray, model: ImpactModel) -> np.ndarray:
    """The incident row of each pair that `process_impacts` gives for these incidents.

    Its rows come in incident order, each incident with one row per process its node
    reaches (the node's span of the model's sparse exposures): no lookup by id needed.
    """
    mapped = nodes != _NONE
    safe = np.where(mapped, nodes, 0)
    per_incident = np.where(mapped, model.pair_start[safe + 1] - model.pair_start[safe], 0)
    return np.repeat(np.arange(nodes.size), per_incident)


def _given_pair_rows(pair_ids: pd.Series, incident_ids: pd.Series) -> np.ndarray:
    """The incident row of each of the caller's pairs, by id (-1: not among `incident_ids`).

    Arrow's hash look-up, not a pandas ``Index``, which would turn a million ids into
    Python strings.
    """
    ids = _arrow_text(incident_ids)
    if pc.count_distinct(ids, mode="all").as_py() != len(ids):
        repeated = incident_ids[incident_ids.duplicated()].astype(str).unique().tolist()[:5]
        raise InvalidIncidentsError(f"incident_id must be unique, repeated: {repeated}")
    rows = pc.fill_null(pc.index_in(_arrow_text(pair_ids), value_set=ids), _NONE)
    positions: npt.NDArray[np.int64] = rows.to_numpy().astype(np.int64)
    return positions


def _arrow_text(values: pd.Series) -> pa.Array:
    return pa.array(values.astype("string"), type=pa.large_string())


def _deciding_pairs(
    pairs: pd.DataFrame, pair_incident: np.ndarray, nodes: np.ndarray, model: ImpactModel
) -> tuple[np.ndarray, np.ndarray]:
    """Per incident: the row in `pairs` that decides its suggested priority (-1 if none),
    and that suggested priority (0 where none, which no priority is `min_gap` above).

    `pair_incident` is each pair's incident row (-1 for pairs of other incidents).
    """
    deciding = np.full(nodes.size, _NONE, dtype=np.int64)
    suggested = np.zeros(nodes.size, dtype=np.int64)
    if len(pairs) == 0:
        return deciding, suggested
    codes, names = pd.factorize(pairs["process_id"])
    name_columns = pd.Index(model.exposure.processes).get_indexer(pd.Index(names))
    column = name_columns[codes]  # factorize gives no -1 here: pairs name a process
    exposure = pairs["exposure"].to_numpy(dtype=np.float64)
    minutes = pairs["business_minutes"].to_numpy(dtype=np.float64)
    # Pairs of other incidents, or of incidents the map does not place, say nothing here.
    usable = np.flatnonzero((pair_incident >= 0) & (exposure > 0))
    usable = usable[nodes[pair_incident[usable]] != _NONE]
    unknown = column[usable] < 0
    if unknown.any():
        missing = sorted({str(names[code]) for code in codes[usable[unknown]]})[:5]
        raise InvalidIncidentsError(f"pairs name processes that the map does not have: {missing}")
    if usable.size == 0:
        return deciding, suggested

    criticality = np.array(
        [model.service_map.process(p).criticality for p in model.exposure.processes],
        dtype=np.int64,
    )
    row, column, exposure = pair_incident[usable], column[usable], exposure[usable]
    at = np.nan_to_num(minutes[usable], nan=0.0)
    level = (
        criticality[column]
        + np.where(
            exposure >= HARD_EXPOSURE - _TOLERANCE,
            0,
            np.where(exposure >= SOFT_EXPOSURE - _TOLERANCE, SOFT_STEP, WEAK_STEP),
        )
        + np.where(at > 0, 0, OUTSIDE_HOURS_STEP)
    ).clip(HIGHEST_PRIORITY, LOWEST_PRIORITY)
    # Per incident: the lowest level, then among those pairs the most business minutes,
    # then the first process in map order. Three grouped reductions, not a sort.
    best_level = np.full(nodes.size, LOWEST_PRIORITY + 1, dtype=np.int64)
    np.minimum.at(best_level, row, level)
    chosen = np.flatnonzero(level == best_level[row])
    most_minutes = np.full(nodes.size, -np.inf)
    np.maximum.at(most_minutes, row[chosen], at[chosen])
    chosen = chosen[at[chosen] == most_minutes[row[chosen]]]
    first_column = np.full(nodes.size, column.max() + 1, dtype=np.int64)
    np.minimum.at(first_column, row[chosen], column[chosen])
    chosen = chosen[column[chosen] == first_column[row[chosen]]]
    # A repeated (incident, process) pair: the earlier row (the last write wins).
    deciding[row[chosen][::-1]] = usable[chosen][::-1]
    suggested[row[chosen]] = level[chosen]
    return deciding, suggested


def _overstated(priority: np.ndarray, nodes: np.ndarray, model: ImpactModel) -> np.ndarray:
    """Rows of P1 incidents on mapped services that serve no business process at all."""
    safe = np.where(nodes != _NONE, nodes, 0)
    reaches_none = (nodes != _NONE) & (model.pair_start[safe + 1] == model.pair_start[safe])
    candidates = np.flatnonzero((priority == OVERSTATED_PRIORITY) & reaches_none)
    if candidates.size == 0:
        return candidates
    # Exposure 0 everywhere is either no path to any process, or paths only through a
    # redundancy group the service cannot take down alone; only the first is flagged.
    # One graph search per distinct service among these few candidates.
    distinct = np.unique(nodes[candidates])
    serves_none = {
        int(node): not _reaches_a_process(model, model.exposure.nodes[node]) for node in distinct
    }
    return candidates[[serves_none[int(node)] for node in nodes[candidates]]]


def _reaches_a_process(model: ImpactModel, node: str) -> bool:
    kinds = model.graph.nodes(data="kind")
    return any(kinds[reached] == "process" for reached in nx.descendants(model.graph, node))


def _understated_reasons(
    model: ImpactModel,
    priorities: list[int],
    service_ids: list[str],
    process_ids: list[str],
    exposures: list[float],
    minutes: list[float],
    suggestions: list[int],
) -> list[str]:
    """The reason of each understated row, in words.

    A loop over the flagged rows; the path and process text is made once per distinct
    (service, process, exposure), since many flags share a few paths.
    """
    what: dict[tuple[str, str, str], str] = {}
    reasons = []
    for priority, service_id, process_id, exposure, at, suggested in zip(
        priorities, service_ids, process_ids, exposures, minutes, suggestions, strict=True
    ):
        key = (service_id, process_id, f"{round(exposure, 2):g}")
        if key not in what:
            process = model.service_map.process(process_id)
            what[key] = (
                f"which feeds {process.name} (criticality {process.criticality}) at exposure "
                f"{key[2]} ({explain(model, service_id, process_id)})"
            )
        reasons.append(
            f"P{priority} on {service_id}, {what[key]}; {_business_minutes_text(at)}; "
            f"its business impact suggests P{suggested}"
        )
    return reasons


def _business_minutes_text(minutes: float) -> str:
    if not minutes > 0:
        return "no business minutes (it fell outside that process's hours)"
    rounded = round(minutes)
    if rounded == 0:
        return "under 1 business minute in its hours"
    return f"{rounded} business minute{'' if rounded == 1 else 's'} in its hours"


def _overstated_reason(priority: int, service_id: str) -> str:
    return (
        f"P{priority} on {service_id}, which serves no business process in the map, "
        "directly or through anything that depends on it"
    )
