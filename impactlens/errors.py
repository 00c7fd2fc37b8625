"""The one exception hierarchy of impactlens.

Every layer raises these; each edge translates them once (the CLI into a one-line
message and exit code 2, the API into a 4xx problem+json body, flows into a failed run).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FileValidationError",
    "ImpactlensError",
    "InputFileError",
    "InvalidIncidentsError",
    "MapIssue",
    "MapValidationError",
    "MappingValidationError",
    "MissingColumnsError",
    "UnknownServiceError",
]


class ImpactlensError(Exception):
    """Base class of every error impactlens raises on purpose."""


@dataclass(frozen=True)
class MapIssue:
    """One problem in a service map: where it is and what is wrong."""

    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message


class FileValidationError(ImpactlensError):
    """A hand-written file that cannot be used; carries every issue found, not just the first."""

    what = "file"

    def __init__(self, issues: list[MapIssue], *, source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{self.what}{where} is invalid ({len(self.issues)} errors):\n{lines}")


class MapValidationError(FileValidationError):
    """A service map that cannot be used."""

    what = "service map"


class MappingValidationError(FileValidationError):
    """A CSV mapping file (ingest ``--mapping``) that cannot be used."""

    what = "CSV mapping"


class MissingColumnsError(ImpactlensError):
    """A table lacks columns that a step needs."""

    def __init__(self, missing: list[str], *, where: str) -> None:
        self.missing = list(missing)
        self.where = where
        names = ", ".join(repr(name) for name in self.missing)
        noun = "column" if len(self.missing) == 1 else "columns"
        super().__init__(f"{where}: missing required {noun} {names}")


class UnknownServiceError(ImpactlensError):
    """A service id that the service map does not define."""

    def __init__(self, service_id: str, *, known: list[str] | None = None) -> None:
        self.service_id = service_id
        hint = ""
        if known:
            import difflib

            close = difflib.get_close_matches(service_id, known, n=3)
            if close:
                hint = f" (did you mean {', '.join(close)}?)"
        super().__init__(f"unknown service {service_id!r}{hint}")


class InputFileError(ImpactlensError):
    """A file that cannot be read at all (missing, undecodable, not the expected format)."""


class InvalidIncidentsError(ImpactlensError):
    """An incident table whose values an engine step cannot use (e.g. priority 9)."""
