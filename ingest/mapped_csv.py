"""Any CSV export as canonical incidents, through a small YAML mapping file.

The mapping names which source column holds which canonical column, how the source's
values translate (``Urgent`` -> priority 1), how its dates are written, in which time
zone, and defaults for what the export lacks. `load_mapping` reads and validates the
file (pydantic, at this edge only), reporting every problem with its place; the pure
`parse_mapped_csv` applies a mapping to rows. The format is documented, with worked
examples, in ``docs/ingest-mapping.md``::

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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from impactlens.ingest.batch import INCIDENT_COLUMNS, TIMESTAMP_COLUMNS, IngestBatch
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
    missing_as_na,
    parse_timestamps,
    priority_from_text,
    whole_numbers,
)
from impactlens.service_map.load import load_yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from impactlens.errors import (
    InvalidTimezoneError,
    MapIssue,
    MappingValidationError,
    MissingColumnsError,
    excerpt,
)
from impactlens.moments import time_zone

__all__ = [
    "MAPPABLE_COLUMNS",
    "CsvMapping",
    "MappingValidationError",
    "build_mapping",
    "load_mapping",
    "parse_mapped_csv",
]

# ``source`` comes from the mapping; ``service_id`` from the service map, later.
MAPPABLE_COLUMNS = tuple(c for c in INCIDENT_COLUMNS if c not in ("source", "service_id"))
REQUIRED_TARGETS = ("incident_id", "opened_at")
COUNT_COLUMNS = ("reassignment_count", "reopen_count")
TIERS = ("L1", "L2", "L3")
_KEYS = ("source", "columns", "values", "date_format", "day_first", "timezone", "defaults")
Scalar = str | int | float


def _canonical(name: str) -> str:
    if name not in MAPPABLE_COLUMNS:
        import difflib

        close = difflib.get_close_matches(name, MAPPABLE_COLUMNS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if name in ("source", "service_id"):
            hint = " (source comes from the mapping's source; service_id from the service map)"
        raise ValueError(f"unknown canonical column {excerpt(name)}{hint}")
    return name


def _timezone(name: str) -> str:
    # pydantic turns a ValueError into an issue placed at ``timezone``.
    try:
        time_zone(name)
    except InvalidTimezoneError as error:
        raise ValueError(str(error)) from None
    return name


def _date_format(fmt: str) -> str:
    if "%" not in fmt:
        raise ValueError(f"{excerpt(fmt)} has no strptime directive such as %d or %Y")
    try:
        sample = datetime(2026, 11, 12, 9, 41, 7)
        datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as error:
        raise ValueError(f"{excerpt(fmt)} is not a strptime format ({error})") from None
    return fmt


def _date_formats(value: Any) -> tuple[str, ...] | None:
    """One strptime format or a list of them, as a tuple; one message for any problem."""
    if value is None:
        return None
    formats = [value] if isinstance(value, str) else value
    if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
        raise ValueError(f"must be a strptime format or a list of them, got {_describe(value)}")
    return tuple(_date_format(fmt) for fmt in formats)


Canonical = Annotated[str, AfterValidator(_canonical)]


class CsvMapping(BaseModel):
    """A validated CSV mapping (see the module docstring and ``docs/ingest-mapping.md``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Annotated[str, Field(min_length=1)] = "csv"
    columns: dict[str, Canonical]
    # Value and default types depend on the column: `_meaning_issues` checks them.
    values: dict[Canonical, dict[str, Any]] = Field(default_factory=dict)
    date_format: Annotated[tuple[str, ...] | None, BeforeValidator(_date_formats)] = None
    day_first: bool | None = None
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    defaults: dict[Canonical, Any] = Field(default_factory=dict)

    @property
    def date_formats(self) -> tuple[str, ...]:
        """The strptime formats to try, in order (ISO 8601 is always tried after them)."""
        return self.date_format or ()


def build_mapping(records: Any, *, where: str | None = None) -> CsvMapping:
    """Validate a decoded mapping; raise `MappingValidationError` with every problem.

    Examples
    --------
    >>> build_mapping({"columns": {"Ticket": "incident_id", "Opened": "opened_at",
    ...                            "Prio": "priority"}}).source
    'csv'
    >>> build_mapping({"columns": {"Opened": "opend_at"}, "timezone": "Mars/Base"})
    Traceback (most recent call last):
    ...
    impactlens.errors.MappingValidationError: CSV mapping is invalid (5 errors):
      columns.Opened: unknown canonical column 'opend_at' (did you mean 'opened_at'?)
      timezone: time zone 'Mars/Base' is not an IANA zone name (for example Europe/Berlin or UTC)
      columns: no column is mapped to incident_id
      columns: no column is mapped to opened_at
      columns: no column is mapped to priority, and defaults has no priority
    """
    if not isinstance(records, Mapping):
        issue = MapIssue("(top level)", f"must be a mapping, got {_describe(records)}")
        raise MappingValidationError([issue], source=where)
    records = _with_text_keys(records)
    issues: list[MapIssue] = []
    mapping = None
    try:
        mapping = CsvMapping.model_validate(records)
    except ValidationError as error:
        issues.extend(_issue(detail) for detail in error.errors())
    issues.extend(_meaning_issues(records))
    if issues:
        raise MappingValidationError(_unique(issues), source=where)
    assert mapping is not None
    return mapping


def load_mapping(path: str | Path) -> CsvMapping:
    """Read a YAML mapping file and validate it (see `build_mapping`)."""
    # One safe loader for every YAML file: size limit, alias budget, places in errors.
    records = load_yaml(path, what="mapping", invalid=MappingValidationError)
    return build_mapping(records, where=str(path))


def parse_mapped_csv(
    raw: pd.DataFrame,
    mapping: CsvMapping | Mapping[str, Any],
    *,
    source: str | None = None,
    as_of: pd.Timestamp | str | None = None,
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
        When given, rows opened after it are rejected.

    Every source column under ``columns`` must be in `raw`. Values are read as follows:
    timestamps with ``date_format`` (or ``day_first``), then ISO 8601; ``priority``,
    ``impact`` and ``urgency`` through ``values`` (case-insensitive), else as numbers
    (``2``, ``2 - High``, ``P2``); counts as whole numbers; ``support_tier`` through
    ``values``, else ``L1``/``L2``/``L3``; text through ``values`` where a value is listed,
    as it is otherwise. ``defaults`` fill what is still missing. A value that cannot be
    read rejects its row, with the reason.

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
    raw = raw.rename(columns=lambda name: str(name).lstrip("\ufeff").strip())
    missing = [column for column in mapping.columns if column not in raw.columns]
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

    return assemble_batch(
        columns,
        problems=problems,
        raw_json=lambda at: rows_as_json(raw.iloc[at]),
        lines=row_lines(raw),
        source=source,
        names={canonical: header for header, canonical in mapping.columns.items()},
        history=opening_history(columns) if "assignment_group" in columns else None,
        as_of=as_of,
    )


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
    if canonical == "priority":
        priority, unknown = priority_from_text(text, {str(k): int(v) for k, v in listed.items()})
        known = f"in values.priority ({', '.join(map(str, listed))}) " if listed else ""
        why = f"is not a priority {known}or a number from 1 to 5"
        reject_bad_text(problems, unknown, problem="bad priority", where=header, text=text, why=why)
        return priority
    if canonical in INTEGER_COLUMNS:
        mapped = pd.to_numeric(_lookup(text, listed), errors="coerce").astype("Int64")
        if canonical in COUNT_COLUMNS:
            numbers, _ = whole_numbers(text)
            valid = mapped.fillna(numbers)
            why = "is not a whole number of 0 or more"
        else:
            valid = mapped.fillna(leading_number(text)).where(lambda n: n.between(1, 5))
            why = "is not a number from 1 to 5 (such as 2 or '2 - Medium')"
        bad = (text.notna() & valid.isna()).to_numpy(dtype=bool)
        reject_bad_text(problems, bad, problem="bad number", where=header, text=text, why=why)
        return valid.astype("Int64")
    if canonical == "support_tier":
        tier = _lookup(text, listed).fillna(text.str.strip().str.upper())
        valid = tier.where(tier.isin(TIERS))
        bad = (text.notna() & valid.isna()).to_numpy(dtype=bool)
        why = "is not a support tier (L1, L2 or L3; map other names under values.support_tier)"
        reject_bad_text(problems, bad, problem="bad value", where=header, text=text, why=why)
        return valid.astype("string")
    return _lookup(text, listed).fillna(text).astype("string")


def _lookup(text: pd.Series, listed: Mapping[str, Scalar]) -> pd.Series:
    """The listed value of each text (keys compared case-insensitively), else NA."""
    if not listed:
        return pd.Series(pd.NA, index=text.index, dtype="string")
    table = {str(key).strip().casefold(): str(value) for key, value in listed.items()}
    return text.str.strip().str.casefold().map(table, na_action="ignore").astype("string")


def _default(canonical: str, value: Scalar) -> Any:
    if canonical == "priority" or canonical in INTEGER_COLUMNS:
        return int(value)
    return str(value)


# --- validation of what each key means (pydantic checks the shape) ----------------------


def _meaning_issues(records: Mapping[str, Any]) -> list[MapIssue]:
    issues: list[MapIssue] = []
    columns = records.get("columns")
    columns = columns if isinstance(columns, Mapping) else {}
    defaults = records.get("defaults")
    defaults = defaults if isinstance(defaults, Mapping) else {}
    seen: dict[str, str] = {}
    for header, canonical in columns.items():
        if isinstance(canonical, str) and canonical in seen:
            issues.append(
                MapIssue(
                    f"columns.{_step(header)}",
                    f"{canonical} is already mapped from {excerpt(seen[canonical])}",
                )
            )
        elif isinstance(canonical, str):
            seen[canonical] = header
    if "columns" in records and isinstance(records.get("columns"), Mapping):
        for required in REQUIRED_TARGETS:
            if required not in seen:
                issues.append(MapIssue("columns", f"no column is mapped to {required}"))
        if "priority" not in seen and "priority" not in defaults:
            issues.append(
                MapIssue("columns", "no column is mapped to priority, and defaults has no priority")
            )
    values = records.get("values")
    for canonical, listed in values.items() if isinstance(values, Mapping) else []:
        if canonical in TIMESTAMP_COLUMNS:
            issues.append(
                MapIssue(
                    f"values.{_step(canonical)}", "timestamps are read with date_format, not values"
                )
            )
            continue
        if not isinstance(listed, Mapping):
            continue  # pydantic reports the shape
        folded: dict[str, str] = {}
        for key, target in listed.items():
            place = f"values.{_step(canonical)}.{_step(key)}"
            problem = _target_problem(canonical, target)
            if problem:
                issues.append(MapIssue(place, problem))
            fold = str(key).strip().casefold()
            if fold in folded:
                issues.append(
                    MapIssue(place, f"repeats {excerpt(folded[fold])} (values match ignoring case)")
                )
            folded.setdefault(fold, str(key))
    for canonical, target in defaults.items():
        place = f"defaults.{_step(canonical)}"
        if canonical in (*TIMESTAMP_COLUMNS, "incident_id"):
            issues.append(MapIssue(place, f"{canonical} cannot have a default"))
            continue
        problem = _target_problem(canonical, target)
        if problem:
            issues.append(MapIssue(place, problem))
    if records.get("date_format") is not None and records.get("day_first") is not None:
        issues.append(MapIssue("day_first", "give date_format or day_first, not both"))
    return issues


def _target_problem(canonical: str, target: Any) -> str | None:
    """Why `target` cannot be a value of `canonical`, or None when it can."""
    if canonical not in MAPPABLE_COLUMNS:
        return None  # reported as an unknown column already
    whole = isinstance(target, int) and not isinstance(target, bool)
    if canonical in ("priority", "impact", "urgency"):
        if not whole or not 1 <= target <= 5:
            return f"{canonical} must be a whole number from 1 to 5, got {_describe(target)}"
    elif canonical in COUNT_COLUMNS:
        if not whole or target < 0:
            return f"{canonical} must be a whole number of 0 or more, got {_describe(target)}"
    elif canonical == "support_tier":
        if target not in TIERS:
            return f"support_tier must be L1, L2 or L3, got {_describe(target)}"
    elif isinstance(target, bool) or not isinstance(target, str | int | float):
        return f"{canonical} must be text, got {_describe(target)}"
    return None


def _issue(detail: Mapping[str, Any]) -> MapIssue:
    place = ".".join(
        f"[{step}]" if isinstance(step, int) else _step(step)
        for step in detail["loc"]
        if step != "[key]"
    )
    kind, message = detail["type"], str(detail["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        message = f"unknown key (expected one of: {', '.join(_KEYS)})"
    elif kind == "missing":
        message = "missing"
    elif kind != "value_error":
        message = f"{message}, got {_describe(detail.get('input'))}"
    return MapIssue(place or "(top level)", message)


def _with_text_keys(records: Mapping[str, Any]) -> dict[str, Any]:
    """YAML reads ``1: 1`` with a number key; value maps and columns match text."""
    out = dict(records)
    for key in ("columns", "defaults"):
        if isinstance(out.get(key), Mapping):
            out[key] = {str(k): v for k, v in out[key].items()}
    if isinstance(out.get("values"), Mapping):
        out["values"] = {
            str(k): ({str(kk): vv for kk, vv in v.items()} if isinstance(v, Mapping) else v)
            for k, v in out["values"].items()
        }
    return out


def _unique(issues: Sequence[MapIssue]) -> list[MapIssue]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for issue in issues:
        if (issue.place, issue.message) not in seen:
            seen.add((issue.place, issue.message))
            unique.append(issue)
    return unique


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the string {excerpt(value)}"
    return f"{type(value).__name__} {excerpt(value)}"


def _step(key: Any) -> str:
    """A key as a step of an issue's place (``columns.<key>``), cut when it is long."""
    return excerpt(str(key), 40, quote=False)
