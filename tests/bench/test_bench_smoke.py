"""Smoke test of the benchmark generators at tiny size (no timing assertions)."""

from __future__ import annotations

import pandas as pd
from impactlens.ingest.canonical import parse_canonical_incidents, read_canonical_csv
from impactlens.service_map.build import build_service_map

from bench.mapgen import (
    INCIDENTS_AS_OF,
    generate_incidents_csv,
    generate_map_records,
    generate_random_map_records,
    map_edge_count,
    reach_counts,
)


def test_generated_map_validates_with_the_requested_shape():
    records = generate_map_records(services=300, processes=30, edges=900, seed=1)
    service_map = build_service_map(records)
    assert len(service_map.services) == 300
    assert len(service_map.processes) == 30
    assert abs(map_edge_count(records) - 900) <= 0.05 * 900
    assert any(s.kind == "redundancy_group" for s in service_map.services)
    reach = sorted(reach_counts(records).values())
    # Clustered by business domain: a typical service reaches a handful of processes.
    assert reach[len(reach) // 2] <= 10
    assert reach[int(len(reach) * 0.9)] < 30


def test_generation_is_deterministic():
    assert generate_map_records(200, 20, 600, seed=3) == generate_map_records(200, 20, 600, seed=3)


def test_random_map_validates():
    records = generate_random_map_records(services=200, processes=20, edges=600, seed=1)
    build_service_map(records)
    assert map_edge_count(records) == 600


def test_generated_csv_parses_without_rejects(tmp_path):
    records = generate_map_records(services=200, processes=20, edges=600, seed=2)
    path = generate_incidents_csv(tmp_path / "incidents.csv", records, n=2_000, seed=2)
    raw = read_canonical_csv(path)
    assert list(raw.columns) == [
        "incident_id",
        "opened_at",
        "resolved_at",
        "priority",
        "ci",
        "category",
        "subcategory",
        "assignment_group",
    ]
    incidents, rejected = parse_canonical_incidents(raw, as_of=pd.Timestamp(INCIDENTS_AS_OF))
    assert len(rejected) == 0
    assert len(incidents) == 2_000
    open_share = incidents["resolved_at"].isna().mean()
    assert 0.005 < open_share < 0.06
    first = path.read_text().splitlines()[1]
    assert "Z" in first and "T" in first


def test_csv_is_cached_by_parameters(tmp_path):
    records = generate_map_records(services=200, processes=20, edges=600, seed=2)
    first = generate_incidents_csv(tmp_path, records, n=500, seed=0)
    again = generate_incidents_csv(tmp_path, records, n=500, seed=0)
    other = generate_incidents_csv(tmp_path, records, n=501, seed=0)
    assert first == again and first.parent == tmp_path
    assert other != first
