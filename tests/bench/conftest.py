"""The benchmarks' tests record their results in a file of their own, never the repo's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.results import RESULTS_ENV


@pytest.fixture(autouse=True)
def results_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The results file the benchmark under test writes (empty at the start)."""
    path = tmp_path_factory.mktemp("bench-results") / "results.json"
    monkeypatch.setenv(RESULTS_ENV, str(path))
    return path


def recorded(path: Path) -> dict[str, dict[str, object]]:
    """The results file's entries by name."""
    return {entry["name"]: entry for entry in json.loads(path.read_text(encoding="utf-8"))}
