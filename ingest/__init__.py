"""Turn a source's rows into the canonical incident table and a table of rejected rows."""

from impactlens.ingest.canonical import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    parse_canonical_incidents,
    read_canonical_csv,
)

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "parse_canonical_incidents",
    "read_canonical_csv",
]
