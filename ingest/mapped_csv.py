"""Any CSV export as canonical incidents, through a small YAML mapping file.

The mapping names which source column holds which canonical column, how the source's
values translate (``Urgent`` -> priority 1), how its dates and numbers are written, how
the file is separated and encoded, whether it is an activity log (a row per event) or
comes with a history file, and the support tiers its group names carry. `load_mapping`
reads and validates the file (`ingest.mapping`), reporting every problem with its place;
the pure `parse_mapped_csv` applies a mapping to rows. The format is documented, with
worked examples, in ``docs/ingest-mapping.md``::

    source: remedy                     # the source of every row (default "csv")
    columns:                           # source column -> canonical column
      Incident Number: incident_id
      Submit Date: opened_at
      Priority: priority
    values:                            # per canonical column: source value -> value
      priority: {Critical: 1, High: 2, Medium: 3, Low: 4}
    date_format: "%m/%d/%Y %I:%M:%S %p"  # strptime (or a list); or day_first: true
    timezone: America/New_York         # IANA zone of naive timestamps (default UTC)
    defaults: {category: Hardware}     # canonical column -> value when missing
    delimiter: ";"                     # , ; | or "\t" (default ,)
    decimal: ","                       # , or . (default .)
    encoding: latin-1                  # utf-8, utf-8-sig, latin-1 or cp1252 (default utf-8)
    tier_patterns: [[L3, "(?i)3rd"], [L2, "(?i)2nd"]]  # group name -> tier, at ingest
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from impactlens.engine.tiers import TIERS, TierPattern, group_name_tiers
from impactlens.ingest.batch import TIMESTAMP_COLUMNS, IngestBatch
from impactlens.ingest.mapped_events import activity_log_batch, with_history_file
from impactlens.ingest.mapping import (
    COUNT_COLUMNS,
    MAPPABLE_COLUMNS,
    CsvMapping,
    MappingValidationError,
    build_mapping,
    load_mapping,
)
from impactlens.ingest.rows import (
    RowProblems,
    assemble_batch,
    opening_history,
    reject_bad_text,
    row_lines,
    rows_as_json,
)
from impactlens.ingest.values import (
    INTEGER_COLUMNS,
    describe_formats,
    leading_number,
    listed_values,
    missing_as_na,
    parse_timestamps,
    priority_from_text,
    whole_numbers,
    with_decimal_point,
)

from impactlens.errors import InputFileError, MissingColumnsError, excerpt

__all__ = [
    "MAPPABLE_COLUMNS",
    "CsvMapping",
    "MappingValidationError",
    "build_mapping",
    "clean_headers",
    "load_mapping",
    "parse_mapped_csv",
    "with_tier_patterns",
]

Scalar = str | int | float


def parse_mapped_csv(
    raw: pd.DataFrame,
    mapping: CsvMapping | Mapping[str, Any],
    *,
    source: str | None = None,
    as_of: pd.Timestamp | str | None = None,
    history: pd.DataFrame | None = None,
) -> IngestBatch:
    """Canonical incidents from any CSV's rows, through a mapping.

    Parameters
    ----------
    raw
        The rows, every field as text (NA for missing), index ``line`` when read from a
        file.
    mapping
        A `CsvMapping`, or the decoded YAML (validated here).
    source
        The ``source`` of every row; defaults to the mapping's ``source``.
    as_of
        When given, incidents opened after it are rejected.
    history
        The rows of a history file (an activity log of the incidents), read through the
        mapping's ``history`` section: its events become the assignment history.

    Every source column under ``columns`` (and ``activity_log``) must be in `raw`. Values
    are read as follows: timestamps with ``date_format`` (or ``day_first``), then ISO
    8601; ``priority``, ``impact`` and ``urgency`` through ``values`` (case-insensitive),
    else as numbers (``2``, ``2 - High``, ``P2``; ``2,0`` with ``decimal: ","``); counts
    as whole numbers; ``support_tier`` through ``values``, else ``L1``/``L2``/``L3``; text
    through ``values`` where a value is listed, as it is otherwise. ``defaults`` fill
    what is still missing. A value that cannot be read rejects its row, with the reason.
    With ``activity_log``, each incident is its latest event (`activity_log_batch`).
    With ``tier_patterns``, the assignment history's tiers are set from its group names
    (`with_tier_patterns`).

    Examples
    --------
    >>> raw = pd.DataFrame({"Ticket": ["SR-1", "SR-2"], "Opened": ["02.11.2026 10:00"] * 2,
    ...                     "Urgency": ["Urgent", "Whenever"]})
    >>> batch = parse_mapped_csv(raw, {
    ...     "columns": {"Ticket": "incident_id", "Opened": "opened_at", "Urgency": "priority"},
    ...     "values": {"priority": {"Urgent": 1, "High": 2}}, "day_first": True,
    ...     "timezone": "Europe/Berlin"})
    >>> batch.incidents[["incident_id", "priority"]].values.tolist(), str(batch.incidents.loc[0, "opened_at"])
    ([['SR-1', 1]], '2026-11-02 09:00:00+00:00')
    >>> batch.rejected["reason"].tolist()
    ["Urgency 'Whenever' is not a priority in values.priority (Urgent, High) or a number from 1 to 5"]
    """
    if not isinstance(mapping, CsvMapping):
        mapping = build_mapping(mapping)
    source = source or mapping.source
    if history is not None and mapping.history is None:
        raise InputFileError(
            "the mapping has no history section saying which columns of the history file "
            "hold the incident, the time and the group"
        )
    if history is not None and mapping.activity_log is not None:
        raise InputFileError("an activity log is its own history: give no history file with it")
    raw = clean_headers(raw)
    missing = [column for column in mapping.file_columns() if column not in raw.columns]
    if missing:
        raise MissingColumnsError(missing, where=f"CSV for mapping {excerpt(mapping.source)}")

    rows = len(raw)
    problems = RowProblems(rows)
    columns: dict[str, pd.Series] = {}
    for header, canonical in mapping.columns.items():
        text = missing_as_na(raw[header]).reset_index(drop=True)
        columns[canonical] = _read(text, header, canonical, mapping, problems)
    for canonical, value in mapping.defaults.items():
        filler = _default(canonical, value)
        present = columns.get(canonical)
        if present is None:
            dtype = "Int64" if isinstance(filler, int) else "string"
            columns[canonical] = pd.Series([filler] * rows, dtype=dtype)
        else:
            columns[canonical] = present.fillna(filler)

    names = {canonical: header for header, canonical in mapping.columns.items()}
    lines = row_lines(raw)

    def raw_json(at: np.ndarray) -> list[str]:
        return rows_as_json(raw.iloc[at])

    if mapping.activity_log is not None:
        batch = activity_log_batch(
            raw, columns, mapping, problems,
            source=source, lines=lines, raw_json=raw_json, names=names, as_of=as_of,
        )  # fmt: skip
    else:
        batch = assemble_batch(
            columns,
            problems=problems,
            raw_json=raw_json,
            lines=lines,
            source=source,
            names=names,
            history=opening_history(columns) if "assignment_group" in columns else None,
            as_of=as_of,
        )
        if history is not None:
            file_ids = columns["incident_id"].dropna().unique()
            batch = with_history_file(batch, history, mapping, source=source, file_ids=file_ids)
    if mapping.tier_patterns is not None:
        # Without a history of its own, the file knows each incident's group only: that
        # group's tier is the incident's.
        own_history = mapping.activity_log is not None or history is not None
        batch = with_tier_patterns(batch, mapping.tier_patterns, incidents=not own_history)
    return batch


def clean_headers(raw: pd.DataFrame) -> pd.DataFrame:
    """`raw` with header names stripped of spaces and byte order marks."""
    return raw.rename(columns=lambda name: str(name).replace("\ufeff", "").strip())


def with_tier_patterns(
    batch: IngestBatch, patterns: tuple[TierPattern, ...], *, incidents: bool
) -> IngestBatch:
    """`batch` with the support tier the first matching pattern gives each group.

    Each history row without a tier of its own gets its group's (see
    `engine.tiers.group_name_tiers`), and, with `incidents`, each incident without one
    gets its ``assignment_group``'s. A tier the source states is kept; a group no pattern
    matches stays without one (the analysis places it later).

    >>> from impactlens.ingest.rows import history_frame
    >>> from impactlens.ingest.batch import empty_batch
    >>> base = empty_batch()
    >>> history = history_frame(["A", "A"], pd.to_datetime(["2026-11-02"] * 2, utc=True),
    ...                         ["Desk", "Apps 2nd"], source="t")
    >>> tiered = with_tier_patterns(IngestBatch(base.incidents, history, base.rejected),
    ...                             (("L2", "2nd"),), incidents=False)
    >>> tiered.history["support_tier"].tolist()
    [<NA>, 'L2']
    """

    def tiers_of(groups: pd.Series, stated: pd.Series) -> pd.Series:
        ranks = group_name_tiers(groups, patterns)
        named = pd.Series(np.array([None, *TIERS], dtype=object)[ranks], dtype="string")
        return stated.reset_index(drop=True).astype("string").fillna(named)

    history = batch.history.reset_index(drop=True)
    history = history.assign(
        support_tier=tiers_of(history["assignment_group"], history["support_tier"])
    )
    frame = batch.incidents
    if incidents:
        frame = frame.reset_index(drop=True)
        frame = frame.assign(
            support_tier=tiers_of(frame["assignment_group"], frame["support_tier"])
        )
    return replace(batch, incidents=frame, history=history)


def _read(
    text: pd.Series, header: str, canonical: str, mapping: CsvMapping, problems: RowProblems
) -> pd.Series:
    """One canonical column from its source text; unreadable values reject their rows."""
    listed = mapping.values.get(canonical, {})
    if canonical in TIMESTAMP_COLUMNS:
        stamps, unreadable = parse_timestamps(
            text,
            formats=mapping.date_formats,
            day_first=mapping.day_first,
            timezone=mapping.timezone,
        )
        why = f"is not a date ({describe_formats(mapping.date_formats, mapping.day_first)})"
        reject_bad_text(
            problems, unreadable, problem="bad timestamp", where=header, text=text, why=why
        )
        return stamps
    # Numbers are read as the file writes them (2,0 with a decimal comma); value maps
    # and reasons use the text as it is.
    number_text = with_decimal_point(text, mapping.decimal)
    if canonical == "priority":
        names = {str(k): int(v) for k, v in listed.items()}
        priority, unknown = priority_from_text(number_text, names)
        known = f"in values.priority ({', '.join(map(str, listed))}) " if listed else ""
        why = f"is not a priority {known}or a number from 1 to 5"
        reject_bad_text(problems, unknown, problem="bad priority", where=header, text=text, why=why)
        return priority
    if canonical in INTEGER_COLUMNS:
        mapped = pd.to_numeric(listed_values(text, listed), errors="coerce").astype("Int64")
        if canonical in COUNT_COLUMNS:
            numbers, _ = whole_numbers(number_text)
            valid = mapped.fillna(numbers)
            why = "is not a whole number of 0 or more"
        else:
            valid = mapped.fillna(leading_number(number_text)).where(lambda n: n.between(1, 5))
            why = "is not a number from 1 to 5 (such as 2 or '2 - Medium')"
        bad = (text.notna() & valid.isna()).to_numpy(dtype=bool)
        reject_bad_text(problems, bad, problem="bad number", where=header, text=text, why=why)
        return valid.astype("Int64")
    if canonical == "support_tier":
        tier = listed_values(text, listed).fillna(text.str.strip().str.upper())
        valid = tier.where(tier.isin(TIERS))
        bad = (text.notna() & valid.isna()).to_numpy(dtype=bool)
        why = "is not a support tier (L1, L2 or L3; map other names under values.support_tier)"
        reject_bad_text(problems, bad, problem="bad value", where=header, text=text, why=why)
        return valid.astype("string")
    return listed_values(text, listed).fillna(text).astype("string")


def _default(canonical: str, value: Scalar) -> Any:
    if canonical == "priority" or canonical in INTEGER_COLUMNS:
        return int(value)
    return str(value)
