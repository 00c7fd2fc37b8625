"""The README documents every command and option, and every command's help has an example."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from impactlens.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def leaf_commands(command, path: tuple[str, ...] = ()):
    # Typer ships its own copy of click, so groups are recognised by their commands.
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from leaf_commands(sub, (*path, name))
    else:
        yield path, command


COMMANDS = list(leaf_commands(typer.main.get_command(app)))


def test_there_are_commands():
    assert {" ".join(path) for path, _ in COMMANDS} >= {
        "map check",
        "map blast-radius",
        "map import-edges",
        "score",
    }


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_and_its_options_are_in_the_readme(path, command):
    assert f"### `impactlens {' '.join(path)}" in README
    for parameter in command.params:
        if parameter.param_type_name == "option" and parameter.name != "help":
            for option in parameter.opts:
                assert f"{option}" in README, f"{option} of {' '.join(path)} is not documented"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_help_has_an_example(path, command):
    assert "Example: impactlens " + " ".join(path) in (command.help or "")


def test_the_library_example_in_the_readme_runs(tmp_path):
    """The README's "Using the library" example, as written, from the repository root."""
    import os
    import re
    import subprocess
    import sys

    section = README.split("## Using the library", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    done = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "IMPACTLENS_DATA_DIR": str(tmp_path / "data"),
             "IMPACTLENS_DATABASE_URL": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "inventory-sync" in done.stdout  # the planted chronic hotspot leads the week
    assert (tmp_path / "data" / "impactlens.db").is_file()


def test_every_setting_is_documented():
    """Each setting appears, by its impactlens.toml name, in the README or a linked doc."""
    from impactlens.settings import Settings

    docs = README + "".join(
        path.read_text(encoding="utf-8")
        for path in (Path(__file__).resolve().parents[1] / "docs").glob("*.md")
    )
    missing = [name for name in Settings.model_fields if f"`{name}`" not in docs]
    assert missing == []
