"""What the report shows, worked out from a `WeeklyReview`: the sections in meeting order.

`report_context` turns a review into plain values (texts, numbers, lists of rows) that
the HTML and Markdown templates lay out, so both say exactly the same thing and neither
computes anything. Every figure here is one of the review's, formatted for people; the
charts are drawn from the same figures. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from impactlens.engine.weekly import WeeklyReview
from impactlens.reports import charts

from impactlens.text import bars, counted, kpi_figure, money

__all__ = ["KPI_ROWS", "report_context"]

# The joint scorecard's rows, in the order the meeting reads them.
KPI_ROWS = (
    ("incidents", "Incidents opened"),
    ("business_critical_incidents", "Business-critical incidents"),
    ("business_minutes_lost", "Business minutes lost"),
    ("value_at_risk", "Value at risk"),
    ("ttr_median_hours", "Time to restore, median (h)"),
    ("ttr_p90_hours", "Time to restore, p90 (h)"),
    ("escalation_rate_l2", "Escalated to L2/L3"),
    ("escalation_rate_l3", "Escalated to L3"),
    ("repeat_rate", "Repeats"),
    ("ping_pong_rate", "Ping-pong"),
    ("reopen_rate", "Reopened"),
)
HOTSPOTS_SHOWN = 10
LISTS_SHOWN = 10
GROUPS_SHOWN = 10
_HEADLINE = (
    ("business_minutes_lost", "business minutes lost"),
    ("value_at_risk", "value at risk"),
    ("business_critical_incidents", "business-critical incidents"),
)


def report_context(review: WeeklyReview, *, charts_svg: bool = True) -> dict[str, Any]:
    """The report's sections as plain values, in meeting order.

    With `charts_svg` false no chart is drawn (the Markdown edition has none).
    """
    window = review.window
    currency = review.settings.currency
    kpis = review.kpis
    trend_labels = _period_labels(review)
    return {
        "title": f"Impact report, {_period_name(review)}",
        "period": window.week,
        "period_kind": window.kind,
        "start": f"{_local_days(review)[0]:%Y-%m-%d}",
        "end": f"{_local_days(review)[1]:%Y-%m-%d}",
        "timezone": window.timezone,
        "as_of": f"{review.as_of:%Y-%m-%d %H:%M} UTC",
        "map_version": review.map_version or "no service map",
        "currency": currency,
        "notes": list(review.notes),
        "headline": _headline(kpis, currency),
        "scorecard": _scorecard(kpis, currency, charts_svg=charts_svg),
        "trend_labels": trend_labels,
        "processes": _processes(kpis, currency),
        "process_chart": _process_chart(kpis, currency) if charts_svg else "",
        "timeline_chart": (_timeline_chart(kpis, trend_labels) if charts_svg and len(kpis) else ""),
        "workload": _workload(kpis),
        "hotspots": _hotspots(review.hotspots, currency),
        "hotspots_total": len(review.hotspots),
        "hotspots_flagged": int((review.hotspots.get("flag", pd.Series()) != "").sum()),
        "handoff_loops": _records(review.handoff_loops, LISTS_SHOWN),
        "common_causes": _common_causes(review.common_causes),
        "common_causes_total": len(review.common_causes),
        "group_outages": _group_outages(review.group_outages),
        "misprioritised": _misprioritised(review.misprioritised),
        "misprioritised_total": len(review.misprioritised),
        "costliest": _costliest(review.costliest, currency),
        "coverage": _coverage(review),
        "map_findings": list(review.map_findings),
        "data_trust": _records(review.data_trust, None),
        "method": _method(review),
    }


def _local_days(review: WeeklyReview) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The period's first and last day on the review's wall clock."""
    window = review.window
    start = window.start.tz_convert(window.timezone)
    return start, window.end.tz_convert(window.timezone) - pd.Timedelta(days=1)


def _period_name(review: WeeklyReview) -> str:
    first, last = _local_days(review)
    if review.window.kind == "month":
        return f"{first:%B %Y}"
    return f"week {review.window.week} ({first:%d %b} to {last:%d %b %Y})"


def _period_labels(review: WeeklyReview) -> list[str]:
    bounds = review.window.trend_bounds
    fmt = "%b %Y" if review.window.kind == "month" else "%d %b"
    return [f"{moment.tz_convert(review.window.timezone):{fmt}}" for moment in bounds[:-1]]


def _kpi(kpis: pd.DataFrame, kpi: str, subject: str = "all") -> pd.Series | None:
    rows = kpis[(kpis["kpi"] == kpi) & (kpis["subject"] == subject)] if len(kpis) else kpis
    return rows.iloc[0] if len(rows) else None


def _figure(value: Any, kpi: str, **options: Any) -> str:
    """`text.kpi_figure`, with a dash where there is nothing to measure (a rate of a
    period without incidents)."""
    return kpi_figure(value, kpi, **options) or "–"


def _direction(change: float) -> tuple[str, str]:
    """An arrow and whether the change is good news: for every KPI here, less is better."""
    if change != change:  # nothing to compare
        return "", "same"
    if change == 0:
        return "→", "same"
    return ("↑", "worse") if change > 0 else ("↓", "better")


def _headline(kpis: pd.DataFrame, currency: str) -> list[dict[str, Any]]:
    rows = []
    for kpi, label in _HEADLINE:
        row = _kpi(kpis, kpi)
        if row is None:
            continue
        arrow, verdict = _direction(float(row["change"]))
        rows.append(
            {
                "label": label,
                "value": _figure(row["value"], kpi, currency=currency),
                "previous": _figure(row["previous"], kpi, currency=currency),
                "change": _figure(row["change"], kpi, change=True, currency=currency),
                "arrow": arrow,
                "verdict": verdict,
                "raw": float(row["value"]),
            }
        )
    return rows


def _scorecard(kpis: pd.DataFrame, currency: str, *, charts_svg: bool) -> list[dict[str, Any]]:
    rows = []
    for kpi, label in KPI_ROWS:
        subject = "business-critical" if kpi.startswith("ttr_") else "all"
        row = _kpi(kpis, kpi, subject)
        if row is None:
            continue
        arrow, verdict = _direction(float(row["change"]))
        trend = [float(v) for v in row["trend"]]
        rows.append(
            {
                "kpi": kpi,
                "label": label,
                "value": _figure(row["value"], kpi, currency=currency),
                "previous": _figure(row["previous"], kpi, currency=currency),
                "change": _figure(row["change"], kpi, change=True, currency=currency),
                "arrow": arrow,
                "verdict": verdict,
                "trend": trend,
                "trend_text": bars(list(trend)),
                "sparkline": charts.sparkline(trend, name=f"spark-{kpi}") if charts_svg else "",
                "raw": float(row["value"]),
            }
        )
    return rows


def _processes(kpis: pd.DataFrame, currency: str) -> list[dict[str, Any]]:
    if not len(kpis):
        return []
    minutes = kpis[(kpis["kpi"] == "business_minutes_lost") & (kpis["subject"] != "all")]
    values = kpis[(kpis["kpi"] == "value_at_risk") & (kpis["subject"] != "all")]
    value_of = dict(zip(values["subject"], values["value"], strict=True))
    rows = []
    for subject, value, change in zip(
        minutes["subject"], minutes["value"], minutes["change"], strict=True
    ):
        risk = float(value_of.get(subject, 0.0))
        rows.append(
            {
                "process": str(subject),
                "minutes": _figure(value, "business_minutes_lost"),
                "minutes_change": _figure(change, "business_minutes_lost", change=True),
                "value": money(risk, currency),
                "raw_minutes": float(value),
                "raw_value": risk,
            }
        )
    return sorted(rows, key=lambda row: (-row["raw_value"], row["process"]))


def _process_chart(kpis: pd.DataFrame, currency: str) -> str:
    rows = _processes(kpis, currency)
    if not rows:
        return ""
    return charts.bar_chart(
        [row["process"] for row in rows],
        [row["raw_minutes"] for row in rows],
        [row["raw_value"] for row in rows],
        currency=currency,
        name="processes",
    )


def _timeline_chart(kpis: pd.DataFrame, labels: Sequence[str]) -> str:
    minutes = kpis[(kpis["kpi"] == "business_minutes_lost") & (kpis["subject"] != "all")]
    if minutes.empty:
        return ""
    series: dict[str, Sequence[float]] = {
        str(s): list(t) for s, t in zip(minutes["subject"], minutes["trend"], strict=True)
    }
    return charts.trend_chart(
        labels, series, title="business minutes lost per process", name="timeline"
    )


def _workload(kpis: pd.DataFrame) -> list[dict[str, Any]]:
    if not len(kpis):
        return []
    open_rows = kpis[kpis["kpi"] == "open_at_week_end"].head(GROUPS_SHOWN)
    opened = kpis[kpis["kpi"] == "opened"].set_index("subject")["value"]
    return [
        {
            "group": str(row["subject"]),
            "open": f"{row['value']:,.0f}",
            "open_change": _figure(row["change"], "open", change=True),
            "opened": f"{float(opened.get(row['subject'], 0.0)):,.0f}",
        }
        for row in _rows(open_rows)
    ]


def _hotspots(hotspots: pd.DataFrame, currency: str) -> list[dict[str, Any]]:
    if hotspots.empty:
        return []
    flagged = hotspots[hotspots["flag"] != ""]
    shown = pd.concat([flagged, hotspots[hotspots["flag"] == ""]]).head(
        max(HOTSPOTS_SHOWN, len(flagged))
    )
    return [
        {
            "rank": int(row["rank"]),
            "key": str(row["key"]),
            "flag": str(row["flag"]),
            "incidents": int(row["incidents"]),
            "escalated": int(row["escalated"]),
            "reached_l3": int(row["reached_l3"]),
            "repeats": int(row["repeats"]),
            "ping_pong": int(row["ping_pong"]),
            "impact": f"{row['repeat_impact']:,.0f}",
            "handoff": "" if pd.isna(row["top_handoff"]) else str(row["top_handoff"]),
            "reasons": str(row["reasons"]),
            "problem_record": str(row["problem_record"]),
        }
        for row in _rows(shown)
    ]


def _common_causes(causes: pd.DataFrame) -> list[dict[str, Any]]:
    if causes.empty:
        return []
    top = causes.sort_values(["incidents", "start"], ascending=[False, True]).head(LISTS_SHOWN)
    return [
        {
            "provider": str(row["provider"]),
            "incidents": int(row["incidents"]),
            "services": _listed(row["services"]),
            "start": f"{row['start']:%a %d %b %H:%M}",
            "incident_ids": _listed(row["incident_ids"]),
        }
        for row in _rows(top)
    ]


def _group_outages(outages: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "group": str(row["group_id"]),
            "start": f"{row['start']:%a %d %b %H:%M}",
            "minutes": f"{row['minutes']:,.0f}",
            "severity": f"{row['severity']:g}",
            "members_down": str(row["members_down"]),
            "incident_ids": _listed(row["incident_ids"]),
        }
        for row in _rows(outages)
    ]


def _misprioritised(found: pd.DataFrame) -> list[dict[str, Any]]:
    if found.empty:
        return []
    understated = found[found["direction"] == "understated"].head(LISTS_SHOWN)
    overstated = found[found["direction"] == "overstated"].head(LISTS_SHOWN)
    return [
        {
            "incident_id": str(row["incident_id"]),
            "service": str(row["service_id"]),
            "priority": f"P{row['priority']}",
            "suggested": ""
            if pd.isna(row["suggested_priority"])
            else f"P{row['suggested_priority']}",
            "direction": str(row["direction"]),
            "reason": str(row["reason"]),
        }
        for row in _rows(pd.concat([understated, overstated]))
    ]


def _costliest(costliest: pd.DataFrame, currency: str) -> list[dict[str, Any]]:
    return [
        {
            "incident_id": str(row["incident_id"]),
            "priority": f"P{row['priority']}",
            "service": str(row["service_id"]),
            "opened": f"{row['opened_at']:%a %d %b %H:%M}",
            "score": f"{row['impact_score']:,.0f}",
            "minutes": f"{row['impact_minutes']:,.0f}",
            "value": money(float(row["value_at_risk"]), currency),
            "path": str(row["explanation"]),
            "description": ""
            if pd.isna(row["short_description"])
            else str(row["short_description"]),
        }
        for row in _rows(costliest)
    ]


def _coverage(review: WeeklyReview) -> dict[str, Any]:
    coverage = review.coverage
    return {
        "any": coverage.incidents > 0,
        "incidents": counted(coverage.incidents, "incident"),
        "share": f"{coverage.share:.1%}",
        "by_ci": f"{coverage.by_ci:,}",
        "by_match": f"{coverage.by_match:,}",
        "unmapped": f"{coverage.unmapped:,}",
        "unknown_cis": [f"{ci} ({count:,})" for ci, count in coverage.unknown_cis],
    }


def _listed(value: object) -> str:
    """A comma-joined list (``a,b``) as the report shows it (``a, b``): wraps between ids."""
    return ", ".join(part.strip() for part in str(value).split(","))


def _rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The table's rows as plain dicts (values untouched)."""
    return [{str(k): v for k, v in r.items()} for r in table.to_dict("records")]


def _records(table: pd.DataFrame, limit: int | None) -> list[dict[str, Any]]:
    shown = table if limit is None else table.head(limit)
    return [
        {
            str(k): ("" if v is None or (isinstance(v, float) and v != v) else v)
            for k, v in r.items()
        }
        for r in shown.to_dict("records")
    ]


def _method(review: WeeklyReview) -> list[str]:
    rules = review.window.hotspot_rules
    facts = review.settings.facts
    return [
        "Impact of an incident on a business process = severity of its priority x exposure of "
        "the process to its service (the strongest path through the service map) x the "
        "business minutes it was open in the process's hours.",
        "Business minutes lost per process count each minute once, at the largest impact of "
        "the incidents open then (overlapping incidents on one outage are not added up).",
        "Value at risk = impact minutes / 60 x the process's value per hour.",
        f"Repeats: the same symptom (CI, else service, with category and subcategory) back "
        f"within {facts.repeat_days:g} days of a fix.",
        f"Hotspots: emerging when this {review.window.kind}'s L2/L3 escalations are far above the "
        f"key's own baseline ({rules.baseline_weeks} {review.window.kind}s); chronic when the key "
        "escalates far more, and a larger share of its incidents, than a typical key, "
        f"{rules.chronic_weeks}+ of the baseline {review.window.kind}s (tests safe on small "
        f"counts, alpha {rules.alpha:g}).",
        f"Every figure rests on service map version {review.map_version or '(none)'}.",
    ]
