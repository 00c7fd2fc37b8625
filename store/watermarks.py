"""Watermarks: how far an incremental pull from a source has read (the SQL behind
`Store.get_watermark`, `Store.set_watermark` and ``Store.save_batch(watermark=...)``).

A watermark is text the puller chooses (for ServiceNow, a UTC ``sys_updated_on``), kept
per (source, name). It is written on the caller's connection, so that `Store.save_batch`
writes it in the transaction of the batch it follows: stored together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from impactlens.store.schema import watermarks
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

__all__ = ["Watermark", "read_watermark", "write_watermark"]


@dataclass(frozen=True)
class Watermark:
    """How far the pull named `name` from `source` has read: `value`, as text."""

    source: str
    name: str
    value: str

    def __post_init__(self) -> None:
        for field in ("source", "name", "value"):
            if not isinstance(getattr(self, field), str) or not getattr(self, field):
                raise ValueError(f"Watermark.{field} must be non-empty text")


def read_watermark(connection: Connection, source: str, name: str) -> str | None:
    """The watermark (source, name), or None when none was written."""
    value = connection.execute(
        select(watermarks.c.value).where(watermarks.c.source == source, watermarks.c.name == name)
    ).scalar_one_or_none()
    return None if value is None else str(value)


def write_watermark(connection: Connection, watermark: Watermark, *, at: datetime) -> None:
    """Insert or replace the watermark (source, name) on `connection`; `at` is when."""
    values = {
        "source": watermark.source,
        "name": watermark.name,
        "value": watermark.value,
        "updated_at": at,
    }
    changed = {"value": watermark.value, "updated_at": at}
    keys = ["source", "name"]
    if connection.dialect.name == "postgresql":
        upsert = postgresql.insert(watermarks).values(values)
        connection.execute(upsert.on_conflict_do_update(index_elements=keys, set_=changed))
    else:
        insert = sqlite.insert(watermarks).values(values)
        connection.execute(insert.on_conflict_do_update(index_elements=keys, set_=changed))
