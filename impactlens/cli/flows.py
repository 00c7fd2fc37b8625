"""`impactlens flows`: run the report flows now, through Prefect, or serve them on schedule.

Without ``PREFECT_API_URL`` Prefect starts a temporary local server for the run, backed
by the SQLite database under ``PREFECT_HOME`` (``make demo`` points it into the
project); with it, runs are recorded on that server.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from impactlens.cli.app import app, err, out
from impactlens.cli.inputs import AsOfOption, MapOption, SourceOption, parse_as_of
from impactlens.errors import ImpactlensError

flows_app = typer.Typer(
    help="Run the weekly and monthly report flows through Prefect, or serve them on schedule.",
    no_args_is_help=True,
)
app.add_typer(flows_app, name="flows")

# Offline and quiet unless the user says otherwise (see docs/flows.md).
_PREFECT_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}

ExportOption = Annotated[
    Path | None,
    typer.Option("--export", help="An export to ingest before the review (as impactlens ingest)."),
]
ExportFormatOption = Annotated[
    str,
    typer.Option(
        "--export-format",
        help="Format of --export: servicenow, servicenow-eventlog, jira, pagerduty or csv.",
    ),
]
ExportHistoryOption = Annotated[
    Path | None, typer.Option("--history", help="Assignment history CSV of --export.")
]
MappingOption = Annotated[
    Path | None, typer.Option("--mapping", help="YAML mapping of --export (format csv).")
]
PullOption = Annotated[
    bool,
    typer.Option(
        "--pull/--no-pull", help="Pull from ServiceNow first, when servicenow_instance is set."
    ),
]
DeliverOption = Annotated[
    bool | None,
    typer.Option(
        "--deliver/--no-deliver",
        help="Mail the report. Default: when smtp_host and smtp_to are set.",
        show_default=False,
    ),
]
FormatsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        help="Edition to archive: html, md, csv or json; repeat for several. Default: all.",
        show_default=False,
    ),
]


@flows_app.command("weekly")
def weekly(
    week: Annotated[
        str | None,
        typer.Option("--week", help="ISO week, e.g. 2026-W47. Default: the last full week."),
    ] = None,
    as_of: AsOfOption = None,
    export: ExportOption = None,
    export_format: ExportFormatOption = "csv",
    history: ExportHistoryOption = None,
    mapping: MappingOption = None,
    source: SourceOption = None,
    pull: PullOption = True,
    deliver: DeliverOption = None,
    format: FormatsOption = None,
    map_path: MapOption = None,
) -> None:
    """Run the weekly impact report flow now: pull, review, archive, deliver.

    The report goes to <reports_dir>/<week>/ (replacing that week's earlier one); the
    command prints where, the flow run's state and the top 5 hotspots.

    Example: impactlens flows weekly --week 2026-W47 --as-of 2026-11-23T00:00:00Z
    --export fixtures/incidents.csv --history fixtures/assignment_history.csv
    --map fixtures/service_map.yaml
    """
    _run_report(
        "week", week, as_of=as_of, export=export, export_format=export_format,
        history=history, mapping=mapping, source=source, pull=pull, deliver=deliver,
        formats=format, map_path=map_path,
    )  # fmt: skip


@flows_app.command("monthly")
def monthly(
    month: Annotated[
        str | None,
        typer.Option("--month", help="Calendar month, e.g. 2026-11. Default: the last full one."),
    ] = None,
    as_of: AsOfOption = None,
    export: ExportOption = None,
    export_format: ExportFormatOption = "csv",
    history: ExportHistoryOption = None,
    mapping: MappingOption = None,
    source: SourceOption = None,
    pull: PullOption = True,
    deliver: DeliverOption = None,
    format: FormatsOption = None,
    map_path: MapOption = None,
) -> None:
    """Run the monthly impact report flow now (the monthly service performance review).

    Example: impactlens flows monthly --month 2026-10 --as-of 2026-11-23T00:00:00Z
    --export fixtures/incidents.csv --history fixtures/assignment_history.csv
    --map fixtures/service_map.yaml
    """
    _run_report(
        "month", month, as_of=as_of, export=export, export_format=export_format,
        history=history, mapping=mapping, source=source, pull=pull, deliver=deliver,
        formats=format, map_path=map_path,
    )  # fmt: skip


@flows_app.command("serve")
def serve() -> None:
    """Serve the flows: the weekly report on weekly_schedule (Mondays 07:00), the monthly
    one on monthly_schedule (first Mondays), in the timezone setting; ingest and
    ServiceNow pulls on demand. Runs until stopped (Ctrl+C).

    Example: impactlens flows serve
    """
    from impactlens.settings import get_settings

    settings = get_settings()  # a bad setting is refused before Prefect starts
    _prefect_defaults()
    from prefect import serve as prefect_serve

    from impactlens.flows.schedule import report_deployments

    deployments = report_deployments(settings)
    err.print(
        f"Serving {len(deployments)} deployments: weekly-impact-report/weekly "
        f"({settings.weekly_schedule}, {settings.timezone}), monthly-impact-report/monthly "
        f"({settings.monthly_schedule}, {settings.timezone}), ingest-export/on-demand, "
        "pull-servicenow/on-demand. Stop with Ctrl+C."
    )
    prefect_serve(*deployments, print_starting_message=False)


@flows_app.command("settle")
def settle(
    map_path: MapOption = None,
    dask_address: Annotated[
        str | None,
        typer.Option(
            "--dask-address",
            help="Run the month tasks on this Dask cluster (tcp://scheduler:8786); its "
            "workers must reach the store (PostgreSQL) and the map file.",
        ),
    ] = None,
    dask_workers: Annotated[
        int | None,
        typer.Option(
            "--dask-workers",
            min=1,
            help="Run the month tasks on a local Dask cluster of N "
            "worker processes (default: Prefect's thread pool in this process).",
        ),
    ] = None,
) -> None:
    """Run the settle flow now: settle every restored incident's impact under the map
    (as impactlens settle), one task per month of incidents, on Prefect's thread pool or a
    Dask cluster.

    Example: impactlens flows settle --map fixtures/service_map.yaml --dask-workers 2
    """
    from impactlens.settings import get_settings

    if dask_address is not None and dask_workers is not None:
        raise ImpactlensError("give --dask-address or --dask-workers, not both")
    settings = get_settings(service_map=map_path)  # bad settings: refused before Prefect
    if settings.service_map is None:
        raise ImpactlensError("give a service map: --map MAP (or IMPACTLENS_SERVICE_MAP)")
    _prefect_defaults()
    from impactlens.flows.settle import settle_impacts_flow

    flow = settle_impacts_flow
    where = "Prefect's thread pool"
    if dask_address is not None or dask_workers is not None:
        from prefect_dask import DaskTaskRunner

        if dask_address is not None:
            runner = DaskTaskRunner(address=dask_address)
            where = f"the Dask cluster at {dask_address}"
        else:
            runner = DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers,
                                                    "threads_per_worker": 1,
                                                    "dashboard_address": None})  # fmt: skip
            where = f"a local Dask cluster of {dask_workers} workers"
        # prefect-dask types its futures apart from the PrefectFuture the stub names
        flow = settle_impacts_flow.with_options(task_runner=runner)  # type: ignore[arg-type]
    result = _run_flow(flow, {"service_map": str(settings.service_map)},
                       f"the settle flow on {where}")  # fmt: skip
    out.print(
        f"Settled the impact of {result['settled']:,} restored incidents over "
        f"{result['months']} months under map version {result['map_version']}.",
        markup=False,
    )


def _run_report(
    kind: str,
    period: str | None,
    *,
    as_of: str | None,
    export: Path | None,
    export_format: str,
    history: Path | None,
    mapping: Path | None,
    source: str | None,
    pull: bool,
    deliver: bool | None,
    formats: list[str] | None,
    map_path: Path | None,
) -> None:
    from impactlens.reports import REPORT_FORMATS
    from impactlens.settings import get_settings

    settings = get_settings(service_map=map_path)  # bad settings: refused before Prefect
    chosen = list(dict.fromkeys(formats or REPORT_FORMATS))
    unknown = [name for name in chosen if name not in REPORT_FORMATS]
    if unknown:
        raise ImpactlensError(f"--format {unknown[0]!r} is not one of {', '.join(REPORT_FORMATS)}")
    for path, option in ((export, "--export"), (history, "--history"), (mapping, "--mapping")):
        if path is not None and not path.is_file():
            raise ImpactlensError(f"{option} {path}: no such file")
    if history is not None and export is None:
        raise ImpactlensError("--history goes with --export")
    parameters: dict[str, Any] = {
        kind: period,
        "as_of": parse_as_of(as_of).to_pydatetime(),
        "export": str(export) if export else None,
        "export_format": export_format,
        "history": str(history) if history else None,
        "mapping": str(mapping) if mapping else None,
        "source": source,
        "pull": pull,
        "deliver": deliver,
        "formats": chosen,
        "service_map": str(settings.service_map) if settings.service_map else None,
    }
    _prefect_defaults()
    from impactlens.flows.report import monthly_impact_report, weekly_impact_report

    flow = weekly_impact_report if kind == "week" else monthly_impact_report
    result = _run_flow(flow, parameters, f"the {kind}ly impact report flow")
    out.print(f"Report of {result['kind']} {result['period']} in {result['directory']}/:")
    for path in result["files"]:
        if Path(path).name in ("report.html", "report.md"):
            out.print(f"  {path}")
    _print_hotspots(result, settings.currency)


def _run_flow(flow: Any, parameters: dict[str, Any], what: str) -> Any:
    """Run `flow` with `parameters` through Prefect, say how it ended, and return its
    result; a failed run raises its impactlens error (or one naming the run)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    started = time.perf_counter()
    err.print(f"Running {what} through Prefect...")
    # A run started here waits up to a second for its heartbeat thread on exit: not needed.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        state = flow(**parameters, return_state=True)
    seconds = time.perf_counter() - started
    run, run_time = _flow_run(state)
    if not state.is_completed():
        error = state.result(raise_on_failure=False)
        if isinstance(error, ImpactlensError):
            raise error
        raise ImpactlensError(f"flow run {run} ended {state.name}: {state.message or error}")
    timing = (
        f"{run_time:.1f} s, {seconds:.1f} s with Prefect's start"
        if run_time
        else f"{seconds:.1f} s"
    )
    out.print(f"Flow run {run}: {state.name} ({timing}).")
    return state.result()


def _flow_run(state: Any) -> tuple[str, float | None]:
    """The run's name as the Prefect database records it, and its run time in seconds
    (its id and None when the database cannot be read: they are only for the message)."""
    from prefect import get_client

    run_id = state.state_details.flow_run_id
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_id)
    except Exception:  # the name and time are only for the message
        return str(run_id), None
    return f"{run.name} ({run_id})", run.total_run_time.total_seconds()


def _print_hotspots(result: dict[str, Any], currency: str) -> None:
    import pandas as pd

    from impactlens.cli.hotspots import show_hotspots

    top = pd.DataFrame(result["top_hotspots"])
    if top.empty:
        out.print(f"No hotspots: no incidents in {result['kind']} {result['period']}.")
        return
    out.print(
        f"Top {len(top)} hotspots of {result['kind']} {result['period']} "
        f"({result['hotspots_flagged']} flagged):"
    )
    show_hotspots(top, title=f"Hotspots {result['period']}", currency=currency)


def _prefect_defaults() -> None:
    for name, value in _PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
