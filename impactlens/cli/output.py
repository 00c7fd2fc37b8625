"""How commands write tables: a Rich table for people, CSV or JSON for tools."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from rich.table import Table

from impactlens.cli.app import err, out
from impactlens.errors import InputFileError

__all__ = ["OUTPUT_FORMATS", "check_format", "print_notes", "write_table"]

OUTPUT_FORMATS = ("table", "csv", "json")


def check_format(format: str) -> None:
    """Refuse an unknown --format before any work is done."""
    if format not in OUTPUT_FORMATS:
        raise InputFileError(f"--format {format!r} is not one of {', '.join(OUTPUT_FORMATS)}")


def print_notes(notes: tuple[str, ...] | list[str]) -> None:
    """What a reader must know about the figures, on stderr (stdout stays the table)."""
    for note in notes:
        err.print(f"note: {note}", soft_wrap=True)


def write_table(frame: pd.DataFrame, *, format: str, title: str) -> None:
    """`frame` to stdout as a Rich table, CSV or JSON records."""
    check_format(format)
    if format == "csv":
        # Plain decimals (no 1.6e+04), lists (KPI trends) as "a|b|c".
        frame = frame.round(4).apply(_joined_lists)
        out.file.write(frame.to_csv(index=False))
        return
    if format == "json":
        records = [
            {str(name): _json_value(value) for name, value in row.items()}
            for row in frame.to_dict("records")
        ]
        out.file.write(json.dumps(records, indent=2) + "\n")
        return
    table = Table(title=title)
    for name in frame.columns:
        table.add_column(str(name).replace("_", " "))
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(value) for value in row))
    out.print(table)


def _joined_lists(column: pd.Series) -> pd.Series:
    """A column of lists of numbers as ``a|b|c`` text (other columns as they are)."""
    if not column.map(lambda value: isinstance(value, list)).any():
        return column
    return column.map(
        lambda values: "|".join(f"{value:.4f}".rstrip("0").rstrip(".") for value in values)
    )


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _cell(value: Any) -> str:
    value = _json_value(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
