"""Column types of the store that SQLAlchemy does not have as such.

A moment is stored as an instant in UTC: ``TIMESTAMP WITH TIME ZONE`` on PostgreSQL and,
since SQLite has no date type, integer microseconds since 1970-01-01T00:00:00Z there
(exact, compact, ordered, and the cheapest thing to bind in bulk). In the SQLite shell,
``datetime(opened_at / 1000000, 'unixepoch')`` shows one as text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["EPOCH", "UtcTimestamp", "epoch_microseconds"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def epoch_microseconds(moment: datetime) -> int:
    """Whole microseconds from the Unix epoch to an aware `moment` (a naive one is refused).

    >>> epoch_microseconds(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC))
    1000005
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no time zone (UTC expected)")
    return (moment - EPOCH) // MICROSECOND


class UtcTimestamp(TypeDecorator[datetime]):
    """An aware moment, read back as an aware `datetime` in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        microseconds = epoch_microseconds(value)
        if dialect.name == "sqlite":
            return microseconds
        return EPOCH + microseconds * MICROSECOND

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return EPOCH + int(value) * MICROSECOND
