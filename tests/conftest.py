"""Shared factories: one small service map with overrides, and incident frames with defaults.

The base map (DESIGN.md's example, cut down) and its exposures, worked out by hand:

    pay-api --1.0--> web    --1.0--> order-to-cash   (criticality 1, 6000/h, 24x7, UTC)
    pay-api --0.4--> hr-app --0.5--> payroll         (criticality 2, 1200/h,
                                                      mon-fri 09:00-17:00, UTC)

    exposure(pay-api, order-to-cash) = 1.0 x 1.0 = 1.0
    exposure(pay-api, payroll)       = 0.4 x 0.5 = 0.2
    exposure(web, order-to-cash) = 1.0; exposure(hr-app, payroll) = 0.5; all others 0.

Fixtures are session-scoped because they hand out pure functions: hypothesis tests may
use them without a function-scoped-fixture health check.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from impactlens.service_map.build import build_service_map
from impactlens.service_map.model import ServiceMap

BASE_RECORDS: dict[str, Any] = {
    "version": 1,
    "business_processes": [
        {
            "id": "order-to-cash",
            "name": "Order to cash",
            "criticality": 1,
            "value_per_hour": 6000,
            "hours": "24x7",
            "timezone": "UTC",
        },
        {
            "id": "payroll",
            "name": "Payroll",
            "criticality": 2,
            "value_per_hour": 1200,
            "hours": "mon-fri 09:00-17:00",
            "timezone": "UTC",
        },
    ],
    "services": [
        {
            "id": "pay-api",
            "name": "Payments API",
            "aliases": ["PAYAPI01", "payments-api-prod"],
            "match": {"category": ["Payments"]},
        },
        {"id": "web", "name": "Web shop"},
        {"id": "hr-app", "name": "HR application"},
    ],
    "dependencies": [
        {"from": "web", "to": "pay-api"},
        {"from": "hr-app", "to": "pay-api", "weight": 0.4},
    ],
    "supports": [
        {"service": "web", "process": "order-to-cash"},
        {"service": "hr-app", "process": "payroll", "weight": 0.5},
    ],
}

INCIDENT_DEFAULTS: dict[str, Any] = {
    "opened_at": "2026-11-02T10:00:00Z",  # a Monday
    "resolved_at": "2026-11-02T11:00:00Z",
    "priority": 2,
    "ci": None,
    "service_id": None,
}


def base_records() -> dict[str, Any]:
    """A fresh copy of the base map's records, to change before building."""
    return copy.deepcopy(BASE_RECORDS)


def build_map(**overrides: Any) -> ServiceMap:
    """The base map with top-level keys replaced (``services=[...]``, ``scoring={...}``)
    or sections extended (``extend_services=[...]``, ``extend_dependencies=[...]``)."""
    records = base_records()
    for key, value in copy.deepcopy(overrides).items():
        section = key.removeprefix("extend_")
        records[section] = [*records.get(section, []), *value] if section != key else value
    return build_service_map(records)


def build_incidents(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A scoring-input frame: each dict over `INCIDENT_DEFAULTS`, ids ``INC1, INC2, ...``.

    ``opened_at``/``resolved_at`` become UTC-aware timestamps (``None`` -> NaT); an
    ``incident_id`` or any extra column in a row is kept.
    """
    records = [
        {"incident_id": f"INC{number}", **INCIDENT_DEFAULTS, **row}
        for number, row in enumerate(rows, start=1)
    ]
    frame = pd.DataFrame.from_records(records, columns=_columns(records))
    for column in ("opened_at", "resolved_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame["priority"] = frame["priority"].astype("int64")
    frame["service_id"] = frame["service_id"].astype("string")
    frame["ci"] = frame["ci"].astype("string")
    return frame


def build_canonical(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Canonical incidents, as the store keeps them, from `build_incidents` rows.

    What the source said is all there is: a row's ``service_id`` becomes its ``ci`` (the
    map resolves services at analysis), and the other canonical columns are empty
    unless a row gives them.
    """
    frame = build_incidents(rows)
    frame["ci"] = frame["ci"].fillna(frame["service_id"])
    frame["service_id"] = pd.array([pd.NA] * len(frame), dtype="string")
    for column in CANONICAL_TEXT:
        if column not in frame.columns:
            frame[column] = pd.array([pd.NA] * len(frame), dtype="string")
    frame["source"] = frame["source"].fillna("t")
    for column in ("closed_at", "updated_at"):
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    for column in ("reassignment_count", "reopen_count"):
        if column not in frame.columns:
            frame[column] = pd.array([pd.NA] * len(frame), dtype="Int64")
    return frame


def empty_history() -> pd.DataFrame:
    """An assignment history with no rows."""
    return pd.DataFrame({name: pd.array([], dtype="string") for name in HISTORY_TEXT}).assign(
        at=pd.Series([], dtype="datetime64[us, UTC]")
    )


CANONICAL_TEXT = ("source", "state", "category", "subcategory", "assignment_group",
                  "location", "support_tier", "short_description")  # fmt: skip
HISTORY_TEXT = ("source", "incident_id", "assignment_group", "support_tier")


def _columns(records: list[dict[str, Any]]) -> list[str]:
    columns = ["incident_id", "opened_at", "resolved_at", "priority", "ci", "service_id"]
    for record in records:
        columns.extend(key for key in record if key not in columns)
    return columns


@pytest.fixture(scope="session")
def make_map() -> Callable[..., ServiceMap]:
    """``make_map(**overrides) -> ServiceMap``; see `build_map`."""
    return build_map


@pytest.fixture(scope="session", name="base_records")
def base_records_fixture() -> Callable[[], dict[str, Any]]:
    """``base_records() -> dict``: a fresh copy of the base map's records."""
    return base_records


@pytest.fixture(scope="session")
def make_canonical() -> Callable[[list[dict[str, Any]]], pd.DataFrame]:
    """``make_canonical(rows) -> DataFrame``; see `build_canonical`."""
    return build_canonical


@pytest.fixture(scope="session")
def make_incidents() -> Callable[[list[dict[str, Any]]], pd.DataFrame]:
    """``make_incidents(rows) -> DataFrame``; see `build_incidents`."""
    return build_incidents
