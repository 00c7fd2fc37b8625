"""Doctests of the package folders, imported by their installed names.

The repository keeps one folder per layer (``engine/``, ``store/``, ...) while the
installed distribution puts them under ``impactlens`` (``impactlens.engine``, ...).
pytest's own ``--doctest-modules`` would import ``engine/impact.py`` a second time as a
top-level ``engine.impact``; this collects each module's doctests once, from the module
every other import uses.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
from _pytest.doctest import DoctestModule

ROOT = Path(__file__).resolve().parent
# Folder -> installed package name (pyproject.toml, [tool.setuptools.package-dir]).
PACKAGES = {
    "impactlens": "impactlens",
    "engine": "impactlens.engine",
    "service_map": "impactlens.service_map",
    "ingest": "impactlens.ingest",
    "store": "impactlens.store",
    "flows": "impactlens.flows",
    "api": "impactlens.api",
    "reports": "impactlens.reports",
}
_SKIPPED = {("store", "migrations")}  # Alembic scripts run inside Alembic only


def installed_name(path: Path) -> str | None:
    """The dotted name `path` (a .py file of a package folder) is imported as, or None."""
    try:
        parts = path.resolve().relative_to(ROOT).with_suffix("").parts
    except ValueError:
        return None
    if not parts or parts[0] not in PACKAGES or tuple(parts[:2]) in _SKIPPED:
        return None
    if parts[-1] == "__main__":  # importing it runs the program
        return None
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGES[parts[0]], *parts[1:]))


class InstalledDoctestModule(DoctestModule):
    """A module's doctests, the module imported by its installed name."""

    def _getobj(self) -> ModuleType:
        name = installed_name(self.path)
        assert name is not None
        return importlib.import_module(name)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".py" and installed_name(file_path) is not None:
        return InstalledDoctestModule.from_parent(parent, path=file_path)
    return None
