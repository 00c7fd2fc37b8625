"""Repeats (engine/repeats.py): the same symptom back soon after it was fixed."""

from __future__ import annotations

import pandas as pd
from impactlens.engine.repeats import repeat_flags, repeat_keys


def moments(*text: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(text), utc=True, format="ISO8601"))


def test_a_repeat_opens_within_the_window_after_the_last_one_was_restored():
    keys = pd.Series(["a"] * 5)
    opened = moments(
        "2026-11-01T10:00:00Z",
        "2026-11-16T10:00:00Z",  # 14 days after A was restored (11-02 10:00): a repeat (<=)
        "2026-12-01T10:00:01Z",  # 14 days and 1 s after B was restored: not
        "2026-12-01T12:00:00Z",  # while C is still open: a second report, not a repeat
        "2026-12-05T10:00:00Z",  # 2 days after D was restored (C still open): a repeat
    )
    restored = moments(
        "2026-11-02T10:00:00Z",
        "2026-11-17T10:00:00Z",
        None,
        "2026-12-03T10:00:00Z",
        "2026-12-06T10:00:00Z",
    )
    assert repeat_flags(keys, opened, restored, repeat_days=14).tolist() == [
        False, True, False, False, True,
    ]  # fmt: skip


def test_repeats_are_per_key_whatever_the_row_order():
    keys = pd.Series(["a", "b", "a", "b", "c", "a"], index=[7, 3, 9, 1, 5, 2])
    opened = pd.Series(
        pd.to_datetime(
            [
                "2026-11-20T00:00Z",  # a: 4 days after a's 11-15 was restored (11-16): repeat
                "2026-11-02T00:00Z",  # b: first b
                "2026-11-01T00:00Z",  # a: first a
                "2026-11-30T00:00Z",  # b: 27 days after b's first was restored: not
                "2026-11-02T00:00Z",  # c: first c, although a and b were near
                "2026-11-15T00:00Z",  # a: 13 days after a's first was restored: repeat
            ],
            utc=True,
        ),
        index=keys.index,
    )
    restored = opened + pd.Timedelta(days=1)
    assert repeat_flags(keys, opened, restored, repeat_days=14).tolist() == [
        True, False, False, False, False, True,
    ]  # fmt: skip


def test_a_fraction_of_a_day_and_an_opening_at_the_moment_of_the_fix():
    keys = pd.Series(["a", "a", "a"])
    opened = moments("2026-11-01T00:00:00Z", "2026-11-01T13:00:00Z", "2026-11-02T01:00:01Z")
    restored = moments("2026-11-01T01:00:00Z", "2026-11-01T13:30:00Z", "2026-11-02T02:00:00Z")
    # B opened 12 h after A's fix: within half a day; C 11 h 30 min 1 s after B's: also
    assert repeat_flags(keys, opened, restored, repeat_days=0.5).tolist() == [False, True, True]
    same_moment = moments("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z")
    fixed = moments("2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z")
    assert repeat_flags(keys[:2], same_moment, fixed, repeat_days=0.5).tolist() == [False, True]


def test_the_symptom_is_the_ci_else_the_service_with_category_and_subcategory():
    frame = pd.DataFrame(
        {
            "ci": ["WMS01", None, None, " "],
            "service_id": ["wms", "wms", None, "erp"],
            "category": ["Apps", "Apps", "Net", None],
            "subcategory": ["Login", "Login", None, "Batch"],
        }
    )
    assert repeat_keys(frame).tolist() == [
        "WMS01 / Apps / Login",
        "wms / Apps / Login",
        "(none) / Net / (none)",
        "erp / (none) / Batch",
    ]
    assert repeat_keys(frame, ["service", "category"]).tolist() == [
        "wms / Apps", "wms / Apps", "(none) / Net", "erp / (none)",
    ]  # fmt: skip
    assert repeat_keys(frame[["service_id"]]).tolist() == [
        "wms / (none) / (none)", "wms / (none) / (none)",
        "(none) / (none) / (none)", "erp / (none) / (none)",
    ]  # fmt: skip
