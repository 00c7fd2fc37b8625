"""The incident store: the only place that talks SQL (SQLite by default, PostgreSQL at scale).

Every surface uses one `Store`: ``Store.open(url)`` (the URL from
`impactlens.settings.get_settings`) checks the schema once, creating it in an empty
database; then ``save_batch`` stores ingest batches and ``load_week``, ``get_incident``,
``load_incidents``, ``sources``, ``ingest_runs`` and ``quarantine`` read them back;
``get_watermark``/``set_watermark`` keep how far an incremental pull has read;
``create_api_key``, ``api_keys``, ``revoke_api_key`` and ``authenticate`` keep the HTTP
service's keys (hashed); ``unsettled_incidents``, ``save_settled``, ``settled_impact``
and ``count_unsettled`` keep each restored incident's impact under the current map
(`impactlens.settled`); ``revision`` changes with every ingest.
``upgrade_database`` (``impactlens db upgrade``) migrates an existing database.
"""

from impactlens.store.database import (
    create_engine_for,
    current_revision,
    describe_database,
    head_revision,
    require_head,
    upgrade_database,
)
from impactlens.store.errors import DatabaseNotAtHeadError, InvalidBatchError, StoreError
from impactlens.store.incidents import IngestSummary
from impactlens.store.keys import SCOPES, ApiKey
from impactlens.store.settled import SettledImpact, SettledRow
from impactlens.store.store import Store, StoredIncident, StoredIncidents
from impactlens.store.watermarks import Watermark

__all__ = [
    "SCOPES",
    "ApiKey",
    "DatabaseNotAtHeadError",
    "IngestSummary",
    "InvalidBatchError",
    "SettledImpact",
    "SettledRow",
    "Store",
    "StoreError",
    "StoredIncident",
    "StoredIncidents",
    "Watermark",
    "create_engine_for",
    "current_revision",
    "describe_database",
    "head_revision",
    "require_head",
    "upgrade_database",
]
