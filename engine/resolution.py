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
import pandas as pd

from engine.columns import require_columns
from service_map.model import ServiceMap

__all__ = ["RESOLUTION_COLUMNS", "resolve_services"]

RESOLUTION_COLUMNS = ("service_id", "mapped", "mapped_by")


def resolve_services(incidents: pd.DataFrame, service_map: ServiceMap) -> pd.DataFrame:
    """A copy of `incidents` with ``service_id``, ``mapped`` and ``mapped_by`` added.

    Needs column ``ci`` (may be all missing); uses any of ``category``, ``subcategory``,
    ``assignment_group``, ``location`` that the map's rules name and the frame has.
    ``mapped_by`` is ``"ci"``, ``"match"`` or missing.

    Examples
    --------
    >>> from service_map.build import build_service_map
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
    names = _names_to_services(service_map)
    ci = _normalised(incidents["ci"])
    codes, uniques = pd.factorize(ci, use_na_sentinel=True)
    # The last entry answers for rows with no CI (code -1), even when no row has one.
    unique_services = np.array([*(names.get(name) for name in uniques), None], dtype=object)
    service_ids = unique_services[np.where(codes >= 0, codes, len(uniques))]
    mapped_by = np.where(pd.notna(service_ids), "ci", None).astype(object)

    without_ci = codes < 0
    if without_ci.any():
        matched = _match_rules(incidents.loc[without_ci], service_map)
        service_ids[without_ci] = matched
        mapped_by[without_ci] = np.where(pd.notna(matched), "match", None)

    result = incidents.copy()
    result["service_id"] = pd.array(service_ids, dtype="string")
    result["mapped"] = result["service_id"].notna().to_numpy()
    result["mapped_by"] = pd.array(mapped_by, dtype="string")
    return result


def _names_to_services(service_map: ServiceMap) -> dict[str, str]:
    names: dict[str, str] = {}
    for service in service_map.services:
        names[service.id.lower()] = service.id
        for alias in service.aliases:
            names[alias.strip().lower()] = service.id
    return names


def _normalised(values: pd.Series) -> pd.Series:
    """Lowercased, stripped text with empty strings as missing."""
    text = values.astype("string").str.strip().str.lower()
    return text.mask(text == "")


def _match_rules(incidents: pd.DataFrame, service_map: ServiceMap) -> np.ndarray:
    """Service id per row from the first matching rule, or None; rules run on unique rows."""
    rules = [(service.id, service.match) for service in service_map.services if service.match]
    columns = sorted({column for _, rule in rules for column in rule} & set(incidents.columns))
    result = np.full(len(incidents), None, dtype=object)
    if not rules or not columns:
        return result
    keys = pd.DataFrame({column: _normalised(incidents[column]) for column in columns})
    codes, combos = _factorize_rows(keys)
    combo_services = np.full(len(combos), None, dtype=object)
    for service_id, rule in rules:
        if any(column not in columns for column in rule):
            continue
        hits = np.ones(len(combos), dtype=bool)
        for column, allowed in rule.items():
            wanted = {value.strip().lower() for value in allowed}
            hits &= combos[column].isin(wanted).to_numpy()
        combo_services[hits & pd.isna(combo_services)] = service_id
    return combo_services[codes]


def _factorize_rows(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Codes per row into the frame's distinct rows (missing values compare equal)."""
    grouped = frame.groupby(list(frame.columns), dropna=False, sort=False)
    codes = grouped.ngroup().to_numpy()
    combos = grouped.size().reset_index()[list(frame.columns)]
    return codes, combos
