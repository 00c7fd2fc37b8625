"""The quarantine: rejected rows, each kept once however often its file is ingested.

A row is identified by its fingerprint, a SHA-256 of its source, reason and raw text
(`fingerprint`): a batch's rejected row whose fingerprint the quarantine already holds is
not inserted again, so re-ingesting an export does not grow the quarantine. The
fingerprint, not the raw text, is indexed: a raw row can be larger than PostgreSQL
indexes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import numpy as np
import pandas as pd
from impactlens.store.schema import TEXT, quarantine
from sqlalchemy import exists, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["FINGERPRINT_CHUNK", "fingerprint", "fingerprints", "not_yet_quarantined"]

FINGERPRINT_CHUNK = 5_000  # fingerprints per lookup (bound parameters: SQLite allows 32,766)


def fingerprint(source: str | None, reason: str | None, raw: str | None) -> str:
    """The identity of a quarantined row: hex SHA-256 of its source, reason and raw text.

    Migration 0002 fills existing rows with the same formula; never change one alone.

    >>> fingerprint("csv", "missing Ref", "{}")[:16]
    '0bd98af6931a8dd5'
    """
    text = json.dumps([source, reason, raw], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def fingerprints(rejected: pd.DataFrame) -> pd.Series:
    """The `fingerprint` of each row of a frame with ``source``, ``reason`` and ``raw``."""
    columns = [
        rejected[name].astype(object).where(rejected[name].notna(), None)
        for name in ("source", "reason", "raw")
    ]
    values = [fingerprint(*row) for row in zip(*columns, strict=True)]
    return pd.Series(values, index=rejected.index, dtype=TEXT)


def not_yet_quarantined(
    connection: Connection, rejected: pd.DataFrame, sources: Iterable[str]
) -> np.ndarray:
    """True for each of the `rejected` rows (with a ``fingerprint``) not in the quarantine.

    `sources` are the batch's sources: when the quarantine has no row of any of them,
    as on a first load, nothing needs looking up.
    """
    fresh = np.ones(len(rejected), dtype=bool)
    if not len(rejected):
        return fresh
    of_sources: ColumnElement[bool] = quarantine.c.source.in_(sorted(set(sources)))
    if rejected["source"].isna().any():
        of_sources = or_(of_sources, quarantine.c.source.is_(None))
    any_stored = select(exists().where(of_sources))
    if not connection.execute(any_stored).scalar_one():
        return fresh
    wanted = rejected["fingerprint"].to_numpy(dtype=object)
    distinct = list(dict.fromkeys(wanted.tolist()))
    stored: set[str] = set()
    for start in range(0, len(distinct), FINGERPRINT_CHUNK):
        chunk = distinct[start : start + FINGERPRINT_CHUNK]
        found = connection.execute(
            select(quarantine.c.fingerprint).where(quarantine.c.fingerprint.in_(chunk)).distinct()
        )
        stored.update(str(value) for value in found.scalars())
    return np.fromiter((value not in stored for value in wanted), dtype=bool, count=len(wanted))
