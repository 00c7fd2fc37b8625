"""The impact report: a pure rendering of a weekly (or monthly) review, its archive, and
its delivery."""

from impactlens.reports.archive import ArchivedReport, archive_report
from impactlens.reports.render import (
    REPORT_FORMATS,
    render,
    render_files,
    report_tables,
    summary_markdown,
)

__all__ = [
    "REPORT_FORMATS",
    "ArchivedReport",
    "archive_report",
    "render",
    "render_files",
    "report_tables",
    "summary_markdown",
]
