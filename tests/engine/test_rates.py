"""Small-count-safe tail probabilities: checked against direct pmf sums written here in plain
Python (math.lgamma / math.factorial), the gamma prior by hand, and the small-count cases
of hotspot flagging on hand-built populations."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impactlens.engine.hotspots import HotspotRules, find_hotspots
from impactlens.engine.rates import (
    GammaPrior,
    binomial_tail,
    fit_gamma_prior,
    negative_binomial_tail,
    poisson_tail,
)
from impactlens.engine.weeks import week_bounds

# --- independent oracles ----------------------------------------------------------------------


def nb_log_pmf(k: int, r: float, p: float) -> float:
    """log P(X = k), X negative binomial: Gamma(r + k) / (Gamma(r) k!) p^r (1 - p)^k."""
    return (
        math.lgamma(r + k) - math.lgamma(r) - math.lgamma(k + 1) + r * math.log(p)
        + k * math.log1p(-p)
    )  # fmt: skip


def nb_upper_tail(x: int, r: float, p: float) -> float:
    """P(X >= x) summed upwards from x (not 1 minus the lower sum) until terms vanish."""
    if x <= 0:
        return 1.0
    mean = r * (1 - p) / p
    sd = math.sqrt(r * (1 - p)) / p
    stop = int(max(x, mean) + 80 * sd + 200)
    return math.fsum(math.exp(nb_log_pmf(k, r, p)) for k in range(x, stop))


def poisson_upper_tail(x: int, mean: float) -> float:
    if x <= 0:
        return 1.0
    stop = int(max(x, mean) + 80 * math.sqrt(mean) + 200)
    return math.fsum(
        math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) for k in range(x, stop)
    )


def poisson_tail_by_factorials(x: int, mean: float) -> float:
    """1 - sum_{k < x} mean^k e^-mean / k!, for small means only."""
    return 1.0 - sum(mean**k * math.exp(-mean) / math.factorial(k) for k in range(x))


# --- negative_binomial_tail -------------------------------------------------------------------

PRIORS = [
    GammaPrior(a0=1.0, b0=1.0),
    GammaPrior(a0=18 / 19, b0=24 / 19),  # fit_gamma_prior([0, 8, 16, 0], 8), see below
    GammaPrior(a0=0.25, b0=8.0),
    GammaPrior(a0=7.5, b0=0.3),
]
COUNTS = [0, 1, 2, 3, 5, 8, 13, 30, 60]
BASELINES = [0, 1, 5, 40, 300]


@pytest.mark.parametrize("weeks", [1, 2, 8, 26])
@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: f"a{p.a0:.3g}-b{p.b0:.3g}")
def test_negative_binomial_tail_matches_direct_pmf_sums(prior, weeks):
    # every (count, baseline) pair of the grid in one call, rows shuffled: the vectorised
    # summation must keep each row's own count and baseline
    pairs = [(count, baseline) for count in COUNTS for baseline in BASELINES]
    order = np.random.default_rng(3).permutation(len(pairs))
    counts = np.array([pairs[i][0] for i in order])
    baselines = np.array([pairs[i][1] for i in order])
    got = negative_binomial_tail(counts, baselines, weeks, prior)
    success = (prior.b0 + weeks) / (prior.b0 + weeks + 1)
    expected = [
        nb_upper_tail(int(c), prior.a0 + int(b), success)
        for c, b in zip(counts, baselines, strict=True)
    ]
    assert got.shape == counts.shape
    assert got.tolist() == pytest.approx(expected, rel=1e-8, abs=1e-12)


def test_negative_binomial_tail_with_a_baseline_of_20000():
    # r = 1 + 20000, p = (1 + 8) / (1 + 8 + 1) = 0.9: the naive first term p^r underflows
    prior, weeks, baseline = GammaPrior(1.0, 1.0), 8, 20_000
    assert 0.9**20_001 == 0.0
    # mean r (1 - p) / p = 20001 / 9 = 2222.3; sd sqrt(r (1 - p)) / p = 49.7
    counts = np.array([0, 1, 2000, 2150, 2222, 2223, 2300, 2500, 2700])
    got = negative_binomial_tail(counts, np.full(counts.size, baseline), weeks, prior)
    expected = [nb_upper_tail(int(c), 20_001.0, 0.9) for c in counts]
    assert got.tolist() == pytest.approx(expected, rel=1e-8, abs=1e-12)
    assert got[0] == got[1] == 1.0
    assert 0.4 < got[4] < 0.6  # the middle of the distribution, not 0 or 1 from an underflow
    assert got[-1] < 1e-6


def test_negative_binomial_tail_by_hand():
    # flat prior a0 = b0 = 1, no baseline, 8 weeks: r = 1, p = 9/10, geometric:
    # P(X >= x) = (1 - p)^x = 0.1^x
    got = negative_binomial_tail(
        np.array([0, 1, 2, 3]), np.zeros(4, dtype=int), 8, GammaPrior(1, 1)
    )
    assert got.tolist() == pytest.approx([1.0, 0.1, 0.01, 0.001], rel=1e-12)
    # r = 2 (a0 = 1, baseline 1), weeks 1, b0 = 1: p = 2/3. P(0) = 4/9, P(1) = 2 * 4/9 * 1/3
    # = 8/27; P(X >= 2) = 1 - 12/27 - 8/27 = 7/27
    got = negative_binomial_tail(np.array([2]), np.array([1]), 1, GammaPrior(1, 1))
    assert got[0] == pytest.approx(7 / 27, rel=1e-12)


def test_negative_binomial_tail_of_no_rows():
    assert (
        negative_binomial_tail(np.array([], dtype=int), np.array([]), 8, GammaPrior(1, 1)).size == 0
    )


# --- poisson_tail -----------------------------------------------------------------------------


@pytest.mark.parametrize("mean", [0.05, 0.5, 1.0, 2.0, 3.7, 10.0])
def test_poisson_tail_matches_factorial_sums(mean):
    counts = np.array([5, 0, 1, 2, 3, 4, 7, 12])
    expected = [poisson_tail_by_factorials(int(c), mean) for c in counts]
    assert poisson_tail(counts, mean).tolist() == pytest.approx(expected, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("mean", [150.0, 2222.5, 20_000.0])
def test_poisson_tail_with_large_means(mean):
    # e^-20000 underflows: P(0) cannot be the starting term in plain floats
    assert math.exp(-20_000.0) == 0.0
    sd = math.sqrt(mean)
    counts = np.array([int(mean + z * sd) for z in (-8, -2, -0.5, 0, 0.5, 2, 5)] + [0, 1])
    expected = [poisson_upper_tail(int(c), mean) for c in counts]
    # abs 1e-10: 1 minus a sum of 20,000 terms whose logs are accumulated step by step is
    # good to a few 1e-11 (the oracle's own lgamma terms differ from exact by ~1e-11 too)
    assert poisson_tail(counts, mean).tolist() == pytest.approx(expected, rel=1e-8, abs=1e-10)


def test_poisson_tail_by_hand_and_zero_mean():
    # mean 1: P(X >= 1) = 1 - e^-1 = 0.63212; P(X >= 2) = 1 - 2 e^-1 = 0.26424
    assert poisson_tail(np.array([0, 1, 2]), 1.0).tolist() == pytest.approx(
        [1.0, 1 - math.exp(-1), 1 - 2 * math.exp(-1)], rel=1e-12
    )
    # no incidents anywhere: a count of 0 is certain, any positive count impossible
    assert poisson_tail(np.array([0, 1, 5]), 0.0).tolist() == [1.0, 0.0, 0.0]


# --- tiny tails ------------------------------------------------------------------------------


def test_tiny_tails_keep_their_relative_accuracy():
    # The module promises exact tail probabilities, and reasons print them ("p = 1.1e-16").
    # Far in the tail, 1 minus the lower sum is rounding noise: it must be the upper sum.
    # NB: prior a0 = 0.3, b0 = 0.5, 8 weeks, p = 8.5/9.5; Poisson mean 2.
    prior = GammaPrior(a0=0.3, b0=0.5)
    success = 8.5 / 9.5
    counts, baselines = np.array([12, 15, 20, 25]), np.array([0, 0, 1, 0])
    expected = [
        nb_upper_tail(int(c), 0.3 + int(b), success) for c, b in zip(counts, baselines, strict=True)
    ]
    # 1.16e-13, 1.16e-16, 7.5e-20, 1.4e-26: all far below alpha, but printed to users
    assert expected[-1] == pytest.approx(1.3585e-26, rel=1e-3)
    got = negative_binomial_tail(counts, baselines, 8, prior)
    assert got.tolist() == pytest.approx(expected, rel=1e-6, abs=0)
    # P(Poisson(2) >= 40) = 1.9e-37, not 0
    assert poisson_tail(np.array([40]), 2.0)[0] == pytest.approx(
        poisson_upper_tail(40, 2.0), rel=1e-6, abs=0
    )


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(0, 80),
    baseline=st.integers(0, 3000),
    weeks=st.integers(1, 26),
    a0=st.floats(0.01, 30.0),
    b0=st.floats(0.01, 26.0),
)
def test_tail_falls_with_the_count_and_rises_with_the_baseline(count, baseline, weeks, a0, b0):
    prior = GammaPrior(a0, b0)
    steps = np.arange(6)
    by_count = negative_binomial_tail(count + steps, np.full(6, baseline), weeks, prior)
    by_baseline = negative_binomial_tail(np.full(6, count), baseline + 7 * steps, weeks, prior)
    assert ((by_count >= 0) & (by_count <= 1)).all()
    assert (np.diff(by_count) <= 1e-12).all(), by_count
    assert (np.diff(by_baseline) >= -1e-12).all(), by_baseline


@settings(max_examples=100, deadline=None)
@given(count=st.integers(0, 400), mean=st.floats(0.001, 300.0))
def test_poisson_tail_falls_with_the_count_and_rises_with_the_mean(count, mean):
    steps = np.arange(5)
    by_count = poisson_tail(count + steps, mean)
    assert (np.diff(by_count) <= 1e-12).all(), by_count
    higher = [poisson_tail(np.array([count]), mean * factor)[0] for factor in (1.0, 1.1, 1.5, 3.0)]
    assert (np.diff(higher) >= -1e-12).all(), higher


# --- fit_gamma_prior --------------------------------------------------------------------------


def test_gamma_prior_by_the_method_of_moments():
    # rates 0, 1, 2, 0 a week: m = 3/4; v = (9/16 + 1/16 + 25/16 + 9/16) / 4 = 11/16;
    # s = v - m / 8 = 11/16 - 3/32 = 19/32; b0 = m / s = 24/19 = 1.263; a0 = m b0 = 18/19
    prior = fit_gamma_prior(np.array([0, 8, 16, 0]), weeks=8)
    assert (prior.a0, prior.b0) == pytest.approx((18 / 19, 24 / 19), rel=1e-12)
    assert prior.mean == pytest.approx(3 / 4)


def test_gamma_prior_without_spread_is_worth_the_baseline():
    # rates 1, 1, 1: v = 0 < m / 8, so s <= 0: b0 = weeks = 8, a0 = m b0 = 8
    prior = fit_gamma_prior(np.array([8, 8, 8]), weeks=8)
    assert (prior.a0, prior.b0) == (8.0, 8.0)
    # a little spread, all of it Poisson noise: rates 7/8, 9/8, v = 1/64 < m / 8 = 1/8
    assert fit_gamma_prior(np.array([7, 9]), weeks=8) == GammaPrior(8.0, 8.0)
    # one key: no spread at all; rate 1, b0 = 5, a0 = 5
    assert fit_gamma_prior(np.array([5]), weeks=5) == GammaPrior(5.0, 5.0)


def test_gamma_prior_is_never_worth_more_than_the_baseline():
    # weeks 1, rates 0 and 3: m = 1.5, v = 2.25, s = 2.25 - 1.5 = 0.75, m / s = 2 > 1 week:
    # b0 = 1, a0 = 1.5
    assert fit_gamma_prior(np.array([0, 3]), weeks=1) == GammaPrior(1.5, 1.0)


def test_gamma_prior_of_a_quiet_population_has_at_least_one_incident():
    # four keys, nothing in 8 weeks: m = max(0, 1 / (8 x 4)) = 1/32; s < 0, b0 = 8, a0 = 1/4
    prior = fit_gamma_prior(np.zeros(4), weeks=8)
    assert (prior.a0, prior.b0) == pytest.approx((0.25, 8.0))


def test_gamma_prior_without_data_is_flat():
    assert fit_gamma_prior(np.array([]), weeks=8) == GammaPrior(1.0, 1.0)
    assert fit_gamma_prior(np.array([3, 4]), weeks=0) == GammaPrior(1.0, 1.0)


# --- the small-count cases, through find_hotspots ---------------------------------------------

BOUNDS = week_bounds("2026-W47", "UTC", weeks_before=8)  # Mondays 09-21 .. 11-16, end 11-23


def population(
    escalated_per_week: dict[str, list[int]], other_per_week: dict[str, list[int]] | None = None
) -> pd.DataFrame:
    """Escalated incidents per key and week (8 baseline weeks, then the window), at noon on
    the Tuesday of each week, and `other_per_week` incidents that stayed at L1; nothing
    else about them is remarkable."""
    rows = []
    for escalated, per_key in ((True, escalated_per_week), (False, other_per_week or {})):
        for key, per_week in per_key.items():
            assert len(per_week) == 9
            for week, count in enumerate(per_week):
                for number in range(count):
                    opened = BOUNDS[week] + pd.Timedelta(days=1, hours=12 + number)
                    rows.append({"key": key, "opened_at": opened, "escalated": escalated})
    frame = pd.DataFrame(rows)
    return frame.assign(
        source="t",
        incident_id=[f"INC{i}" for i in range(len(frame))],
        resolved_at=frame["opened_at"] + pd.Timedelta(hours=1),
        reached_l3=False,
        ping_pong=False,
        bounce=pd.array([pd.NA] * len(frame), dtype="string"),
        reopen_count=0,
        reopened=False,
        repeat=False,
        ttr_hours=1.0,
        impact_score=1.0,
    )


def row_of(table: pd.DataFrame, key: str) -> pd.Series:
    return table.set_index("key").loc[key]


# population for the 1-vs-0 and 3-vs-0 cases: "quiet" has nothing in 8 weeks, "busy" one
# escalation every week. Baseline sums 0 and 8: rates 0, 1; m = 1/2, v = 1/4,
# s = 1/4 - 1/16 = 3/16; b0 = 8/3, a0 = 4/3. For "quiet": r = 4/3, p = (8/3 + 8) / (8/3 + 9)
# = 32/35, 1 - p = 3/35.
QUIET_PRIOR = (Fraction(4, 3), Fraction(8, 3))


def test_one_escalation_against_none_is_not_news():
    # P(X >= 1) = 1 - (32/35)^(4/3) = 1 - 0.88738 = 0.11262, far above alpha 0.01, although
    # the rate ratio ((4/3 + 1) / (8/3 + 1)) / ((4/3) / (8/3 + 8)) = (7/11) / (1/8) = 56/11
    # = 5.09 is high: a raw ratio would flag it
    frame = population({"quiet": [0] * 8 + [1], "busy": [1] * 9})
    for rules in (HotspotRules(), HotspotRules(min_escalated=1)):
        table = find_hotspots(frame, BOUNDS, rules=rules, repeat_days=14)
        quiet = row_of(table, "quiet")
        assert quiet["flag"] == ""
        assert quiet["p_value"] == pytest.approx(1 - (32 / 35) ** (4 / 3), rel=1e-9)
        assert quiet["p_value"] == pytest.approx(0.11262, abs=1e-5)
        assert quiet["rate_ratio"] == pytest.approx(56 / 11, rel=1e-12)
        assert (table["flag"] == "").all()


def test_three_escalations_against_none_are_emerging():
    # P(0) = (32/35)^(4/3) = 0.887379; P(1) = P(0) x 4/3 x 3/35 = 0.101415;
    # P(2) = P(1) x (4/3 + 1)/2 x 3/35 = 0.010142; P(X >= 3) = 1 - 0.998936 = 0.0010646
    # rate ratio ((4/3 + 3) / (11/3)) / (1/8) = (13/11) x 8 = 104/11 = 9.45
    frame = population({"quiet": [0] * 8 + [3], "busy": [1] * 9})
    table = find_hotspots(frame, BOUNDS, repeat_days=14)
    quiet = row_of(table, "quiet")
    assert quiet["flag"] == "emerging"
    assert quiet["p_value"] == pytest.approx(0.0010646, rel=1e-4)
    assert quiet["p_value"] == pytest.approx(nb_upper_tail(3, 4 / 3, 32 / 35), rel=1e-9)
    assert quiet["rate_ratio"] == pytest.approx(104 / 11, rel=1e-12)
    assert quiet["baseline_escalated_per_week"] == 0.0
    assert quiet["weeks_above_typical"] == 0
    assert (
        "emerging: 3 escalated this week against 0.0 a week in the 8 weeks before "
        in quiet["reasons"]
    )
    assert "(rate ratio 9.5, p = 0.0011)" in quiet["reasons"]
    assert table["key"].tolist() == ["quiet", "busy"]  # the flagged key first
    assert row_of(table, "busy")["flag"] == ""


def test_five_this_week_against_five_a_week_is_not_news():
    # "steady": 5 a week for 8 weeks (40) and 5 now; "busy": 1 a week (8).
    # Rates 5, 1: m = 3, v = 4, s = 4 - 3/8 = 29/8; b0 = 24/29, a0 = 72/29.
    # steady: r = 72/29 + 40 = 1232/29, p = (24/29 + 8) / (24/29 + 9) = 256/285;
    # predictive mean r (1 - p) / p = 1232/29 x 29/256 = 4.8125, so 5 is ordinary.
    # rate ratio ((72/29 + 5) / (53/29)) / ((1232/29) / (256/29)) = (217/53) / 4.8125 = 0.851
    # Chronic? typical = 48 / 16 = 3 a key-week; steady is above it every week, and its 40
    # are far above Poisson(24) (every week is steady: dispersion 1), but only 5/3 = 1.7
    # times the typical key (not 2), and every key escalates all its incidents (its share
    # is the typical share): not chronic.
    frame = population({"steady": [5] * 9, "busy": [1] * 9})
    table = find_hotspots(frame, BOUNDS, repeat_days=14)
    steady = row_of(table, "steady")
    assert steady["flag"] == ""
    assert steady["rate_ratio"] == pytest.approx((217 / 53) / 4.8125, rel=1e-12)
    assert steady["p_value"] == pytest.approx(nb_upper_tail(5, 1232 / 29, 256 / 285), rel=1e-9)
    assert 0.3 < steady["p_value"] < 0.7
    assert steady["weeks_above_typical"] == 8
    assert steady["times_typical"] == pytest.approx(5 / 3)
    assert steady["baseline_share"] == steady["typical_share"] == 1.0
    assert steady["baseline_escalated_per_week"] == 5.0
    assert (table["flag"] == "").all()


def test_the_quiet_prior_by_hand():
    a0, b0 = QUIET_PRIOR
    prior = fit_gamma_prior(np.array([0, 8]), weeks=8)
    assert (prior.a0, prior.b0) == pytest.approx((float(a0), float(b0)), rel=1e-12)
    assert (b0 + 8) / (b0 + 9) == Fraction(32, 35)


def test_a_key_escalating_several_times_the_typical_week_after_week_is_chronic_despite_dips():
    # Ten ordinary keys: 1 escalated and 2 others a week, every week. "dipping": 6 escalated
    # (nothing else) in 5 of its 8 baseline weeks and none in the other 3, then 6 now.
    # Typical key-week: (10 x 8 + 30) / 88 = 1.25 escalated. Within keys, the ordinary
    # keys never vary and dipping's weeks (mean 3.75) give 5 x 2.25^2 + 3 x 3.75^2 = 67.5
    # against 7 x (10 + 3.75) = 96.25 Poisson-expected: dispersion max(1, 0.70) = 1.
    # dipping's 30 against Poisson(8 x 1.25 = 10): P(X >= 30) tiny; 3.75 / 1.25 = 3 times
    # the typical key; all 30 of its 30 incidents escalated against the typical share
    # 110 / 270 = 0.41: P(Bin(30, 0.41) >= 30) = 0.41^30, tiny; above 1.25 in 5 of 8 weeks.
    # The old rule (a high week in 6 of the 8) missed it: 3 of its weeks dipped.
    ordinary = {f"key{n}": [1] * 9 for n in range(10)}
    frame = population(
        {**ordinary, "dipping": [6, 6, 0, 6, 0, 6, 0, 6, 6]},
        {name: [2] * 9 for name in ordinary},
    )
    table = find_hotspots(frame, BOUNDS, repeat_days=14)
    dipping = row_of(table, "dipping")
    poisson = 1 - math.fsum(math.exp(-10) * 10**k / math.factorial(k) for k in range(30))
    share = 110 / 270
    assert dipping["flag"] == "chronic"
    assert dipping["times_typical"] == pytest.approx(3.0)
    assert dipping["baseline_share"] == 1.0
    assert dipping["typical_share"] == pytest.approx(share)
    assert dipping["chronic_p_value"] == pytest.approx(max(poisson, share**30), rel=1e-6)
    assert dipping["weeks_above_typical"] == 5
    assert (
        "chronic: 30 escalated in the 8 weeks before (100% of its incidents" in (dipping["reasons"])
    )
    assert table["flag"].tolist().count("") == 10  # no ordinary key is flagged
    assert table["key"].iloc[0] == "dipping"


def test_a_busy_key_escalating_in_proportion_to_its_volume_is_not_chronic():
    # "busy" has 3 escalated and 9 others a week (share 1/4, as everyone's): many
    # escalations, 3 times the typical key's, above it every week, but no more of its
    # incidents escalate than anyone's: a workload, not an escalation problem.
    ordinary = {f"key{n}": [1] * 9 for n in range(10)}
    frame = population(
        {**ordinary, "busy": [3] * 9},
        {**{name: [3] * 9 for name in ordinary}, "busy": [9] * 9},
    )
    busy = row_of(find_hotspots(frame, BOUNDS, repeat_days=14), "busy")
    assert busy["flag"] == ""
    assert busy["baseline_share"] == busy["typical_share"] == 0.25
    assert busy["weeks_above_typical"] == 8 and busy["times_typical"] > 2


def test_binomial_tail_against_the_sum_of_its_terms():
    for count, trials, share in ((0, 5, 0.3), (3, 10, 0.41), (30, 30, 0.41), (12, 40, 0.1)):
        exact = math.fsum(
            math.comb(trials, k) * share**k * (1 - share) ** (trials - k)
            for k in range(count, trials + 1)
        )
        got = binomial_tail(np.array([count]), np.array([trials]), share)[0]
        assert got == pytest.approx(exact, rel=1e-9), (count, trials, share)
    assert binomial_tail(np.array([6]), np.array([5]), 0.5)[0] == 0.0
