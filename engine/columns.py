"""Named column contracts, checked on entry to every engine function."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from impactlens.errors import MissingColumnsError

__all__ = ["first_known", "require_columns", "text_values"]


def require_columns(frame: pd.DataFrame, required: Iterable[str], *, where: str) -> None:
    """Raise `MissingColumnsError` naming every column of `required` that `frame` lacks.

    >>> require_columns(pd.DataFrame({"a": [1]}), ["a"], where="demo")
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], where="demo")
    Traceback (most recent call last):
    ...
    impactlens.errors.MissingColumnsError: demo: missing required column 'b'
    """
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise MissingColumnsError(missing, where=where)


def text_values(values: pd.Series) -> pd.Series:
    """`values` as stripped text, with empty text as missing.

    >>> text_values(pd.Series([" a ", "", None])).tolist()
    ['a', <NA>, <NA>]
    """
    text = values.astype("string").str.strip()
    return text.where(text != "", pd.NA)


def first_known(frame: pd.DataFrame, columns: Iterable[str], *, missing: str) -> pd.Series:
    """Per row, the first of `columns` (those `frame` has) with a value, as text; else `missing`.

    >>> frame = pd.DataFrame({"service_id": ["wms", None], "ci": [None, " "],
    ...                       "category": ["Apps", "Net"]})
    >>> first_known(frame, ["service_id", "ci", "category"], missing="(none)").tolist()
    ['wms', 'Net']
    """
    value = pd.Series(pd.NA, index=frame.index, dtype="string")
    for column in columns:
        if column in frame.columns:
            value = value.fillna(text_values(frame[column]))
    return value.fillna(missing)
