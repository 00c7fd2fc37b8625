"""Table rows as JSON values: what the JSON report and the API write.

Moments become ISO 8601 text (as stored: UTC, ``+00:00``), missing values (NA, NaT, NaN)
and infinities become null, numpy scalars plain numbers, tuples lists.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["json_records", "json_value"]


def json_value(value: Any) -> Any:
    """One value as JSON can hold it.

    >>> json_value(pd.Timestamp("2026-11-16 09:00", tz="UTC")), json_value(float("nan"))
    ('2026-11-16T09:00:00+00:00', None)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if hasattr(value, "item"):
        return json_value(value.item())
    return value


def json_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `table` as JSON objects, column name -> `json_value`.

    >>> json_records(pd.DataFrame({"a": [1, None]}))
    [{'a': 1.0}, {'a': None}]
    """
    return [
        {str(name): json_value(value) for name, value in row.items()}
        for row in table.to_dict("records")
    ]
