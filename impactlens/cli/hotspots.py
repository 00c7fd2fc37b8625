"""`impactlens hotspots`: the places whose incidents keep reaching L2/L3, best first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from impactlens.cli.app import app, out
from impactlens.cli.inputs import (
    AsOfOption,
    FormatOption,
    HistoryOption,
    IncidentsOption,
    MapOption,
    SourceOption,
    TimezoneOption,
    WeekOption,
    weekly_review,
)
from impactlens.cli.output import check_format, write_table
from impactlens.text import counted, plural

if TYPE_CHECKING:
    import pandas as pd

_TABLE_COLUMNS = ("rank", "key", "flag", "incidents", "escalated", "reached_l3", "repeats",
                  "repeat_impact")  # fmt: skip
_TABLE_LABELS = {"rank": "#", "escalated": "L2/L3", "reached_l3": "L3",
                 "repeat_impact": "impact"}  # fmt: skip


@app.command("hotspots")
def hotspots(
    week: WeekOption = None,
    group_by: Annotated[
        str | None,
        typer.Option(
            "--group-by",
            help="Comma-separated key: any of service, ci, category, subcategory, "
            "assignment_group, location. Default: service, else CI, else category.",
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Show this many keys.", min=1)] = 10,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            help="Order: rank (flagged first, then the impact of escalated repeats), "
            "impact, repeat_impact, escalated, reached_l3, incidents, repeats, ping_pong, "
            "reopens, escalation_rate or ttr (largest first).",
        ),
    ] = "rank",
    format: FormatOption = "table",
    baseline_weeks: Annotated[
        int | None,
        typer.Option(
            "--baseline-weeks", help="Weeks before --week to compare with (default 8).", min=1
        ),
    ] = None,
    repeat_days: Annotated[
        float | None,
        typer.Option(
            "--repeat-days",
            help="An incident within this many days of another with the same service "
            "(else CI, else category) is a repeat (default 14).",
            min=0,
        ),
    ] = None,
    map_path: MapOption = None,
    incidents: IncidentsOption = None,
    history: HistoryOption = None,
    source: SourceOption = None,
    timezone: TimezoneOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Escalation hotspots of a week: flagged chronic or emerging, with their reasons.

    Keys whose escalated (L2/L3) incidents are far above their own baseline are
    emerging; keys far above a typical key in most baseline weeks are chronic (tests
    safe on small counts; see docs/weekly.md). Flagged keys come first, then all by
    the business impact of their escalated repeats.

    Example: impactlens hotspots --week 2026-W47 --map fixtures/service_map.yaml
    --incidents fixtures/incidents.csv --history fixtures/assignment_history.csv
    """
    from impactlens.engine.hotspots import sort_column, sort_hotspots

    check_format(format)
    sort_column(sort)  # a bad --sort is refused before any work
    review, _ = weekly_review(
        map_path=map_path, incidents=incidents, history=history, source=source, week=week,
        as_of=as_of, timezone=timezone, group_by=group_by, baseline_weeks=baseline_weeks,
        repeat_days=repeat_days,
    )  # fmt: skip
    found = sort_hotspots(review.hotspots, sort)
    shown = found.head(top)
    title = f"Hotspots {review.week}"
    if format != "table":
        write_table(shown, format=format, title=title, currency=review.settings.currency)
        return
    flagged = int((found["flag"] != "").sum()) if len(found) else 0
    hidden = flagged - int((shown["flag"] != "").sum()) if len(shown) else 0
    out.print(
        f"Week {review.week} ({review.window.timezone}): "
        f"{counted(len(found), 'key')} with incidents, {flagged} flagged as "
        f"{plural(flagged, 'hotspot')}; baseline "
        f"{counted(review.settings.hotspots.baseline_weeks, 'week')} before."
        + (
            f" {counted(hidden, 'flagged key')} not shown: --top {top} shows {top} (sorted "
            f"by {sort})."
            if hidden
            else ""
        )
    )
    show_hotspots(shown, title=title, currency=review.settings.currency)


def show_hotspots(shown: pd.DataFrame, *, title: str, currency: str) -> None:
    """Hotspot rows (`engine.hotspots.HOTSPOT_COLUMNS`) as the terminal shows them: the
    figures in a narrow table, the words below it (fits an 80-column terminal)."""
    if not len(shown):
        return
    table = shown[list(_TABLE_COLUMNS)].rename(columns=_TABLE_LABELS)
    write_table(table, format="table", title=title, currency=currency)
    for rank, key, flag, reasons, record in zip(
        shown["rank"], shown["key"], shown["flag"], shown["reasons"],
        shown["problem_record"], strict=True,
    ):  # fmt: skip
        flagged_as = f" ({flag})" if flag else ""
        out.print(f"{rank}. {key}{flagged_as}: {reasons}", markup=False)
        if record:
            out.print(f"   {record}", markup=False)
