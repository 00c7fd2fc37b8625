"""Support tiers, derived at analysis: explicit field, then the map, then a group-name pattern, then the fallback."""

from __future__ import annotations

import pandas as pd
import pytest
from impactlens.engine.tiers import support_tiers, tier_patterns
from impactlens.ingest.batch import IngestBatch, empty_batch
from impactlens.service_map.build import build_service_map

from impactlens.errors import InvalidSettingsError

MAP = build_service_map(
    {
        "version": 1,
        "business_processes": [{"id": "sales", "criticality": 1}],
        "services": [
            {
                "id": "pay",
                "support_tiers": {"Service Desk": "L1", "Payments Ops": "L2", "Payments Dev": "L3"},
            },
            # another service ranks Payments Ops higher: the group counts at its higher tier
            {"id": "card", "support_tiers": {"payments ops": "L3"}},
        ],
    }
)


def batch_of(
    assignments: dict[str, list[tuple[str, str | None]]],
    incident_tiers: dict[str, str | None] | None = None,
    reassignments: dict[str, int] | None = None,
) -> IngestBatch:
    """Incidents with their ordered (group, explicit tier) assignments."""
    base = empty_batch()
    rows = [
        (incident, group, tier) for incident, items in assignments.items() for group, tier in items
    ]
    history = pd.DataFrame(
        {
            "source": "t",
            "incident_id": [r[0] for r in rows],
            "at": pd.date_range("2026-11-02 09:00", periods=len(rows), freq="min", tz="UTC"),
            "assignment_group": pd.array([r[1] for r in rows], dtype="string"),
            "support_tier": pd.array([r[2] for r in rows], dtype="string"),
        }
    )
    ids = list(assignments)
    incidents = base.incidents.reindex(range(len(ids))).assign(
        source="t",
        incident_id=ids,
        support_tier=pd.array([(incident_tiers or {}).get(i) for i in ids], dtype="string"),
        reassignment_count=[(reassignments or {}).get(i, 0) for i in ids],
    )
    return IngestBatch(incidents, history, base.rejected)


def tiers(batch: IngestBatch, **options):
    result = support_tiers(batch.incidents, batch.history, **options)
    ids = batch.incidents["incident_id"]
    return (
        dict(zip(ids, result.incident_tier, strict=True)),
        dict(zip(ids, result.incident_rule, strict=True)),
        result,
    )


def test_the_map_names_groups_case_insensitively_and_the_highest_reached_counts():
    found, rules, result = tiers(
        batch_of(
            {
                "A": [("Service Desk", None), ("PAYMENTS DEV", None)],  # L1 then L3
                "B": [("service desk", None)],  # L1 only
                "C": [("Service Desk", None), ("Payments Ops", None)],  # Ops is L3 via 'card'
            }
        ),
        service_map=MAP,
    )
    assert found == {"A": "L3", "B": "L1", "C": "L3"}
    assert rules == {"A": "service map", "B": "service map", "C": "service map"}
    assert result.assignment_tier.tolist() == ["L1", "L3", "L1", "L1", "L3"]


def test_an_explicit_tier_beats_the_map_and_the_pattern():
    found, rules, result = tiers(
        batch_of(
            {
                "A": [("Payments Dev", "L2")],  # the map says L3, the source says L2
                "B": [("Network 3rd line", None)],
            },
            incident_tiers={"B": "L1"},
        ),
        service_map=MAP,
    )
    assert found == {"A": "L2", "B": "L1"}
    assert rules == {"A": "explicit", "B": "explicit"}
    # the assignment itself still gets its tier from the pattern
    assert result.assignment_tier.tolist() == ["L2", "L3"]


@pytest.mark.parametrize(
    ("group", "tier"),
    [
        ("Network 2nd line", "L2"),
        ("2nd-level Apps", "L2"),
        ("Second Line Support", "L2"),
        ("L3 Payments", "L3"),
        ("Database 3rd line", "L3"),
        ("Tier 3 Storage", "L3"),
        ("L3 escalation from 2nd line", "L3"),
        ("Global Service Desk", "L1"),
        ("Helpdesk", "L1"),
        ("1st line EMEA", "L1"),
        ("Level 2 Network", "L2"),
        # the forms real exports use: ordinals as a word anywhere, "level", "tier"
        ("G230 2nd", "L2"),
        ("V5 3rd", "L3"),
        ("N15 1st", "L1"),
        ("Apps 3rd level", "L3"),
        ("Third Line Storage", "L3"),
        ("level-3 DBA", "L3"),
        ("tier-2 network", "L2"),
        # a name that carries two tiers takes the higher: never read "L1 2nd" as L1
        ("L1 2nd", "L2"),
        ("Service Desk 2nd", "L2"),
        ("2nd line to 3rd line", "L3"),
    ],
)
def test_group_name_patterns(group, tier):
    found, rules, _ = tiers(batch_of({"A": [(group, None)]}))
    assert (found["A"], rules["A"]) == (tier, "group name")


@pytest.mark.parametrize(
    "group", ["Network Ops", "L2TP VPN team", "Tier3x", "Third party vendors", "2ndary"]
)
def test_names_that_only_look_like_tiers_do_not_match(group):
    found, rules, _ = tiers(batch_of({"A": [(group, None)]}))
    assert (found["A"], rules["A"]) == ("L1", "reassignment")


def test_the_fallback_counts_a_reassignment_away_from_the_first_group_as_l2():
    found, rules, result = tiers(
        batch_of(
            {
                "moved": [("Network Ops", None), ("Firewall Team", None)],
                "stayed": [("Network Ops", None)],
                "counted": [("Network Ops", None)],  # no history of the move, but the count says so
            },
            reassignments={"counted": 2},
        )
    )
    assert found == {"moved": "L2", "stayed": "L1", "counted": "L2"}
    assert set(rules.values()) == {"reassignment"}
    assert result.assignment_tier.isna().all()  # the fallback names no assignment
    assert result.rule_counts() == {
        "explicit": 0,
        "service map": 0,
        "group name": 0,
        "reassignment": 3,
    }


def test_the_input_batch_is_not_changed():
    batch = batch_of({"A": [("Service Desk", None), ("Payments Dev", None)]})
    before = (batch.incidents.copy(), batch.history.copy())
    support_tiers(batch.incidents, batch.history, service_map=MAP)
    pd.testing.assert_frame_equal(batch.incidents, before[0])
    pd.testing.assert_frame_equal(batch.history, before[1])


def test_own_patterns_replace_the_built_in_ones_first_match_wins():
    own = tier_patterns([["L3", "(?i)dev$"], {"tier": "l2", "pattern": "(?i)ops"}])
    found, rules, _ = tiers(
        batch_of(
            {
                "A": [("Payments Ops", None)],
                "B": [("Payments Dev", None)],
                "C": [("Service Desk", None)],
                "D": [("DevOps", None)],
            }
        ),
        patterns=own,
    )
    # C: the built-in "service desk" rule is gone; D: "dev$" misses, "ops" matches
    assert found == {"A": "L2", "B": "L3", "C": "L1", "D": "L2"}
    assert rules == {"A": "group name", "B": "group name", "C": "reassignment",
                     "D": "group name"}  # fmt: skip


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ({"L2": "x"}, "must be a list of \\[tier, pattern\\] pairs"),
        ([["L4", "x"]], "tier pattern \\[0\\]: 'L4' is not a support tier"),
        ([["L2", "("]], "tier pattern \\[0\\]: '\\(' is not a regular expression"),
        ([["L2"]], "tier pattern \\[0\\]: expected \\[tier, pattern\\]"),
    ],
)
def test_bad_patterns_are_refused(patterns, message):
    with pytest.raises(InvalidSettingsError, match=message):
        tier_patterns(patterns)


def test_groups_are_counted_with_the_rule_that_placed_them():
    result = support_tiers(
        *(lambda b: (b.incidents, b.history))(
            batch_of(
                {
                    "A": [("Service Desk", None), ("Payments Ops", None)],
                    "B": [("Service Desk", None), ("Network 2nd", None)],
                    "C": [("Facilities", None), ("Facilities", None)],
                    "D": [("Facilities", "L2")],
                    "E": [("Payments Dev", None)],
                }
            )
        ),
        service_map=MAP,
    )
    groups = result.groups.set_index("group")
    assert groups.loc["Service Desk", ["tier", "rule", "incidents"]].tolist() == [
        "L1", "service map", 2,
    ]  # fmt: skip
    assert groups.loc["Network 2nd", ["tier", "rule"]].tolist() == ["L2", "group name"]
    # Facilities: no rule places it, but D's source named its tier
    assert groups.loc["Facilities", ["tier", "rule", "incidents"]].tolist() == [
        "L2", "explicit", 2,
    ]  # fmt: skip
    assert result.group_rule_counts() == {
        "explicit": (1, 1),  # D's assignment
        "service map": (3, 3),  # Service Desk (A, B), Payments Ops (A), Payments Dev (E)
        "group name": (1, 1),  # Network 2nd (B)
    }
    assert result.unplaced_groups() == []
    plain = support_tiers(
        *(lambda b: (b.incidents, b.history))(batch_of({"A": [("Ops", None), ("Dev", None)]}))
    )
    assert plain.unplaced_groups() == [("Dev", 1), ("Ops", 1)]
