"""Escalation facts of each incident and the handoffs between groups, on hand-built histories."""

from __future__ import annotations

import pandas as pd
import pytest
from impactlens.engine.escalation import (
    ESCALATION_COLUMNS,
    HANDOFF_COLUMNS,
    escalation_facts,
    handoff_graph,
    handoffs,
    ping_pong_loops,
)

from impactlens.errors import MissingColumnsError


def history_of(steps: list[tuple[str, str | None]], source: str = "t") -> pd.DataFrame:
    """One history row per (incident_id, assignment_group), in the order given."""
    return pd.DataFrame(
        {
            "source": source,
            "incident_id": [incident for incident, _ in steps],
            "assignment_group": pd.array([group for _, group in steps], dtype="string"),
        }
    )


def incidents_of(
    tiers: dict[str, str | None], counts: dict[str, int] | None = None
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "source": "t",
            "incident_id": list(tiers),
            "support_tier": pd.array(list(tiers.values()), dtype="string"),
        }
    )
    if counts is not None:
        frame["reassignment_count"] = [counts.get(incident, 0) for incident in tiers]
    return frame


def facts_by_id(incidents: pd.DataFrame, history: pd.DataFrame) -> dict[str, dict]:
    facts = escalation_facts(incidents, history)
    assert tuple(facts.columns) == ESCALATION_COLUMNS
    records = facts.assign(
        bounce=facts["bounce"].astype(object).where(facts["bounce"].notna(), None)
    )
    return dict(zip(incidents["incident_id"], records.to_dict("records"), strict=True))


# --- escalation_facts -------------------------------------------------------------------------


def test_a_bounce_is_named_in_name_order_and_is_ping_pong():
    history = history_of(
        [
            ("A", "Net"), ("A", "Firewall"), ("A", "Net"),  # Net -> Firewall -> Net
            ("B", "Alpha"), ("B", "Zulu"), ("B", "Alpha"),  # already in name order
            ("C", "Zulu"), ("C", "Alpha"), ("C", "Zulu"),  # the other way round, same name
        ]
    )  # fmt: skip
    facts = facts_by_id(incidents_of({"A": "L2", "B": "L2", "C": "L2"}), history)
    assert facts["A"]["bounce"] == "Firewall <-> Net"
    assert facts["B"]["bounce"] == facts["C"]["bounce"] == "Alpha <-> Zulu"
    assert all(facts[i]["ping_pong"] and facts[i]["reassignments"] == 2 for i in "ABC")


def test_repeated_assignments_to_one_group_collapse():
    history = history_of(
        [
            ("A", "Desk"), ("A", "Desk"), ("A", "Net"), ("A", "Net"), ("A", "Net"),  # 1 change
            ("B", "Net"), ("B", "Net"), ("B", "FW"), ("B", "FW"), ("B", "Net"),  # Net FW Net
            ("C", "Desk"), ("C", "Desk"), ("C", "Desk"),  # never moved
            ("D", "Net"), ("D", None), ("D", "Net"),  # no group: ignored, Net Net is one
        ]
    )  # fmt: skip
    facts = facts_by_id(incidents_of(dict.fromkeys("ABCD", "L1")), history)
    assert {i: facts[i]["reassignments"] for i in "ABCD"} == {"A": 1, "B": 2, "C": 0, "D": 0}
    assert {i: facts[i]["ping_pong"] for i in "ABCD"} == {
        "A": False,
        "B": True,
        "C": False,
        "D": False,
    }
    assert {i: facts[i]["bounce"] for i in "ABCD"} == {
        "A": None,
        "B": "FW <-> Net",
        "C": None,
        "D": None,
    }


def test_three_reassignments_without_a_bounce_are_ping_pong():
    history = history_of(
        [
            ("A", "Desk"), ("A", "Apps"), ("A", "Dev"), ("A", "Vendor"),  # 3 moves, no return
            ("B", "Desk"), ("B", "Apps"), ("B", "Dev"),  # 2 moves: not yet
            ("C", "Desk"), ("C", "Apps"), ("C", "Dev"), ("C", "Desk"),  # back to Desk, not A-B-A
        ]
    )  # fmt: skip
    facts = facts_by_id(incidents_of(dict.fromkeys("ABC", "L2")), history)
    assert facts["A"] == {
        "tier_rank": 2,
        "escalated": True,
        "reached_l3": False,
        "reassignments": 3,
        "ping_pong": True,
        "bounce": None,
    }
    assert (facts["B"]["reassignments"], facts["B"]["ping_pong"]) == (2, False)
    assert (facts["C"]["reassignments"], facts["C"]["ping_pong"], facts["C"]["bounce"]) == (
        3,
        True,
        None,
    )


def test_the_larger_of_the_source_count_and_the_history_changes():
    history = history_of(
        [
            ("A", "Desk"), ("A", "Net"),  # 1 change, the source counts 4
            ("B", "Desk"), ("B", "Net"), ("B", "Desk"),  # 2 changes (a bounce), source 0
            ("C", "Desk"), ("C", "Net"),  # 1 change, source 2: 2, not ping-pong
        ]
    )  # fmt: skip
    incidents = incidents_of(dict.fromkeys("ABCD", "L1"), counts={"A": 4, "C": 2, "D": 3})
    facts = facts_by_id(incidents, history)
    assert {i: facts[i]["reassignments"] for i in "ABCD"} == {"A": 4, "B": 2, "C": 2, "D": 3}
    # D has no history at all: its source count of 3 alone makes it ping-pong
    assert {i: facts[i]["ping_pong"] for i in "ABCD"} == {
        "A": True,
        "B": True,
        "C": False,
        "D": True,
    }
    assert facts["B"]["bounce"] == "Desk <-> Net"
    assert facts["D"]["bounce"] is None


def test_a_missing_reassignment_count_is_zero():
    incidents = incidents_of({"A": "L1", "B": "L1"})
    incidents["reassignment_count"] = pd.array([pd.NA, 5], dtype="Int64")
    facts = facts_by_id(incidents, history_of([("A", "Desk"), ("A", "Net")]))
    assert (facts["A"]["reassignments"], facts["B"]["reassignments"]) == (1, 5)


def test_support_tiers_rank_and_missing_counts_as_l1():
    tiers = {"A": "L1", "B": "L2", "C": "L3", "D": None, "E": "l3"}
    facts = facts_by_id(incidents_of(tiers), history_of([]))
    ranks = {i: facts[i]["tier_rank"] for i in tiers}
    assert {i: ranks[i] for i in "ABCDE"} == {"A": 1, "B": 2, "C": 3, "D": 1, "E": 3}
    assert {i: facts[i]["escalated"] for i in "ABCD"} == {
        "A": False,
        "B": True,
        "C": True,
        "D": False,
    }
    assert {i: facts[i]["reached_l3"] for i in "ABCD"} == {
        "A": False,
        "B": False,
        "C": True,
        "D": False,
    }
    assert all(facts[i]["reassignments"] == 0 and not facts[i]["ping_pong"] for i in tiers)


def test_the_first_bounce_names_the_incident():
    # A -> B -> A -> C -> A: bounces A<->B first, then A<->C; the first is reported
    history = history_of(
        [("X", "Bravo"), ("X", "Alpha"), ("X", "Bravo"), ("X", "Charlie"), ("X", "Bravo")]
    )
    facts = facts_by_id(incidents_of({"X": "L2"}), history)
    assert facts["X"]["bounce"] == "Alpha <-> Bravo"
    assert facts["X"]["reassignments"] == 4


def test_interleaved_history_rows_of_several_incidents():
    # rows as an export might list them, by time across incidents; each incident's own
    # rows are in order
    history = history_of(
        [
            ("B", "Desk"), ("A", "Net"), ("B", "Net"), ("C", "Desk"), ("A", "FW"),
            ("B", "Net"), ("A", "Net"), ("C", "Apps"), ("C", "Dev"), ("B", "Desk"),
            ("C", "Vendor"),
        ]
    )  # fmt: skip
    # A: Net FW Net (bounce); B: Desk Net Net Desk -> Desk Net Desk (bounce, the repeat
    # collapses only because B's rows are brought together); C: Desk Apps Dev Vendor (3 moves)
    incidents = incidents_of({"C": "L3", "A": "L2", "B": "L1"})
    incidents.index = [10, 20, 30]  # the result is indexed like the incidents
    facts = escalation_facts(incidents, history)
    assert facts.index.tolist() == [10, 20, 30]
    assert facts["reassignments"].tolist() == [3, 2, 2]
    assert facts["ping_pong"].tolist() == [True, True, True]
    assert facts["bounce"].tolist() == [pd.NA, "FW <-> Net", "Desk <-> Net"]
    assert facts["tier_rank"].tolist() == [3, 2, 1]


def test_the_same_incident_id_in_two_sources_is_two_incidents():
    history = pd.concat(
        [history_of([("1", "Desk"), ("1", "Net"), ("1", "Desk")], source="jira"),
         history_of([("1", "Desk")], source="snow")]
    )  # fmt: skip
    incidents = pd.DataFrame({"source": ["snow", "jira"], "incident_id": "1", "support_tier": "L1"})
    facts = escalation_facts(incidents, history)
    assert facts["reassignments"].tolist() == [0, 2]
    assert facts["bounce"].tolist() == [pd.NA, "Desk <-> Net"]


def test_escalation_facts_name_missing_columns():
    with pytest.raises(
        MissingColumnsError, match="escalation_facts: missing required column 'support_tier'"
    ):
        escalation_facts(pd.DataFrame({"source": ["t"], "incident_id": ["A"]}), history_of([]))
    with pytest.raises(
        MissingColumnsError, match=r"escalation_facts history: .*'assignment_group'"
    ):
        escalation_facts(incidents_of({"A": "L1"}), pd.DataFrame({"source": [], "incident_id": []}))


# --- handoffs, the handoff graph and ping-pong loops ------------------------------------------

# A: Desk Net FW Net; B: Desk Net; C: Desk Desk; D: FW Net; E: Desk Net Desk Net; F: Net Desk Net
# (interleaved as an export by time would list them)
HANDOFF_HISTORY = history_of(
    [
        ("A", "Desk"), ("E", "Desk"), ("B", "Desk"), ("A", "Net"), ("C", "Desk"),
        ("F", "Net"), ("E", "Net"), ("D", "FW"), ("A", "FW"), ("E", "Desk"), ("B", "Net"),
        ("C", "Desk"), ("F", "Desk"), ("E", "Net"), ("D", "Net"), ("A", "Net"), ("F", "Net"),
    ]
)  # fmt: skip


def test_handoffs_count_moves_and_incidents():
    # Desk -> Net: A once, B once, E twice, F once = 5 handoffs in 4 incidents
    # FW -> Net: A, D = 2 in 2; Net -> Desk: E, F = 2 in 2; Net -> FW: A = 1 in 1.
    # C (Desk, Desk) hands nothing off. Most first, ties by name.
    table = handoffs(HANDOFF_HISTORY)
    assert tuple(table.columns) == HANDOFF_COLUMNS
    assert [tuple(row) for row in table.itertuples(index=False)] == [
        ("Desk", "Net", 5, 4),
        ("FW", "Net", 2, 2),
        ("Net", "Desk", 2, 2),
        ("Net", "FW", 1, 1),
    ]


def test_handoff_graph_carries_both_counts():
    graph = handoff_graph(handoffs(HANDOFF_HISTORY))
    assert sorted(graph.nodes) == ["Desk", "FW", "Net"]
    assert {(a, b): (d["handoffs"], d["incidents"]) for a, b, d in graph.edges(data=True)} == {
        ("Desk", "Net"): (5, 4),
        ("FW", "Net"): (2, 2),
        ("Net", "Desk"): (2, 2),
        ("Net", "FW"): (1, 1),
    }
    assert graph.is_directed() and not graph.has_edge("FW", "Desk")


def test_ping_pong_loops_count_each_incident_once_per_pair():
    # bounces: A Net-FW-Net -> FW<->Net; E Desk-Net-Desk and Net-Desk-Net -> Desk<->Net once;
    # F Net-Desk-Net -> Desk<->Net. D and B never come back.
    loops = ping_pong_loops(HANDOFF_HISTORY)
    assert loops.to_dict("records") == [
        {"group_a": "Desk", "group_b": "Net", "incidents": 2},
        {"group_a": "FW", "group_b": "Net", "incidents": 1},
    ]


def test_no_handoffs_at_all():
    history = history_of([("A", "Desk"), ("A", "Desk"), ("B", "Net")])
    assert handoffs(history).empty and tuple(handoffs(history).columns) == HANDOFF_COLUMNS
    loops = ping_pong_loops(history)
    assert loops.empty and tuple(loops.columns) == ("group_a", "group_b", "incidents")
    assert handoff_graph(handoffs(history)).number_of_edges() == 0
