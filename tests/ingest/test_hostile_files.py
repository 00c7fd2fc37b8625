"""Hostile and broken ingest input: refused with one short line, or quarantined briefly.

A file that cannot be read is an `InputFileError` naming it (never a traceback); a
value that cannot be read rejects its row with a reason that quotes only an excerpt.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pandas as pd
import pytest
from impactlens.ingest.canonical import read_canonical_csv
from impactlens.ingest.formats import read_batch
from impactlens.ingest.jira import parse_jira
from impactlens.ingest.mapped_csv import load_mapping, parse_mapped_csv
from impactlens.ingest.servicenow import parse_servicenow

from impactlens.errors import (
    ImpactlensError,
    InputFileError,
    InvalidTimezoneError,
    MappingValidationError,
)

GOOD = "incident_id,opened_at,priority,ci\nINC1,2026-11-02T09:00:00Z,2,web\n"
HUGE = "x" * 2_000_000


def billion_laughs() -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]
    return "\n".join(lines) + "\ncolumns: {Ref: incident_id}\n"


# --- the canonical CSV that is not UTF-8 -------------------------------------------------


def test_a_latin1_canonical_csv_names_the_line_and_byte(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_bytes((GOOD + "INC2,2026-11-02T09:00:00Z,3,caf\u00e9\n").encode("latin-1"))
    with pytest.raises(InputFileError) as caught:
        read_canonical_csv(path)
    assert str(caught.value) == (
        f"incidents {path}: not UTF-8 text (line 3, column 32: byte 0xe9); "
        "save it as UTF-8 (it may be Latin-1 or Windows-1252)"
    )


def test_a_latin1_header_is_refused_the_same_way(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_bytes("incident_id,opened_at,priority,descripci\u00f3n\n".encode("latin-1"))
    with pytest.raises(InputFileError, match=r"not UTF-8 text \(line 1, column 41: byte 0xf3\)"):
        read_canonical_csv(path)


def test_a_latin1_gzipped_canonical_csv_is_refused(tmp_path: Path):
    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress((GOOD + "INC2,2026-11-02,3,\u00e9\n").encode("latin-1")))
    with pytest.raises(InputFileError, match=r"not UTF-8 text \(line 3"):
        read_canonical_csv(path)


def test_utf8_text_still_reads(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text(GOOD + "INC2,2026-11-02T09:00:00Z,3,caf\u00e9\n", encoding="utf-8")
    assert read_canonical_csv(path)["ci"].tolist() == ["web", "caf\u00e9"]


# --- options and mapping files are checked before the export is read --------------------


def test_an_unknown_time_zone_is_refused_before_the_file_is_read(tmp_path: Path):
    for format in ("servicenow", "jira", "csv", "pagerduty"):
        with pytest.raises(InvalidTimezoneError) as caught:
            read_batch(tmp_path / "missing.csv", format=format, timezone="Mars/Olympus")
        assert str(caught.value) == (
            "--timezone: time zone 'Mars/Olympus' is not an IANA zone name "
            "(for example Europe/Berlin or UTC)"
        )


def test_a_billion_laughs_mapping_is_refused_before_the_export_is_read(tmp_path: Path):
    (tmp_path / "bomb.yaml").write_text(billion_laughs())
    started = time.perf_counter()
    with pytest.raises(InputFileError, match=r"^mapping .*bomb\.yaml: line \d+, column \d+: too"):
        read_batch(tmp_path / "missing.csv", format="csv", mapping=tmp_path / "bomb.yaml")
    assert time.perf_counter() - started < 2.0


def test_an_oversized_mapping_is_refused(tmp_path: Path):
    path = tmp_path / "huge.yaml"
    path.write_text("columns: {Ref: incident_id}\n" + "#\n" * 3_000_000)
    with pytest.raises(InputFileError, match=r"over the 5\.0 MiB \(5,242,880 bytes\)"):
        load_mapping(path)


def test_a_mapping_with_a_huge_key_lists_a_short_issue(tmp_path: Path):
    path = tmp_path / "mapping.yaml"
    path.write_text(
        f'columns:\n  ? "{HUGE}"\n  : incident_id\n  When: opened_at\n  Sev: priority\n'
    )
    path.write_text(path.read_text() + f"defaults: {{{'y' * 300}: 1}}\n")
    with pytest.raises(MappingValidationError) as caught:
        load_mapping(path)
    assert len(str(caught.value)) < 1_000


def test_deeply_nested_json_is_refused(tmp_path: Path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    for format in ("servicenow", "pagerduty"):
        with pytest.raises(InputFileError, match="JSON nested too deeply to read"):
            read_batch(path, format=format)


def test_a_bad_default_priority_is_an_impactlens_error():
    raw = pd.DataFrame({"Issue key": ["A-1"], "Created": ["2026-11-02"]}, dtype="string")
    with pytest.raises(ImpactlensError, match="default_priority 9 is not a whole number 1-5"):
        parse_jira(raw, default_priority=9)


# --- rejected rows quote only an excerpt of a huge value --------------------------------


def test_servicenow_reasons_quote_an_excerpt():
    raw = pd.DataFrame(
        {"number": ["INC1", "INC2"], "opened_at": [HUGE, "2026-11-02 09:00:00"],
         "priority": ["3", HUGE]},
        dtype="string",
    )  # fmt: skip
    reasons = parse_servicenow(raw).rejected["reason"].tolist()
    assert len(reasons) == 2
    assert all(len(reason) < 250 for reason in reasons), reasons
    assert all("(2,000,000 characters)" in reason for reason in reasons)


def test_mapped_csv_reasons_quote_an_excerpt():
    raw = pd.DataFrame(
        {"Ref": ["A", HUGE, HUGE], "When": [HUGE, "2026-11-02", "2026-11-02"],
         "Sev": ["1", "1", "1"]},
        dtype="string",
    )  # fmt: skip
    mapping = {"columns": {"Ref": "incident_id", "When": "opened_at", "Sev": "priority"}}
    reasons = parse_mapped_csv(raw, mapping).rejected["reason"].tolist()
    assert len(reasons) == 2  # the bad date, and the duplicate id
    assert all(len(reason) < 300 for reason in reasons), reasons
