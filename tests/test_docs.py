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
