"""Read service maps from files: open and decode here, validate in `build`."""

from __future__ import annotations

from pathlib import Path

import yaml
from impactlens.service_map.build import build_service_map
from impactlens.service_map.model import ServiceMap

from impactlens.errors import InputFileError, MapIssue, MapValidationError

__all__ = ["load_service_map", "read_text"]


def read_text(path: str | Path, *, what: str) -> str:
    """The file's text as UTF-8, or an `InputFileError` that says why not."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(f"{what} {file}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{what} {file}: is a directory, not a file") from None
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{what} {file}: not UTF-8 text (byte {error.start}: {error.reason})"
        ) from None
    except OSError as error:
        raise InputFileError(f"{what} {file}: {error.strerror}") from None


def load_service_map(path: str | Path) -> ServiceMap:
    """Read a YAML service map and validate it (see `build_service_map`)."""
    text = read_text(path, what="service map")
    try:
        records = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise MapValidationError(
            [MapIssue(place, f"not valid YAML: {problem}")], source=str(path)
        ) from None
    return build_service_map(records, source=str(path))
