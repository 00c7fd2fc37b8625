"""`Store`: the one object through which the CLI, the flows and the API use the store.

``Store.open(url)`` opens a SQLite file or a PostgreSQL database, checks its schema
revision once (creating the schema in an empty database), and then saves ingest batches
and reads incidents, their history, ingest runs and quarantined rows back as frames in
the dtypes of `store.schema`. Reads that take several statements run in one snapshot, so
a concurrent ingest is seen whole or not at all.

>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as folder:
...     with Store.open(f"sqlite:///{Path(folder) / 'store.db'}") as store:
...         print(store.created, len(store.load_incidents()), store.data_extent())
True 0 (None, None)
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

import pandas as pd
from impactlens.ingest.batch import IngestBatch
from impactlens.store.database import connect, create_engine_for, describe_database, open_schema
from impactlens.store.errors import StoreError
from impactlens.store.incidents import IngestSummary, Progress, prepare_batch, write_batch
from impactlens.store.keys import ApiKey, find_key, insert_key, read_keys, revoke_key
from impactlens.store.queries import (
    Moment,
    Selection,
    read_extent,
    read_history,
    read_incident,
    read_incident_history,
    read_incidents,
    read_quarantine,
    read_revision,
    read_runs,
    read_sources,
)
from impactlens.store.settled import (
    SettledImpact,
    SettledRow,
    Window,
    count_unsettled,
    read_settled,
    read_unsettled,
    write_settled,
)
from impactlens.store.watermarks import Watermark, read_watermark, write_watermark
from sqlalchemy.engine import Connection, Engine

__all__ = ["ApiKey", "SettledImpact", "SettledRow", "Store", "StoredIncident", "StoredIncidents"]


def _now() -> datetime:
    return datetime.now(UTC)


# eq=False: the fields are frames, which neither compare to one truth value nor hash.
@dataclass(frozen=True, eq=False)
class StoredIncident:
    """One stored incident and its assignment history, read in one transaction.

    ``incident`` is a one-row frame in the canonical incident columns and dtypes (as
    `Store.load_incidents` returns them); ``history`` its assignment history in the
    canonical history columns, in assignment order.
    """

    incident: pd.DataFrame
    history: pd.DataFrame


@dataclass(frozen=True, eq=False)
class StoredIncidents:
    """Incidents and exactly their assignment history, read in one snapshot."""

    incidents: pd.DataFrame
    history: pd.DataFrame


class Store:
    """The incident store at one database URL (SQLite or PostgreSQL).

    Make one with `Store.open`; it holds a connection pool, so keep it for the life of
    the process (an API app) or a command, and `close` it (or use ``with``). It is safe
    to share between threads. Attributes: ``url`` as given, ``engine`` (SQLAlchemy),
    and ``created``, whether `open` created the schema.
    """

    url: str
    engine: Engine
    created: bool

    def __init__(self, url: str, engine: Engine, *, created: bool = False) -> None:
        # Not checked here: `open` is the way in, and checks the schema first.
        self.url = url
        self.engine = engine
        self.created = created
        self._closed = False

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Store:
        """Open the store at `url`, checking its schema once.

        Parameters
        ----------
        url
            A SQLAlchemy URL: ``sqlite:///path/to/file.db`` (its folder is created when
            missing) or ``postgresql+psycopg://user@host/database``.
        create
            Create the schema when the database has no tables at all (then ``created``
            is True: the caller may say so). When False, such a database is refused.

        Raises
        ------
        DatabaseNotAtHeadError
            The database has tables but is not at the newest schema revision (run
            ``impactlens db upgrade``), or was written by a newer impactlens.
        StoreError
            The URL is not usable; the file is a folder or not a SQLite database; the
            server does not answer. The message is one line and names the database.
        """
        engine = create_engine_for(url)
        try:
            created = open_schema(engine, create=create)
        except BaseException:
            engine.dispose()
            raise
        return cls(url, engine, created=created)

    def description(self) -> str:
        """How messages name this store: a SQLite file's path, else the URL sans password."""
        return describe_database(self.url)

    def close(self) -> None:
        """Close the store's connections; the store cannot be used afterwards."""
        self._closed = True
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.description()!r})"

    def save_batch(
        self,
        batch: IngestBatch,
        *,
        source_file: str,
        format: str,
        rows_read: int | None = None,
        on_progress: Progress | None = None,
        watermark: Watermark | None = None,
    ) -> IngestSummary:
        """Store `batch` in one transaction and record the run; what it did.

        Incidents are upserted by (source, incident_id) where the batch's ``updated_at``
        is newer than the stored one (an older or equal one never overwrites; any beats
        a missing one), and an incident's history is replaced exactly when its row is
        written. Rejected rows are quarantined under the run's id, except those the
        quarantine holds already (the same source, reason and raw text): re-ingesting a
        file does not quarantine its bad rows twice (``already_quarantined`` counts them).

        Parameters
        ----------
        batch
            Canonical incidents, history and rejected rows (`ingest.batch`). Two
            incidents with one (source, incident_id) are one incident seen twice: the
            newer is kept.
        source_file, format
            Recorded in the ingest run (the file as the user named it, the adapter).
        rows_read
            Rows the adapter read, when it knows (an event log has many per incident);
            default: the batch's incidents plus its rejected rows.
        on_progress
            Called with ``(incidents_written, incidents_to_write)`` after each chunk.
        watermark
            How far the pull this batch came from has read (see `set_watermark`):
            written in the batch's transaction, so the two are stored together or not
            at all, and a crash between them can never move it past unsaved incidents.

        Raises
        ------
        InvalidBatchError
            A value breaks the canonical model; nothing is written.
        """
        prepared = prepare_batch(batch)
        with self._connect(write=True) as connection:
            summary = write_batch(
                connection,
                prepared,
                source_file=source_file,
                format=format,
                rows_read=rows_read,
                on_progress=on_progress,
            )
            if watermark is not None:
                write_watermark(connection, watermark, at=_now())
            return summary

    def get_watermark(self, source: str, name: str) -> str | None:
        """The watermark of the pull `name` from `source`, or None when none was written.

        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     with Store.open(f"sqlite:///{Path(folder) / 'store.db'}") as store:
        ...         before = store.get_watermark("servicenow", "incident")
        ...         store.set_watermark("servicenow", "incident", "2026-11-02T10:45:02Z")
        ...         print(before, store.get_watermark("servicenow", "incident"))
        None 2026-11-02T10:45:02Z
        """
        with self._connect() as connection:
            return read_watermark(connection, source, name)

    def set_watermark(self, source: str, name: str, value: str) -> None:
        """Write the watermark of the pull `name` from `source` (replacing any), alone.

        A pull that stores incidents should pass its watermark to `save_batch` instead,
        which writes both in one transaction.
        """
        watermark = Watermark(source, name, value)
        with self._connect(write=True) as connection:
            write_watermark(connection, watermark, at=_now())

    def get_incident(self, source: str, incident_id: str) -> StoredIncident | None:
        """The stored incident (source, incident_id) with its history, or None.

        Two primary-key lookups in one snapshot: fast at any size of store.
        """
        with self._connect(snapshot=True) as connection:
            incident = read_incident(connection, source, incident_id)
            if incident.empty:
                return None
            history = read_incident_history(connection, source, incident_id)
        return StoredIncident(incident=incident, history=history)

    def load_incidents(
        self,
        *,
        source: str | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
        by: Selection = "opened",
    ) -> pd.DataFrame:
        """Stored incidents in the canonical columns and dtypes, ordered by (source, id).

        Parameters
        ----------
        source
            Only this source's incidents.
        since, until
            A window ``[since, until)``; a naive moment means UTC.
        by
            ``"opened"``: incidents opened in the window; ``"active"``: incidents open
            at some moment of it (opened before `until`, not resolved before `since`).
        """
        with self._connect() as connection:
            return read_incidents(connection, source=source, since=since, until=until, by=by)

    def load_week(
        self, *, since: Moment, until: Moment, source: str | None = None
    ) -> StoredIncidents:
        """Incidents active in ``[since, until)`` and exactly their history, in one snapshot.

        Active: opened before `until` and not resolved before `since` (an open incident
        is active). Both frames are ordered by (source, incident_id), history then in
        assignment order. One snapshot: an ingest running meanwhile is in both frames or
        in neither, never in one only.
        """
        with self._connect(snapshot=True) as connection:
            incidents = read_incidents(
                connection, source=source, since=since, until=until, by="active"
            )
            history = read_history(connection, source=source, since=since, until=until, by="active")
        return StoredIncidents(incidents=incidents, history=history)

    def data_extent(
        self, *, source: str | None = None
    ) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The earliest and latest ``opened_at`` stored (of `source`); (None, None) if none."""
        with self._connect(snapshot=True) as connection:
            return read_extent(connection, source=source)

    def sources(self) -> pd.DataFrame:
        """One row per source, sorted by source: what the store holds of it.

        Columns: ``source``; ``incidents`` stored; ``open``, those with neither
        ``resolved_at`` nor ``closed_at``; ``first_opened`` and ``last_opened``, the
        extremes of ``opened_at``; ``last_updated``, the latest ``updated_at``;
        ``last_ingest``, when its latest ingest run finished; ``quarantined``, its rows
        in quarantine. A source with only quarantined rows is listed with 0 incidents.
        """
        with self._connect(snapshot=True) as connection:
            return read_sources(connection)

    def ingest_runs(self, *, source: str | None = None) -> pd.DataFrame:
        """Ingest runs with their counts, oldest first; with `source`, those that took
        rows of it (a run's ``source`` lists its batch's sources, joined with ",")."""
        with self._connect() as connection:
            return read_runs(connection, source=source)

    def quarantine(
        self,
        *,
        run_id: int | None = None,
        source: str | None = None,
        since: Moment | None = None,
    ) -> pd.DataFrame:
        """Quarantined rows, oldest first, with their reasons and raw text.

        Only those of ingest run `run_id`, of `source`, and received at or after
        `since` (naive means UTC), for each that is given.
        """
        with self._connect() as connection:
            return read_quarantine(connection, run_id=run_id, source=source, since=since)

    def revision(self) -> int:
        """A number that changes whenever stored incidents may have: the newest ingest
        run's id (0 for an empty store). Caches of reviews key on it."""
        with self._connect() as connection:
            return read_revision(connection)

    def count_unsettled(self, map_version: str, *, opened: Window = None) -> int:
        """How many restored incidents (opened in ``[since, until)`` of `opened`, if given)
        have no valid settled impact under `map_version`."""
        with self._connect() as connection:
            return count_unsettled(connection, map_version, opened=opened)

    def unsettled_incidents(
        self, map_version: str, *, limit: int, opened: Window = None
    ) -> tuple[StoredIncidents, list[int]]:
        """Up to `limit` restored incidents (in key order; opened in `opened`, if given) with
        no valid settled impact under `map_version`, exactly their history, and each one's
        ``run_id``, in one snapshot."""
        with self._connect(snapshot=True) as connection:
            found, history, run_ids = read_unsettled(
                connection, map_version, limit=limit, opened=opened
            )
        return StoredIncidents(incidents=found, history=history), run_ids

    def save_settled(self, map_version: str, rows: Sequence[SettledRow]) -> None:
        """Store settled impacts under `map_version`, replacing those of the same incidents;
        the settled impacts of any other map version are dropped."""
        with self._connect(write=True) as connection:
            write_settled(connection, map_version, rows)

    def settled_impact(
        self, source: str, incident_id: str, map_version: str
    ) -> SettledImpact | None:
        """The valid settled impact of one incident under `map_version`, or None."""
        with self._connect() as connection:
            return read_settled(connection, source, incident_id, map_version)

    def create_api_key(self, name: str, scope: str) -> tuple[ApiKey, str]:
        """A new API key named `name` with `scope` (read, ingest or admin): the stored key
        and the key itself, which is shown this once and never stored.

        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     with Store.open(f"sqlite:///{Path(folder) / 'store.db'}") as store:
        ...         stored, key = store.create_api_key("servicenow", "ingest")
        ...         found = store.authenticate(key)
        ...         revoked = store.revoke_api_key("servicenow")
        ...         print(found.name, found.scope, key.startswith(stored.prefix),
        ...               store.authenticate(key))
        servicenow ingest True None

        Raises
        ------
        InvalidSettingsError
            The scope is not one, the name is not usable or taken (even by a revoked key).
        """
        with self._connect(write=True) as connection:
            return insert_key(connection, name=name, scope=scope, at=_now())

    def api_keys(self, *, revoked: bool = False) -> list[ApiKey]:
        """The API keys, oldest first (revoked ones too when `revoked`); never the keys."""
        with self._connect() as connection:
            return read_keys(connection, revoked=revoked)

    def revoke_api_key(self, name: str) -> ApiKey:
        """Revoke the API key named `name`; `UnknownApiKeyError` when none is."""
        with self._connect(write=True) as connection:
            return revoke_key(connection, name, at=_now())

    def authenticate(self, key: str) -> ApiKey | None:
        """The live API key `key` is, or None when it is unknown or revoked."""
        with self._connect() as connection:
            return find_key(connection, key)

    def _connect(
        self, *, write: bool = False, snapshot: bool = False
    ) -> AbstractContextManager[Connection]:
        if self._closed:
            raise StoreError(f"the store at {self.description()} is closed")
        return connect(self.engine, write=write, snapshot=snapshot)
