"""The weekly review: everything a reader of one week needs, computed in one call.

`review_week` is the one composition of the analytic core that every surface uses: the
``hotspots``, ``kpis``, ``misprioritised`` and ``whatif`` commands, the weekly report,
the Prefect flow, the API and the benchmarks. It derives each incident's facts once
(`engine.facts`, from one map version), then the hotspots, the KPI scorecard with its
trend, the process timelines, mis-prioritised incidents, group outages, likely common
causes, the costliest incidents with the paths that explain them, and map coverage, and
returns them frozen in a `WeeklyReview` with the notes a reader must know. Pure: the
incidents, the map and the moment (``as_of``) are parameters.

Which incidents to give it: those active at some moment from `ReviewWindow.since` to
the week's end (`review_window` says when that is), with their assignment history;
others are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pandas as pd
from impactlens.engine.correlation import group_outages, likely_common_causes
from impactlens.engine.escalation import ping_pong_loops
from impactlens.engine.facts import FactRules, IncidentFacts, incident_facts, restored_at
from impactlens.engine.hotspots import HotspotRules, find_hotspots, hotspot_keys
from impactlens.engine.impact import ImpactModel
from impactlens.engine.keys import check_key_fields, incident_positions
from impactlens.engine.kpis import kpi_scorecard
from impactlens.engine.misprioritised import DEFAULT_MIN_GAP, misprioritised
from impactlens.engine.timelines import process_timelines
from impactlens.engine.weeks import (
    last_complete_month,
    last_complete_week,
    month_bounds,
    parse_week,
    week_bounds,
    week_label,
    week_of,
)
from impactlens.service_map.quality import quality_report

from impactlens.errors import InvalidSettingsError, InvalidWeekError
from impactlens.moments import utc_moment

__all__ = [
    "COSTLIEST_COLUMNS",
    "Coverage",
    "ReviewSettings",
    "ReviewWindow",
    "WeeklyReview",
    "review_week",
    "review_window",
]

COSTLIEST_COLUMNS = (
    "source", "incident_id", "opened_at", "resolved_at", "priority", "service_id",
    "top_process", "impact_score", "impact_minutes", "value_at_risk", "explanation",
    "short_description",
)  # fmt: skip
UNKNOWN_CIS_SHOWN = 5
HANDOFF_LOOPS_KEPT = 20


@dataclass(frozen=True)
class ReviewSettings:
    """How a week is reviewed; every default is the product's (see docs/weekly.md).

    ``timezone``: the IANA zone whose Monday 00:00 starts each week. ``facts``: the
    rules of repeats and support tiers. ``hotspots``: the hotspot tests.
    ``group_by``: the hotspot key (`engine.keys.KEY_FIELDS`; empty means service,
    else CI, else category). ``trend_weeks``: weeks of the KPI trend, this one
    included. ``min_gap``: levels by which a priority must understate its impact to be
    flagged. ``costliest``: how many of the costliest incidents to keep.
    ``critical_criticality``: processes of this criticality or more critical make an
    incident business-critical. ``currency``: what money is shown in (none by default).
    ``monthly_baseline`` and ``monthly_trend``: the monthly edition's hotspot baseline
    and KPI trend, in months (its month is compared with the month before).
    """

    timezone: str = "UTC"
    facts: FactRules = field(default_factory=FactRules)
    hotspots: HotspotRules = field(default_factory=HotspotRules)
    group_by: tuple[str, ...] = ()
    trend_weeks: int = 8
    min_gap: int = DEFAULT_MIN_GAP
    costliest: int = 10
    critical_criticality: int = 1
    currency: str = ""
    monthly_baseline: int = 6
    monthly_trend: int = 6

    def __post_init__(self) -> None:
        check_key_fields(self.group_by, what="group hotspots by")
        for name, low in (
            ("trend_weeks", 1), ("min_gap", 1), ("costliest", 0), ("monthly_baseline", 1),
            ("monthly_trend", 1),
        ):  # fmt: skip
            if getattr(self, name) < low:
                raise InvalidSettingsError(
                    f"{name} must be {low} or more, not {getattr(self, name)}"
                )


@dataclass(frozen=True)
class ReviewWindow:
    """The moments a review looks at (all UTC): a week, or (``kind == "month"``) a month.

    The period is ``[start, end)``; ``week`` is its label (``2026-W47``, ``2026-11``).
    ``hotspot_bounds``: the baseline periods and the period
    (`engine.hotspots.find_hotspots`, with ``hotspot_rules``); ``trend_bounds``: the KPI
    trend's periods, this one last. ``since``: the earliest moment whose incidents matter
    (the earlier of the two first bounds, less the repeat window, so that repeats of early
    incidents are seen).
    """

    week: str
    timezone: str
    start: pd.Timestamp
    end: pd.Timestamp
    hotspot_bounds: pd.DatetimeIndex
    trend_bounds: pd.DatetimeIndex
    since: pd.Timestamp
    hotspot_rules: HotspotRules = field(default_factory=HotspotRules)
    kind: str = "week"

    @property
    def label(self) -> str:
        return self.week


@dataclass(frozen=True)
class Coverage:
    """How well the map places the week's incidents on services."""

    incidents: int
    by_ci: int
    by_match: int
    unknown_cis: tuple[tuple[str, int], ...]  # the most frequent CIs no service claims

    @property
    def mapped(self) -> int:
        return self.by_ci + self.by_match

    @property
    def unmapped(self) -> int:
        return self.incidents - self.mapped

    @property
    def share(self) -> float:
        """Mapped incidents as a share of the week's (1.0 for a week without any)."""
        return self.mapped / self.incidents if self.incidents else 1.0


@dataclass(frozen=True)
class WeeklyReview:
    """One week, reviewed: every table a reader needs, already computed.

    ``facts`` covers every incident the review used (the baseline and trend weeks too);
    ``week_incidents`` are those opened in the week. ``hotspots``
    (`engine.hotspots.HOTSPOT_COLUMNS`), ``kpis`` (`engine.kpis.KPI_COLUMNS`, the trend
    over ``settings.trend_weeks``), ``timelines`` (`engine.timelines.TIMELINE_COLUMNS`
    per trend week; empty without a map), ``misprioritised`` (of incidents opened in
    the week), ``group_outages`` and ``common_causes`` (overlapping the week / opened
    in it), ``costliest`` (`COSTLIEST_COLUMNS`, opened in the week). ``notes`` are what
    a reader must know to read the figures right. ``process_names``: process id ->
    name, of the map's processes. ``map_findings``: the map's quality findings
    (`service_map.quality`). ``handoff_loops``: the group pairs the period's incidents
    bounced between (``group_a, group_b, incidents``). ``data_trust``: per source, what
    the caller knows of the data's freshness and quarantine (`review_week`'s
    `data_trust`; empty when none was given).
    """

    window: ReviewWindow
    as_of: pd.Timestamp
    map_version: str | None
    settings: ReviewSettings
    process_names: Mapping[str, str]
    facts: IncidentFacts
    hotspots: pd.DataFrame
    kpis: pd.DataFrame
    timelines: pd.DataFrame
    misprioritised: pd.DataFrame
    group_outages: pd.DataFrame
    common_causes: pd.DataFrame
    costliest: pd.DataFrame
    coverage: Coverage
    notes: tuple[str, ...]
    map_findings: tuple[str, ...] = ()
    handoff_loops: pd.DataFrame = field(default_factory=pd.DataFrame)
    data_trust: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def week(self) -> str:
        return self.window.week

    @property
    def week_incidents(self) -> pd.DataFrame:
        """The facts of the incidents opened in the week."""
        table = self.facts.incidents
        return table[_opened_in(table, self.window)]


def review_window(period: str, settings: ReviewSettings, *, kind: str = "week") -> ReviewWindow:
    """The moments the review of `period` (``2026-W47``, or a month ``2026-11``) looks at.

    >>> window = review_window("2026-W47", ReviewSettings())
    >>> window.start.isoformat(), window.since.isoformat()
    ('2026-11-16T00:00:00+00:00', '2026-09-07T00:00:00+00:00')
    >>> review_window("2026W47", ReviewSettings()).week
    '2026-W47'
    >>> month = review_window("2026-11", ReviewSettings(), kind="month")
    >>> month.start.isoformat(), month.trend_bounds[0].isoformat(), month.hotspot_rules.baseline_weeks
    ('2026-11-01T00:00:00+00:00', '2026-06-01T00:00:00+00:00', 6)
    """
    rules = settings.hotspots
    if kind == "month":
        rules = replace(
            rules,
            baseline_weeks=settings.monthly_baseline,
            chronic_weeks=min(rules.chronic_weeks, settings.monthly_baseline),
            period="month",
        )
        hotspot_bounds = month_bounds(period, settings.timezone, months_before=rules.baseline_weeks)
        trend_bounds = month_bounds(
            period, settings.timezone, months_before=settings.monthly_trend - 1
        )
    elif kind == "week":
        period = week_label(parse_week(period))  # 2026W47 is labelled 2026-W47
        hotspot_bounds = week_bounds(period, settings.timezone, weeks_before=rules.baseline_weeks)
        trend_bounds = week_bounds(period, settings.timezone, weeks_before=settings.trend_weeks - 1)
    else:
        raise InvalidSettingsError(f"a review covers a week or a month, not a {kind!r}")
    first = min(hotspot_bounds[0], trend_bounds[0])
    return ReviewWindow(
        week=period,
        timezone=settings.timezone,
        start=hotspot_bounds[-2],
        end=hotspot_bounds[-1],
        hotspot_bounds=hotspot_bounds,
        trend_bounds=trend_bounds,
        since=first - pd.Timedelta(days=settings.facts.repeat_days),
        hotspot_rules=rules,
        kind=kind,
    )


def default_week(as_of: pd.Timestamp, settings: ReviewSettings, *, kind: str = "week") -> str:
    """The period a review covers by default: the last full week (or month) before
    `as_of` (the Monday-morning review's week; the first-Monday review's month)."""
    if kind == "month":
        return last_complete_month(utc_moment(as_of), settings.timezone)
    return last_complete_week(utc_moment(as_of), settings.timezone)


def review_week(
    incidents: pd.DataFrame,
    history: pd.DataFrame,
    model: ImpactModel | None,
    *,
    week: str | None,
    settings: ReviewSettings,
    as_of: pd.Timestamp,
    data_extent: tuple[pd.Timestamp | None, pd.Timestamp | None] | None = None,
    month: str | None = None,
    data_trust: pd.DataFrame | None = None,
) -> WeeklyReview:
    """Review `week` (default: the last full week before `as_of`); see `WeeklyReview`.

    With ``month=`` (``2026-11``) the review covers that calendar month instead (the
    monthly edition): hotspots against ``settings.monthly_baseline`` months, the KPI
    trend over ``settings.monthly_trend`` months.

    Parameters
    ----------
    incidents, history : DataFrame
        Canonical incidents (as the store keeps them) and their assignment history.
        Incidents opened after `as_of` or after the week, and incidents restored before
        `ReviewWindow.since`, are ignored.
    model : ImpactModel, optional
        The service map's impact model; without one nothing is placed on services or
        scored, and the map's tables are empty.
    week : str, optional
        ISO week, e.g. ``2026-W47``.
    settings : ReviewSettings
    as_of : Timestamp
        The moment open incidents count up to.
    data_extent : (Timestamp, Timestamp), optional
        The first and last ``opened_at`` of all the data there is (not only of the
        incidents given), for the notes; default: those of `incidents`.
    month : str, optional
        A calendar month to review instead of a week; not with `week`.
    data_trust : DataFrame, optional
        Per source, the freshness and quarantine of the data (the caller knows them,
        from its store); kept as given in `WeeklyReview.data_trust`.

    Raises
    ------
    InvalidWeekError
        When `week` is not an ISO week, or starts after `as_of`.
    """
    as_of = utc_moment(as_of)
    if week is not None and month is not None:
        raise InvalidWeekError("a review covers a week or a month: give one, not both")
    kind = "month" if month is not None else "week"
    period = month or week or default_week(as_of, settings, kind=kind)
    window = review_window(period, settings, kind=kind)
    if window.start > as_of:
        raise InvalidWeekError(
            f"{kind} {window.week} starts after as_of {as_of.isoformat()}: nothing to review yet"
        )
    opened = pd.to_datetime(incidents["opened_at"], utc=True)
    restored = pd.to_datetime(restored_at(incidents), utc=True)
    relevant = (opened < window.end) & ~(restored < window.since)
    too_new = int((relevant & (opened > as_of)).sum())
    chosen = incidents[(relevant & (opened <= as_of)).to_numpy()]
    history = history[incident_positions(history, chosen) >= 0]
    facts = incident_facts(chosen, history, model, as_of=as_of, rules=settings.facts)

    table = facts.incidents
    names = _process_names(model)
    keys = hotspot_keys(table, settings.group_by)
    hotspots = find_hotspots(
        table.assign(key=keys),
        window.hotspot_bounds,
        rules=window.hotspot_rules,
        repeat_days=settings.facts.repeat_days,
        history=facts.history,
        process_minutes=facts.pairs,
        process_names=names,
    )
    in_week = _opened_in(table, window)
    outages = causes = timelines = mis = None
    if model is not None:
        outages = group_outages(table, model, as_of=as_of)
        timelines = process_timelines(
            table, model, as_of=as_of, bounds=window.trend_bounds, outages=outages
        )
        mis = _misprioritised(facts, in_week, model, as_of=as_of, min_gap=settings.min_gap)
        causes = likely_common_causes(table[in_week], model, as_of=as_of)
        outages = outages[(outages["end"] > window.start) & (outages["start"] < window.end)]
    kpis = kpi_scorecard(
        table,
        window.trend_bounds,
        timelines=timelines,
        pairs=facts.pairs,
        process_criticality=_criticalities(model),
        process_names=names,
        critical_criticality=settings.critical_criticality,
    )
    coverage = _coverage(table[in_week])
    extent = data_extent if data_extent is not None else _extent(opened)
    return WeeklyReview(
        window=window,
        as_of=as_of,
        map_version=facts.map_version,
        settings=settings,
        process_names=names,
        facts=facts,
        hotspots=hotspots,
        kpis=kpis,
        timelines=_frame(timelines),
        misprioritised=_frame(mis),
        group_outages=_frame(outages).reset_index(drop=True),
        common_causes=_frame(causes),
        costliest=_costliest(table[in_week], settings.costliest),
        coverage=coverage,
        notes=_notes(window, as_of, model, int(in_week.sum()), coverage, extent, too_new),
        map_findings=_map_findings(model),
        handoff_loops=_handoff_loops(facts, in_week),
        data_trust=data_trust if data_trust is not None else pd.DataFrame(),
    )


def _map_findings(model: ImpactModel | None) -> tuple[str, ...]:
    if model is None:
        return ()
    return tuple(quality_report(model.service_map, model.graph).findings)


def _handoff_loops(facts: IncidentFacts, in_week: npt.NDArray[np.bool_]) -> pd.DataFrame:
    """The group pairs the period's incidents bounced between, most incidents first."""
    history = facts.history
    week = facts.incidents[in_week]
    if history.empty or week.empty:
        return pd.DataFrame({"group_a": [], "group_b": [], "incidents": []})
    mine = history[incident_positions(history, week) >= 0]
    return ping_pong_loops(mine).head(HANDOFF_LOOPS_KEPT).reset_index(drop=True)


def _opened_in(table: pd.DataFrame, window: ReviewWindow) -> npt.NDArray[np.bool_]:
    bounds = pd.DatetimeIndex([window.start, window.end])
    opened: npt.NDArray[np.bool_] = week_of(table["opened_at"], bounds) == 0
    return opened


def _misprioritised(
    facts: IncidentFacts,
    in_week: np.ndarray,
    model: ImpactModel,
    *,
    as_of: pd.Timestamp,
    min_gap: int,
) -> pd.DataFrame:
    """Mis-prioritised incidents opened in the week, from the facts' own pairs.

    Only the week's incidents are judged; the whole review (its baseline weeks too) is
    their context: the other incidents reaching a process, and its usual rate of them.
    """
    return misprioritised(
        facts.incidents, model, as_of=as_of, pairs=facts.pairs, min_gap=min_gap, judged=in_week
    )


def _costliest(week: pd.DataFrame, count: int) -> pd.DataFrame:
    hurt = week[week["impact_score"] > 0]
    top = hurt.sort_values(
        ["impact_score", "value_at_risk", "incident_id"],
        ascending=[False, False, True],
        kind="stable",
    ).head(count)
    columns = [name for name in COSTLIEST_COLUMNS if name in top.columns]
    return top[columns].reset_index(drop=True)


def _coverage(week: pd.DataFrame) -> Coverage:
    how = week["mapped_by"].astype("string")
    unmapped = week[~week["mapped"].to_numpy(dtype=bool)]
    cis = unmapped["ci"].astype("string").str.strip() if "ci" in unmapped.columns else None
    counts = cis[cis.notna() & (cis != "")].value_counts() if cis is not None else pd.Series()
    top = counts.sort_index().sort_values(ascending=False, kind="stable").head(UNKNOWN_CIS_SHOWN)
    return Coverage(
        incidents=len(week),
        by_ci=int((how == "ci").sum()),
        by_match=int((how == "match").sum()),
        unknown_cis=tuple((str(ci), int(n)) for ci, n in top.items()),
    )


def _notes(
    window: ReviewWindow,
    as_of: pd.Timestamp,
    model: ImpactModel | None,
    week_incidents: int,
    coverage: Coverage,
    extent: tuple[pd.Timestamp | None, pd.Timestamp | None],
    too_new: int,
) -> tuple[str, ...]:
    notes = []
    first, last = extent
    if first is None or last is None:
        notes.append("there are no incidents at all: ingest some first")
    else:
        baseline = min(window.hotspot_bounds[0], window.trend_bounds[0])
        if first > baseline:
            notes.append(
                f"the baseline starts {baseline:%Y-%m-%d}, before the first incident "
                f"({first:%Y-%m-%d}); {window.kind}s without data count as quiet {window.kind}s"
            )
        if week_incidents == 0:
            where = (
                f"; the data ends {last:%Y-%m-%d}"
                if last < window.start
                else f"; the data starts {first:%Y-%m-%d}"
                if first >= window.end
                else ""
            )
            notes.append(f"no incidents were opened in {window.kind} {window.week}{where}")
    if as_of < window.end:
        notes.append(
            f"{window.kind} {window.week} is not over (as of {as_of:%Y-%m-%d %H:%M} UTC): "
            "its figures are partial"
        )
    if too_new:
        notes.append(
            f"{too_new:,} incident{'s' if too_new != 1 else ''} opened after as_of "
            f"{as_of:%Y-%m-%d %H:%M} UTC {'are' if too_new != 1 else 'is'} left out"
        )
    if model is None:
        notes.append(
            "no service map: incidents are not placed on services or scored, and hotspots "
            "are keyed by CI or category"
        )
    elif coverage.unmapped:
        cis = ", ".join(f"{ci} ({n:,})" for ci, n in coverage.unknown_cis)
        notes.append(
            f"{coverage.unmapped:,} of the {window.kind}'s {coverage.incidents:,} incidents "
            f"({1 - coverage.share:.1%}) could not be placed on a service of the map"
            + (f"; the most frequent unknown CIs: {cis}" if cis else "")
        )
    return tuple(notes)


def _extent(opened: pd.Series) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    if opened.notna().sum() == 0:
        return None, None
    return opened.min(), opened.max()


def _process_names(model: ImpactModel | None) -> dict[str, str]:
    return {p.id: p.name for p in model.service_map.processes} if model is not None else {}


def _criticalities(model: ImpactModel | None) -> dict[str, int] | None:
    if model is None:
        return None
    return {p.id: p.criticality for p in model.service_map.processes}


def _frame(table: pd.DataFrame | None) -> pd.DataFrame:
    return table if table is not None else pd.DataFrame()
