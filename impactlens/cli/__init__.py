"""The `impactlens` command line: wires loaders, the engine, the store and writers together.

Every `ImpactlensError` becomes a message on stderr and exit code 2, never a traceback.
Commands live one group per module; importing them registers them on `app`.
"""

from __future__ import annotations

from impactlens.cli import flows as _flows  # noqa: F401
from impactlens.cli import hotspots as _hotspots  # noqa: F401
from impactlens.cli import ingest as _ingest  # noqa: F401  (registers the commands)
from impactlens.cli import keys as _keys  # noqa: F401
from impactlens.cli import kpis as _kpis  # noqa: F401
from impactlens.cli import map as _map  # noqa: F401
from impactlens.cli import misprioritised as _misprioritised  # noqa: F401
from impactlens.cli import report as _report  # noqa: F401
from impactlens.cli import score as _score  # noqa: F401
from impactlens.cli import serve as _serve  # noqa: F401
from impactlens.cli import settle as _settle  # noqa: F401
from impactlens.cli import store as _store  # noqa: F401
from impactlens.cli import whatif as _whatif  # noqa: F401
from impactlens.cli.app import app, err
from impactlens.errors import ImpactlensError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning impactlens errors into exit code 2."""
    try:
        app(args=argv, prog_name="impactlens")
    except ImpactlensError as error:
        err.print(f"error: {error}", markup=False)
        raise SystemExit(2) from None
