"""The report archive: one folder per period, every edition of its report in it.

``<root>/2026-W47/`` (or ``<root>/2026-11/`` for the monthly edition) holds
``report.html``, ``report.md``, ``review.json``, one CSV per table under ``csv/``, and
``map_version.txt`` (the service map version every figure rests on). Writing a period
again replaces its folder whole: the new editions are written beside it first and
swapped in, so a reader never finds half of one run and half of another.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from impactlens.engine.weekly import WeeklyReview
from impactlens.reports.render import REPORT_FORMATS, render_files

__all__ = ["MAP_VERSION_FILE", "ArchivedReport", "archive_report"]

MAP_VERSION_FILE = "map_version.txt"
_CSV_FOLDER = "csv"


@dataclass(frozen=True)
class ArchivedReport:
    """Where a period's report was written, and which files it holds."""

    period: str
    directory: Path
    files: tuple[Path, ...]

    def edition(self, name: str) -> Path | None:
        """The file called `name` (``report.html``, ``report.md``...), if written."""
        return next((path for path in self.files if path.name == name), None)

    @property
    def html(self) -> Path | None:
        return self.edition("report.html")

    @property
    def markdown(self) -> Path | None:
        return self.edition("report.md")


def archive_report(
    review: WeeklyReview, root: str | Path, *, formats: Sequence[str] = REPORT_FORMATS
) -> ArchivedReport:
    """Render `review` in `formats` into ``<root>/<period>/``, replacing what was there."""
    editions = {fmt: render_files(review, fmt) for fmt in dict.fromkeys(formats)}
    target = Path(root) / review.window.week
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(target.parent.stat().st_mode & 0o777)  # mkdtemp's 0700 would hide it
    try:
        for fmt, files in editions.items():
            folder = staging / _CSV_FOLDER if fmt == "csv" else staging
            folder.mkdir(exist_ok=True)
            for name, text in files.items():
                (folder / name).write_text(text, encoding="utf-8")
        (staging / MAP_VERSION_FILE).write_text(
            f"{review.map_version or 'no service map'}\n", encoding="utf-8"
        )
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    written = sorted(path for path in target.rglob("*") if path.is_file())
    return ArchivedReport(period=review.window.week, directory=target, files=tuple(written))


def _swap(staging: Path, target: Path) -> None:
    """Put `staging` where `target` is; the old folder goes only once the new is there."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
