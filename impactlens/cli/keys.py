"""`impactlens keys ...`: the HTTP service's API keys (create, list, revoke)."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from impactlens.cli.app import app, err, out
from impactlens.cli.inputs import FormatOption, open_store
from impactlens.cli.output import check_format, write_table
from impactlens.store.schema import TIMESTAMP

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    name: Annotated[
        str, typer.Option("--name", help="Who uses the key, e.g. servicenow-prod (unique).")
    ],
    scope: Annotated[
        str,
        typer.Option(
            "--scope", help="read (GET), ingest (read + push incidents), admin (+ the map)."
        ),
    ] = "read",
) -> None:
    """Create an API key; the key is the last line of the output, shown this once (only
    its hash is stored).

    Example: impactlens keys create --scope ingest --name servicenow-prod
    """
    from impactlens.settings import get_settings

    with open_store(get_settings()) as store:
        stored, key = store.create_api_key(name, scope)
        where = store.description()
    err.print(
        f"Created API key {stored.name!r} (scope {stored.scope}) in {where}. It is shown "
        "once; send it as: Authorization: Bearer KEY",
        markup=False,
    )
    out.print(key, markup=False, highlight=False, soft_wrap=True)


@keys_app.command("list")
def keys_list(
    revoked: Annotated[bool, typer.Option("--revoked", help="Show revoked keys too.")] = False,
    format: FormatOption = "table",
) -> None:
    """The API keys: name, scope, the key's first characters, created, revoked. Never a key.

    Example: impactlens keys list --revoked
    """
    from impactlens.settings import get_settings

    check_format(format)
    with open_store(get_settings()) as store:
        found = store.api_keys(revoked=revoked)
    table = pd.DataFrame(
        {
            "name": [key.name for key in found],
            "scope": [key.scope for key in found],
            "prefix": [key.prefix for key in found],
            "created_at": pd.Series([key.created_at for key in found], dtype=TIMESTAMP),
            "revoked_at": pd.Series([key.revoked_at for key in found], dtype=TIMESTAMP),
        }
    )
    if format == "table" and table.empty:
        out.print("No API keys. Create one: impactlens keys create --scope read --name NAME")
        return
    write_table(table, format=format, title="API keys")


@keys_app.command("revoke")
def keys_revoke(
    name: Annotated[str, typer.Argument(help="The key's name (impactlens keys list).")],
) -> None:
    """Revoke an API key: the next request with it is refused (401).

    Example: impactlens keys revoke servicenow-prod
    """
    from impactlens.settings import get_settings

    with open_store(get_settings()) as store:
        revoked = store.revoke_api_key(name)
    out.print(f"Revoked API key {revoked.name!r} ({revoked.scope}).", markup=False)
