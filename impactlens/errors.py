"""The one exception hierarchy of impactlens.

Every layer raises these; each edge translates them once (the CLI into a one-line
message and exit code 2, the API into a 4xx problem+json body, flows into a failed run).
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "EXCERPT_LIMIT",
    "DeliveryError",
    "FileValidationError",
    "ImpactlensError",
    "InputFileError",
    "InvalidIncidentsError",
    "InvalidPayloadError",
    "InvalidSettingsError",
    "InvalidTimezoneError",
    "InvalidWeekError",
    "MapIssue",
    "MapValidationError",
    "MappingValidationError",
    "MissingColumnsError",
    "SourceError",
    "UnknownApiKeyError",
    "UnknownProcessError",
    "UnknownServiceError",
    "WebhookAuthError",
    "excerpt",
]

EXCERPT_LIMIT = 80  # characters of a value an error message echoes: enough to recognise it
# A file with a million bad entries must not print a million lines: show the first ones.
LISTED_ISSUES = 50
ISSUE_LIMIT = 500  # characters of one listed issue, whatever its parts echoed


def excerpt(value: object, limit: int = EXCERPT_LIMIT, *, quote: bool = True) -> str:
    """`value` as an error message may echo it: its repr, cut to about `limit` characters.

    Input can be hostile (a 2 MB cell, a list of a million items, a billion-laughs YAML):
    a message must stay one short line whatever it quotes, so a cut value ends in ``…``
    and says how long it was.

    Parameters
    ----------
    value : object
        What the message quotes: text, a number, a decoded YAML value, ...
    limit : int, default 80
        Characters of the value to keep.
    quote : bool, default True
        Quote text as ``repr`` does; False shows it bare (for ids, places). Values that
        are not text are always shown as their (bounded) repr.

    Returns
    -------
    str

    Examples
    --------
    >>> excerpt("Mars/Olympus"), excerpt("INC-7", quote=False)
    ("'Mars/Olympus'", 'INC-7')
    >>> excerpt("a" * 2_000_000, limit=4)
    "'aaaa…' (2,000,000 characters)"
    >>> excerpt(list(range(1000)), limit=20)
    '[0, 1, 2, 3, 4, 5, 6… (list of 1,000 items)'
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value) if quote else value
        cut = value[:limit] + "…"
        return f"{repr(cut) if quote else cut} ({len(value):,} characters)"
    bounded = reprlib.Repr()
    bounded.maxlevel = 3
    bounded.maxstring = bounded.maxother = limit
    bounded.maxlist = bounded.maxtuple = bounded.maxset = bounded.maxdict = 10
    try:
        shown = bounded.repr(value)
    except (ValueError, RecursionError):  # an int of more than 4,300 digits, for one
        shown = f"<{type(value).__name__}>"
    size = _size_of(value)
    if len(shown) > limit:
        shown = shown[:limit] + "…"
    elif size is None or size <= 10:
        return shown
    noun = "item" if size == 1 else "items"
    return shown + (f" ({type(value).__name__} of {size:,} {noun})" if size is not None else "")


def _size_of(value: object) -> int | None:
    if isinstance(value, list | tuple | dict | set | frozenset | bytes):
        return len(value)
    return None


def _close_matches(name: object, known: Sequence[str] | None) -> str:
    """`` (did you mean a, b?)`` for names close to `name`, else nothing."""
    # difflib is quadratic in the name's length: a huge name gets no hint, not a hang.
    if not known or not isinstance(name, str) or len(name) > 200:
        return ""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


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
        shown = [
            f"  {excerpt(str(issue), ISSUE_LIMIT, quote=False)}"
            for issue in self.issues[:LISTED_ISSUES]
        ]
        if len(self.issues) > LISTED_ISSUES:
            shown.append(f"  … and {len(self.issues) - LISTED_ISSUES:,} more")
        lines = "\n".join(shown)
        super().__init__(
            f"{self.what}{where} is invalid ({len(self.issues):,} {'error' if len(self.issues) == 1 else 'errors'}):\n{lines}"
        )


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
        names = ", ".join(excerpt(name) for name in self.missing[:20])
        if len(self.missing) > 20:
            names += f" and {len(self.missing) - 20:,} more"
        noun = "column" if len(self.missing) == 1 else "columns"
        super().__init__(f"{where}: missing required {noun} {names}")


class UnknownServiceError(ImpactlensError):
    """A service id that the service map does not define."""

    def __init__(self, service_id: str, *, known: list[str] | None = None) -> None:
        self.service_id = service_id
        hint = _close_matches(service_id, known)
        super().__init__(f"unknown service {excerpt(service_id)}{hint}")


class UnknownProcessError(ImpactlensError):
    """A business process id that the service map does not define."""

    def __init__(self, process_id: str, *, known: list[str] | None = None) -> None:
        self.process_id = process_id
        hint = _close_matches(process_id, known)
        super().__init__(f"unknown business process {excerpt(process_id)}{hint}")


class InvalidTimezoneError(ImpactlensError):
    """A time zone name that is not an IANA zone (``Europe/Berlin``, ``UTC``).

    `where` names the option or place that gave it (``--timezone``, ``timezone``);
    `suggestions` are real zone names close to it.
    """

    def __init__(
        self, zone: object, *, where: str | None = None, suggestions: Sequence[str] = ()
    ) -> None:
        self.zone = zone
        self.where = where
        hint = (
            f"did you mean {', '.join(suggestions)}?"
            if suggestions
            else "for example Europe/Berlin or UTC"
        )
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}time zone {excerpt(zone)} is not an IANA zone name ({hint})")


class InputFileError(ImpactlensError):
    """A file that cannot be read at all (missing, undecodable, not the expected format)."""


class InvalidIncidentsError(ImpactlensError):
    """An incident table whose values an engine step cannot use (e.g. priority 9)."""


class InvalidSettingsError(ImpactlensError):
    """A setting or option whose value cannot be used (e.g. a baseline of 0 weeks)."""


class InvalidWeekError(ImpactlensError):
    """A week or month label that cannot be used, or one the data cannot answer for."""


class SourceError(ImpactlensError):
    """An ITSM system that cannot be read: refused credentials, a query it rejects, a server
    that keeps failing. The message names the system and the reason, never a credential."""


class DeliveryError(ImpactlensError):
    """A report that cannot be delivered (the mail server refused the connection, the login
    or a recipient). The message names the server and the reason, never a credential."""


class DeliveryUnreachableError(DeliveryError):
    """The mail server could not be reached at all: nothing was sent, so trying again later
    is safe (the Prefect flow retries delivery on this error only)."""


class WebhookAuthError(ImpactlensError):
    """A webhook whose signature is missing, wrong or stale: it was not sent by the system
    it claims to come from (or is a replay). The message never shows a secret."""


class InvalidPayloadError(ImpactlensError):
    """A webhook or API payload that is not the shape its sender documents (not an event,
    no incident in it). The message names the place in the payload and what was expected."""


class UnknownApiKeyError(ImpactlensError):
    """An API key name (or id) that no stored key has."""
