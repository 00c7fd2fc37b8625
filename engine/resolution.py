"""Which service each incident is on.

An incident's ``ci`` is compared, case-insensitively and without surrounding spaces, with
every service's id and aliases. Incidents with no ``ci`` are then tried against the
services' ``match`` rules, in map order (the first service whose rule matches wins): a rule
matches when, for every column it names, the incident's value is one of the listed values
(case-insensitive). An incident whose ``ci`` names nothing in the map stays unmapped, so
the map owner sees the CI to add rather than a guess. Unmapped incidents are kept.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from impactlens.engine.columns import require_columns
from impactlens.service_map.model import ServiceMap

__all__ = ["RESOLUTION_COLUMNS", "resolve_services", "service_named"]

RESOLUTION_COLUMNS = ("service_id", "mapped", "mapped_by")

# ``mapped_by`` values, by code.
_HOW = ("ci", "match", None)
_BY_CI, _BY_MATCH, _BY_NOTHING = range(len(_HOW))


def resolve_services(incidents: pd.DataFrame, service_map: ServiceMap) -> pd.DataFrame:
    """A copy of `incidents` with ``service_id``, ``mapped`` and ``mapped_by`` added.

    Needs column ``ci`` (may be all missing); uses any of ``category``, ``subcategory``,
    ``assignment_group``, ``location`` that the map's rules name and the frame has.
    ``mapped_by`` is ``"ci"``, ``"match"`` or missing.

    Examples
    --------
    >>> from impactlens.service_map.build import build_service_map
    >>> m = build_service_map({"version": 1,
    ...     "business_processes": [{"id": "sales", "criticality": 1}],
    ...     "services": [{"id": "pay-api", "aliases": ["PAYAPI01"],
    ...                   "match": {"category": ["Payments"]}}]})
    >>> frame = pd.DataFrame({"ci": ["payapi01", None, "FAX-9"],
    ...                       "category": ["Network", "payments", "Payments"]})
    >>> resolve_services(frame, m)[["service_id", "mapped", "mapped_by"]].values.tolist()
    [['pay-api', True, 'ci'], ['pay-api', True, 'match'], [<NA>, False, <NA>]]
    """
    require_columns(incidents, ["ci"], where="resolve_services")
    # Everything below works on small integer codes: each incident's row in `service_ids`
    # (`unmapped` when none) and in `_HOW`. Text is made once, at the end, by Arrow
    # ``take`` from the few distinct values: a million-element object array of Python
    # strings would cost more than all the rest.
    service_ids = service_map.service_ids
    unmapped = len(service_ids)
    service_of_name = service_map.service_positions
    # Factorize the raw CI first and normalise only its distinct values: ~10,000
    # strips and lowercases instead of 1,000,000.
    codes, uniques = pd.factorize(incidents["ci"], use_na_sentinel=True)
    names = _normalised(pd.Series(uniques, dtype="string"))
    # A last entry answers for rows with no CI (code -1), even when no row has one.
    distinct = np.where(codes >= 0, codes, len(uniques))
    has_ci = np.append(names.notna().to_numpy(), False)[distinct]  # not missing, not spaces
    distinct_rows = [service_of_name.get(name, unmapped) for name in names.fillna("").tolist()]
    row = np.array([*distinct_rows, unmapped], dtype=np.int64)[distinct]
    how = np.where(row != unmapped, _BY_CI, _BY_NOTHING)

    without_ci = ~has_ci
    if without_ci.any():
        matched = _match_rules(incidents, without_ci, service_map)
        row[without_ci] = matched
        how[without_ci] = np.where(matched != unmapped, _BY_MATCH, _BY_NOTHING)

    # A shallow copy: the caller's frame is not touched, and its columns are not copied.
    result = incidents.copy(deep=False)
    # Text for the services placed only (a handful for one incident, of thousands).
    placed = np.flatnonzero(np.bincount(row, minlength=unmapped + 1))
    renumber = np.zeros(unmapped + 1, dtype=np.int64)
    renumber[placed] = np.arange(len(placed))
    placed_ids = [service_ids[index] if index < unmapped else None for index in placed.tolist()]
    result["service_id"] = pd.array(placed_ids, dtype="string").take(renumber[row])
    result["mapped"] = row != unmapped
    result["mapped_by"] = pd.array(_HOW, dtype="string").take(how)
    return result


def service_named(service_map: ServiceMap, name: str) -> str | None:
    """The id of the service whose id or alias is `name` (case-insensitive), or None.

    >>> from impactlens.service_map.build import build_service_map
    >>> m = build_service_map({"version": 1, "business_processes": [{"id": "s", "criticality": 1}],
    ...     "services": [{"id": "pay-api", "aliases": ["PAYAPI01"]}]})
    >>> service_named(m, " payapi01 "), service_named(m, "nope")
    ('pay-api', None)
    """
    index = service_map.service_positions.get(name.strip().lower())
    return None if index is None else service_map.services[index].id


def names_to_services(service_map: ServiceMap) -> dict[str, str]:
    """Every id and alias of the map's services (lowercased, stripped) -> the service id."""
    services = service_map.services
    return {name: services[index].id for name, index in service_map.service_positions.items()}


def _normalised(values: pd.Series) -> pd.Series:
    """Lowercased, stripped text with empty strings as missing."""
    text = values.astype("string").str.strip().str.lower()
    return text.mask(text == "")


def _match_rules(incidents: pd.DataFrame, rows: np.ndarray, service_map: ServiceMap) -> np.ndarray:
    """Per row picked by the mask `rows`, the map position of the service whose rule
    matches first, or the number of services when none does.

    Only the columns the rules name are taken from those rows, and the rules are tried
    on their distinct combinations.
    """
    services = service_map.services
    rules = [(index, service.match) for index, service in enumerate(services) if service.match]
    columns = sorted({column for _, rule in rules for column in rule} & set(incidents.columns))
    unmapped = len(services)
    if not rules or not columns:
        return np.full(int(rows.sum()), unmapped, dtype=np.int64)
    keys = pd.DataFrame({column: _normalised(incidents[column][rows]) for column in columns})
    codes, combos = _factorize_rows(keys)
    combo_services = np.full(len(combos), unmapped, dtype=np.int64)
    for index, rule in rules:
        if any(column not in columns for column in rule):
            continue
        hits = np.ones(len(combos), dtype=bool)
        for column, allowed in rule.items():
            wanted = {value.strip().lower() for value in allowed}
            hits &= combos[column].isin(wanted).to_numpy()
        combo_services[hits & (combo_services == unmapped)] = index
    positions: npt.NDArray[np.int64] = combo_services[codes]
    return positions


def _factorize_rows(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Codes per row into the frame's distinct rows (missing values compare equal)."""
    grouped = frame.groupby(list(frame.columns), dropna=False, sort=False)
    codes = grouped.ngroup().to_numpy()
    combos = grouped.size().reset_index()[list(frame.columns)]
    return codes, combos
