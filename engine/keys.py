"""Matching rows to incidents by their key, (source, incident_id), as integer positions.

Incident ids repeat across sources, so a row belongs to an incident by both parts of its
key. Keys are matched as integer codes, never as joined text: joining a million pairs of
strings costs more than everything done with the result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["incident_positions"]


def incident_positions(rows: pd.DataFrame, incidents: pd.DataFrame) -> np.ndarray:
    """Each row's incident as a position in `incidents` (-1 where it has none).

    Both frames need ``source`` and ``incident_id``; a key repeated in `incidents` maps
    to its first row.

    >>> incidents = pd.DataFrame({"source": ["a", "b"], "incident_id": ["1", "1"]})
    >>> rows = pd.DataFrame({"source": ["b", "a", "c"], "incident_id": ["1", "1", "1"]})
    >>> incident_positions(rows, incidents).tolist()
    [1, 0, -1]
    """
    ids, id_names = pd.factorize(
        pd.concat([incidents["incident_id"], rows["incident_id"]], ignore_index=True).astype(
            "string"
        )
    )
    sources, _ = pd.factorize(
        pd.concat([incidents["source"], rows["source"]], ignore_index=True).astype("string")
    )
    combined = sources.astype(np.int64) * (len(id_names) + 1) + ids
    count = len(incidents)
    lookup = pd.Series(np.arange(count), index=combined[:count])
    lookup = lookup[~lookup.index.duplicated()]
    return lookup.reindex(combined[count:]).fillna(-1).to_numpy(dtype=np.int64)
