"""The CSV mapping file: its model and its validation (the edge where pydantic is used).

`load_mapping` reads the YAML file and `build_mapping` validates what it decoded,
reporting every problem at once, each with its place (``columns.Opened``,
``activity_log.event_time``, ``tier_patterns[1]``). `parse_mapped_csv`
(`ingest.mapped_csv`) applies a valid `CsvMapping` to rows. The keys are documented, with
worked examples, in ``docs/ingest-mapping.md``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from impactlens.engine.tiers import TIERS, TierPattern, tier_patterns
from impactlens.ingest.batch import INCIDENT_COLUMNS, TIMESTAMP_COLUMNS
from impactlens.service_map.load import load_yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from impactlens.errors import (
    InvalidSettingsError,
    InvalidTimezoneError,
    MapIssue,
    MappingValidationError,
    excerpt,
)
from impactlens.moments import time_zone

__all__ = [
    "COUNT_COLUMNS",
    "MAPPABLE_COLUMNS",
    "TIERS",
    "ActivityLog",
    "CsvMapping",
    "HistoryFile",
    "MappingValidationError",
    "build_mapping",
    "load_mapping",
]

# ``source`` comes from the mapping; ``service_id`` from the service map, later.
MAPPABLE_COLUMNS = tuple(c for c in INCIDENT_COLUMNS if c not in ("source", "service_id"))
REQUIRED_TARGETS = ("incident_id", "opened_at")
COUNT_COLUMNS = ("reassignment_count", "reopen_count")
_KEYS = (
    "source", "columns", "values", "date_format", "day_first", "timezone", "defaults",
    "delimiter", "decimal", "encoding", "activity_log", "history", "tier_patterns",
)  # fmt: skip
# The field separators a file may have; "tab" is a friendlier way to write "\t".
_DELIMITERS = {",": ",", ";": ";", "|": "|", "\t": "\t", "tab": "\t"}
# codecs' canonical name of each encoding read -> how the mapping names it, so that
# every alias Python knows (latin1, ISO-8859-1, windows-1252, UTF8) is taken.
_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "iso8859-1": "latin-1", "cp1252": "cp1252"}  # fmt: skip
Scalar = str | int | float
_TIER_PATTERN_PLACE = re.compile(r"tier pattern \[(\d+)\]: (.*)", re.DOTALL)


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


def _delimiter(value: Any) -> str:
    if isinstance(value, str) and value.lower() in _DELIMITERS:
        return _DELIMITERS[value.lower()]
    raise ValueError(f"must be ',', ';', '|' or a tab (\"\\t\" or tab), got {_describe(value)}")


def _encoding(value: Any) -> str:
    try:
        name = codecs.lookup(value).name if isinstance(value, str) else None
    except LookupError:
        name = None
    if name not in _ENCODINGS:
        raise ValueError(f"must be utf-8, utf-8-sig, latin-1 or cp1252, got {_describe(value)}")
    return _ENCODINGS[name]


def _checked_tier_patterns(value: Any) -> tuple[TierPattern, ...] | None:
    if value is None:
        return None
    try:
        return tier_patterns(value)
    except InvalidSettingsError as error:
        raise ValueError(str(error)) from None


def _values_list(value: Any) -> tuple[str, ...]:
    """One value or a list of them, as text (YAML reads ``[1, Closed]`` with a number)."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in items):
        raise ValueError(f"must be a value or a list of values, got {_describe(value)}")
    return tuple(str(item) for item in items)


Canonical = Annotated[str, AfterValidator(_canonical)]
Column = Annotated[str, Field(min_length=1)]
Values = Annotated[tuple[str, ...], BeforeValidator(_values_list)]


class ActivityLog(BaseModel):
    """``activity_log``: the file has a row per event of an incident, not one per incident.

    Each key but ``event_time`` is optional; each names a source column, or lists values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_time: Column  # when the row's event happened: orders the events
    group: Column | None = None  # the group holding the incident after the event
    status: Column | None = None  # the incident's status after the event
    resolved_statuses: Values = ()  # statuses in which the service is restored
    activity: Column | None = None  # what the event was (an activity type)
    reopen_activities: Values = ()  # activities that reopen the incident


class HistoryFile(BaseModel):
    """``history``: the columns of the ``--history`` file, a row per event of an incident."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: Column  # the incident the row is about (as the incidents file names it)
    event_time: Column  # when it happened
    group: Column  # the group holding the incident after it


class CsvMapping(BaseModel):
    """A validated CSV mapping (see ``docs/ingest-mapping.md``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Annotated[str, Field(min_length=1)] = "csv"
    columns: dict[str, Canonical]
    # Value and default types depend on the column: `_meaning_issues` checks them.
    values: dict[Canonical, dict[str, Any]] = Field(default_factory=dict)
    date_format: Annotated[tuple[str, ...] | None, BeforeValidator(_date_formats)] = None
    day_first: bool | None = None
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    defaults: dict[Canonical, Any] = Field(default_factory=dict)
    delimiter: Annotated[str, BeforeValidator(_delimiter)] = ","
    decimal: Literal[",", "."] = "."
    encoding: Annotated[str, BeforeValidator(_encoding)] = "utf-8"
    activity_log: ActivityLog | None = None
    history: HistoryFile | None = None
    tier_patterns: Annotated[
        tuple[TierPattern, ...] | None, BeforeValidator(_checked_tier_patterns)
    ] = None

    @property
    def date_formats(self) -> tuple[str, ...]:
        """The strptime formats to try, in order (ISO 8601 is always tried after them)."""
        return self.date_format or ()

    def file_columns(self) -> list[str]:
        """The columns the (incidents) file must have: mapped and named by the activity log."""
        named = list(self.columns)
        if self.activity_log is not None:
            log = self.activity_log
            named += [c for c in (log.event_time, log.group, log.status, log.activity) if c]
        return list(dict.fromkeys(named))


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
    activity_log = records.get("activity_log")
    if "columns" in records and isinstance(records.get("columns"), Mapping):
        # An activity log's first event is when the incident was opened.
        required_targets = ("incident_id",) if activity_log is not None else REQUIRED_TARGETS
        for required in required_targets:
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
    issues.extend(_event_issues(records))
    return issues


def _event_issues(records: Mapping[str, Any]) -> list[MapIssue]:
    """What ``activity_log`` and ``history`` need beyond their shape."""
    issues = []
    log = records.get("activity_log")
    if log is not None and records.get("history") is not None:
        issues.append(
            MapIssue(
                "history",
                "an activity log is its own history: give activity_log or history, not both",
            )
        )
    if isinstance(log, Mapping):
        for listed, column in (("resolved_statuses", "status"), ("reopen_activities", "activity")):
            if log.get(listed) and not log.get(column):
                issues.append(
                    MapIssue(
                        f"activity_log.{listed}",
                        f"needs activity_log.{column}, the column the values are in",
                    )
                )
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
    numbered = _TIER_PATTERN_PLACE.match(message)
    if place == "tier_patterns" and numbered:  # engine.tiers' words: "tier pattern [1]: ..."
        place, message = f"tier_patterns[{numbered[1]}]", numbered[2]
    if kind == "extra_forbidden":
        sections: dict[str, type[BaseModel]] = {"activity_log": ActivityLog, "history": HistoryFile}
        section = sections.get(str(detail["loc"][0]))
        keys = list(section.model_fields) if section is not None else _KEYS
        message = f"unknown key (expected one of: {', '.join(keys)})"
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
