"""The exception hierarchy's messages: short excerpts of what they echo, capped listings."""

from __future__ import annotations

import pytest

from impactlens.errors import (
    EXCERPT_LIMIT,
    ImpactlensError,
    InvalidTimezoneError,
    MapIssue,
    MapValidationError,
    MissingColumnsError,
    UnknownProcessError,
    UnknownServiceError,
    excerpt,
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("web", "'web'"),
        ("it's", '"it\'s"'),
        (3, "3"),
        (None, "None"),
        (["a", "b"], "['a', 'b']"),
        ("x" * EXCERPT_LIMIT, repr("x" * EXCERPT_LIMIT)),
    ],
)
def test_short_values_are_shown_whole_as_repr(value, shown):
    assert excerpt(value) == shown


def test_long_text_is_cut_with_its_length():
    assert excerpt("a" * 2_000_000) == f"'{'a' * 80}…' (2,000,000 characters)"
    assert excerpt("abcdef", limit=3, quote=False) == "abc… (6 characters)"


def test_text_unquoted_is_bare():
    assert excerpt("INC-1", quote=False) == "INC-1"


def test_big_containers_are_cut_with_their_size():
    shown = excerpt(list(range(1_000_000)))
    assert shown.endswith(" (list of 1,000,000 items)")
    assert len(shown) < EXCERPT_LIMIT + 40


def test_deep_and_unprintable_values_do_not_crash():
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    assert excerpt(deep).startswith("[[[")
    assert excerpt(10**5_000) == "<int>"  # repr refuses ints of more than 4,300 digits


def test_a_validation_error_lists_at_most_fifty_issues():
    issues = [MapIssue(f"services[{i}]", "must be a mapping, got int 1") for i in range(1_000)]
    message = str(MapValidationError(issues, source="map.yaml"))
    lines = message.splitlines()
    assert lines[0] == "service map in map.yaml is invalid (1,000 errors):"
    assert lines[1] == "  services[0]: must be a mapping, got int 1"
    assert lines[-1] == "  … and 950 more"
    assert len(lines) == 52


def test_a_validation_error_cuts_each_issue():
    message = str(MapValidationError([MapIssue("x", "y" * 10_000)]))
    assert len(message) < 700


def test_unknown_ids_are_excerpted_and_hinted():
    assert str(UnknownServiceError("pay-ap", known=["pay-api", "web"])) == (
        "unknown service 'pay-ap' (did you mean pay-api?)"
    )
    assert str(UnknownProcessError("order-2-cash", known=["order-to-cash"])) == (
        "unknown business process 'order-2-cash' (did you mean order-to-cash?)"
    )
    assert len(str(UnknownServiceError("x" * 1_000_000, known=["x"]))) < 200


def test_missing_columns_are_excerpted_and_capped():
    message = str(MissingColumnsError([f"c{i}" * 1_000 for i in range(100)], where="CSV"))
    assert message.endswith("and 80 more")
    assert len(message) < 3_000


def test_the_new_errors_are_impactlens_errors():
    for error in (InvalidTimezoneError("x"), UnknownProcessError("x")):
        assert isinstance(error, ImpactlensError)
    assert str(InvalidTimezoneError("Mars/Olympus", where="--timezone")) == (
        "--timezone: time zone 'Mars/Olympus' is not an IANA zone name "
        "(for example Europe/Berlin or UTC)"
    )
