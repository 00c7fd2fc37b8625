"""Words for people: counts with the right plural, and figures as a reader expects them."""

from __future__ import annotations

__all__ = ["bars", "counted", "kpi_figure", "money", "plural"]


def plural(count: float, noun: str, many: str | None = None) -> str:
    """`noun` for one, `many` (default `noun` + "s") for any other count.

    >>> plural(1, "repeat"), plural(2, "repeat"), plural(0, "day"), plural(2, "is", "are")
    ('repeat', 'repeats', 'days', 'are')
    """
    return noun if count == 1 else (many if many is not None else noun + "s")


def counted(count: float, noun: str, many: str | None = None) -> str:
    """The count, with thousands separators, and its noun in the right number.

    >>> counted(1, "finding"), counted(1234, "incident"), counted(2, "entry", "entries")
    ('1 finding', '1,234 incidents', '2 entries')
    >>> counted(14.0, "day"), counted(0.5, "day")
    ('14 days', '0.5 days')
    """
    shown = f"{int(count):,}" if float(count).is_integer() else f"{count:,.1f}"
    return f"{shown} {plural(count, noun, many)}"


def money(value: float, currency: str = "", *, signed: bool = False) -> str:
    """Money with 2 decimals and thousands separators, the currency (if any) before it.

    >>> money(1234.5), money(1234.5, "EUR"), money(-9.999, signed=True)
    ('1,234.50', 'EUR 1,234.50', '-10.00')
    """
    sign = "+" if signed else ""
    return f"{currency} {value:{sign},.2f}".strip()


def kpi_figure(value: float, kpi: str, *, change: bool = False, currency: str = "") -> str:
    """A KPI's value (or its change) as people read it: shares as percentages and their
    changes in points, money with 2 decimals, hours with 2, minutes and counts whole.

    >>> kpi_figure(0.287, "escalation_rate_l2"), kpi_figure(0.039, "escalation_rate_l2", change=True)
    ('28.7%', '+3.9 pp')
    >>> kpi_figure(1234.567, "value_at_risk", currency="EUR"), kpi_figure(16119.4, "business_minutes_lost")
    ('EUR 1,234.57', '16,119')
    >>> kpi_figure(float("nan"), "incidents")
    ''
    """
    if value != value:  # NaN: nothing to measure that period
        return ""
    if "_rate" in kpi:
        return f"{value * 100:+.1f} pp" if change else f"{value:.1%}"
    if kpi == "value_at_risk":
        return money(value, currency, signed=change)
    sign = "+" if change else ""
    decimals = 2 if "hours" in kpi else 0
    return f"{value:{sign},.{decimals}f}"


_BARS = "▁▂▃▄▅▆▇█"


def bars(values: list[float] | tuple[float, ...]) -> str:
    """A trend as a line of block characters, lowest to highest (a gap where unknown).

    >>> bars([0.0, 5.0, 10.0, float("nan")])
    '▁▄█ '
    """
    known = [v for v in values if v == v]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = high - low or 1.0
    return "".join(
        " " if v != v else _BARS[int((v - low) / span * (len(_BARS) - 1))] for v in values
    )
