"""`impactlens settle`: derive and keep each restored incident's impact under the map."""

from __future__ import annotations

from impactlens.cli.app import app, out
from impactlens.cli.inputs import MapOption, load_model, open_store
from impactlens.cli.output import progress_bar
from impactlens.text import counted


@app.command("settle")
def settle(map_path: MapOption = None) -> None:
    """Settle impacts: derive, under the service map, the impact of every restored
    incident that has none yet (new or re-ingested ones; all of them after the map
    changed) and keep it in the store, so the API reads it by key.

    impactlens serve does this by itself in the background; run it after a large ingest
    or from a schedule when the API runs elsewhere. Open incidents are never settled.

    Example: impactlens settle --map fixtures/service_map.yaml
    """
    from impactlens.settings import get_settings
    from impactlens.settled import settle_impacts

    settings = get_settings(service_map=map_path)
    model = load_model(map_path, settings, required=True)
    assert model is not None  # required=True
    with (
        open_store(settings) as store,
        progress_bar() as progress,
    ):
        step = progress.add_task("Settling impacts", total=None)
        summary = settle_impacts(
            store,
            model,
            progress=lambda done, total: progress.update(step, completed=done, total=total),
        )
    out.print(
        f"Settled the impact of {counted(summary.settled, 'restored incident')} under map "
        f"version {summary.map_version} in {summary.seconds:.1f} s."
        if summary.settled
        else f"Every restored incident's impact is settled under map version "
        f"{summary.map_version}.",
        markup=False,
    )
