"""Escalation hotspots: keys, repeats, and one small week worked out by hand, row by row."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from impactlens.engine.escalation import ping_pong_loops
from impactlens.engine.hotspots import (
    HOTSPOT_COLUMNS,
    HotspotRules,
    find_hotspots,
    hotspot_keys,
)
from impactlens.engine.repeats import repeat_flags
from impactlens.engine.weeks import week_bounds

from impactlens.errors import InvalidSettingsError, MissingColumnsError

# --- hotspot_keys -----------------------------------------------------------------------------

KEY_FRAME = pd.DataFrame(
    {
        "service_id": pd.array(["wms", None, "  ", None, None], dtype="string"),
        "ci": pd.array([None, "X1", "X2", "", None], dtype="string"),
        "category": [" Apps ", "Net", "Net", "Net", None],
        "subcategory": ["Orders", "LAN", None, "WAN", None],
        "assignment_group": ["Apps Support", None, "Network Ops", "Network Ops", None],
        "location": ["Berlin", "Hamburg", None, "Berlin", None],
    }
)


def test_default_key_is_service_else_ci_else_category():
    # blank text is missing: row 3's service "  " falls back to its CI, row 4's CI "" to
    # its category; row 5 has nothing
    assert hotspot_keys(KEY_FRAME).tolist() == ["wms", "X1", "X2", "Net", "(none)"]
    assert hotspot_keys(KEY_FRAME).name == "key"


def test_default_key_without_ci_or_category_columns():
    frame = KEY_FRAME[["service_id", "category"]]
    assert hotspot_keys(frame).tolist() == ["wms", "Net", "Net", "Net", "(none)"]
    assert hotspot_keys(KEY_FRAME[["ci"]]).tolist() == ["(none)", "X1", "X2", "(none)", "(none)"]


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        (["category"], ["Apps", "Net", "Net", "Net", "(none)"]),
        (
            ["category", "assignment_group"],
            ["Apps / Apps Support", "Net / (none)", "Net / Network Ops", "Net / Network Ops",
             "(none) / (none)"],
        ),
        (
            ["assignment_group", "category"],  # the order given is the order of the parts
            ["Apps Support / Apps", "(none) / Net", "Network Ops / Net", "Network Ops / Net",
             "(none) / (none)"],
        ),
        (
            ["service", "ci", "location"],  # no fallback between named fields
            ["wms / (none) / Berlin", "(none) / X1 / Hamburg", "(none) / X2 / (none)",
             "(none) / (none) / Berlin", "(none) / (none) / (none)"],
        ),
        (
            ["category", "subcategory"],
            ["Apps / Orders", "Net / LAN", "Net / (none)", "Net / WAN", "(none) / (none)"],
        ),
    ],
)  # fmt: skip
def test_group_by_joins_the_named_fields(group_by, expected):
    assert hotspot_keys(KEY_FRAME, group_by).tolist() == expected


def test_unknown_group_by_fields_are_named_with_the_choices():
    with pytest.raises(InvalidSettingsError) as raised:
        hotspot_keys(KEY_FRAME, ["category", "colour", "size"])
    assert str(raised.value) == (
        "cannot group hotspots by 'colour', 'size': choose from service, ci, "
        "service_component, category, subcategory, assignment_group, location, support_tier, "
        "state, source, problem_id, caused_by_change"
    )


def test_group_by_a_field_the_frame_lacks():
    with pytest.raises(
        MissingColumnsError, match="hotspot_keys: missing required column 'location'"
    ):
        hotspot_keys(KEY_FRAME.drop(columns="location"), ["category", "location"])


# --- find_hotspots on one hand-built week -----------------------------------------------------
#
# Week 2026-W47 in Europe/Berlin with 2 baseline weeks (CET, UTC+1):
#   W45 [11-01 23:00, 11-08 23:00) UTC, W46 [11-08 23:00, 11-15 23:00), W47 [11-15 23:00, 11-22 23:00)

BOUNDS = week_bounds("2026-W47", "Europe/Berlin", weeks_before=2)
RULES = HotspotRules(baseline_weeks=2, chronic_weeks=2)  # others: 14 days, alpha 0.01, 3, 2.0


def incident(number, key, opened, *, hours=None, tier="L2", bounce=None, ping_pong=None,
             reopen=0, impact=0.0):  # fmt: skip
    opened = pd.Timestamp(opened)
    return {
        "source": "t",
        "incident_id": number,
        "opened_at": opened,
        "resolved_at": opened + pd.Timedelta(hours=hours) if hours is not None else pd.NaT,
        "key": key,
        "escalated": tier in ("L2", "L3"),
        "reached_l3": tier == "L3",
        "ping_pong": bool(ping_pong or bounce),
        "bounce": bounce,
        "reopen_count": reopen,
        "impact_score": float(impact),
    }


ROWS = [
    # before the baseline: counts for nothing but repeats (neither of these is within 14 days)
    incident("AN1", "ancient", "2026-10-20T10:00Z"),
    incident("LX", "labels", "2026-10-20T10:00Z"),
    # baseline W45
    incident("O1", "old", "2026-11-04T10:00Z", impact=5),
    *[incident(f"IB{n}", "inventory", f"2026-11-03T0{n - 1}:00Z", hours=1) for n in range(1, 8)],
    # baseline W46
    *[incident(f"IB{n}", "inventory", f"2026-11-10T0{n - 8}:00Z", hours=1) for n in range(8, 15)],
    incident("IB15", "inventory", "2026-11-12T10:00Z", tier="L1"),
    incident("IB16", "inventory", "2026-11-12T11:00Z", tier="L1"),
    incident("Q0", "quiet", "2026-11-15T22:30Z"),  # Sunday 23:30 in Berlin: still W46
    # delta's baseline: 20 incidents that stayed at L1 (and are still open)
    *[incident(f"DB{n}", "delta", f"2026-11-{4 + 7 * (n % 2):02d}T1{n // 2}:00Z", tier="L1")
      for n in range(20)],
    # the window W47
    incident("I1", "inventory", "2026-11-17T10:00Z", hours=2, tier="L3",
             bounce="Firewall Team <-> Network Ops", reopen=1, impact=100),
    incident("I2", "inventory", "2026-11-18T10:00Z", hours=4, impact=50),
    incident("I3", "inventory", "2026-11-19T10:00Z", hours=10, tier="L1", impact=30),
    incident("I4", "inventory", "2026-11-20T10:00Z", tier="L1", impact=20),  # still open
    incident("La", "labels", "2026-11-15T23:30Z", hours=3, tier="L3", impact=10),  # Mon 00:30
    incident("Lb", "labels", "2026-11-16T10:00Z", hours=1, impact=40),
    incident("Lc", "labels", "2026-11-18T10:00Z", hours=5, ping_pong=True, impact=60),
    incident("Ld", "labels", "2026-11-19T10:00Z", hours=7, tier="L3", impact=80),
    incident("Le", "labels", "2026-11-20T10:00Z", hours=2, tier="L1", impact=5),
    incident("Q1", "quiet", "2026-11-17T09:00Z", hours=6, impact=70),
    incident("Q2", "quiet", "2026-11-21T09:00Z", hours=1, tier="L1", reopen=2),
    incident("D1", "delta", "2026-11-19T12:00Z", impact=25),  # still open
    # after the window: ignored
    incident("I5", "inventory", "2026-11-23T10:00Z", hours=1, impact=1000),
]  # fmt: skip


def hand_frame() -> pd.DataFrame:
    """The rows with the facts `engine.facts` would add: repeats on the key, 14 days."""
    frame = pd.DataFrame(ROWS)
    frame["opened_at"] = pd.to_datetime(frame["opened_at"], utc=True)
    frame["resolved_at"] = pd.to_datetime(frame["resolved_at"], utc=True)
    frame["bounce"] = frame["bounce"].astype("string")
    frame["ttr_hours"] = (frame["resolved_at"] - frame["opened_at"]).dt.total_seconds() / 3600
    frame["reopened"] = frame["reopen_count"] > 0
    frame["repeat"] = repeat_flags(
        frame["key"], frame["opened_at"], frame["resolved_at"], repeat_days=14
    )
    return frame


HISTORY = pd.DataFrame(
    [
        ("I1", "Network Ops"), ("I1", "Firewall Team"), ("I1", "Network Ops"),
        ("I2", "Service Desk"), ("I2", "Network Ops"), ("I2", "Firewall Team"),
        ("Lb", "Warehouse"), ("Lb", "Logistics"),
        # baseline incidents' handoffs do not make the window's top handoff
        ("IB1", "Service Desk"), ("IB1", "Inventory Dev"),
        ("IB2", "Service Desk"), ("IB2", "Inventory Dev"),
        ("IB3", "Service Desk"), ("IB3", "Inventory Dev"),
    ],
    columns=["incident_id", "assignment_group"],
).assign(source="t")  # fmt: skip


def process_minutes(frame: pd.DataFrame) -> pd.DataFrame:
    row = {number: position for position, number in enumerate(frame["incident_id"])}
    return pd.DataFrame(
        [
            (row["I1"], "order-to-cash", 30.0),
            (row["I2"], "order-to-cash", 20.0),
            (row["I2"], "payroll", 45.0),
            (row["IB1"], "payroll", 100.0),  # baseline: not this week's cost
        ],
        columns=["row", "process_id", "impact_minutes"],
    )


# The prior. Keys with incidents in the three weeks: old, inventory, labels, quiet, delta
# ("ancient" only before them). Escalated baseline counts (W45 + W46): old 1 + 0,
# inventory 7 + 7 (IB15, IB16 are L1), labels 0, quiet 0 + 1 (Q0, Sunday 23:30 Berlin), delta 0
# (its 20 baseline incidents stayed at L1).
# Weekly rates 1/2, 7, 0, 1/2, 0: m = 8/5; mean of squares = 49.5 / 5 = 9.9, v = 9.9 - 2.56
# = 7.34; s = v - m / 2 = 6.54; b0 = m / s = 80/327 = 0.2446; a0 = m b0 = 128/327 = 0.3914.
# Predictive success p = (b0 + 2) / (b0 + 3) = 734/1061.
A0, B0 = 128 / 327, 80 / 327
SUCCESS = 734 / 1061


def nb_tail(count: int, baseline: int) -> float:
    """P(X >= count), X ~ NB(a0 + baseline, SUCCESS), summed directly with lgamma."""
    r = A0 + baseline
    return math.fsum(
        math.exp(
            math.lgamma(r + k) - math.lgamma(r) - math.lgamma(k + 1)
            + r * math.log(SUCCESS) + k * math.log1p(-SUCCESS)
        )
        for k in range(count, 400)
    )  # fmt: skip


def rate_ratio(count: int, baseline: int) -> float:
    return ((A0 + count) / (B0 + 1)) / ((A0 + baseline) / (B0 + 2))


@pytest.fixture(scope="module")
def found() -> pd.DataFrame:
    frame = hand_frame()
    return find_hotspots(
        frame,
        BOUNDS,
        rules=RULES,
        repeat_days=14,
        history=HISTORY,
        process_minutes=process_minutes(frame),
        process_names={"order-to-cash": "Order to cash"},
    )


def test_rows_columns_and_rank_order(found):
    # flagged first: labels (repeat impact 180) before inventory (150); then quiet (70), delta (0)
    assert tuple(found.columns) == HOTSPOT_COLUMNS
    assert found["key"].tolist() == ["labels", "inventory", "quiet", "delta"]
    assert found["rank"].tolist() == [1, 2, 3, 4]
    assert found["flag"].tolist() == ["emerging", "chronic", "", ""]


COUNT_COLUMNS = ["incidents", "escalated", "reached_l3", "repeats", "ping_pong", "reopens"]


def test_window_counts_by_hand(found):
    table = found.set_index("key")
    assert table.loc[["labels", "inventory", "quiet", "delta"], COUNT_COLUMNS].values.tolist() == [
        # La Lb Lc Ld Le: 4 escalated (La, Ld L3); repeats Lb..Le, each opened after the one
        # before was restored (La: LX before it is still open); Lc ping-pong by reassignments
        [5, 4, 2, 4, 1, 0],
        # I1..I4 (I5 is after the window): I1 L3, I2 L2; I2, I3, I4 each opened within a day
        # of the one before being restored; I1 opened while IB16 was still open (a second
        # report, not a repeat); I1 bounced and was reopened
        [4, 2, 1, 3, 1, 1],
        # Q1 L2 opened while Q0 was open; Q2 L1 3.7 days after Q1 was restored, reopened
        [2, 1, 0, 1, 0, 1],
        [1, 1, 0, 0, 0, 0],
    ]
    assert table["escalation_rate"].tolist() == [4 / 5, 2 / 4, 1 / 2, 1.0]


def test_time_to_restore_of_resolved_incidents(found):
    table = found.set_index("key")
    # numpy's linear percentile: position 0.9 (n - 1) in the sorted hours
    # labels [1, 2, 3, 5, 7]: median 3, p90 at 3.6 -> 5 + 0.6 x 2 = 6.2
    # inventory [2, 4, 10] (I4 open): median 4, p90 at 1.8 -> 4 + 0.8 x 6 = 8.8
    # quiet [1, 6]: median 3.5, p90 at 0.9 -> 1 + 0.9 x 5 = 5.5; delta: nothing resolved
    assert table.loc["labels", ["ttr_median_hours", "ttr_p90_hours"]].tolist() == pytest.approx(
        [3, 6.2]
    )
    assert table.loc["inventory", ["ttr_median_hours", "ttr_p90_hours"]].tolist() == pytest.approx(
        [4, 8.8]
    )
    assert table.loc["quiet", ["ttr_median_hours", "ttr_p90_hours"]].tolist() == pytest.approx(
        [3.5, 5.5]
    )
    assert np.isnan(table.loc["delta", "ttr_median_hours"]) and np.isnan(
        table.loc["delta", "ttr_p90_hours"]
    )
    assert np.percentile([1, 2, 3, 5, 7], 90) == pytest.approx(6.2)  # the same rule


def test_impact_and_repeat_impact(found):
    table = found.set_index("key")
    # labels: 10 + 40 + 60 + 80 + 5 = 195; escalated repeats Lb + Lc + Ld = 180
    # inventory: 100 + 50 + 30 + 20 = 200; escalated repeats: I2 = 50
    # quiet: 70 + 0; its repeat Q2 is L1: 0. delta: 25, not a repeat: 0
    assert table["impact_score"].tolist() == [195.0, 200.0, 70.0, 25.0]
    assert table["repeat_impact"].tolist() == [180.0, 50.0, 0.0, 0.0]


def test_flags_and_the_figures_behind_them(found):
    table = found.set_index("key")
    # labels: 4 against 0: P(X >= 4) with r = a0 = 0.3914 is 0.00198 < 0.01, rate ratio
    # ((a0 + 4) / (b0 + 1)) / (a0 / (b0 + 2)) = (1436/407) x (734/128) = 20.23: emerging
    # inventory: 2 against 14: ratio (782/407) / (4706/734) = 0.300, P(X >= 2) = 0.973
    # quiet: 1 against 1: ratio 734/407 = 1.80, P = 0.401; delta: 1 against 0: ratio 6.41
    # but P = 0.134 and only 1 escalated: not flagged
    expected = {"labels": (4, 0), "inventory": (2, 14), "quiet": (1, 1), "delta": (1, 0)}
    for key, (count, baseline) in expected.items():
        assert table.loc[key, "p_value"] == pytest.approx(nb_tail(count, baseline), rel=1e-9), key
        assert table.loc[key, "rate_ratio"] == pytest.approx(rate_ratio(count, baseline), rel=1e-12)
        assert table.loc[key, "baseline_escalated_per_week"] == baseline / 2
    assert table.loc["labels", "p_value"] == pytest.approx(0.0019770, rel=1e-4)
    assert table.loc["labels", "rate_ratio"] == pytest.approx(20.2323, rel=1e-5)
    assert table.loc["delta", "rate_ratio"] == pytest.approx(6.4107, rel=1e-4)
    # chronic: the typical key-week has 16 / 10 = 1.6 escalated (old 1 + 0, inventory
    # 7 + 7, labels 0 + 0, quiet 0 + 1, delta 0 + 0). Around their own means the keys' weeks
    # vary less than Poisson (0.25 + 0.25 + 0.25 + 0.25 over 1 x (0.5 + 7 + 0.5) = 0.125),
    # so the dispersion is 1: inventory's 14 against Poisson(2 x 1.6 = 3.2) has
    # P(X >= 14) = 1 - sum(e^-3.2 3.2^k / k!, k < 14) = 7.0e-06; 14 / 2 / 1.6 = 4.4 times
    # the typical key; above 1.6 in both weeks (2 of the 2 needed). Its share: 14 of its 16
    # incidents escalated, against 16 of all 38 baseline incidents (old 1, inventory 16,
    # quiet 1, delta 20): P(Bin(16, 16/38) >= 14) = 2.44e-04, the weaker evidence, < 0.01.
    poisson = 1 - math.fsum(math.exp(-3.2) * 3.2**k / math.factorial(k) for k in range(14))
    share = 16 / 38
    binomial = math.fsum(
        math.comb(16, k) * share**k * (1 - share) ** (16 - k) for k in range(14, 17)
    )
    assert poisson == pytest.approx(6.99e-06, rel=1e-2) and binomial > poisson
    assert table.loc["inventory", "chronic_p_value"] == pytest.approx(binomial, rel=1e-9)
    assert binomial == pytest.approx(2.44e-04, rel=1e-2)
    assert table.loc["inventory", "baseline_share"] == 14 / 16
    assert table.loc["inventory", "typical_share"] == pytest.approx(share)
    assert table.loc["inventory", "times_typical"] == pytest.approx(4.375)
    assert table["weeks_above_typical"].tolist() == [0, 2, 0, 0]
    assert table.loc["quiet", "times_typical"] == pytest.approx(0.5 / 1.6)


def test_top_process_and_handoff_of_the_window(found):
    table = found.set_index("key")
    # inventory: order-to-cash 30 + 20 = 50 > payroll 45 (IB1's 100 is in the baseline)
    assert table.loc["inventory", ["top_process", "top_process_minutes"]].tolist() == [
        "order-to-cash",
        50.0,
    ]
    assert table.loc["labels", "top_process_minutes"] == 0.0
    assert pd.isna(table.loc["labels", "top_process"])
    # inventory: Network Ops -> Firewall Team in I1 and I2 (2); each other handoff once;
    # IB1..IB3's Service Desk -> Inventory Dev (3) are baseline incidents
    assert table.loc["inventory", "top_handoff"] == "Network Ops -> Firewall Team (2)"
    assert table.loc["labels", "top_handoff"] == "Warehouse -> Logistics (1)"
    assert pd.isna(table.loc["quiet", "top_handoff"]) and pd.isna(table.loc["delta", "top_handoff"])


def test_reasons_and_problem_records(found):
    table = found.set_index("key")
    assert table.loc["labels", "reasons"] == (
        "4 of 5 incidents reached L2 or L3 (2 reached L3); 4 repeats (back within 14 days "
        "of a fix); "
        "1 ping-pong (3+ reassignments); emerging: 4 escalated this week against 0.0 a week "
        "in the 2 weeks before (rate ratio 20.2, p = 0.002)"
    )
    assert table.loc["inventory", "reasons"] == (
        "2 of 4 incidents reached L2 or L3 (1 reached L3); 3 repeats (back within 14 days "
        "of a fix); 1 ping-pong between Firewall Team and Network Ops; 1 reopened; "
        "50 business minutes of Order to cash; chronic: 14 escalated in the 2 weeks before "
        "(88% of its incidents, the typical key 42%), 4.4 times the typical key's 1.6 a week "
        "(p = 0.00024), above it in 2 of those 2 weeks"
    )
    assert table.loc["quiet", "reasons"] == (
        "1 of 2 incidents reached L2 or L3; 1 repeat (back within 14 days of a fix); 1 reopened"
    )
    assert table.loc["delta", "reasons"] == "1 of 1 incident reached L2 or L3"
    assert table["problem_record"].tolist() == [
        "Raise a problem record for labels: emerging L2/L3 escalations, 4 repeats this week; "
        "most frequent handoff Warehouse -> Logistics (1)",
        "Raise a problem record for inventory: chronic L2/L3 escalations, 3 repeats this "
        "week; most frequent handoff Network Ops -> Firewall Team (2)",
        "",
        "",
    ]


def test_without_history_or_process_minutes():
    table = find_hotspots(hand_frame(), BOUNDS, rules=RULES, repeat_days=14).set_index("key")
    assert table["top_handoff"].isna().all()
    assert table["top_process_minutes"].tolist() == [0.0] * 4
    assert "business minutes" not in table.loc["inventory", "reasons"]
    assert table["flag"].tolist() == ["emerging", "chronic", "", ""]


def test_row_order_and_index_do_not_matter(found):
    frame = hand_frame().sample(frac=1.0, random_state=11)
    frame.index = range(100, 100 + len(frame))
    again = find_hotspots(frame, BOUNDS, rules=RULES, repeat_days=14, history=HISTORY)
    columns = ["key", "flag", *COUNT_COLUMNS, "repeat_impact", "p_value", "top_handoff"]
    pd.testing.assert_frame_equal(again[columns], found[columns])


def test_utc_weeks_move_the_boundary_incidents():
    # On the UTC clock La (11-15 23:30 UTC) is in W46 and Q0 (22:30) too: labels has 1
    # escalated in the baseline and 3 in the window, so it is no longer emerging (3 vs 1)
    bounds = week_bounds("2026-W47", "UTC", weeks_before=2)
    table = find_hotspots(hand_frame(), bounds, rules=RULES, repeat_days=14).set_index("key")
    assert table.loc["labels", ["incidents", "escalated"]].tolist() == [4, 3]
    assert table.loc["labels", "baseline_escalated_per_week"] == 0.5
    assert table.loc["labels", "flag"] == ""


def test_an_empty_window_gives_an_empty_table():
    frame = hand_frame()
    frame = frame[frame["opened_at"] < BOUNDS[-2]]
    table = find_hotspots(frame, BOUNDS, rules=RULES, repeat_days=14)
    assert table.empty and tuple(table.columns) == HOTSPOT_COLUMNS


def test_bounds_must_match_the_baseline_weeks():
    one_week_before = week_bounds("2026-W47", "UTC", weeks_before=1)
    with pytest.raises(
        InvalidSettingsError, match="bounds has 3 moments; baseline_weeks=2 needs 4"
    ):
        find_hotspots(hand_frame(), one_week_before, rules=RULES, repeat_days=14)
    with pytest.raises(
        InvalidSettingsError, match="bounds has 4 moments; baseline_weeks=8 needs 10"
    ):
        find_hotspots(hand_frame(), BOUNDS, repeat_days=14)


def test_rules_are_checked():
    with pytest.raises(InvalidSettingsError, match="baseline_weeks must be 1 or more, not 0"):
        HotspotRules(baseline_weeks=0, chronic_weeks=1)
    with pytest.raises(
        InvalidSettingsError, match=r"chronic_weeks must be from 1 to baseline_weeks \(2\), not 5"
    ):
        HotspotRules(baseline_weeks=2)


def test_find_hotspots_names_missing_columns():
    with pytest.raises(MissingColumnsError, match="find_hotspots: missing required column 'key'"):
        find_hotspots(hand_frame().drop(columns="key"), BOUNDS, rules=RULES, repeat_days=14)


# --- acceptance on the fixtures: the planted hotspots are found, and nothing else -------------

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
PLANTED = yaml.safe_load((FIXTURES / "planted.yaml").read_text())
AS_OF = pd.Timestamp("2026-11-23T00:00:00Z")
# the weeks whose 8 baseline weeks lie inside the data (2026-W36 .. W47)
FULL_BASELINE_WEEKS = ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
PING_PONG_PAIR = ("Firewall Team", "Network Ops")


@pytest.fixture(scope="module")
def fixture_facts():
    """The fixture weeks, each reviewed with the library's one weekly call."""
    from impactlens.engine.facts import incident_facts
    from impactlens.engine.impact import build_impact_model
    from impactlens.engine.weekly import ReviewSettings, review_week
    from impactlens.ingest.formats import read_batch
    from impactlens.service_map.load import load_service_map

    model = build_impact_model(load_service_map(FIXTURES / "service_map.yaml"))
    read = read_batch(
        FIXTURES / "incidents.csv", format="csv", history=FIXTURES / "assignment_history.csv"
    )
    reviews = {
        week: review_week(
            read.batch.incidents,
            read.batch.history,
            model,
            week=week,
            settings=ReviewSettings(),
            as_of=AS_OF,
        )
        for week in FULL_BASELINE_WEEKS
    }
    facts = incident_facts(read.batch.incidents, read.batch.history, model, as_of=AS_OF)
    incidents = facts.incidents.assign(key=hotspot_keys(facts.incidents))
    weekly = {week: review.hotspots for week, review in reviews.items()}
    return incidents, facts.history, weekly


def planted_truth() -> set[tuple[str, str, str]]:
    chronic = PLANTED["chronic_hotspot"]["service"]
    emerging = PLANTED["emerging_hotspot"]["service"]
    truth = {(week, chronic, "chronic") for week in FULL_BASELINE_WEEKS}
    truth |= {
        (week, emerging, "emerging")
        for week in PLANTED["emerging_hotspot"]["burst_weeks"]
        if week in FULL_BASELINE_WEEKS
    }
    return truth


def test_planted_hotspots_are_flagged_with_full_precision_and_recall(fixture_facts):
    _, _, weekly = fixture_facts
    flagged = {
        (week, row.key, flag)
        for week, table in weekly.items()
        for row in table[table["flag"] != ""].itertuples()
        for flag in row.flag.split(", ")
    }
    truth = planted_truth()
    assert len(truth) == 6  # chronic in 4 weeks, emerging in W46 and W47
    hits = flagged & truth
    precision = len(hits) / len(flagged) if flagged else 0.0
    recall = len(hits) / len(truth)
    print(f"\nhotspots W44-W47 on the fixtures: precision {precision:.3f}, recall {recall:.3f}")
    print(f"  flagged: {sorted(flagged)}")
    assert sorted(truth - flagged) == []  # nothing planted is missed
    assert sorted(flagged - truth) == []  # nothing unplanted is flagged
    assert (precision, recall) == (1.0, 1.0)


def test_planted_hotspots_rank_in_the_top_three(fixture_facts):
    _, _, weekly = fixture_facts
    for week, key, _ in planted_truth():
        table = weekly[week]
        assert table.set_index("key").loc[key, "rank"] <= 3, (week, key)


def test_planted_weekly_counts(fixture_facts):
    _, _, weekly = fixture_facts
    chronic = PLANTED["chronic_hotspot"]
    emerging = PLANTED["emerging_hotspot"]
    for week, table in weekly.items():
        rows = table.set_index("key")
        inventory = rows.loc[chronic["service"]]
        assert inventory["incidents"] == chronic["all_incidents_on_service_per_week"][week]
        # every planted one reached L3; background incidents on the service may too
        assert inventory["reached_l3"] >= chronic["planted_per_week_all_reaching_l3"][week]
        assert inventory["escalated"] >= inventory["reached_l3"]
        assert inventory["weeks_above_typical"] >= 5
        labels = rows.loc[emerging["service"]]
        assert labels["incidents"] == emerging["all_incidents_on_service_per_week"][week]
    # the burst: 28 incidents over W46 and W47, highest tier L1 1, L2 14, L3 13
    burst = [
        weekly[week].set_index("key").loc[emerging["service"]] for week in emerging["burst_weeks"]
    ]
    assert sum(row["incidents"] for row in burst) == 28
    assert sum(row["escalated"] for row in burst) == 14 + 13
    assert sum(row["reached_l3"] for row in burst) == 13


def bounced_between(history_csv: Path, pair: tuple[str, str]) -> set[str]:
    """Incidents that went A -> B -> A between the two groups, from the CSV in plain Python."""
    groups: dict[str, list[str]] = {}
    for row in pd.read_csv(history_csv, dtype=str).itertuples(index=False):
        steps = groups.setdefault(row.incident_id, [])
        if not steps or steps[-1] != row.assignment_group:
            steps.append(row.assignment_group)
    return {
        incident
        for incident, steps in groups.items()
        if any(
            steps[i] == steps[i + 2] and {steps[i], steps[i + 1]} == set(pair)
            for i in range(len(steps) - 2)
        )
    }


def test_ping_pong_pair_on_the_fixtures(fixture_facts):
    incidents, history, _ = fixture_facts
    planted = PLANTED["ping_pong"]
    assert tuple(sorted(planted["groups"])) == PING_PONG_PAIR
    loops = ping_pong_loops(history)
    assert loops.iloc[0].to_dict() == {
        "group_a": "Firewall Team",
        "group_b": "Network Ops",
        "incidents": planted["count"],
    }
    assert (loops["incidents"].iloc[1:] < planted["count"]).all()
    # the same incidents, found without the engine
    assert bounced_between(FIXTURES / "assignment_history.csv", PING_PONG_PAIR) == set(
        planted["incident_ids"]
    )
    chosen = incidents[incidents["incident_id"].isin(planted["incident_ids"])]
    assert len(chosen) == planted["count"]
    assert (chosen["bounce"] == "Firewall Team <-> Network Ops").all()
    assert chosen["ping_pong"].all()
    assert (chosen["reassignments"] >= planted["min_reassignment_count"]).all()
    assert set(chosen["key"]) <= set(planted["services"])


def test_hotspot_reasons_name_the_ping_pong_pair(fixture_facts):
    incidents, _, weekly = fixture_facts
    planted = PLANTED["ping_pong"]
    chosen = incidents[incidents["incident_id"].isin(planted["incident_ids"])]
    opened = pd.to_datetime(chosen["opened_at"], utc=True)
    checked = 0
    for week, table in weekly.items():
        start, end = week_bounds(week, "UTC")
        in_week = chosen[((opened >= start) & (opened < end)).to_numpy()]
        rows = table.set_index("key")
        for service in planted["services"]:
            expected = int((in_week["key"] == service).sum())
            if expected == 0:
                continue
            checked += 1
            row = rows.loc[service]
            assert row["ping_pong"] >= expected, (week, service)
            assert "ping-pong between Firewall Team and Network Ops" in row["reasons"], (
                week,
                service,
                row["reasons"],
            )
    assert checked >= 4  # the check is not vacuous: planted bounces fall in these weeks
