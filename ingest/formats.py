"""Each ingest format: how its file is read and which adapter parses it.

`read_batch` is the one place that maps a format name to its reader and adapter, so the
CLI and the flows offer exactly the same formats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from impactlens.ingest.batch import IngestBatch
from impactlens.service_map.load import read_text

from impactlens.errors import InputFileError, MissingColumnsError, excerpt
from impactlens.moments import time_zone

__all__ = ["FORMATS", "ReadBatch", "read_batch"]

FORMATS = ("servicenow", "servicenow-eventlog", "jira", "pagerduty", "csv")


@dataclass(frozen=True)
class ReadBatch:
    """A parsed file: its batch, how many records the file held, and how many wholly
    blank rows (``;;;;``) were skipped, never parsed nor quarantined (in the history file
    too, when there is one)."""

    batch: IngestBatch
    records: int
    blank_rows: int = 0


def read_batch(path: str | Path, **options) -> ReadBatch:
    """Read `path` as ``options["format"]`` (see `_read_batch`), naming the file in errors."""
    try:
        return _read_batch(path, **options)
    except MissingColumnsError as error:
        # The history file's columns are named "history CSV ..." by the adapters.
        history = options.get("history")
        file = history if history is not None and error.where.startswith("history") else path
        raise MissingColumnsError(error.missing, where=f"{file} ({error.where})") from None


def _read_batch(
    path: str | Path,
    *,
    format: str,
    source: str | None = None,
    mapping: str | Path | None = None,
    history: str | Path | None = None,
    log_entries: str | Path | None = None,
    timezone: str = "UTC",
    as_of: pd.Timestamp | None = None,
) -> ReadBatch:
    """Read `path` as `format` and parse it into an `IngestBatch`.

    `source` names the system the incidents come from (default: the format's name, or the
    mapping's ``source``); `mapping` is a YAML mapping file for ``csv`` (without one, the
    file must be the canonical incident CSV); `history` is an assignment history CSV for
    ``csv``: the canonical history columns, or, with a mapping, the columns its
    ``history`` section names (read with the mapping's delimiter, encoding and dates);
    `timezone` is the zone of naive timestamps where the format has them; `as_of`, for
    ``csv``, rejects incidents opened after it (with their file line).
    """
    if format not in FORMATS:
        raise InputFileError(f"unknown format {excerpt(format)} (use one of: {', '.join(FORMATS)})")
    # Checked before any file is read: a wrong zone would otherwise cost a full read of
    # the export first (or, for formats that ignore it, pass without a word).
    time_zone(timezone, where="--timezone")
    if mapping is not None and format != "csv":
        raise InputFileError("--mapping applies to --format csv only")
    if history is not None and format != "csv":
        raise InputFileError("--history applies to --format csv only")
    if log_entries is not None and format != "pagerduty":
        raise InputFileError("--log-entries applies to --format pagerduty only")
    if format == "pagerduty":
        from impactlens.ingest.pagerduty import parse_pagerduty

        decoded = _json_file(path, what="PagerDuty JSON")
        entries = _json_file(log_entries, what="PagerDuty log entries") if log_entries else None
        incidents = decoded.get("incidents", []) if isinstance(decoded, dict) else decoded
        batch = parse_pagerduty(decoded, source=source or "pagerduty", log_entries=entries)
        return ReadBatch(batch, len(incidents) if isinstance(incidents, list) else 0)
    if format == "csv" and mapping is None:
        from impactlens.ingest.canonical import canonical_batch, read_canonical_records

        raw, blank = read_canonical_records(path)
        assignments = None
        if history is not None:
            assignments, history_blank = read_canonical_records(history)
            blank += history_blank
        batch = canonical_batch(raw, source=source or "csv", history=assignments, as_of=as_of)
        return ReadBatch(batch, len(raw), blank)

    from impactlens.ingest.read import read_records

    if format == "csv" and mapping is not None:
        return _read_mapped(path, mapping, history=history, source=source, as_of=as_of)
    read = read_records(path)
    raw = read.rows
    if format == "jira":
        from impactlens.ingest.jira import parse_jira

        batch = parse_jira(raw, source=source or "jira", timezone=timezone)
    else:
        from impactlens.ingest.servicenow import parse_servicenow, parse_servicenow_eventlog

        parse = parse_servicenow if format == "servicenow" else parse_servicenow_eventlog
        batch = parse(raw, source=source or "servicenow", timezone=timezone)
    return ReadBatch(batch, len(raw), read.blank_rows)


def _read_mapped(
    path: str | Path,
    mapping: str | Path,
    *,
    history: str | Path | None,
    source: str | None,
    as_of: pd.Timestamp | None,
) -> ReadBatch:
    """Any CSV through a mapping file (and its history file, through the same mapping)."""
    from impactlens.ingest.mapped_csv import load_mapping, parse_mapped_csv
    from impactlens.ingest.read import read_records

    loaded = load_mapping(mapping)  # the small hand-written file first: it fails fastest
    if history is not None and loaded.activity_log is not None:
        raise InputFileError(
            f"--history: mapping {mapping} reads {path} as an activity log, which is its own "
            "history; give no --history file with it"
        )
    if history is not None and loaded.history is None:
        raise InputFileError(
            f"--history: mapping {mapping} has no history section naming the columns of "
            f"{history} (incident_id, event_time, group)"
        )
    dialect = {
        "delimiter": loaded.delimiter,
        "encoding": loaded.encoding,
        "settings": f"the mapping {mapping}",
    }
    read = read_records(path, **dialect)
    events = read_records(history, **dialect) if history is not None else None
    batch = parse_mapped_csv(
        read.rows,
        loaded,
        history=events.rows if events is not None else None,
        as_of=as_of,
        **({"source": source} if source else {}),
    )
    blank = read.blank_rows + (events.blank_rows if events is not None else 0)
    return ReadBatch(batch, len(read.rows), blank)


def _json_file(path: str | Path, *, what: str) -> Any:  # any JSON value, as json.loads
    try:
        return json.loads(read_text(path, what=what))
    except json.JSONDecodeError as error:
        raise InputFileError(
            f"{what} {path}: not valid JSON ({error.msg} at line {error.lineno}, "
            f"column {error.colno})"
        ) from None
    except RecursionError:  # json recurses once per level: "[[[[..." a million deep
        raise InputFileError(f"{what} {path}: JSON nested too deeply to read") from None
