"""Escalation facts of each incident, and the handoffs between assignment groups.

From an incident's support tier (the highest it reached; see `ingest.tiers`) and its
assignment history (one row per assignment, in order):

- ``escalated``: it reached L2 or L3; ``reached_l3``: it reached L3.
- ``reassignments``: the larger of the source's reassignment count and the number of
  changes of group in the history (a source may count moves the export does not list).
- ``ping_pong``: it went A -> B -> A between groups (a *bounce*), or was reassigned 3 or
  more times. ``bounce`` names the groups of its first bounce, ``A <-> B`` in name order.
- a *handoff* is a change of group, ``from_group -> to_group``; repeated assignments to
  the same group in a row are one assignment.

Pure: frames in, frames out.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from engine.columns import require_columns

__all__ = [
    "ESCALATION_COLUMNS",
    "HANDOFF_COLUMNS",
    "PING_PONG_REASSIGNMENTS",
    "assignment_steps",
    "escalation_facts",
    "handoff_graph",
    "handoffs",
    "incident_keys",
    "ping_pong_loops",
]

ESCALATION_COLUMNS = (
    "tier_rank",
    "escalated",
    "reached_l3",
    "reassignments",
    "ping_pong",
    "bounce",
)
HANDOFF_COLUMNS = ("from_group", "to_group", "handoffs", "incidents")
PING_PONG_COLUMNS = ("group_a", "group_b", "incidents")
PING_PONG_REASSIGNMENTS = 3  # this many reassignments count as ping-pong even without a bounce
_TIER_RANK = {"L1": 1, "L2": 2, "L3": 3}
_KEY = ("source", "incident_id")
_HISTORY_COLUMNS = ("source", "incident_id", "assignment_group")


def escalation_facts(incidents: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """`ESCALATION_COLUMNS` for each incident, indexed like `incidents`.

    `incidents` needs ``source``, ``incident_id`` and ``support_tier`` (L1/L2/L3; missing
    counts as L1), and uses ``reassignment_count`` when present. `history` needs
    ``source``, ``incident_id`` and ``assignment_group``, each incident's rows in order.

    Examples
    --------
    >>> incidents = pd.DataFrame({"source": "t", "incident_id": ["A", "B"],
    ...     "support_tier": ["L2", "L1"], "reassignment_count": [2, 0]})
    >>> history = pd.DataFrame({"source": "t", "incident_id": ["A", "A", "A", "B"],
    ...     "assignment_group": ["Net", "Firewall", "Net", "Desk"]})
    >>> facts = escalation_facts(incidents, history)
    >>> facts["ping_pong"].tolist(), facts["bounce"].tolist()
    ([True, False], ['Firewall <-> Net', <NA>])
    """
    require_columns(incidents, (*_KEY, "support_tier"), where="escalation_facts")
    require_columns(history, _HISTORY_COLUMNS, where="escalation_facts history")
    steps = assignment_steps(history)
    keys = incident_keys(incidents)

    moves = steps.groupby("key", sort=False).size() - 1
    changes = moves.reindex(keys).fillna(0).to_numpy(dtype=np.int64)
    counted = np.zeros(len(incidents), dtype=np.int64)
    if "reassignment_count" in incidents.columns:
        counted = pd.to_numeric(incidents["reassignment_count"]).fillna(0).to_numpy(np.int64)
    reassignments = np.maximum(changes, counted)

    bounces = _bounces(steps)
    first_bounce = bounces.drop_duplicates("key").set_index("key")["bounce"]
    bounce = first_bounce.reindex(keys).astype("string").to_numpy()

    tiers = incidents["support_tier"].astype("string").str.upper().map(_TIER_RANK)
    tier_rank = pd.to_numeric(tiers).fillna(1).to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "tier_rank": tier_rank,
            "escalated": tier_rank >= 2,
            "reached_l3": tier_rank >= 3,
            "reassignments": reassignments,
            "ping_pong": pd.notna(bounce) | (reassignments >= PING_PONG_REASSIGNMENTS),
            "bounce": pd.array(bounce, dtype="string"),
        },
        index=incidents.index,
    )


def handoffs(history: pd.DataFrame) -> pd.DataFrame:
    """`HANDOFF_COLUMNS`: each group -> group handoff, how often, and in how many incidents.

    Most frequent first (then by name).

    >>> history = pd.DataFrame({"source": "t", "incident_id": ["A", "A", "A", "B", "B"],
    ...     "assignment_group": ["Desk", "Net", "Desk", "Desk", "Net"]})
    >>> handoffs(history).to_dict("records")[0]
    {'from_group': 'Desk', 'to_group': 'Net', 'handoffs': 2, 'incidents': 2}
    """
    require_columns(history, _HISTORY_COLUMNS, where="handoffs")
    steps = assignment_steps(history)
    following = steps["key"].shift(-1) == steps["key"]
    pairs = pd.DataFrame(
        {
            "key": steps["key"][following].to_numpy(),
            "from_group": steps["assignment_group"][following].to_numpy(),
            "to_group": steps["assignment_group"].shift(-1)[following].to_numpy(),
        }
    )
    if pairs.empty:
        return pd.DataFrame({name: [] for name in HANDOFF_COLUMNS})
    counted = pairs.groupby(["from_group", "to_group"]).agg(
        handoffs=("key", "size"), incidents=("key", "nunique")
    )
    counted = counted.reset_index().sort_values(
        ["handoffs", "from_group", "to_group"], ascending=[False, True, True], kind="stable"
    )
    return counted.reset_index(drop=True).astype({"handoffs": "int64", "incidents": "int64"})


def handoff_graph(handoff_counts: pd.DataFrame) -> nx.DiGraph:
    """A DiGraph of groups whose edges carry ``handoffs`` and ``incidents`` (from `handoffs`)."""
    require_columns(handoff_counts, HANDOFF_COLUMNS, where="handoff_graph")
    graph = nx.DiGraph()
    for row in handoff_counts.itertuples(index=False):
        graph.add_edge(row.from_group, row.to_group, handoffs=row.handoffs, incidents=row.incidents)
    return graph


def ping_pong_loops(history: pd.DataFrame) -> pd.DataFrame:
    """Pairs of groups that bounced incidents A -> B -> A, with how many incidents did.

    Columns ``group_a``, ``group_b`` (in name order) and ``incidents``; most first.

    >>> history = pd.DataFrame({"source": "t", "incident_id": list("AAABBB"),
    ...     "assignment_group": ["Net", "FW", "Net", "FW", "Net", "FW"]})
    >>> ping_pong_loops(history).to_dict("records")
    [{'group_a': 'FW', 'group_b': 'Net', 'incidents': 2}]
    """
    require_columns(history, _HISTORY_COLUMNS, where="ping_pong_loops")
    bounces = _bounces(assignment_steps(history))
    if bounces.empty:
        return pd.DataFrame({name: [] for name in PING_PONG_COLUMNS})
    counted = (
        bounces.drop_duplicates(["key", "group_a", "group_b"])
        .groupby(["group_a", "group_b"])["key"]
        .size()
    )
    counted = counted.rename("incidents").reset_index()
    counted = counted.sort_values(
        ["incidents", "group_a", "group_b"], ascending=[False, True, True], kind="stable"
    )
    return counted.reset_index(drop=True)


def incident_keys(frame: pd.DataFrame) -> pd.Series:
    """``source`` and ``incident_id`` of each row joined into one text key."""
    return frame["source"].astype("string") + "\x1f" + frame["incident_id"].astype("string")


def assignment_steps(history: pd.DataFrame) -> pd.DataFrame:
    """History as ``key, assignment_group``, consecutive repeats of a group dropped.

    Rows without a group are ignored. Each incident's rows keep their order; incidents are
    brought together (stably) if the history interleaves them.
    """
    steps = pd.DataFrame(
        {
            "key": incident_keys(history).to_numpy(),
            "assignment_group": history["assignment_group"].astype("string").to_numpy(),
        }
    )
    steps = steps[steps["assignment_group"].notna()]
    if not steps["key"].is_monotonic_increasing:
        steps = steps.sort_values("key", kind="stable")
    same_as_before = (steps["key"] == steps["key"].shift()) & (
        steps["assignment_group"] == steps["assignment_group"].shift()
    )
    return steps[~same_as_before.fillna(False)].reset_index(drop=True)


def _bounces(steps: pd.DataFrame) -> pd.DataFrame:
    """Every A -> B -> A in `steps`: ``key``, ``group_a``, ``group_b``, ``bounce`` text."""
    key, group = steps["key"], steps["assignment_group"]
    two_on = key.shift(-2) == key
    back = two_on & (group.shift(-2) == group)
    back = back.fillna(False).to_numpy(dtype=bool)
    first = group[back].to_numpy(dtype=object)
    second = group.shift(-1)[back].to_numpy(dtype=object)
    low = np.where(first <= second, first, second)
    high = np.where(first <= second, second, first)
    return pd.DataFrame(
        {
            "key": key[back].to_numpy(),
            "group_a": low,
            "group_b": high,
            "bounce": pd.Series(low, dtype=object) + " <-> " + pd.Series(high, dtype=object),
        }
    )
