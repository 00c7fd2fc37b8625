"""Jira Service Management issues, from Jira's CSV export, as canonical incidents.

What the export looks like (the sources relied on):

- Jira's issue navigator exports CSV with one column per field, named as Jira shows the
  field: ``Summary, Issue key, Issue id, Issue Type, Status, Priority, Assignee,
  Reporter, Created, Updated, Resolved, Component/s, ...``; custom fields are named
  ``Custom field (<name>)`` (``Custom field (Story Points)``), so Jira Service
  Management's affected-services field is read as ``Custom field (Affected services)``.
  A field with several values (``Component/s``, ``Labels``, ``Sprint``) gets one column
  per value, all with the same header. Sources: the "Export Excel CSV (all fields)"
  sample in the tests of bakhod1r/kyber (``internal/importer/domain``), whose header has
  ``Labels,Labels`` and whose dates are ``09/Oct/25 1:42 PM``, and a Jira reporting
  README describing the repeated ``Sprint`` headers "populated from left to right".
  pandas renames the repeats ``Component/s.1``, ``Component/s.2``; ``ingest.read`` does
  the same; literal repeats are read too.
- Dates are written in Jira's "complete date/time format", by default ``dd/MMM/yy h:mm a``
  (``09/Oct/25 1:42 PM`` in the same export), in the time zone of the user who
  exported (Atlassian's ``com.atlassian.jira.datetime`` javadoc: formatters use the
  logged-in user's time zone and locale). Pass that zone as `timezone`. ISO 8601 values
  (some exports and the REST API) are read too.
- Priorities are Jira's defaults ``Highest, High, Medium, Low, Lowest`` (Jira Cloud) or
  ``Blocker, Critical, Major, Minor, Trivial`` (older Jira Server schemes); both map to
  1-5 by position. A site's own names go in `priority_map`; ``P1``..``P5`` and
  ``1 - Critical`` are read as numbers.

Mapping: ``Issue key`` -> incident_id, ``Created``/``Updated``/``Resolved`` ->
opened_at/updated_at/resolved_at, ``Status`` -> state, ``Priority`` -> priority,
``Summary`` -> short_description, the first non-empty of `ci_columns` (the affected
services field, then components) -> ci, the first non-empty of `group_columns` (a team
field, then ``Assignee``) -> assignment_group. Jira's CSV holds no assignment history and
no support tier: ``support_tier`` is NA and ``history`` has one row per incident with a
group, that group at ``opened_at`` (as the canonical CSV without a history file), so the
service map's ``support_tiers`` and group-name patterns can place the incident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from impactlens.ingest.batch import IngestBatch
from impactlens.ingest.rows import (
    RowProblems,
    assemble_batch,
    opening_history,
    reject_bad_text,
    row_lines,
    rows_as_json,
)
from impactlens.ingest.values import (
    check_timezone,
    describe_formats,
    missing_as_na,
    parse_timestamps,
    priority_from_text,
)

from impactlens.errors import InvalidSettingsError, MissingColumnsError, excerpt

__all__ = [
    "JIRA_CI_COLUMNS",
    "JIRA_DATE_FORMATS",
    "JIRA_GROUP_COLUMNS",
    "JIRA_PRIORITIES",
    "parse_jira",
]

JIRA_DATE_FORMATS = ("%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M")
JIRA_PRIORITIES: Mapping[str, int] = {
    "Highest": 1, "High": 2, "Medium": 3, "Low": 4, "Lowest": 5,
    "Blocker": 1, "Critical": 2, "Major": 3, "Minor": 4, "Trivial": 5,
}  # fmt: skip
JIRA_CI_COLUMNS = ("Custom field (Affected services)", "Affected services", "Component/s")
JIRA_GROUP_COLUMNS = (
    "Custom field (Assignment group)",
    "Custom field (Team)",
    "Team",
    "Assignee",
)
REQUIRED = {"incident_id": "Issue key", "opened_at": "Created", "priority": "Priority"}
TIMESTAMPS = {"opened_at": "Created", "updated_at": "Updated", "resolved_at": "Resolved"}


def parse_jira(
    raw: pd.DataFrame,
    *,
    source: str = "jira",
    timezone: str = "UTC",
    priority_map: Mapping[str, int] | None = None,
    default_priority: int | None = None,
    date_formats: Sequence[str] = JIRA_DATE_FORMATS,
    ci_columns: Sequence[str] = JIRA_CI_COLUMNS,
    group_columns: Sequence[str] = JIRA_GROUP_COLUMNS,
    as_of: pd.Timestamp | str | None = None,
) -> IngestBatch:
    """Canonical incidents from the rows of a Jira (Service Management) CSV export.

    Parameters
    ----------
    raw
        The export's rows, every field as text (NA for missing), index ``line`` when read
        from a file. Repeated headers may appear as ``Component/s.1`` or as repeats.
    source
        The ``source`` of every row.
    timezone
        IANA zone of the exporting user: Jira writes dates in it, without an offset.
    priority_map
        Priority name -> 1-5 (case-insensitive), replacing `JIRA_PRIORITIES`.
    default_priority
        Priority (1-5) of rows with no priority; without it those rows are rejected.
    date_formats
        strptime formats of the site's Jira date format; ISO 8601 is always accepted.
    ci_columns, group_columns
        Columns whose first non-empty value (including their repeats) is ``ci`` and
        ``assignment_group``.
    as_of
        When given, rows opened after it are rejected.

    Raises
    ------
    MissingColumnsError
        Without ``Issue key``, ``Created``, or ``Priority`` (unless `default_priority`).

    Examples
    --------
    >>> raw = pd.DataFrame({
    ...     "Issue key": ["ITSM-7", "ITSM-8"], "Summary": ["Checkout down", "Slow VPN"],
    ...     "Priority": ["Highest", "Urgent"], "Status": ["Resolved", "Open"],
    ...     "Created": ["12/Nov/26 9:41 AM", "12/Nov/26 10:00 AM"],
    ...     "Resolved": ["12/Nov/26 11:05 AM", None], "Component/s": ["Payments", "VPN"],
    ...     "Component/s.1": ["Web shop", None]})
    >>> batch = parse_jira(raw, timezone="Europe/Berlin")
    >>> batch.incidents[["incident_id", "priority", "ci"]].values.tolist()
    [['ITSM-7', 1, 'Payments']]
    >>> str(batch.incidents.loc[0, "opened_at"])
    '2026-11-12 08:41:00+00:00'
    >>> batch.rejected["reason"].tolist()
    ["Priority 'Urgent' is not a known priority (Highest, High, Medium, Low, Lowest, Blocker, Critical, Major, Minor, Trivial, or P1-P5)"]
    """
    check_timezone(timezone)
    if default_priority is not None and default_priority not in range(1, 6):
        raise InvalidSettingsError(
            f"default_priority {excerpt(default_priority)} is not a whole number 1-5"
        )
    raw = raw.rename(columns=lambda name: str(name).lstrip("\ufeff").strip())
    required = [
        column
        for key, column in REQUIRED.items()
        if not (key == "priority" and default_priority is not None)
    ]
    missing = [column for column in required if not _repeats(raw, column)]
    if missing:
        raise MissingColumnsError(missing, where="Jira CSV export")

    rows = len(raw)
    problems = RowProblems(rows)
    columns: dict[str, pd.Series] = {"incident_id": _first(raw, ["Issue key"], rows)}
    for canonical, header in TIMESTAMPS.items():
        text = _first(raw, [header], rows)
        columns[canonical], bad = parse_timestamps(text, formats=date_formats, timezone=timezone)
        reject_bad_text(
            problems,
            bad,
            problem="bad timestamp",
            where=header,
            text=text,
            why=f"is not a date ({describe_formats(date_formats)})",
        )

    names = priority_map if priority_map is not None else JIRA_PRIORITIES
    priority_text = _first(raw, ["Priority"], rows)
    priority, unknown = priority_from_text(priority_text, names)
    known = ", ".join(names)
    reject_bad_text(
        problems,
        unknown,
        problem="bad priority",
        where="Priority",
        text=priority_text,
        why=f"is not a known priority ({known}, or P1-P5)",
    )
    if default_priority is not None:
        priority = priority.mask(priority_text.isna(), default_priority)
    columns["priority"] = priority
    columns["state"] = _first(raw, ["Status"], rows)
    columns["short_description"] = _first(raw, ["Summary"], rows)
    columns["ci"] = _first(raw, ci_columns, rows)
    columns["assignment_group"] = _first(raw, group_columns, rows)

    return assemble_batch(
        columns,
        problems=problems,
        raw_json=lambda at: rows_as_json(raw.iloc[at]),
        lines=row_lines(raw),
        source=source,
        names=REQUIRED | TIMESTAMPS,
        history=opening_history(columns),
        as_of=as_of,
    )


def _repeats(raw: pd.DataFrame, header: str) -> list[int]:
    """Positions of the columns named `header`, its repeats, and pandas' ``header.1`` ..."""
    pattern = re.compile(re.escape(header) + r"(?:\.\d+)?")
    return [i for i, name in enumerate(raw.columns) if pattern.fullmatch(str(name))]


def _first(raw: pd.DataFrame, headers: Sequence[str], rows: int) -> pd.Series:
    """The first non-missing value, left to right, across `headers` and their repeats."""
    positions = [i for header in headers for i in _repeats(raw, header)]
    if not positions:
        return pd.Series(pd.NA, index=range(rows), dtype="string")
    values = [missing_as_na(raw.iloc[:, i]).reset_index(drop=True) for i in positions]
    first = values[0]
    for more in values[1:]:
        if not first.isna().any():
            break
        first = first.fillna(more)
    return first.astype("string").set_axis(np.arange(rows))
