"""The installed distribution: one `impactlens` namespace, importable from any folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCES = (".git", ".venv", ".impactlens", "build", "*.egg-info", "__pycache__", ".*_cache")


def test_the_wheel_holds_no_top_level_package_but_impactlens(tmp_path):
    # Built from a copy: setuptools leaves a build/ folder beside the sources it builds.
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(tmp_path)],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("impactlens-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"impactlens"}
    for package in ("engine", "service_map", "ingest", "store", "flows", "api", "reports"):
        assert f"impactlens/{package}/__init__.py" in names
    assert "impactlens/store/migrations/script.py.mako" in names


def test_the_library_imports_by_its_installed_name_from_any_folder(tmp_path):
    code = (
        "from impactlens.engine.weekly import review_week, WeeklyReview; "
        "from impactlens.ingest.pipeline import ingest, IngestReport; "
        "from impactlens.store import Store; "
        "import importlib.util as u; "
        "print([u.find_spec(n) is None for n in ('engine', 'store', 'service_map', 'ingest')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[True, True, True, True]"
