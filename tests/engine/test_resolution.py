"""Which service each incident is on: ``ci`` by id or alias, else the map's match rules."""

from __future__ import annotations

import pandas as pd
import pytest
from impactlens.engine.resolution import resolve_services

from impactlens.errors import MissingColumnsError

NA = None

PROCESSES = [{"id": "sales", "criticality": 1}]


def resolved(frame: pd.DataFrame, service_map) -> list[tuple]:
    out = resolve_services(frame, service_map)
    return [
        (None if pd.isna(s) else s, bool(m), None if pd.isna(b) else b)
        for s, m, b in zip(out["service_id"], out["mapped"], out["mapped_by"], strict=True)
    ]


def test_ci_matches_ids_and_aliases_case_insensitively_and_ignoring_spaces(make_map):
    # base map: pay-api has aliases PAYAPI01 and payments-api-prod
    frame = pd.DataFrame(
        {"ci": ["pay-api", "  PAY-API ", "payapi01", "Payments-API-Prod", "WEB", " hr-app\t"]}
    )
    assert resolved(frame, make_map()) == [
        ("pay-api", True, "ci"),
        ("pay-api", True, "ci"),
        ("pay-api", True, "ci"),
        ("pay-api", True, "ci"),
        ("web", True, "ci"),
        ("hr-app", True, "ci"),
    ]


def test_alias_written_with_spaces_in_the_map_still_matches(make_map):
    m = make_map(
        services=[{"id": "pay-api", "aliases": ["  PAYAPI01  "]}], dependencies=[], supports=[]
    )
    assert resolved(pd.DataFrame({"ci": ["payapi01"]}), m) == [("pay-api", True, "ci")]


def test_empty_ci_falls_back_to_match_rules(make_map):
    # base map: pay-api matches category Payments; None, "" and "  " all count as empty.
    # (The last row has a ci so this test does not depend on the all-missing case below.)
    frame = pd.DataFrame(
        {
            "ci": [NA, "", "   ", "web"],
            "category": ["payments", " PAYMENTS ", "Payments", "Payments"],
        }
    )
    assert resolved(frame, make_map()) == [("pay-api", True, "match")] * 3 + [("web", True, "ci")]


def test_match_rules_and_across_columns_or_within_values(make_map):
    m = make_map(
        business_processes=PROCESSES,
        services=[
            {"id": "pay-api", "match": {"category": ["Payments", "Billing"], "location": ["EU"]}}
        ],
        dependencies=[],
        supports=[],
    )
    frame = pd.DataFrame(
        {
            "ci": [NA] * 6 + ["pay-api"],
            "category": ["Payments", "billing", "Payments", NA, "Network", "BILLING", NA],
            "location": ["EU", "eu", "US", "EU", "EU", NA, NA],
        }
    )
    assert resolved(frame, m)[:6] == [
        ("pay-api", True, "match"),  # Payments and EU
        ("pay-api", True, "match"),  # billing (OR within values) and eu (case)
        (None, False, None),  # location US is not EU (AND across columns)
        (None, False, None),  # no category
        (None, False, None),  # Network is neither Payments nor Billing
        (None, False, None),  # no location
    ]


def test_missing_values_before_matching_rows_do_not_shift_matches(make_map):
    m = make_map(
        business_processes=PROCESSES,
        services=[
            {"id": "pay-api", "match": {"category": ["Payments"]}},
            {"id": "net", "match": {"category": ["Network"], "location": ["EU"]}},
        ],
        dependencies=[],
        supports=[],
    )
    frame = pd.DataFrame(
        {
            "ci": [NA, NA, NA, NA, NA, "net"],
            "category": [NA, "Network", "Payments", NA, "network", NA],
            "location": ["EU", NA, NA, NA, "eu", NA],
        }
    )
    assert resolved(frame, m)[:5] == [
        (None, False, None),
        (None, False, None),  # Network without location
        ("pay-api", True, "match"),
        (None, False, None),
        ("net", True, "match"),
    ]


def test_first_rule_in_map_order_wins(make_map):
    both = {"category": ["Payments"]}
    first = make_map(
        business_processes=PROCESSES,
        services=[{"id": "zeta", "match": both}, {"id": "alpha", "match": both}],
        dependencies=[],
        supports=[],
    )
    second = make_map(
        business_processes=PROCESSES,
        services=[{"id": "alpha", "match": both}, {"id": "zeta", "match": both}],
        dependencies=[],
        supports=[],
    )
    frame = pd.DataFrame({"ci": [NA, "zeta"], "category": ["Payments", NA]})
    assert resolved(frame, first)[0] == ("zeta", True, "match")
    assert resolved(frame, second)[0] == ("alpha", True, "match")


def test_a_narrower_earlier_rule_wins_only_where_it_matches(make_map):
    m = make_map(
        business_processes=PROCESSES,
        services=[
            {"id": "eu-pay", "match": {"category": ["Payments"], "location": ["EU"]}},
            {"id": "pay", "match": {"category": ["Payments"]}},
        ],
        dependencies=[],
        supports=[],
    )
    frame = pd.DataFrame(
        {
            "ci": [NA, NA, "pay"],
            "category": ["Payments", "Payments", NA],
            "location": ["EU", "US", NA],
        }
    )
    assert resolved(frame, m)[:2] == [("eu-pay", True, "match"), ("pay", True, "match")]


def test_unknown_ci_stays_unmapped_even_when_a_rule_would_match(make_map):
    # engine/resolution.py: a non-empty ci naming nothing in the map stays unmapped,
    # so the map owner sees the CI to add rather than a guess
    frame = pd.DataFrame({"ci": ["FAX-9", NA], "category": ["Payments", "Payments"]})
    assert resolved(frame, make_map()) == [(None, False, None), ("pay-api", True, "match")]


def test_a_ci_that_names_a_service_wins_over_the_rules(make_map):
    frame = pd.DataFrame({"ci": ["web"], "category": ["Payments"]})
    assert resolved(frame, make_map()) == [("web", True, "ci")]


def test_every_ci_missing_resolves_by_rules(make_map):
    # resolve_services documents "Needs column ci (may be all missing)": a source without
    # CIs relies on the match rules alone. Row 1 matches pay-api's category rule.
    frame = pd.DataFrame({"ci": [NA, ""], "category": ["Payments", "Network"]})
    assert resolved(frame, make_map()) == [("pay-api", True, "match"), (None, False, None)]


def test_every_ci_missing_and_no_rule_columns(make_map):
    frame = pd.DataFrame({"ci": [NA, NA]})
    assert resolved(frame, make_map()) == [(None, False, None), (None, False, None)]


def test_missing_ci_column_is_an_error(make_map):
    with pytest.raises(MissingColumnsError) as caught:
        resolve_services(pd.DataFrame({"category": ["Payments"]}), make_map())
    assert caught.value.missing == ["ci"]
    assert "'ci'" in str(caught.value)


def test_input_frame_is_not_mutated_and_other_columns_are_kept(make_map):
    frame = pd.DataFrame(
        {
            "incident_id": ["A", "B", "C"],
            "ci": [" PAYAPI01", NA, "fax"],
            "category": ["x", "Payments", "Payments"],
        },
        index=[10, 20, 30],
    )
    before = frame.copy(deep=True)
    out = resolve_services(frame, make_map())
    pd.testing.assert_frame_equal(frame, before)
    assert list(out.index) == [10, 20, 30]
    assert list(out["incident_id"]) == ["A", "B", "C"]
    # the raw ci is kept as written
    assert [None if pd.isna(c) else c for c in out["ci"]] == [" PAYAPI01", None, "fax"]
    assert [None if pd.isna(s) else s for s in out["service_id"]] == ["pay-api", "pay-api", None]


def test_many_spellings_and_repeats_of_one_ci_resolve_alike(make_map):
    # Distinct raw CIs are normalised once each; every row gets its distinct value's answer.
    spellings = ["PAYAPI01", "payapi01", " PayApi01 ", "payments-api-prod", "PAY-API"]
    frame = pd.DataFrame({"ci": spellings * 3 + ["fax", NA], "category": ["Payments"] * 17})
    assert resolved(frame, make_map()) == [("pay-api", True, "ci")] * 15 + [
        (None, False, None),  # an unknown CI stays unmapped
        ("pay-api", True, "match"),  # no CI: the rules
    ]


def test_writing_to_the_result_leaves_the_input_alone(make_map):
    frame = pd.DataFrame({"ci": ["web", "fax"], "category": ["a", "b"]})
    before = frame.copy(deep=True)
    out = resolve_services(frame, make_map())
    out.loc[0, "category"] = "changed"
    out["ci"] = "changed"
    pd.testing.assert_frame_equal(frame, before)
