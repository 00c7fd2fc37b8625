"""Errors of the incident store; each is an `ImpactlensError`, so every edge reports it."""

from __future__ import annotations

from impactlens.errors import ImpactlensError

__all__ = ["DatabaseNotAtHeadError", "InvalidBatchError", "StoreError"]


class StoreError(ImpactlensError):
    """The store cannot do what was asked (unreachable database, unusable URL, ...)."""


class DatabaseNotAtHeadError(StoreError):
    """A database whose schema is not the one this version of impactlens writes."""

    def __init__(self, *, database: str, current: str | None, head: str, known: bool) -> None:
        self.database = database
        self.current = current
        self.head = head
        if current is None:
            message = (
                f"database {database} has no impactlens tables yet (revision none, "
                f"head is {head}): run `impactlens db upgrade`"
            )
        elif known:
            message = (
                f"database {database} is at revision {current}, not at head {head}: "
                "run `impactlens db upgrade`"
            )
        else:
            message = (
                f"database {database} is at revision {current}, which this version of "
                f"impactlens does not know (its head is {head}): the database was "
                "upgraded by a newer impactlens; upgrade impactlens"
            )
        super().__init__(message)


class InvalidBatchError(StoreError):
    """An ingest batch whose values break the canonical model (an adapter's bug)."""
