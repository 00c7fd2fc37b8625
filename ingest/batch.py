"""The canonical incident model: what every ITSM adapter produces, and what the store keeps.

An adapter is a pure function from a source's raw rows to an `IngestBatch`: canonical
incidents (one row per incident), their assignment history (one row per assignment, in
order) and the rows it rejected, each with its reason. Every timestamp is timezone-aware
UTC. Nothing is dropped silently: a row is either in ``incidents`` or in ``rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "HISTORY_COLUMNS",
    "INCIDENT_COLUMNS",
    "REJECTED_COLUMNS",
    "TIMESTAMP_COLUMNS",
    "IngestBatch",
    "empty_batch",
]

INCIDENT_COLUMNS = (
    "source", "incident_id", "opened_at", "resolved_at", "closed_at", "updated_at", "state",
    "priority", "impact", "urgency", "ci", "service_id", "category", "subcategory",
    "assignment_group", "location", "support_tier", "reassignment_count", "reopen_count",
    "problem_id", "caused_by_change", "short_description", "reopened_at", "service_component",
)  # fmt: skip
# ``reopened_at``: when the incident was (last) reopened, as the source says; one reopen.
# ``service_component``: between CI and service (a WBS element, business service, product).
TIMESTAMP_COLUMNS = ("opened_at", "resolved_at", "closed_at", "updated_at", "reopened_at")
HISTORY_COLUMNS = ("source", "incident_id", "at", "assignment_group", "support_tier")
# ``raw`` is the rejected row as the source had it (JSON text of its fields).
REJECTED_COLUMNS = ("source", "line", "problem", "reason", "raw")


@dataclass(frozen=True)
class IngestBatch:
    """Canonical incidents, their assignment history, and the rejected rows.

    ``lines``, when the adapter knows them, is the file line (or, for JSON, the position)
    each incident was read from, so that a later check (`ingest.plausibility`) can name
    it; None where it does not.
    """

    incidents: pd.DataFrame
    history: pd.DataFrame
    rejected: pd.DataFrame
    lines: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name, columns in (
            ("incidents", INCIDENT_COLUMNS),
            ("history", HISTORY_COLUMNS),
            ("rejected", REJECTED_COLUMNS),
        ):
            frame = getattr(self, name)
            if tuple(frame.columns) != columns:
                raise ValueError(
                    f"IngestBatch.{name} columns {list(frame.columns)} are not {list(columns)}"
                )
        if self.lines is not None and len(self.lines) != len(self.incidents):
            raise ValueError(
                f"IngestBatch.lines has {len(self.lines)} entries for "
                f"{len(self.incidents)} incidents"
            )


def empty_batch() -> IngestBatch:
    """A batch with no rows, every column present."""
    return IngestBatch(
        incidents=pd.DataFrame({c: [] for c in INCIDENT_COLUMNS}),
        history=pd.DataFrame({c: [] for c in HISTORY_COLUMNS}),
        rejected=pd.DataFrame({c: [] for c in REJECTED_COLUMNS}),
    )
