"""`impactlens serve`: the HTTP API and the dashboard, with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from impactlens.cli.app import app, err
from impactlens.cli.inputs import MapOption


@app.command("serve")
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)
    ] = 8000,
    map_path: MapOption = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (each holds the map).", min=1)
    ] = 1,
) -> None:
    """Serve the HTTP API (/v1/..., documented at /docs) and the dashboard (/dashboard).

    The store and the map are opened before listening: a bad database URL or map stops
    here with its message. Create an API key first: impactlens keys create.

    Example: impactlens serve --port 8000 --map fixtures/service_map.yaml
    """
    import uvicorn

    from impactlens.api.app import create_app
    from impactlens.settings import get_settings

    settings = get_settings(service_map=map_path)
    if workers == 1:
        application = create_app(settings, map_path=map_path)
        err.print(f"impactlens API on http://{host}:{port}/docs, dashboard on /dashboard")
        uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)
        return
    # Several processes: each builds its own app from the same settings.
    create_app(settings, map_path=map_path)  # check the store and map once, here
    if map_path is not None:
        import os

        os.environ["IMPACTLENS_SERVICE_MAP"] = str(Path(map_path).absolute())
    err.print(f"impactlens API on http://{host}:{port}/docs ({workers} workers)")
    uvicorn.run("impactlens.api.app:create_app", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False)  # fmt: skip
