"""Quarantine incidents whose timestamps cannot be true, whatever adapter read them.

A clock set wrong, a date typed with the wrong century, a placeholder like 2099-12-31:
such an incident would distort every week it touches. It is moved to the rejected rows,
with its reason, instead of being stored. `now` is a parameter: the caller owns the clock.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
from impactlens.ingest.batch import REJECTED_COLUMNS, TIMESTAMP_COLUMNS, IngestBatch

__all__ = ["EARLIEST", "FUTURE_TOLERANCE", "reject_implausible"]

EARLIEST = pd.Timestamp("1990-01-01", tz="UTC")
# Tools in other time zones, and clocks a little fast, are not an error.
FUTURE_TOLERANCE = pd.Timedelta(days=1)


def reject_implausible(batch: IngestBatch, *, now: pd.Timestamp) -> IngestBatch:
    """Move incidents with a timestamp before 1990 or over a day after `now` to rejected.

    Their assignment history goes with them (it is not stored); each keeps the file line
    the adapter read it from (`IngestBatch.lines`), where it knows it.

    Examples
    --------
    >>> from impactlens.ingest.batch import empty_batch
    >>> base = empty_batch()
    >>> incidents = base.incidents.reindex(range(2)).assign(
    ...     source="t", incident_id=["A", "B"],
    ...     opened_at=pd.to_datetime(["2026-11-02", "2099-12-31"], utc=True))
    >>> batch = reject_implausible(IngestBatch(incidents, base.history, base.rejected),
    ...                            now=pd.Timestamp("2026-11-28", tz="UTC"))
    >>> batch.incidents["incident_id"].tolist(), batch.rejected["reason"].tolist()
    (['A'], ['opened_at 2099-12-31T00:00:00Z is in the future (more than a day after the ingest)'])
    """
    incidents = batch.incidents
    latest = now + FUTURE_TOLERANCE
    reasons = pd.Series(pd.NA, index=incidents.index, dtype="string")
    for column in TIMESTAMP_COLUMNS:
        stamps = pd.to_datetime(incidents[column], utc=True)
        shown = stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        future = (stamps > latest) & reasons.isna()
        reasons[future] = (
            # No moment of "now" in the reason: the same row ingested again has the same
            # reason, so the quarantine keeps it once (store.quarantine).
            f"{column} " + shown[future] + " is in the future (more than a day after the ingest)"
        )
        ancient = (stamps < EARLIEST) & reasons.isna()
        reasons[ancient] = f"{column} " + shown[ancient] + " is before 1990"
    bad = reasons.notna().to_numpy()
    if not bad.any():
        return batch
    dropped = incidents[bad]
    rejected = pd.DataFrame(
        {
            "source": dropped["source"].astype("string").array,
            "line": pd.array(
                batch.lines[bad] if batch.lines is not None else [pd.NA] * len(dropped),
                dtype="Int64",
            ),
            "problem": pd.array(["implausible timestamp"] * len(dropped), dtype="string"),
            "reason": reasons[bad].array,
            "raw": pd.array(
                [
                    json.dumps({k: str(v) for k, v in row.items() if pd.notna(v)})
                    for row in dropped.to_dict("records")
                ],
                dtype="string",
            ),
        }
    )
    keys = set(zip(dropped["source"], dropped["incident_id"], strict=True))
    history = batch.history
    kept_history = np.array(
        [key not in keys for key in zip(history["source"], history["incident_id"], strict=True)],
        dtype=bool,
    )
    return replace(
        batch,
        incidents=incidents[~bad].reset_index(drop=True),
        history=history[kept_history].reset_index(drop=True),
        rejected=pd.concat([batch.rejected, rejected], ignore_index=True)[list(REJECTED_COLUMNS)],
        lines=batch.lines[~bad] if batch.lines is not None else None,
    )
