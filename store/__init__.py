"""The incident store: the only place that talks SQL (SQLite by default, PostgreSQL at scale).

Open it with `create_engine_for` (the URL from `impactlens.settings.get_settings`), bring
its schema to the newest migration with `upgrade_database` (``impactlens db upgrade``),
then `save_batch` ingest batches and `load_incidents` / `load_history` them back.
"""

from impactlens.store.database import (
    create_engine_for,
    current_revision,
    head_revision,
    require_head,
    upgrade_database,
)
from impactlens.store.errors import DatabaseNotAtHeadError, InvalidBatchError, StoreError
from impactlens.store.incidents import (
    IngestSummary,
    load_history,
    load_incidents,
    load_quarantine,
    load_runs,
    save_batch,
)

__all__ = [
    "DatabaseNotAtHeadError",
    "IngestSummary",
    "InvalidBatchError",
    "StoreError",
    "create_engine_for",
    "current_revision",
    "head_revision",
    "load_history",
    "load_incidents",
    "load_quarantine",
    "load_runs",
    "require_head",
    "save_batch",
    "upgrade_database",
]
