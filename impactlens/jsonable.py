"""Table rows as JSON values: what the JSON report and the API write.

Moments become ISO 8601 text (as stored: UTC, ``+00:00``), missing values (NA, NaT, NaN)
and infinities become null, numpy scalars plain numbers, tuples lists.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
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

    Column by column (a million rows in seconds, not minutes): numbers, flags and text in
    bulk, moments and other values one by one through `json_value`.

    >>> json_records(pd.DataFrame({"a": [1, None], "b": [True, False]}))
    [{'a': 1.0, 'b': True}, {'a': None, 'b': False}]
    """
    names = [str(name) for name in table.columns]
    columns = [_json_column(table.iloc[:, position]) for position in range(len(names))]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _json_column(values: pd.Series) -> list[Any]:
    """`json_value` of each of `values`."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return values.to_numpy().tolist()  # Python ints and bools, never missing
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        numbers = values.to_numpy()
        listed: list[Any] = numbers.tolist()
        for position in np.flatnonzero(~np.isfinite(numbers)).tolist():
            listed[position] = None
        return listed
    if isinstance(dtype, pd.StringDtype):
        missing = values.isna().to_numpy()
        texts: list[Any] = values.tolist()
        for position in np.flatnonzero(missing).tolist():
            texts[position] = None
        return texts
    return [json_value(value) for value in values.tolist()]
