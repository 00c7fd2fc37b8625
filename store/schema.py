"""The store's tables (SQLAlchemy Core) and the dtypes its frames have.

The tables here describe the schema at the newest migration; ``store/migrations``
creates it, and a test checks that the two agree. Column names of ``incidents``,
``assignment_history`` and ``quarantine`` follow the canonical model of `ingest.batch`.
"""

from __future__ import annotations

from typing import Any, Final

from impactlens.store.types import UtcTimestamp
from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

__all__ = [
    "COUNT",
    "HISTORY_DTYPES",
    "INCIDENT_DTYPES",
    "QUARANTINE_DTYPES",
    "REJECTED_DTYPES",
    "RUN_DTYPES",
    "SOURCE_DTYPES",
    "STORED_HISTORY_DTYPES",
    "TEXT",
    "TIMESTAMP",
    "api_keys",
    "assignment_history",
    "incidents",
    "ingest_runs",
    "metadata",
    "quarantine",
    "settled_impacts",
    "watermarks",
]

# Final, so that type checkers see the literal dtypes pandas' stubs know.
TIMESTAMP: Final = "datetime64[us, UTC]"
TEXT: Final = "string"
COUNT: Final = "Int64"  # a whole number that may be missing

# The canonical dtypes, column by column. A frame the store returns has exactly these;
# a batch it is given is converted to them (and refused when that is impossible).
INCIDENT_DTYPES: dict[str, str] = {
    "source": TEXT,
    "incident_id": TEXT,
    "opened_at": TIMESTAMP,
    "resolved_at": TIMESTAMP,
    "closed_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "state": TEXT,
    "priority": "int64",
    # Levels 1 (high) to 3 (low), as ServiceNow numbers them; adapters map other tools'.
    "impact": COUNT,
    "urgency": COUNT,
    "ci": TEXT,
    "service_id": TEXT,
    "category": TEXT,
    "subcategory": TEXT,
    "assignment_group": TEXT,
    "location": TEXT,
    "support_tier": TEXT,
    "reassignment_count": COUNT,
    "reopen_count": COUNT,
    "problem_id": TEXT,
    "caused_by_change": TEXT,
    "short_description": TEXT,
    # When the incident was (last) reopened, as the source says (migration 0002).
    "reopened_at": TIMESTAMP,
    # Between CI and service: a WBS element, business service or product (0002).
    "service_component": TEXT,
}
HISTORY_DTYPES: dict[str, str] = {
    "source": TEXT,
    "incident_id": TEXT,
    "at": TIMESTAMP,
    "assignment_group": TEXT,
    "support_tier": TEXT,
}
REJECTED_DTYPES: dict[str, str] = {
    "source": TEXT,
    "line": COUNT,
    "problem": TEXT,
    "reason": TEXT,
    "raw": TEXT,
}
# What the store's readers return besides the canonical frames.
STORED_HISTORY_DTYPES: dict[str, str] = {**HISTORY_DTYPES, "seq": "int64"}
QUARANTINE_DTYPES: dict[str, str] = {
    "id": "int64",
    "run_id": "int64",
    **REJECTED_DTYPES,
    "received_at": TIMESTAMP,
}
RUN_DTYPES: dict[str, str] = {
    "id": "int64",
    "source": TEXT,  # the batch's sources, joined with ","
    "file": TEXT,
    "format": TEXT,
    "started_at": TIMESTAMP,
    "finished_at": TIMESTAMP,
    "rows_read": "int64",
    "new": "int64",
    "updated": "int64",
    "unchanged": "int64",
    "quarantined": "int64",
}
SOURCE_DTYPES: dict[str, str] = {
    "source": TEXT,
    "incidents": "int64",
    "open": "int64",
    "first_opened": TIMESTAMP,
    "last_opened": TIMESTAMP,
    "last_updated": TIMESTAMP,
    "last_ingest": TIMESTAMP,
    "quarantined": "int64",
}
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _column_type(dtype: str) -> TypeEngine[Any]:
    if dtype == TIMESTAMP:
        return UtcTimestamp()
    if dtype in ("int64", COUNT):
        return Integer()
    return String()


ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String, nullable=False),
    Column("file", String, nullable=False),
    Column("format", String, nullable=False),
    Column("started_at", UtcTimestamp(), nullable=False),
    Column("finished_at", UtcTimestamp()),
    Column("rows_read", Integer, nullable=False, server_default="0"),
    Column("new", Integer, nullable=False, server_default="0"),
    Column("updated", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("quarantined", Integer, nullable=False, server_default="0"),
)

incidents = Table(
    "incidents",
    metadata,
    *(
        Column(
            name,
            SmallInteger() if name == "priority" else _column_type(dtype),
            nullable=name not in ("source", "incident_id", "priority"),
        )
        for name, dtype in INCIDENT_DTYPES.items()
    ),
    # The run that last wrote the row, and when that run started. No foreign key here or
    # from assignment_history: PostgreSQL checks one per row (a trigger), which made a
    # COPY of 1,000,000 incidents and 1,800,000 history rows ~3x slower; `save_batch`,
    # the only writer, keeps both links.
    Column("run_id", Integer, nullable=False),
    Column("ingested_at", UtcTimestamp(), nullable=False),
    PrimaryKeyConstraint("source", "incident_id"),
    Index(None, "opened_at"),
    # A week's review selects the incidents active in its window by both (migration 0006).
    Index(None, "resolved_at"),
)

assignment_history = Table(
    "assignment_history",
    metadata,
    Column("source", String, nullable=False),
    Column("incident_id", String, nullable=False),
    Column("seq", Integer, nullable=False),  # 0, 1, 2, ... in the order of assignment
    Column("at", UtcTimestamp()),
    Column("assignment_group", String),
    Column("support_tier", String),
    PrimaryKeyConstraint("source", "incident_id", "seq"),
    # Small rows, always read by key: SQLite keeps them in the key's b-tree alone
    # (one b-tree to write instead of two).
    sqlite_with_rowid=False,
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("ingest_runs.id"), nullable=False, index=True),
    Column("source", String),
    Column("line", Integer),
    Column("problem", String),
    Column("reason", String, nullable=False),
    Column("raw", Text),
    Column("received_at", UtcTimestamp(), nullable=False),
    # `quarantine_fingerprint` of (source, reason, raw), so that a row re-ingested with
    # the same problem is found, not quarantined again (migration 0002). Indexed; the raw
    # text itself cannot be (a row may exceed PostgreSQL's b-tree entry limit).
    Column("fingerprint", String),
    Index(None, "fingerprint"),
)

# How far an incremental pull from a source has read (migration 0003): for a ServiceNow
# instance, the newest ``sys_updated_on`` below which every incident is stored. Written in
# the transaction of the batch it follows (`Store.save_batch`), so a crash between the two
# never moves it past incidents that were not stored.
watermarks = Table(
    "watermarks",
    metadata,
    Column("source", String, nullable=False),
    Column("name", String, nullable=False),
    Column("value", String, nullable=False),
    Column("updated_at", UtcTimestamp(), nullable=False),
    PrimaryKeyConstraint("source", "name"),
)

# API keys of the HTTP service (migration 0004): only a SHA-256 of each key is stored,
# with the first characters of the key (``prefix``) to tell keys apart in a listing.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False, unique=True),
    Column("scope", String, nullable=False),
    Column("prefix", String, nullable=False),
    Column("key_hash", String, nullable=False, unique=True),
    Column("created_at", UtcTimestamp(), nullable=False),
    Column("revoked_at", UtcTimestamp()),
)


# The impact of each restored incident under one map version, as the API answers it (JSON):
# it no longer changes with time, so it is derived once (`impactlens.settled`) and read by
# key. Valid while ``run_id`` is the incident row's own (a re-ingest makes it stale).
settled_impacts = Table(
    "settled_impacts",
    metadata,
    Column("source", String, nullable=False),
    Column("incident_id", String, nullable=False),
    Column("map_version", String, nullable=False),
    Column("run_id", Integer, nullable=False),
    # from this moment on the impact is settled: the later of opened and restored
    Column("settled_at", UtcTimestamp(), nullable=False),
    Column("impact", Text, nullable=False),
    PrimaryKeyConstraint("source", "incident_id", "map_version"),
)
