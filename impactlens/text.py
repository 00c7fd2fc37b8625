"""Words for people: counts with the right plural, and figures as a reader expects them."""

from __future__ import annotations

__all__ = ["counted", "plural"]


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
