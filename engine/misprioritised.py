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

- ``understated``: ``priority - suggested_priority >= min_gap`` (default 2), **and
  evidence that the business was actually hit** (``require_evidence``, the default): the
  map says what an incident *could* stop, not what it did (docs/weekly.md). Only pairs
  with business minutes count (the process was open while it ran), and the incident must
  show one of `EVIDENCE_SIGNS`: ``reached_l3`` and ``reopened`` (the facts' columns), or
  ``concurrent``, a burst on the deciding process: other incidents reaching it opened
  within `CONCURRENT_WINDOW` (15 minutes) of this one, more than the process's own rate
  explains, ``P(Poisson(rate x 2 x window) >= count) < CONCURRENT_ALPHA`` (0.01), the rate
  being its incidents per hour at that hour of the day (UTC) over the incidents given (at
  least a week). Merely overlapping is no sign: a process most of the estate reaches has
  a dozen incidents open at any moment. Incidents under a shared provider count when they
  reach the process (`engine.correlation`'s common causes, far looser, are not a sign).

  ``reached_l3`` and ``reopened`` are read when `incidents` has them (`engine.facts` adds
  them; `engine.weekly.review_week` always passes them); a bare scoring frame shows only
  the concurrency sign. ``require_evidence=False`` is the map-only rule (every pair
  counts, no sign needed), still reporting the signs it sees.
- ``overstated``: a P1 (``OVERSTATED_PRIORITY``) on a mapped service that serves no
  business process at all, directly or through anything that depends on it. Its
  ``suggested_priority`` is left missing: the map says nothing about what it should be,
  only that nothing the business runs on stops. A member of a redundancy group that
  reaches processes only through its group (exposure 0 because its failure alone leaves
  the group up) is *not* flagged: a P1 there can be right when the other members are
  down too, which `engine.correlation` judges, not a per-incident rule.

Most understated first: the largest gap, then the largest ``suggested_impact_minutes``
(the impact the incident had at the priority it deserved: ``priority_weights[suggested]
x exposure x business_minutes`` of the deciding pair; its own impact cannot rank it, a
P5 weighs 0 by design), then input order. Unmapped incidents are never flagged: their
exposure is unknown.
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
from impactlens.engine.intervals import MINUTE, counted_interval
from impactlens.engine.rates import poisson_tail

from impactlens.errors import InvalidIncidentsError, InvalidSettingsError

__all__ = [
    "CONCURRENT_ALPHA",
    "CONCURRENT_WINDOW",
    "DEFAULT_MIN_GAP",
    "EVIDENCE_COLUMNS",
    "EVIDENCE_SIGNS",
    "HARD_EXPOSURE",
    "MISPRIORITISED_COLUMNS",
    "OUTSIDE_HOURS_STEP",
    "OVERSTATED_PRIORITY",
    "PAIR_COLUMNS",
    "SOFT_EXPOSURE",
    "SOFT_STEP",
    "WEAK_STEP",
    "misprioritised",
    "suggested_priorities",
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
    "suggested_impact_minutes",
    "evidence",
    "reason",
)
# What `misprioritised` reads from `process_impacts` rows (or the caller's `pairs`).
PAIR_COLUMNS = ("incident_id", "process_id", "exposure", "business_minutes")
# Facts (`engine.facts`) read as signs when `incidents` has them; booleans.
EVIDENCE_COLUMNS = ("reached_l3", "reopened")
# The signs, in the order the ``evidence`` column lists them.
EVIDENCE_SIGNS = ("reached_l3", "reopened", "concurrent")

HARD_EXPOSURE = 0.9  # at or above: the process's own criticality
SOFT_EXPOSURE = 0.4  # at or above (below HARD_EXPOSURE): one level less urgent
SOFT_STEP = 1
WEAK_STEP = 2  # exposure below SOFT_EXPOSURE
OUTSIDE_HOURS_STEP = 1  # no minute of the incident fell in the process's hours
OVERSTATED_PRIORITY = 1
DEFAULT_MIN_GAP = 2
HIGHEST_PRIORITY, LOWEST_PRIORITY = 1, 5
# Reports of one failure arrive within minutes of each other (as `engine.correlation`'s
# common causes); a burst must be rarer than this at the process's own rate.
CONCURRENT_WINDOW = pd.Timedelta(minutes=15)
CONCURRENT_ALPHA = 0.01

_TOLERANCE = 1e-9
_NONE = -1
_HOUR = 60 * MINUTE
_DAY = 24 * _HOUR
_MIN_RATE_DAYS = 7  # a process's hourly rates are taken over a week at least


def suggested_priorities(
    incidents: pd.DataFrame, model: ImpactModel, *, pairs: pd.DataFrame
) -> pd.Series:
    """The priority each incident's business impact suggests (the module's rule, every
    pair counted, no evidence needed); missing where the map places it nowhere that
    reaches a process.

    `pairs` are `engine.impact.process_impacts` of `incidents`, with ``row`` (the positions
    in `incidents`, as `engine.facts.IncidentFacts.pairs` has them) or looked up by id.

    >>> from impactlens.engine.impact import build_impact_model, process_impacts
    >>> from impactlens.service_map.build import build_service_map
    >>> model = build_impact_model(build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "criticality": 1}],
    ...     "services": [{"id": "web"}, {"id": "batch"}],
    ...     "supports": [{"service": "web", "process": "sales"}]}))
    >>> incidents = pd.DataFrame({"source": "t", "incident_id": ["A", "B"],
    ...     "opened_at": pd.Timestamp("2026-11-02 10:00", tz="UTC"),
    ...     "resolved_at": pd.Timestamp("2026-11-02 11:00", tz="UTC"),
    ...     "priority": [4, 1], "ci": None, "service_id": ["web", "batch"]})
    >>> pairs = process_impacts(incidents, model, as_of=pd.Timestamp("2026-11-03", tz="UTC"))
    >>> suggested_priorities(incidents, model, pairs=pairs).tolist()
    [1, <NA>]
    """
    nodes = _node_rows(incidents["service_id"], model.exposure)
    pair_incident = _pair_rows(pairs, incidents, where="suggested_priorities pairs")
    exposure, minutes, column = _pair_arrays(pairs, pair_incident, nodes, model)
    judge = np.ones(len(incidents), dtype=bool)
    deciding, suggested = _deciding_pairs(
        column, pair_incident, exposure, minutes, nodes, judge, model, hit_only=False
    )
    values = pd.array(suggested, dtype="Int64")
    values[deciding == _NONE] = pd.NA
    return pd.Series(values, index=incidents.index, name="suggested_priority")


def misprioritised(
    incidents: pd.DataFrame,
    model: ImpactModel,
    *,
    as_of: pd.Timestamp,
    pairs: pd.DataFrame | None = None,
    min_gap: int = DEFAULT_MIN_GAP,
    judged: npt.ArrayLike | None = None,
    require_evidence: bool = True,
) -> pd.DataFrame:
    """The incidents whose priority their business impact contradicts.

    Parameters
    ----------
    incidents : DataFrame
        ``SCORING_INPUT_COLUMNS``, ``service_id`` resolved (missing = unmapped),
        ``priority`` 1-5; ``incident_id`` unique when `pairs` is given without ``row``.
        ``EVIDENCE_COLUMNS`` (``reached_l3``, ``reopened``) are read when present.
    model : ImpactModel
        From `engine.impact.build_impact_model`.
    as_of : Timestamp
        Open incidents count up to here.
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
    judged : array of bool, optional
        Which rows of `incidents` to judge (default: all). The others are context only:
        they count as concurrent incidents and in the processes' rates, and are never
        flagged (`engine.weekly` judges the week's incidents against the whole review).
    require_evidence : bool
        Flag an understated priority only with business minutes in the deciding
        process's hours and at least one of `EVIDENCE_SIGNS` (default); False: the
        map-only rule.

    Returns
    -------
    DataFrame
        ``MISPRIORITISED_COLUMNS``, only flagged incidents: ``understated`` first (largest
        gap, then largest ``suggested_impact_minutes``, then input order), then
        ``overstated`` (input order). ``priority`` and ``suggested_priority`` are nullable
        ``Int64``; ``process_id``, ``exposure``, ``business_minutes`` and
        ``suggested_impact_minutes`` are the deciding pair's; ``evidence`` lists the signs
        seen, comma-joined in the order of `EVIDENCE_SIGNS` (empty: none, possible only
        without `require_evidence`). An ``overstated`` row has no suggested priority, no
        process, exposure 0, no business minutes and no evidence.

    Raises
    ------
    MissingColumnsError
        When `incidents` or `pairs` lacks a needed column.
    InvalidIncidentsError
        On a priority outside 1-5, or, with `pairs` matched by id, repeated incident ids,
        or pairs naming a process the map does not have.
    InvalidSettingsError
        On a `min_gap` below 1, or a `judged` mask of another length.

    Examples
    --------
    Two P4s on a service that alone serves a criticality-1, 24x7 process, for an hour;
    one of them went to third line. And a P1 on a service that serves nothing:

    >>> from impactlens.service_map.build import build_service_map
    >>> from impactlens.engine.impact import build_impact_model
    >>> model = build_impact_model(build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "name": "Sales", "criticality": 1}],
    ...     "services": [{"id": "web"}, {"id": "intranet"}],
    ...     "supports": [{"service": "web", "process": "sales"}]}))
    >>> incidents = pd.DataFrame({"incident_id": ["A", "B", "C"],
    ...     "opened_at": pd.to_datetime(["2026-11-02 09:00Z", "2026-11-03 09:00Z",
    ...                                  "2026-11-02 09:00Z"]),
    ...     "resolved_at": pd.to_datetime(["2026-11-02 10:00Z", "2026-11-03 10:00Z",
    ...                                    "2026-11-02 10:00Z"]),
    ...     "priority": [4, 4, 1], "service_id": ["web", "web", "intranet"],
    ...     "reached_l3": [True, False, False], "reopened": [False] * 3})
    >>> out = misprioritised(incidents, model, as_of=pd.Timestamp("2026-11-04", tz="UTC"))
    >>> out[["incident_id", "suggested_priority", "direction", "evidence"]].values.tolist()
    [['A', 1, 'understated', 'reached_l3'], ['C', <NA>, 'overstated', nan]]
    >>> print(out["reason"][0])
    P4 on web, which feeds Sales (criticality 1) at exposure 1 (web -> sales); 60 business minutes in its hours; a sign the business was hit: escalated to L3; its business impact suggests P1

    B shows no sign that the business was hit; the map alone would flag it:

    >>> out = misprioritised(incidents, model, as_of=pd.Timestamp("2026-11-04", tz="UTC"),
    ...                      require_evidence=False)
    >>> out["incident_id"].tolist(), out["evidence"].tolist()[:2]
    (['A', 'B', 'C'], ['reached_l3', ''])
    """
    require_columns(incidents, SCORING_INPUT_COLUMNS, where="misprioritised")
    if min_gap < 1:
        raise InvalidSettingsError(f"min_gap must be at least 1, got {min_gap}")
    priority = _priorities(incidents["priority"])
    nodes = _node_rows(incidents["service_id"], model.exposure)
    judge = _judged(judged, len(incidents))
    if pairs is None:
        pairs = process_impacts(incidents, model, as_of=as_of)
        pair_incident = _computed_pair_rows(nodes, model)
        if pair_incident.size != len(pairs):  # not the layout it documents: look ids up
            pair_incident = _given_pair_rows(pairs["incident_id"], incidents["incident_id"])
    else:
        pair_incident = _pair_rows(pairs, incidents, where="misprioritised pairs")
    exposure, minutes, column = _pair_arrays(pairs, pair_incident, nodes, model)
    deciding, suggested = _deciding_pairs(
        column, pair_incident, exposure, minutes, nodes, judge, model, hit_only=require_evidence
    )
    gap = priority - suggested
    candidates = np.flatnonzero(judge & (deciding != _NONE) & (gap >= min_gap))
    signs = _signs(incidents, candidates)
    concurrent, others, expected = _bursts(
        incidents, candidates, column[deciding[candidates]], column, pair_incident, exposure,
        as_of=as_of,
    )  # fmt: skip
    signs[:, EVIDENCE_SIGNS.index("concurrent")] = concurrent
    if require_evidence:
        shown = signs.any(axis=1)
        candidates, signs = candidates[shown], signs[shown]
        others, expected = others[shown], expected[shown]
    pair_rows = deciding[candidates]
    deserved = (
        _priority_weights(model)[suggested[candidates]] * exposure[pair_rows] * minutes[pair_rows]
    )
    # Largest gap, then largest deserved impact; lexsort is stable, so input order after.
    order = np.lexsort((-deserved, -gap[candidates]))
    understated, signs, pair_rows = candidates[order], signs[order], pair_rows[order]
    others, expected, deserved = others[order], expected[order], deserved[order]
    overstated = _overstated(priority, nodes, judge, model)

    rows = np.concatenate([understated, overstated])
    none = [None] * overstated.size
    process_ids = pairs["process_id"].array.take(pair_rows).astype(object).tolist()
    exposures = exposure[pair_rows]
    understated_minutes = minutes[pair_rows]
    service_ids = incidents["service_id"].array.take(rows).astype(object).tolist()
    suggestions = suggested[understated].tolist()
    evidence = [
        ",".join(sign for sign, seen in zip(EVIDENCE_SIGNS, row, strict=True) if seen)
        for row in signs.tolist()
    ]
    reasons = _understated_reasons(
        model,
        priority[understated].tolist(),
        service_ids[: understated.size],
        process_ids,
        exposures.tolist(),
        understated_minutes.tolist(),
        suggestions,
        signs,
        others.tolist(),
        expected.tolist(),
        known=[name in incidents.columns for name in EVIDENCE_COLUMNS],
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
            "suggested_impact_minutes": np.concatenate(
                [deserved, np.full(overstated.size, np.nan)]
            ),
            "evidence": pd.array([*evidence, *none], dtype="str"),
            "reason": pd.array(reasons, dtype="str"),
        },
        columns=list(MISPRIORITISED_COLUMNS),
    )


def _judged(judged: npt.ArrayLike | None, count: int) -> npt.NDArray[np.bool_]:
    """The rows to judge, as a boolean mask (all when not given)."""
    if judged is None:
        return np.ones(count, dtype=bool)
    mask = np.asarray(judged, dtype=bool)
    if mask.shape != (count,):
        raise InvalidSettingsError(
            f"judged must hold one value per incident ({count}), got shape {mask.shape}"
        )
    return mask


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


def _pair_rows(pairs: pd.DataFrame, incidents: pd.DataFrame, *, where: str) -> np.ndarray:
    """Each given pair's position in `incidents`: its ``row`` where it has one (ids may
    repeat across sources), else looked up by incident id."""
    require_columns(pairs, PAIR_COLUMNS, where=where)
    if "row" in pairs.columns:
        rows: np.ndarray = pairs["row"].to_numpy(dtype=np.int64)
        return rows
    return _given_pair_rows(pairs["incident_id"], incidents["incident_id"])


def _pair_arrays(
    pairs: pd.DataFrame, pair_incident: np.ndarray, nodes: np.ndarray, model: ImpactModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs' exposure, business minutes (missing: 0) and process columns."""
    exposure = pairs["exposure"].to_numpy(dtype=np.float64)
    minutes = np.nan_to_num(pairs["business_minutes"].to_numpy(dtype=np.float64), nan=0.0)
    column = _process_columns(pairs["process_id"], pair_incident, exposure, nodes, model)
    return exposure, minutes, column


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


def _process_columns(
    process_ids: pd.Series,
    pair_incident: np.ndarray,
    exposure: np.ndarray,
    nodes: np.ndarray,
    model: ImpactModel,
) -> np.ndarray:
    """Each pair's process as a column of the model's exposure table.

    A process the map does not have is an error on the pairs that would be used (of
    these incidents, mapped, exposure > 0); elsewhere it is -1 and never read.
    """
    codes, names = pd.factorize(process_ids)
    name_columns = pd.Index(model.exposure.processes).get_indexer(pd.Index(names))
    column: npt.NDArray[np.int64] = np.append(name_columns, _NONE)[codes]  # -1: no name
    used = (pair_incident >= 0) & (exposure > 0)
    used[used] = nodes[pair_incident[used]] != _NONE
    unknown = used & (column < 0)
    if unknown.any():
        missing = sorted({str(names[code]) for code in codes[unknown]})[:5]
        raise InvalidIncidentsError(f"pairs name processes that the map does not have: {missing}")
    return column


def _deciding_pairs(
    column: np.ndarray,
    pair_incident: np.ndarray,
    exposure: np.ndarray,
    minutes: np.ndarray,
    nodes: np.ndarray,
    judge: np.ndarray,
    model: ImpactModel,
    *,
    hit_only: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Per judged incident: the row in the pairs that decides its suggested priority (-1
    if none), and that suggested priority (0 where none, which no priority is `min_gap`
    above).

    `pair_incident` is each pair's incident row (-1 for pairs of other incidents);
    `hit_only`: only pairs with business minutes count.
    """
    deciding = np.full(nodes.size, _NONE, dtype=np.int64)
    suggested = np.zeros(nodes.size, dtype=np.int64)
    # Pairs of other incidents, of incidents not judged, or of incidents the map does
    # not place, say nothing here.
    counted = (pair_incident >= 0) & (exposure > 0)
    counted[counted] = judge[pair_incident[counted]]
    usable = np.flatnonzero(counted & (minutes > 0) if hit_only else counted)
    usable = usable[nodes[pair_incident[usable]] != _NONE]
    if usable.size == 0:
        return deciding, suggested

    criticality = np.array(
        [model.service_map.process(p).criticality for p in model.exposure.processes],
        dtype=np.int64,
    )
    row, column, exposure, at = (
        pair_incident[usable], column[usable], exposure[usable], minutes[usable]
    )  # fmt: skip
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


def _signs(incidents: pd.DataFrame, rows: np.ndarray) -> npt.NDArray[np.bool_]:
    """Per row of `rows`: which of `EVIDENCE_SIGNS` it shows, from `EVIDENCE_COLUMNS`
    (a column `incidents` lacks shows nothing; ``concurrent`` is left False here)."""
    signs = np.zeros((rows.size, len(EVIDENCE_SIGNS)), dtype=bool)
    for position, name in enumerate(EVIDENCE_COLUMNS):
        if name in incidents.columns:
            values = incidents[name].iloc[rows].astype("boolean").fillna(False)
            signs[:, position] = values.to_numpy(dtype=bool)
    return signs


def _bursts(
    incidents: pd.DataFrame,
    rows: np.ndarray,
    row_columns: np.ndarray,
    column: np.ndarray,
    pair_incident: np.ndarray,
    exposure: np.ndarray,
    *,
    as_of: pd.Timestamp,
) -> tuple[npt.NDArray[np.bool_], np.ndarray, np.ndarray]:
    """The ``concurrent`` sign of incidents `rows`, each on its deciding process column.

    Returns whether it shows, how many other incidents reaching that process opened
    within `CONCURRENT_WINDOW` of it, and how many the process's rate at that hour of the
    day would give. Counted on sorted (process, opening) keys with binary searches, for
    all rows at once.
    """
    count = np.zeros(rows.size, dtype=np.int64)
    expected = np.zeros(rows.size)
    if rows.size == 0:
        return np.zeros(0, dtype=bool), count, expected
    start, end = counted_interval(incidents, as_of=as_of)
    opened = np.flatnonzero(start < end)  # a missing or later opening reports nothing
    reported = np.zeros(len(incidents), dtype=bool)
    reported[opened] = True
    # Every (incident, process) that reports on the process: exposure > 0, known time.
    context = np.flatnonzero((pair_incident >= 0) & (exposure > 0) & (column >= 0))
    context = context[reported[pair_incident[context]]]
    at, on = start[pair_incident[context]], column[context]
    window = int(CONCURRENT_WINDOW / pd.Timedelta(microseconds=1))
    mine = start[rows]

    # Only reports opened near the judged incidents can be counted (a week's out of a
    # review's months); ranks of every moment involved, so (process, moment) fits one
    # int64 key.
    near = (at >= mine.min() - window) & (at <= mine.max() + window)
    times = np.unique(np.concatenate([at[near], mine - window, mine + window]))
    span = times.size + 1
    keys = np.sort(on[near] * span + np.searchsorted(times, at[near]))
    low = row_columns * span + np.searchsorted(times, mine - window)
    high = row_columns * span + np.searchsorted(times, mine + window)
    within = np.searchsorted(keys, high, side="right") - np.searchsorted(keys, low)
    count = within - reported[rows]  # not itself

    # The process's reports per hour, at each hour of the day, over the days given.
    processes = max(int(column.max(initial=0)) + 1, int(row_columns.max()) + 1)
    first, last = (start[opened].min(), start[opened].max()) if opened.size else (0, 0)
    days = max((last - first) / _DAY, _MIN_RATE_DAYS)
    hour = (at // _HOUR) % 24
    per_hour = np.bincount(on * 24 + hour, minlength=processes * 24) / days
    expected = per_hour[row_columns * 24 + (mine // _HOUR) % 24] * (2 * window / _HOUR)
    burst = (count > 0) & (poisson_tail(count, expected) < CONCURRENT_ALPHA)
    return burst, count, expected


def _priority_weights(model: ImpactModel) -> np.ndarray:
    """Severity by priority level (index 0 unused): the map's ``priority_weights``."""
    weights = np.zeros(LOWEST_PRIORITY + 1)
    for level, weight in model.service_map.scoring.priority_weights.items():
        weights[level] = weight
    return weights


def _overstated(
    priority: np.ndarray, nodes: np.ndarray, judge: np.ndarray, model: ImpactModel
) -> np.ndarray:
    """Rows of judged P1 incidents on mapped services that serve no business process."""
    safe = np.where(nodes != _NONE, nodes, 0)
    reaches_none = (nodes != _NONE) & (model.pair_start[safe + 1] == model.pair_start[safe])
    candidates = np.flatnonzero(judge & (priority == OVERSTATED_PRIORITY) & reaches_none)
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
    signs: npt.NDArray[np.bool_],
    others: list[int],
    expected: list[float],
    *,
    known: list[bool],
) -> list[str]:
    """The reason of each understated row, in words.

    A loop over the flagged rows; the path and process text is made once per distinct
    (service, process, exposure), since many flags share a few paths. `known`: whether
    each of `EVIDENCE_COLUMNS` was there to read.
    """
    what: dict[tuple[str, str, str], str] = {}
    reasons = []
    for priority, service_id, process_id, exposure, at, suggested, seen, count, mean in zip(
        priorities, service_ids, process_ids, exposures, minutes, suggestions, signs.tolist(),
        others, expected, strict=True,
    ):  # fmt: skip
        key = (service_id, process_id, f"{round(exposure, 2):g}")
        process = model.service_map.process(process_id)
        if key not in what:
            what[key] = (
                f"which feeds {process.name} (criticality {process.criticality}) at exposure "
                f"{key[2]} ({explain(model, service_id, process_id)})"
            )
        reasons.append(
            f"P{priority} on {service_id}, {what[key]}; {_business_minutes_text(at)}"
            f"{_evidence_text(seen, count, mean, process.name, known)}; "
            f"its business impact suggests P{suggested}"
        )
    return reasons


def _evidence_text(
    seen: list[bool], count: int, expected: float, process: str, known: list[bool]
) -> str:
    """The signs that the business was hit, in words, to follow the business minutes."""
    reached_l3, reopened, concurrent = seen
    what = [
        text
        for text, shown in (
            ("escalated to L3", reached_l3),
            ("reopened", reopened),
            (
                f"{count} other incident{'' if count == 1 else 's'} reaching {process} "
                f"opened within {_window_text()} of it ({expected:.1f} expected at that hour)",
                concurrent,
            ),
        )
        if shown
    ]
    if what:
        return f"; {'a sign' if len(what) == 1 else 'signs'} the business was hit: " + ", ".join(
            what
        )
    unknown = [name for name, there in zip(("L3", "reopens"), known, strict=True) if not there]
    return "; no sign that the business was hit" + (
        f" ({' and '.join(unknown)} not known)" if unknown else ""
    )


def _window_text() -> str:
    minutes = round(CONCURRENT_WINDOW / pd.Timedelta(minutes=1))
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


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
