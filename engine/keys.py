"""Keys: matching rows to incidents, and the text keys incidents are counted by.

Incident ids repeat across sources, so a row belongs to an incident by both parts of its
key, (source, incident_id), matched as integer codes, never as joined text: joining a
million pairs of strings costs more than everything done with the result.

A *counting key* (a hotspot key, a repeat key) is one or more of the incident's text
fields (`KEY_FIELDS`), joined with `` / ``, a missing value written ``(none)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd
from impactlens.engine.columns import require_columns, text_values

from impactlens.errors import InvalidSettingsError

__all__ = [
    "KEY_FIELDS",
    "NO_VALUE",
    "SEPARATOR",
    "check_key_fields",
    "incident_positions",
    "joined_key",
    "key_fields_from_text",
]

# The fields a key can be made of, and the incident column each reads.
KEY_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "service": "service_id",
        "ci": "ci",
        "service_component": "service_component",
        "category": "category",
        "subcategory": "subcategory",
        "assignment_group": "assignment_group",
        "location": "location",
        "support_tier": "support_tier",
        "state": "state",
        "source": "source",
        "problem_id": "problem_id",
        "caused_by_change": "caused_by_change",
    }
)
NO_VALUE = "(none)"
SEPARATOR = " / "


def check_key_fields(fields: Iterable[str], *, what: str) -> tuple[str, ...]:
    """`fields` as a tuple, or an `InvalidSettingsError` naming the unknown ones.

    >>> check_key_fields(["category", "colour"], what="group hotspots by")
    Traceback (most recent call last):
    ...
    impactlens.errors.InvalidSettingsError: cannot group hotspots by 'colour': choose from service, ci, service_component, category, subcategory, assignment_group, location, support_tier, state, source, problem_id, caused_by_change
    """
    chosen = tuple(fields)
    unknown = [name for name in chosen if name not in KEY_FIELDS]
    if unknown:
        raise InvalidSettingsError(
            f"cannot {what} {', '.join(map(repr, unknown))}: choose from {', '.join(KEY_FIELDS)}"
        )
    return chosen


def key_fields_from_text(text: str, *, what: str) -> tuple[str, ...]:
    """Key fields written as the CLI, the settings and the API take them: comma-separated
    names (``"category, assignment_group"``), checked by `check_key_fields`.

    >>> key_fields_from_text(" category,assignment_group ,", what="group hotspots by")
    ('category', 'assignment_group')
    """
    names = (name.strip() for name in text.split(","))
    return check_key_fields((name for name in names if name), what=what)


def joined_key(incidents: pd.DataFrame, fields: Sequence[str], *, where: str) -> pd.Series:
    """The `KEY_FIELDS` named, joined with `` / `` (a missing value is ``(none)``).

    >>> frame = pd.DataFrame({"category": ["Net", None], "subcategory": ["LAN", "WAN"]})
    >>> joined_key(frame, ["category", "subcategory"], where="demo").tolist()
    ['Net / LAN', '(none) / WAN']
    """
    columns = [KEY_FIELDS[name] for name in check_key_fields(fields, what="key incidents by")]
    require_columns(incidents, columns, where=where)
    parts = [text_values(incidents[column]).fillna(NO_VALUE) for column in columns]
    key = parts[0]
    for part in parts[1:]:
        key = key + SEPARATOR + part
    return key


def incident_positions(rows: pd.DataFrame, incidents: pd.DataFrame) -> np.ndarray:
    """Each row's incident as a position in `incidents` (-1 where it has none).

    Both frames need ``source`` and ``incident_id``; a key repeated in `incidents` maps
    to its first row.

    >>> incidents = pd.DataFrame({"source": ["a", "b"], "incident_id": ["1", "1"]})
    >>> rows = pd.DataFrame({"source": ["b", "a", "c"], "incident_id": ["1", "1", "1"]})
    >>> incident_positions(rows, incidents).tolist()
    [1, 0, -1]
    """
    ids, id_names = pd.factorize(
        pd.concat([incidents["incident_id"], rows["incident_id"]], ignore_index=True).astype(
            "string"
        )
    )
    sources, _ = pd.factorize(
        pd.concat([incidents["source"], rows["source"]], ignore_index=True).astype("string")
    )
    combined = sources.astype(np.int64) * (len(id_names) + 1) + ids
    count = len(incidents)
    lookup = pd.Series(np.arange(count), index=combined[:count])
    lookup = lookup[~lookup.index.duplicated()]
    return lookup.reindex(combined[count:]).fillna(-1).to_numpy(dtype=np.int64)
