"""The Typer application and the consoles every command writes to."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["app", "err", "map_app", "out"]

app = typer.Typer(
    help="impactlens: what IT incidents cost the business, and the path that explains it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(shown: bool) -> None:
    if shown:
        from impactlens import __version__

        out.print(f"impactlens {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """impactlens: what IT incidents cost the business, and the path that explains it."""


map_app = typer.Typer(help="Check and explore a service map.", no_args_is_help=True)
app.add_typer(map_app, name="map")

# Piped output is not cut to 80 columns: people paste it into tickets and reports.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)
