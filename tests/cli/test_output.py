"""Tables for people fit an 80-column terminal; CSV carries figures as a tool expects them."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from impactlens.cli import main
from impactlens.cli.app import out
from impactlens.cli.output import write_table

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FROM_CSV = (
    "--map", str(FIXTURES / "service_map.yaml"), "--incidents", str(FIXTURES / "incidents.csv"),
    "--history", str(FIXTURES / "assignment_history.csv"), "--as-of", "2026-11-23T00:00:00Z",
)  # fmt: skip


@pytest.fixture
def terminal(monkeypatch):
    """The CLI's console as an 80-column terminal; what it printed."""
    screen = io.StringIO()
    # rich's Console.file setter keeps the stream it replaced; set the private one so
    # that undoing the patch gives later tests the console they had.
    monkeypatch.setattr(out, "_file", screen)
    monkeypatch.setattr(out, "_width", 80)
    return screen


@pytest.mark.parametrize(
    ("command", "names"),
    [
        (
            ("hotspots", "--top", "5", "--week", "2026-W47"),
            ["inventory-sync", "shipping-labels", "chronic", "emerging"],
        ),
        (
            ("kpis", "--week", "2026-W47"),
            ["critical", "to L2/L3", "Order to cash", "value at risk"],
        ),
        # W44 has both directions (a planted P1 on legacy-intranet)
        (
            ("misprioritised", "--top", "3", "--week", "2026-W44"),
            ["understated", "overstated", "INC0013484"],
        ),
    ],
)
def test_tables_fit_80_columns_and_never_cut_keys(terminal, command, names):
    with pytest.raises(SystemExit) as done:
        main([*command, *FROM_CSV])
    assert done.value.code in (None, 0)
    printed = terminal.getvalue()
    lines = printed.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "…" not in printed
    for name in names:
        assert name in printed


def test_csv_figures_as_a_tool_reads_them(monkeypatch):
    screen = io.StringIO()
    # rich's Console.file setter keeps the stream it replaced; set the private one so
    # that undoing the patch gives later tests the console they had.
    monkeypatch.setattr(out, "_file", screen)
    frame = pd.DataFrame(
        {
            "key": ["a"],
            "incidents": [1893.0],
            "mapped": [True],
            "p_value": [1.1e-07],
            "value_at_risk": [1234.5],
            "escalation_rate": [0.123456],
            "trend": [[1.0, 2.5]],
        }
    )
    write_table(frame, format="csv", title="t")
    assert screen.getvalue().splitlines() == [
        "key,incidents,mapped,p_value,value_at_risk,escalation_rate,trend",
        "a,1893,true,1.1e-07,1234.50,0.1235,1|2.5",
    ]


def test_money_in_a_table_has_two_decimals_and_the_currency(monkeypatch):
    screen = io.StringIO()
    # rich's Console.file setter keeps the stream it replaced; set the private one so
    # that undoing the patch gives later tests the console they had.
    monkeypatch.setattr(out, "_file", screen)
    frame = pd.DataFrame({"process": ["Sales"], "value_saved": [4100.0], "minutes_saved": [41.4]})
    write_table(frame, format="table", title="t", currency="EUR")
    assert "EUR 4,100.00" in screen.getvalue()
    assert " 41 " in screen.getvalue()  # whole minutes
