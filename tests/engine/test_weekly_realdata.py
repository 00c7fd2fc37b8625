"""Hotspots, ping-pong and the KPI scorecard on the real ServiceNow event log, checked by pandas.

The UCI event log (../shared/data/servicenow-uci, see its README) has almost no CIs, so
hotspots are keyed by ``category / assignment_group``. The engine's answer (read_batch ->
review_week without a map, and incident_facts / ping_pong_loops over the whole log) is
compared with an independent computation that starts from the raw
CSV (``pd.read_csv`` of the gz) and uses no project code:

- an incident is its latest event: greatest ``sys_mod_count``, then latest
  ``sys_updated_at``, then last in the file. Its ``category``, ``reassignment_count``,
  ``reopen_count``, ``opened_at`` and ``resolved_at`` are that event's (``?`` = missing;
  times day-first ``29/2/2016 01:16``, UTC); its group is that event's, or the last known
  one of its earlier events when that event says ``?``;
- its group sequence is its events' groups in that order, ``?`` skipped, consecutive
  repeats collapsed;
- escalated (the reassignment fallback of engine/tiers.py: no map, and no group name
  here says L1/L2/L3): it saw more than one group, or ``reassignment_count > 0``;
- ping-pong: A -> B -> A in the sequence, or max(reassignment_count, changes) >= 3;
- repeat: the previous incident with the same symptom (CI, else service: no map, so the
  CI here; with category and subcategory), in opening order, had been restored at most
  14 days before it opened. One definition: the hotspots and the KPI scorecard both
  count it;
- weeks: Monday 00:00 UTC to the next Monday, an incident in the week it was opened.

Week 2016-W18 (Mon 2 May 2016) is in the busy part of the log (29 Feb to early June
2016, about 2,000 incidents a week); its 8 baseline weeks (2016-W10 to W17) and the 8
weeks of the KPI trend (W11 to W18) lie inside it. Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import math
import re
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from impactlens.engine.escalation import ping_pong_loops
from impactlens.engine.facts import incident_facts
from impactlens.engine.hotspots import find_hotspots, hotspot_keys
from impactlens.engine.weekly import ReviewSettings, review_week
from impactlens.engine.weeks import week_bounds
from impactlens.ingest.formats import read_batch

REAL_LOG = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "servicenow-uci"
    / "incident_event_log.csv.gz"
)
YEAR, WEEK_NUMBER = 2016, 18
WEEK = f"{YEAR}-W{WEEK_NUMBER:02d}"
BASELINE_WEEKS = 8
KPI_WEEKS = 8
REPEAT_DAYS = 14
AS_OF = pd.Timestamp("2017-03-01T00:00:00Z")  # after the log's last event (16 Feb 2017)
DAY_FIRST = "%d/%m/%Y %H:%M"
NONE = "(none)"
# the documented flag thresholds (engine/hotspots.py HotspotRules defaults)
ALPHA, MIN_ESCALATED, MIN_RATE_RATIO, CHRONIC_WEEKS = 0.01, 3, 2.0, 5

pytestmark = pytest.mark.realdata


# --- the engine's answer ---------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    if not REAL_LOG.exists():
        pytest.skip(f"real event log {REAL_LOG} is absent (../shared/data not beside the clone)")
    started = time.perf_counter()
    batch = read_batch(REAL_LOG, format="servicenow-eventlog").batch
    settings = ReviewSettings(group_by=("category", "assignment_group"))
    review = review_week(
        batch.incidents, batch.history, None, week=WEEK, settings=settings, as_of=AS_OF
    )
    seconds = time.perf_counter() - started
    facts = incident_facts(batch.incidents, batch.history, None, as_of=AS_OF)
    table = facts.incidents.assign(key=hotspot_keys(facts.incidents, settings.group_by))
    return SimpleNamespace(
        batch=batch,
        tier_rules=set(facts.incidents["tier_rule"]),
        table=table,
        hotspots=review.hotspots,
        kpis=review.kpis,
        seconds=seconds,
    )


# --- the independent computation: pandas and plain Python from the raw CSV -------------


def _moments(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text.where(text != "?"), format=DAY_FIRST).dt.tz_localize("UTC")


def _monday(offset_weeks: int) -> pd.Timestamp:
    return pd.Timestamp(date.fromisocalendar(YEAR, WEEK_NUMBER, 1), tz="UTC") + pd.Timedelta(
        weeks=offset_weeks
    )


def _week_index(opened: pd.Series, first: pd.Timestamp, weeks: int) -> np.ndarray:
    """0..weeks-1 for incidents opened in the `weeks` weeks from `first`, else -1."""
    index = ((opened - first) // pd.Timedelta(weeks=1)).to_numpy(dtype=np.int64)
    return np.where((opened >= first).to_numpy() & (index < weeks), index, -1)


@pytest.fixture(scope="module")
def expected():
    if not REAL_LOG.exists():
        pytest.skip(f"real event log {REAL_LOG} is absent (../shared/data not beside the clone)")
    events = pd.read_csv(REAL_LOG, dtype=str, keep_default_na=False)
    events["mod"] = events["sys_mod_count"].astype(int)
    events["updated"] = pd.to_datetime(events["sys_updated_at"], format=DAY_FIRST)
    events["row"] = np.arange(len(events))
    events = events.sort_values(["number", "mod", "updated", "row"], kind="stable")
    # No group is named as a tier (1st/2nd/3rd line, L1-L3, service desk...): every tier
    # comes from the reassignment fallback.
    assert events["assignment_group"].str.fullmatch(r"Group \d+|\?").all()

    latest = events.groupby("number", sort=True).tail(1).set_index("number")
    known = events[events["assignment_group"] != "?"]
    last_known = known.groupby("number")["assignment_group"].last()

    sequences: dict[str, list[str]] = {}
    for number, group in zip(events["number"], events["assignment_group"], strict=True):
        if group == "?":
            continue
        sequence = sequences.setdefault(number, [])
        if not sequence or sequence[-1] != group:
            sequence.append(group)

    incidents = pd.DataFrame(index=latest.index)
    incidents["opened"] = _moments(latest["opened_at"])
    # engine.facts: closed without a resolution time = restored when closed.
    incidents["resolved"] = _moments(latest["resolved_at"]).fillna(_moments(latest["closed_at"]))
    incidents["category"] = latest["category"].where(latest["category"] != "?")
    incidents["subcategory"] = latest["subcategory"].where(latest["subcategory"] != "?")
    group = latest["assignment_group"].where(latest["assignment_group"] != "?")
    incidents["group"] = group.fillna(last_known.reindex(latest.index))
    incidents["reassignment_count"] = latest["reassignment_count"].astype(int)
    incidents["reopen_count"] = latest["reopen_count"].astype(int)
    incidents["state"] = latest["incident_state"]

    escalated, ping_pong, bounce_pairs = [], [], []
    for number, counted in zip(incidents.index, incidents["reassignment_count"], strict=True):
        sequence = sequences.get(number, [])
        pairs = {
            tuple(sorted((sequence[i], sequence[i + 1])))
            for i in range(len(sequence) - 2)
            if sequence[i] == sequence[i + 2]
        }
        changes = max(len(sequence) - 1, 0)
        escalated.append(len(set(sequence)) > 1 or counted > 0)
        ping_pong.append(bool(pairs) or max(counted, changes) >= 3)
        bounce_pairs.append(pairs)
    incidents["escalated"] = escalated
    incidents["ping_pong"] = ping_pong
    incidents["key"] = incidents["category"].fillna(NONE) + " / " + incidents["group"].fillna(NONE)
    incidents["ttr_hours"] = (incidents["resolved"] - incidents["opened"]).dt.total_seconds() / 3600

    ci = latest["cmdb_ci"].where(latest["cmdb_ci"] != "?")
    # The hotspot key without --group-by: service (none without a map), else CI, else category
    incidents["default_key"] = ci.fillna(incidents["category"]).fillna(NONE)
    # The symptom: CI (no service without a map), category, subcategory.
    incidents["symptom"] = (
        ci.fillna(NONE)
        + " / "
        + incidents["category"].fillna(NONE)
        + " / "
        + incidents["subcategory"].fillna(NONE)
    )
    incidents["repeat"] = _repeats(incidents["symptom"], incidents["opened"], incidents["resolved"])

    loops: dict[tuple[str, str], int] = {}
    for pairs in bounce_pairs:
        for pair in pairs:
            loops[pair] = loops.get(pair, 0) + 1
    return SimpleNamespace(incidents=incidents, loops=loops)


def _repeats(keys: pd.Series, opened: pd.Series, restored: pd.Series) -> pd.Series:
    """The previous incident on the same key (in opening order, ties in the log's
    incident order) was restored at most 14 days before this one opened."""
    frame = pd.DataFrame({"key": keys, "opened": opened, "restored": restored})
    frame = frame.sort_values(["key", "opened"], kind="stable")
    same_key = frame["key"] == frame["key"].shift()
    gap = frame["opened"] - frame["restored"].shift()
    within = (gap >= pd.Timedelta(0)) & (gap <= pd.Timedelta(days=REPEAT_DAYS))
    return (same_key & within.fillna(False)).reindex(keys.index)


def _window_table(incidents: pd.DataFrame) -> pd.DataFrame:
    """Per key: the counts and times to restore of `incidents` (one week's)."""
    grouped = incidents.groupby("key")
    table = pd.DataFrame(
        {
            "incidents": grouped.size(),
            "escalated": grouped["escalated"].sum(),
            "repeats": grouped["repeat"].sum(),
            "ping_pong": grouped["ping_pong"].sum(),
            "reopens": grouped["reopen_count"].apply(lambda counts: int((counts > 0).sum())),
        }
    ).astype("int64")
    table["reached_l3"] = 0

    def percentile(hours: pd.Series, q: float) -> float:
        known = hours.dropna().to_numpy()
        return float(np.percentile(known, q)) if known.size else math.nan

    table["ttr_median_hours"] = grouped["ttr_hours"].apply(percentile, q=50)
    table["ttr_p90_hours"] = grouped["ttr_hours"].apply(percentile, q=90)
    return table


def _poisson_tail(count: int, mean: float) -> float:
    """P(X >= count), X ~ Poisson(mean)."""
    below = sum(math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) for k in range(count))
    return min(max(1.0 - below, 0.0), 1.0)


def _negative_binomial_tail(count: int, shape: float, success: float) -> float:
    """P(X >= count), X ~ NegBin(shape, success): P(k) = C(k+r-1, k) p^r (1-p)^k."""
    below = sum(
        math.exp(
            math.lgamma(k + shape)
            - math.lgamma(shape)
            - math.lgamma(k + 1)
            + shape * math.log(success)
            + k * math.log1p(-success)
        )
        for k in range(count)
    )
    return min(max(1.0 - below, 0.0), 1.0)


def _weekly_escalated(incidents: pd.DataFrame, *, everything: bool = False) -> pd.DataFrame:
    """Escalated incidents (or, with `everything`, all incidents) per key (rows: keys with
    any incident) in the 9 weeks (columns)."""
    weeks = BASELINE_WEEKS + 1
    week = _week_index(incidents["opened"], _monday(-BASELINE_WEEKS), weeks)
    in_range = incidents[week >= 0].assign(week=week[week >= 0])
    values = in_range["escalated"] | everything
    counts = pd.crosstab(in_range["key"], in_range["week"], values=values, aggfunc="sum")
    return counts.reindex(columns=range(weeks)).fillna(0).astype(np.int64)


def _binomial_tail(count: int, trials: int, share: float) -> float:
    """P(X >= count), X ~ Binomial(trials, share), summing the upper terms in logs."""
    if count > trials:
        return 0.0
    log_choose = math.lgamma(trials + 1)
    return math.fsum(
        math.exp(
            log_choose - math.lgamma(k + 1) - math.lgamma(trials - k + 1)
            + k * math.log(share) + (trials - k) * math.log1p(-share)
        )
        for k in range(count, trials + 1)
    )  # fmt: skip


def _expected_flags(counts: pd.DataFrame, volume: pd.DataFrame, keys: pd.Index) -> pd.DataFrame:
    """The documented emerging/chronic test (engine/hotspots.py, engine/rates.py) by hand.

    `counts`: escalated incidents per key and week; `volume`: all incidents.
    """
    baseline = counts.iloc[:, :BASELINE_WEEKS]
    rates = baseline.sum(axis=1).to_numpy(dtype=float) / BASELINE_WEEKS
    mean = max(rates.mean(), 1.0 / (BASELINE_WEEKS * len(rates)))
    spread = rates.var() - mean / BASELINE_WEEKS
    b0 = BASELINE_WEEKS if spread <= 0 else min(mean / spread, BASELINE_WEEKS)
    a0 = mean * b0
    weekly_counts = baseline.to_numpy(dtype=float)
    typical = float(weekly_counts.mean())
    key_means = weekly_counts.mean(axis=1, keepdims=True)
    expected_variation = float(((BASELINE_WEEKS - 1) * key_means).sum())
    dispersion = max(1.0, float(((weekly_counts - key_means) ** 2).sum()) / expected_variation)
    typical_share = float(weekly_counts.sum()) / float(volume.iloc[:, :BASELINE_WEEKS].sum().sum())
    rows = []
    for key in keys:
        weekly = counts.loc[key].to_numpy()
        this_week, before = int(weekly[-1]), int(weekly[:-1].sum())
        p_value = _negative_binomial_tail(
            this_week, a0 + before, (b0 + BASELINE_WEEKS) / (b0 + BASELINE_WEEKS + 1)
        )
        ratio = ((a0 + this_week) / (b0 + 1)) / ((a0 + before) / (b0 + BASELINE_WEEKS))
        emerging = this_week >= MIN_ESCALATED and p_value < ALPHA and ratio >= MIN_RATE_RATIO
        # chronic: NB(mean 8 typical, variance dispersion x mean) and Binomial(its
        # incidents, the typical share), both tails below alpha; 2x; above typical in 5 weeks
        mean = BASELINE_WEEKS * typical
        count_p = (
            _poisson_tail(before, mean)
            if dispersion == 1.0
            else _negative_binomial_tail(before, mean / (dispersion - 1), 1 / dispersion)
        )
        incidents = int(volume.loc[key].iloc[:BASELINE_WEEKS].sum())
        chronic_p = max(count_p, _binomial_tail(before, incidents, typical_share))
        above = int((weekly[:-1] > typical).sum())
        chronic = (
            this_week > 0
            and chronic_p < ALPHA
            and before / BASELINE_WEEKS / typical >= MIN_RATE_RATIO
            and above >= CHRONIC_WEEKS
        )
        flag = ", ".join(name for name, on in (("chronic", chronic), ("emerging", emerging)) if on)
        rows.append((key, flag, p_value, ratio, chronic_p, above, typical))
    return pd.DataFrame(
        rows,
        columns=["key", "flag", "p_value", "rate_ratio", "chronic_p_value",
                 "weeks_above_typical", "typical"],
    ).set_index("key")  # fmt: skip


# --- per incident ---------------------------------------------------------------------


def test_real_incident_facts_match_the_event_log(engine, expected):
    want = expected.incidents
    got = engine.table.set_index("incident_id")
    assert engine.batch.rejected.empty
    assert len(got) == len(want) == 24_918
    got = got.loc[want.index]
    assert engine.tier_rules == {"reassignment"}
    assert (got["opened_at"] == want["opened"]).all()
    assert (got["resolved_at"].isna() == want["resolved"].isna()).all()
    resolved = want["resolved"].notna()
    assert (got["resolved_at"][resolved] == want["resolved"][resolved]).all()
    assert got["key"].tolist() == want["key"].tolist()
    assert (got["reopen_count"].astype(int) == want["reopen_count"]).all()
    assert got["escalated"].tolist() == want["escalated"].tolist()
    assert not got["reached_l3"].any()
    assert got["ping_pong"].tolist() == want["ping_pong"].tolist()
    ids = engine.table["incident_id"].to_numpy()
    default_key = hotspot_keys(engine.table)
    assert pd.Series(default_key.to_numpy(), index=ids).loc[want.index].tolist() == (
        want["default_key"].tolist()
    )
    assert got["repeat"].tolist() == want["repeat"].tolist()  # the facts' one definition
    print(
        f"\n{len(want)} incidents: {int(want['escalated'].sum())} escalated (reassignment "
        f"fallback), {int(want['ping_pong'].sum())} ping-pong, {int(want['repeat'].sum())} "
        f"repeats (back within {REPEAT_DAYS} days of a fix of the same symptom: "
        f"{want['repeat'].mean():.1%}); review of {WEEK} {engine.seconds:.1f} s"
    )


# --- hotspots -------------------------------------------------------------------------


def test_real_hotspots_count_the_window_per_key(engine, expected):
    incidents = expected.incidents
    in_window = (incidents["opened"] >= _monday(0)) & (incidents["opened"] < _monday(1))
    want = _window_table(incidents[in_window])
    got = engine.hotspots.set_index("key")
    assert sorted(got.index) == sorted(want.index)
    got = got.loc[want.index]
    for column in ("incidents", "escalated", "reached_l3", "repeats", "ping_pong", "reopens"):
        assert got[column].astype(int).tolist() == want[column].tolist(), column
    for column in ("ttr_median_hours", "ttr_p90_hours"):
        np.testing.assert_allclose(
            got[column].to_numpy(dtype=float), want[column].to_numpy(), rtol=1e-9, err_msg=column
        )
    np.testing.assert_allclose(
        got["escalation_rate"].to_numpy(dtype=float),
        (want["escalated"] / want["incidents"]).to_numpy(),
        rtol=1e-12,
    )
    flagged = engine.hotspots[engine.hotspots["flag"] != ""]
    print(
        f"\nweek {WEEK} ({_monday(0):%Y-%m-%d} to {_monday(1):%Y-%m-%d} UTC), baseline "
        f"{_monday(-BASELINE_WEEKS):%Y-%m-%d} onwards: {int(in_window.sum())} incidents, "
        f"{len(want)} keys (category / assignment group), {len(flagged)} flagged"
    )
    for row in flagged.itertuples(index=False):
        print(f"  #{row.rank} {row.key} [{row.flag}]: {row.reasons}")


def test_real_hotspots_weekly_escalated_counts_per_key(engine, expected):
    counts = _weekly_escalated(expected.incidents)
    got = engine.hotspots.set_index("key")
    window = counts.loc[got.index]
    assert got["escalated"].astype(int).tolist() == window[BASELINE_WEEKS].tolist()
    np.testing.assert_allclose(
        got["baseline_escalated_per_week"].to_numpy(dtype=float) * BASELINE_WEEKS,
        window.iloc[:, :BASELINE_WEEKS].sum(axis=1).to_numpy(dtype=float),
        rtol=1e-12,
    )
    # each baseline week, as the window of its own run: escalated per key with incidents
    for offset in range(-BASELINE_WEEKS, 0):
        label = f"{_monday(offset).isocalendar().year}-W{_monday(offset).isocalendar().week:02d}"
        bounds = week_bounds(label, "UTC", weeks_before=BASELINE_WEEKS)
        assert bounds[-2] == _monday(offset)
        run = find_hotspots(engine.table, bounds, repeat_days=REPEAT_DAYS)
        run = run.set_index("key")["escalated"].astype(int)
        column = counts[offset + BASELINE_WEEKS]
        week = _week_index(expected.incidents["opened"], _monday(offset), 1)
        keys_of_week = set(expected.incidents["key"][week == 0])
        assert set(run.index) == keys_of_week, label
        assert run.to_dict() == column.loc[sorted(keys_of_week)].to_dict(), label


def test_real_hotspot_flags_follow_the_documented_test(engine, expected):
    counts = _weekly_escalated(expected.incidents)
    volume = _weekly_escalated(expected.incidents, everything=True)
    got = engine.hotspots.set_index("key")
    want = _expected_flags(counts, volume, got.index)
    typical = f"typical key's {want['typical'].iloc[0]:.1f} a week"
    chronic = got["flag"].str.contains("chronic")
    assert got["reasons"][chronic].str.contains(typical, regex=False).all()
    assert got["weeks_above_typical"].astype(int).tolist() == (want["weeks_above_typical"].tolist())
    np.testing.assert_allclose(got["rate_ratio"], want["rate_ratio"], rtol=1e-9)
    np.testing.assert_allclose(got["p_value"], want["p_value"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(
        got["chronic_p_value"], want["chronic_p_value"], rtol=1e-6, atol=1e-12
    )
    assert got["flag"].to_dict() == want["flag"].to_dict()
    flagged = got["flag"] != ""
    assert engine.hotspots["flag"].ne("").iloc[: int(flagged.sum())].all()  # flagged first


# --- ping-pong ------------------------------------------------------------------------


def test_real_ping_pong_loops_count_incidents_per_pair(engine, expected):
    loops = ping_pong_loops(engine.batch.history)
    got = {(row.group_a, row.group_b): int(row.incidents) for row in loops.itertuples()}
    assert got == expected.loops
    order = sorted(expected.loops.items(), key=lambda item: (-item[1], item[0]))
    top = [(a, b, n) for (a, b), n in order[:10]]
    assert [tuple(row) for row in loops.head(10).itertuples(index=False)] == top
    print(f"\n{len(got)} ping-pong pairs; top 10 (incidents that bounced A -> B -> A):")
    for a, b, n in top:
        print(f"  {a} <-> {b}: {n}")


# --- KPI scorecard --------------------------------------------------------------------


def test_real_kpi_scorecard_matches_weekly_counts(engine, expected):
    scorecard = engine.kpis
    incidents = expected.incidents
    first = _monday(-(KPI_WEEKS - 1))
    week = _week_index(incidents["opened"], first, KPI_WEEKS)
    in_weeks = incidents[week >= 0].assign(week=week[week >= 0])
    weekly = in_weeks.groupby("week")
    count = weekly.size().reindex(range(KPI_WEEKS), fill_value=0)

    def trend(kpi: str, subject: str = "all") -> list[float]:
        rows = scorecard[(scorecard["kpi"] == kpi) & (scorecard["subject"] == subject)]
        assert len(rows) == 1, (kpi, subject)
        return list(rows["trend"].iloc[0])

    def share(values: pd.Series) -> list[float]:
        return (values.reindex(range(KPI_WEEKS), fill_value=0) / count).tolist()

    assert trend("incidents") == count.astype(float).tolist()
    for kpi, column in (
        ("escalation_rate_l2", in_weeks["escalated"]),
        ("repeat_rate", in_weeks["repeat"]),
        ("ping_pong_rate", in_weeks["ping_pong"]),
        ("reopen_rate", in_weeks["reopen_count"] > 0),
    ):
        np.testing.assert_allclose(
            trend(kpi), share(column.groupby(in_weeks["week"]).sum()), rtol=1e-12, err_msg=kpi
        )
    assert trend("escalation_rate_l3") == [0.0] * KPI_WEEKS
    assert trend("business_critical_incidents") == [0.0] * KPI_WEEKS

    groups = incidents["group"].fillna(NONE)
    ends = [first + pd.Timedelta(weeks=index + 1) for index in range(KPI_WEEKS)]
    # The review reads only the incidents that can count: opened before the week ends and
    # not restored before its baseline (less the repeat window) starts. Groups of no such
    # incident have no row.
    since = _monday(-BASELINE_WEEKS) - pd.Timedelta(days=REPEAT_DAYS)
    relevant = (incidents["opened"] < ends[-1]) & ~(incidents["resolved"] < since)
    listed = sorted(set(groups[relevant]))
    open_at_end = pd.DataFrame(
        {
            index: groups[
                (incidents["opened"] < end)
                & (incidents["resolved"].isna() | (incidents["resolved"] >= end))
            ].value_counts()
            for index, end in enumerate(ends)
        }
    ).reindex(listed, fill_value=0)
    open_at_end = open_at_end.fillna(0).reindex(columns=range(KPI_WEEKS), fill_value=0)
    opened = pd.crosstab(groups[week >= 0], week[week >= 0]).reindex(
        index=listed, columns=range(KPI_WEEKS), fill_value=0
    )
    for kpi, want in (("open_at_week_end", open_at_end), ("opened", opened)):
        rows = scorecard[scorecard["kpi"] == kpi]
        got = {row.subject: list(row.trend) for row in rows.itertuples()}
        assert got == {group: [float(v) for v in values] for group, values in want.iterrows()}, kpi

    value = scorecard.set_index(["kpi", "subject"])["value"]
    print(f"\nKPIs of week {WEEK} (trend {KPI_WEEKS} weeks from {first:%Y-%m-%d}):")
    for kpi in ("incidents", "escalation_rate_l2", "repeat_rate", "ping_pong_rate", "reopen_rate"):
        print(f"  {kpi}: {value[(kpi, 'all')]:.4g} (trend {[round(v, 4) for v in trend(kpi)]})")
    busiest = open_at_end[KPI_WEEKS - 1].sort_values(ascending=False).head(5)
    unresolved = incidents["resolved"].isna() & (incidents["opened"] < ends[-1])
    closed = unresolved & (incidents["state"] == "Closed")
    print(
        f"  open at week end: {int(open_at_end[KPI_WEEKS - 1].sum())} in all, of which "
        f"{int(unresolved.sum())} have resolved_at '?' ({int(closed.sum())} of those are "
        f"Closed in the log); most: {busiest.astype(int).to_dict()}"
    )
    top_opened = opened[KPI_WEEKS - 1].sort_values(ascending=False).head(5)
    print(f"  opened per group, most: {top_opened.astype(int).to_dict()}")


def test_real_week_is_inside_the_busy_part_of_the_log(expected):
    opened = expected.incidents["opened"]
    first = _monday(-BASELINE_WEEKS)
    assert opened.min() < first  # the whole baseline lies inside the log
    per_week = _week_index(opened, first, BASELINE_WEEKS + 1)
    assert np.bincount(per_week[per_week >= 0], minlength=BASELINE_WEEKS + 1).min() > 1_000
    assert re.fullmatch(r"\d{4}-W\d{2}", WEEK)
