"""Named column contracts, checked on entry to every engine function."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from impactlens.errors import MissingColumnsError

__all__ = ["require_columns"]


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
