"""Escalation facts of each incident, and the handoffs between assignment groups.

From an incident's support tier (the highest it reached; see `engine.tiers`) and its
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

from collections.abc import Hashable
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
from impactlens.engine.columns import require_columns
from impactlens.engine.keys import incident_positions
from impactlens.engine.tiers import tier_ranks

__all__ = [
    "ESCALATION_COLUMNS",
    "HANDOFF_COLUMNS",
    "PING_PONG_REASSIGNMENTS",
    "AssignmentSteps",
    "assignment_steps",
    "escalation_facts",
    "handoff_graph",
    "handoffs",
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
    steps = assignment_steps(history, incidents)
    count = len(incidents)
    changes = np.maximum(np.bincount(steps.incident, minlength=count) - 1, 0)
    counted = np.zeros(count, dtype=np.int64)
    if "reassignment_count" in incidents.columns:
        counted = pd.to_numeric(incidents["reassignment_count"]).fillna(0).to_numpy(np.int64)
    reassignments = np.maximum(changes, counted)

    at, low, high = _bounces(steps)
    bounced, first = np.unique(steps.incident[at], return_index=True)
    bounce = np.full(count, None, dtype=object)
    bounce[bounced] = [
        f"{steps.groups[a]} <-> {steps.groups[b]}"
        for a, b in zip(low[first], high[first], strict=True)
    ]

    tier_rank = np.maximum(tier_ranks(incidents["support_tier"]), 1)
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
    following = np.flatnonzero(steps.incident[1:] == steps.incident[:-1])
    if following.size == 0:
        return pd.DataFrame({name: [] for name in HANDOFF_COLUMNS})
    pairs = pd.DataFrame(
        {
            "incident": steps.incident[following],
            "from_group": steps.groups[steps.group[following]],
            "to_group": steps.groups[steps.group[following + 1]],
        }
    )
    counted = pairs.groupby(["from_group", "to_group"]).agg(
        handoffs=("incident", "size"), incidents=("incident", "nunique")
    )
    counted = counted.reset_index().sort_values(
        ["handoffs", "from_group", "to_group"], ascending=[False, True, True], kind="stable"
    )
    return counted.reset_index(drop=True).astype({"handoffs": "int64", "incidents": "int64"})


def handoff_graph(handoff_counts: pd.DataFrame) -> nx.DiGraph[Hashable]:
    """A DiGraph of groups whose edges carry ``handoffs`` and ``incidents`` (from `handoffs`)."""
    require_columns(handoff_counts, HANDOFF_COLUMNS, where="handoff_graph")
    graph: nx.DiGraph[Hashable] = nx.DiGraph()
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
    steps = assignment_steps(history)
    at, low, high = _bounces(steps)
    if at.size == 0:
        return pd.DataFrame({name: [] for name in PING_PONG_COLUMNS})
    bounces = pd.DataFrame(
        {
            "incident": steps.incident[at],
            "group_a": steps.groups[low],
            "group_b": steps.groups[high],
        }
    )
    per_pair = bounces.drop_duplicates().groupby(["group_a", "group_b"])["incident"].size()
    counted = per_pair.rename("incidents").reset_index()
    counted = counted.sort_values(
        ["incidents", "group_a", "group_b"], ascending=[False, True, True], kind="stable"
    )
    return counted.reset_index(drop=True)


@dataclass(frozen=True)
class AssignmentSteps:
    """An assignment history as integer codes, consecutive repeats of a group dropped.

    Step ``i`` is incident ``incident[i]`` assigned to ``groups[group[i]]``; an
    incident's steps are consecutive and in their order. With `incidents` given to
    `assignment_steps`, ``incident`` is a position in that frame; otherwise a code.
    """

    incident: np.ndarray
    group: np.ndarray
    groups: np.ndarray


def assignment_steps(
    history: pd.DataFrame, incidents: pd.DataFrame | None = None
) -> AssignmentSteps:
    """`history` as `AssignmentSteps` (of the `incidents` only, when given).

    Rows without a group, and rows of incidents not in `incidents`, are ignored. Each
    incident's rows keep their order; incidents are brought together (stably) if the
    history interleaves them. Keys are matched as integer codes, never as joined text.
    """
    if incidents is None:
        codes, _ = pd.factorize(
            pd.MultiIndex.from_arrays([history["source"], history["incident_id"]])
        )
        incident = codes.astype(np.int64)
    else:
        incident = incident_positions(history, incidents)
    group, groups = pd.factorize(history["assignment_group"].astype("string"))
    keep = (incident >= 0) & (group >= 0)
    incident, group = incident[keep], group[keep].astype(np.int64)
    if incident.size > 1 and (np.diff(incident) < 0).any():
        order = np.argsort(incident, kind="stable")
        incident, group = incident[order], group[order]
    repeat = np.zeros(incident.size, dtype=bool)
    repeat[1:] = (incident[1:] == incident[:-1]) & (group[1:] == group[:-1])
    return AssignmentSteps(
        incident=incident[~repeat],
        group=group[~repeat],
        groups=np.asarray(groups, dtype=object),
    )


def _bounces(steps: AssignmentSteps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every A -> B -> A: the step where it starts, and the two groups in name order."""
    incident, group = steps.incident, steps.group
    at = np.flatnonzero((incident[2:] == incident[:-2]) & (group[2:] == group[:-2]))
    first, second = group[at], group[at + 1]
    names = steps.groups
    in_order = names[first] <= names[second] if at.size else np.zeros(0, dtype=bool)
    return at, np.where(in_order, first, second), np.where(in_order, second, first)
