"""How commands write tables: a Rich table for people, CSV or JSON for tools.

Figures are written the way a reader expects them, decided by the column's name:

- money (``value_at_risk``, ``value_saved``, ...) with 2 decimals, and in tables the
  currency of the settings before it (none by default);
- minutes (``..._minutes``) as whole minutes in tables;
- p-values (``..._p_value``) as written in the table, ``1.1e-07``, in CSV too (never ``0.0``);
- counts as whole numbers (never ``1893.0``), other numbers with up to 4 decimals in CSV;
- booleans as ``true``/``false`` and moments as ISO 8601 in UTC (``...Z``) in CSV;
- in tables, keys and flags are never cut and long text (reasons) wraps.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from rich import box
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from impactlens.cli.app import err, out
from impactlens.errors import InputFileError

__all__ = [
    "OUTPUT_FORMATS",
    "check_format",
    "csv_frame",
    "is_money",
    "print_notes",
    "progress_bar",
    "write_table",
]

OUTPUT_FORMATS = ("table", "csv", "json")
_MONEY = ("value_at_risk", "value_saved", "value_per_hour")
_WRAPPED = ("reasons", "reason", "explanation", "problem_record", "short_description", "subject")
_LABELS = ("line", "id", "run_id", "rank", "priority", "suggested")  # numbers, not amounts
_WHOLE = ("#", "key", "flag", "incident_id", "service_id", "process_id", "direction", "trend")


def check_format(format: str) -> None:
    """Refuse an unknown --format before any work is done."""
    if format not in OUTPUT_FORMATS:
        raise InputFileError(f"--format {format!r} is not one of {', '.join(OUTPUT_FORMATS)}")


def progress_bar() -> Progress:
    """A progress bar on stderr (spinner, text, bar, done of total, time), gone when done,
    and off where stderr is not a terminal (no spinner frames in logs and pipes)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def print_notes(notes: tuple[str, ...] | list[str]) -> None:
    """What a reader must know about the figures, on stderr (stdout stays the table)."""
    for note in notes:
        err.print(f"note: {note}", soft_wrap=True, markup=False)


def write_table(frame: pd.DataFrame, *, format: str, title: str, currency: str = "") -> None:
    """`frame` to stdout as a Rich table, CSV or JSON records."""
    check_format(format)
    if format == "csv":
        out.file.write(csv_frame(frame).to_csv(index=False))
        return
    if format == "json":
        records = [
            {str(name): _json_value(value) for name, value in row.items()}
            for row in frame.to_dict("records")
        ]
        out.file.write(json.dumps(records, indent=2) + "\n")
        return
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for name in frame.columns:
        label = str(name).replace("_", " ")
        if name in _WRAPPED:
            table.add_column(label, overflow="fold", min_width=16, ratio=1)
        elif name in _WHOLE:
            table.add_column(label, no_wrap=True, overflow="ignore")
        elif pd.api.types.is_numeric_dtype(frame[name]):
            table.add_column(label, justify="right")
        else:
            table.add_column(label)
    for row in frame.itertuples(index=False):
        table.add_row(
            *(
                _cell(value, str(name), currency)
                for value, name in zip(row, frame.columns, strict=True)
            )
        )
    out.print(table)


def is_money(name: str) -> bool:
    """Whether a column of that name holds money."""
    return any(part in name for part in _MONEY)


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its figures as text the way tools expect them (the module's rules).

    Column at a time, vectorised: a million-row score file takes a second, not a minute.
    """
    columns = {}
    for name, values in frame.items():
        label = str(name)
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            columns[name] = values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif pd.api.types.is_bool_dtype(values):
            columns[name] = values.map({True: "true", False: "false"})
        elif pd.api.types.is_float_dtype(values):
            columns[name] = _numbers(values.astype("float64"), label)
        elif values.dtype == object and values.map(lambda v: isinstance(v, list)).any():
            columns[name] = values.map(
                lambda v, label=label: "|".join(_number(x, label) for x in v)
            )
        else:
            columns[name] = values
    return pd.DataFrame(columns, index=frame.index)


def _numbers(values: pd.Series, name: str) -> pd.Series:
    missing = values.isna()
    if name.endswith("p_value"):
        text = values.map(lambda v: f"{v:.2g}")
    elif is_money(name):
        text = values.round(2).map("{:.2f}".format)
    else:
        text = values.round(4).astype(str).str.replace(r"\.0$", "", regex=True)
    return text.mask(missing, "")


def _number(value: Any, name: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if name.endswith("p_value"):
        return f"{value:.2g}"
    if is_money(name):
        return f"{value:.2f}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


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


def _cell(value: Any, name: str, currency: str) -> str:
    if isinstance(value, pd.Timestamp) and not pd.isna(value):
        return value.tz_convert("UTC").strftime("%Y-%m-%d %H:%M") if value.tzinfo else str(value)
    value = _json_value(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        if name.endswith("p_value"):
            return f"{value:.2g}"
        if is_money(name):
            return f"{currency} {value:,.2f}".strip()
        if "minutes" in name or float(value).is_integer():
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return str(value) if name in _WHOLE or name in _LABELS else f"{value:,}"
    return str(value)
