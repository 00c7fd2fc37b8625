"""The one safe YAML loader: alias bombs, recursion, size, encoding, places in errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from impactlens.service_map.load import (
    ALIAS_NODE_BUDGET,
    load_service_map,
    load_yaml,
    not_utf8,
    parse_yaml,
    read_text,
)

from impactlens.errors import FileValidationError, InputFileError, MapValidationError


def billion_laughs(levels: int = 9, width: int = 10) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def refusal(text: str) -> str:
    with pytest.raises(InputFileError) as caught:
        parse_yaml(text, what="service map", source="map.yaml")
    return str(caught.value)


# --- aliases ----------------------------------------------------------------------------


def test_a_billion_laughs_is_refused_in_well_under_a_second():
    started = time.perf_counter()
    message = refusal(billion_laughs())
    assert time.perf_counter() - started < 1.0
    assert message.startswith("service map map.yaml: line ")
    assert "too many YAML aliases (possible billion laughs)" in message


def test_a_deep_bomb_with_few_aliases_is_refused_too():
    # 2 aliases per level: only 80 aliases, but 2**40 nodes once expanded.
    assert "billion laughs" in refusal(billion_laughs(levels=40, width=2))


def test_the_refusal_names_the_line_of_the_alias_that_passes_the_budget():
    # l0 has 11 nodes; l1..l4 expand to 110, 1,110, 11,110, 111,110 more: l4 passes.
    message = refusal(billion_laughs(levels=5))
    assert "line 5, column " in message


def test_anchors_reused_across_a_large_map_are_fine():
    # A block of support tiers anchored once and aliased by 5,000 services: the aliases
    # add ~7 nodes each, fewer than the map writes out itself.
    services = "".join(
        f"  - {{id: s{i}, name: Service {i}, aliases: [S{i}, s{i}-prod], support_tiers: *tiers}}\n"
        for i in range(5_000)
    )
    text = (
        "tiers: &tiers {Service Desk: L1, Ops: L2, Dev: L3}\n"
        "services:\n" + services
    )  # fmt: skip
    records = parse_yaml(text, what="service map")
    assert len(records["services"]) == 5_000
    assert records["services"][4_999]["support_tiers"] == {
        "Service Desk": "L1", "Ops": "L2", "Dev": "L3"
    }  # fmt: skip


def test_aliases_within_the_budget_decode_as_safe_load_does():
    block = "{" + ", ".join(f"k{i}: {i}" for i in range(99)) + "}"  # 199 nodes
    uses = "".join(f"u{i}: *b\n" for i in range(ALIAS_NODE_BUDGET // 199))
    records = parse_yaml(f"b: &b {block}\n{uses}", what="map")
    assert records["u0"] == records["b"]


def test_an_alias_just_over_the_budget_is_refused():
    block = "[" + ", ".join(["x"] * 999) + "]"  # 1,000 nodes
    uses = "".join(f"u{i}: *b\n" for i in range(ALIAS_NODE_BUDGET // 1_000 + 1))
    assert "too many YAML aliases" in refusal(f"b: &b {block}\n{uses}")


def test_a_recursive_alias_is_refused():
    message = refusal("a: &a [1, *a]\n")
    assert message == (
        "service map map.yaml: line 1, column 11: the alias *a refers to a node that "
        "contains it (a recursive structure)"
    )


def test_a_merge_key_with_aliases_still_works():
    text = "base: &base {hours: 24x7, timezone: UTC}\nprocess: {<<: *base, id: sales}\n"
    assert parse_yaml(text, what="map")["process"] == {
        "hours": "24x7", "timezone": "UTC", "id": "sales"
    }  # fmt: skip


# --- other ways YAML can go wrong -------------------------------------------------------


def test_syntax_errors_are_the_callers_validation_error_with_a_place():
    with pytest.raises(MapValidationError) as caught:
        parse_yaml("a: [1, 2", what="service map", source="m.yaml", invalid=MapValidationError)
    (issue,) = caught.value.issues
    assert issue.place == "line 1, column 9"
    assert issue.message.startswith("not valid YAML: expected ',' or ']'")


def test_a_control_character_is_a_validation_error_with_its_place():
    """PyYAML refuses it while it opens the text, before any parsing."""
    with pytest.raises(MapValidationError) as caught:
        parse_yaml("a: 1\nb: \x1f\n", what="service map", invalid=MapValidationError)
    (issue,) = caught.value.issues
    assert issue.place == "line 2, column 4"
    assert issue.message == "not valid YAML: special characters are not allowed (character U+001F)"


def test_a_duplicate_anchor_names_both_lines():
    with pytest.raises(FileValidationError) as caught:
        parse_yaml("a: &x 1\nb: &x 2\n", what="map")
    assert caught.value.issues[0].message == (
        "not valid YAML: found duplicate anchor 'x' (first at line 1)"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("d: 2026-02-30\n", "cannot read '2026-02-30' (day is out of range for month)"),
        ("n: 1" + "0" * 5_000 + "\n", "(5,001 characters) (Exceeds the limit (4300 digits)"),
    ],
)
def test_values_python_cannot_build_are_yaml_errors_not_crashes(text, reason):
    with pytest.raises(FileValidationError) as caught:
        parse_yaml(text, what="map")
    (issue,) = caught.value.issues
    assert issue.place == "line 1, column 4"
    assert reason in issue.message
    assert len(issue.message) < 300


def test_nesting_deeper_than_python_follows_is_refused():
    message = refusal("a:\n" + "".join("  " * depth + "- \n" for depth in range(1, 3_000)))
    assert message == (
        "service map map.yaml: the YAML is nested too deeply to read (hundreds of levels)"
    )


def test_python_tags_are_not_executed():
    with pytest.raises(FileValidationError):
        parse_yaml("!!python/object/apply:os.system ['echo hi']\n", what="map")


# --- files ------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_by_its_size(tmp_path: Path):
    path = tmp_path / "big.yaml"
    path.write_text("# padding\n" * 200)
    with pytest.raises(InputFileError) as caught:
        load_yaml(path, what="mapping", max_bytes=1_000)
    assert str(caught.value) == (
        f"mapping {path}: 2,000 bytes, over the 1,000 bytes a mapping may have"
    )


def test_the_default_limit_is_five_mebibytes(tmp_path: Path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (5 * 1024 * 1024) + b"\n")
    with pytest.raises(InputFileError, match=r"5\.0 MiB \(5,242,881 bytes\), over the 5\.0 MiB"):
        load_yaml(path, what="service map")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_an_endless_device_is_refused_not_read_forever():
    with pytest.raises(InputFileError, match="more than 1,001 bytes, over the 1,000 bytes"):
        read_text("/dev/zero", what="service map", max_bytes=1_000)


def test_a_file_that_is_not_utf8_says_where(tmp_path: Path):
    path = tmp_path / "map.yaml"
    path.write_bytes("version: 1\nname: Caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputFileError) as caught:
        load_yaml(path, what="service map")
    assert str(caught.value) == (
        f"service map {path}: not UTF-8 text (line 2, column 10: byte 0xe9); "
        "save it as UTF-8 (it may be Latin-1 or Windows-1252)"
    )


def test_not_utf8_counts_lines_and_columns_from_one():
    assert not_utf8(b"\xff", 0).startswith("not UTF-8 text (line 1, column 1: byte 0xff)")


def test_missing_files_and_folders_are_named(tmp_path: Path):
    with pytest.raises(InputFileError, match="no such file"):
        load_yaml(tmp_path / "nope.yaml", what="service map")
    with pytest.raises(InputFileError, match="is a directory, not a file"):
        load_yaml(tmp_path, what="service map")


def test_load_service_map_refuses_a_bomb_as_an_input_file_error(tmp_path: Path):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs() + "version: 1\n")
    started = time.perf_counter()
    with pytest.raises(InputFileError, match=r"^service map .*bomb\.yaml: line \d+"):
        load_service_map(path)
    assert time.perf_counter() - started < 2.0
