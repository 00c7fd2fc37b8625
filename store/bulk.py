"""Moving many rows at once: SQLite through Arrow staged by ADBC, PostgreSQL through ``COPY``.

Both writers take canonical frames (see `store.frames`) as Arrow columns and move them
in chunks of `CHUNK_ROWS`, reporting progress per chunk. SQLite reads them from a
scratch file ADBC wrote (moments as integer microseconds; small frames are bound with
``executemany``); PostgreSQL is sent ``COPY``'s binary format (`store.copy_binary`); a
big first load goes into its tables without their keys, built after
(`PostgresWriter.first_load`), and a batch that wrote a tenth of a table refreshes its
planner statistics. Everything runs on the caller's
connection, inside its transaction: a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from adbc_driver_sqlite import dbapi as adbc_sqlite
from impactlens.store.copy_binary import SIGNATURE, TRAILER, encode_rows
from impactlens.store.database import after_transaction
from impactlens.store.frames import epoch_micros
from impactlens.store.schema import COUNT, TIMESTAMP, assignment_history, incidents
from impactlens.store.types import epoch_microseconds
from sqlalchemy import Table, exists, select
from sqlalchemy.engine import Connection
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

__all__ = [
    "ANALYZE_GROWTH",
    "CHUNK_ROWS",
    "KEYLESS_LOAD_MIN_ROWS",
    "SCRATCH_MIN_ROWS",
    "BulkWriter",
    "PostgresWriter",
    "SqliteWriter",
    "writer_for",
]

CHUNK_ROWS = 50_000
SCRATCH_MIN_ROWS = 1_000  # SQLite: fewer rows are bound one by one (see SqliteWriter)
KEYLESS_LOAD_MIN_ROWS = 100_000  # PostgreSQL: a first load this big builds keys after
ANALYZE_GROWTH = 0.1  # PostgreSQL: refresh statistics when a batch writes 10% (autovacuum's)
_STAGES = itertools.count(1)  # names of scratch files attached to SQLite connections
SCRATCH_PREFIX = "impactlens-stage-"  # then the writing process's id: <prefix><pid>-<random>.db
ChunkDone = Callable[[int], None]  # called with the rows written so far by the call

_NAT = np.iinfo(np.int64).min
KEY = ("source", "incident_id")
# "Newer" as the store means it: a later updated_at, and any updated_at beats none.
NEWER = (
    "(excluded.updated_at > incidents.updated_at "
    "OR (incidents.updated_at IS NULL AND excluded.updated_at IS NOT NULL))"
)


def writer_for(connection: Connection) -> BulkWriter:
    """The writer for the connection's database."""
    name = connection.dialect.name
    if name == "sqlite":
        return SqliteWriter(connection)
    if name == "postgresql":
        return PostgresWriter(connection)
    raise ValueError(f"no bulk writer for {name}")  # create_engine_for refuses others


class BulkWriter:
    """Bulk operations of the store on one connection (the base keeps the shared SQL)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.quote = connection.dialect.identifier_preparer.quote

    def prepare(self) -> None:
        """Set up the transaction for a batch (lock out other writers)."""

    def insert(
        self,
        table: str,
        frame: pd.DataFrame,
        dtypes: Mapping[str, str],
        *,
        constants: Mapping[str, tuple[str, Any]] | None = None,
        on_chunk: ChunkDone | None = None,
    ) -> None:
        """Insert `frame`'s `dtypes` columns into `table`, plus `constants` in every row.

        `constants` maps a column to ``(dtype, value)``.
        """
        raise NotImplementedError

    def upsert_incidents(
        self,
        frame: pd.DataFrame,
        dtypes: Mapping[str, str],
        *,
        constants: Mapping[str, tuple[str, Any]],
        on_chunk: ChunkDone | None = None,
    ) -> None:
        """Insert incidents, or overwrite stored ones where the new row is `NEWER`."""
        raise NotImplementedError

    @contextlib.contextmanager
    def first_load(self, rows: int) -> Iterator[None]:
        """Around the writes of a batch of `rows` new incidents (PostgreSQL: see there)."""
        yield

    def stage_keys(self, keys: pd.DataFrame) -> str:
        """Put ``pos, source, incident_id, updated_at`` rows in a temporary table; its name."""
        raise NotImplementedError

    def delete_history(self, keys: pd.DataFrame) -> None:
        """Delete the assignment history of the (source, incident_id) pairs of `keys`."""
        raise NotImplementedError

    def refresh_statistics(self, written: Mapping[str, int]) -> None:
        """Let the planner know tables changed: `written` maps a table to the rows just written.

        SQLite plans without row counts of ranges (its STAT4 is not compiled in), so only
        PostgreSQL does anything here.
        """

    def _upsert_clause(self, columns: Sequence[str]) -> str:
        sets = ", ".join(
            f"{self.quote(c)} = excluded.{self.quote(c)}" for c in columns if c not in KEY
        )
        return f"ON CONFLICT (source, incident_id) DO UPDATE SET {sets} WHERE {NEWER}"

    def _column_list(self, columns: Sequence[str]) -> str:
        return ", ".join(self.quote(c) for c in columns)

    def _cursor(self) -> Any:
        """A cursor of the DB-API connection under `connection`, in its transaction."""
        return self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]


class SqliteWriter(BulkWriter):
    """Arrow columns staged by ADBC in a scratch file, then moved in set-based, in chunks.

    Python's ``executemany`` costs ~10 s per million incident rows (every value boxed and
    bound one by one); ADBC binds Arrow columns in C into a private scratch file (journal
    and sync off: it is thrown away), which the store's own connection attaches inside its
    transaction and reads with ``INSERT ... SELECT``. The store's file is never opened by
    ADBC's SQLite library: two SQLite libraries on one WAL database lose each other's
    ``-wal`` file. The scratch files are detached and deleted when the transaction ends.
    Frames under `SCRATCH_MIN_ROWS` rows (a webhook's incident) go through
    ``executemany``, which costs less than a scratch file there.
    """

    def insert(
        self,
        table: str,
        frame: pd.DataFrame,
        dtypes: Mapping[str, str],
        *,
        constants: Mapping[str, tuple[str, Any]] | None = None,
        on_chunk: ChunkDone | None = None,
    ) -> None:
        self._write(table, frame, dtypes, constants or {}, "", on_chunk)

    def upsert_incidents(
        self,
        frame: pd.DataFrame,
        dtypes: Mapping[str, str],
        *,
        constants: Mapping[str, tuple[str, Any]],
        on_chunk: ChunkDone | None = None,
    ) -> None:
        upsert = self._upsert_clause([*dtypes, *constants])
        self._write("incidents", frame, dtypes, constants, upsert, on_chunk)

    def stage_keys(self, keys: pd.DataFrame) -> str:
        dtypes = {"pos": "int64", "source": "string", "incident_id": "string"}
        dtypes["updated_at"] = TIMESTAMP
        if len(keys) >= SCRATCH_MIN_ROWS:
            return self._stage(keys, dtypes)
        cursor = self._cursor()
        cursor.execute("DROP TABLE IF EXISTS temp.il_keys")
        cursor.execute(
            "CREATE TEMP TABLE il_keys (pos INTEGER PRIMARY KEY, source TEXT NOT NULL, "
            "incident_id TEXT NOT NULL, updated_at INTEGER)"
        )
        self._executemany("INSERT INTO temp.il_keys VALUES (?, ?, ?, ?)", keys, dtypes, None)
        return "temp.il_keys"

    def delete_history(self, keys: pd.DataFrame) -> None:
        dtypes = {"source": "string", "incident_id": "string"}
        if len(keys) >= SCRATCH_MIN_ROWS:
            staged = self._stage(keys, dtypes)
            self._cursor().execute(
                "DELETE FROM assignment_history WHERE (source, incident_id) IN "
                f"(SELECT source, incident_id FROM {staged})"
            )
            return
        self._executemany(
            "DELETE FROM assignment_history WHERE source = ? AND incident_id = ?",
            keys,
            dtypes,
            None,
        )

    def _write(
        self,
        table: str,
        frame: pd.DataFrame,
        dtypes: Mapping[str, str],
        constants: Mapping[str, tuple[str, Any]],
        conflict: str,
        on_chunk: ChunkDone | None,
    ) -> None:
        # Constants are whole numbers (a run id, epoch microseconds): written into the
        # statement once instead of bound on every row.
        literals = [str(int(_sqlite_value(dtype, value))) for dtype, value in constants.values()]
        names = self._column_list([*dtypes, *constants])
        if not len(frame):
            return
        if len(frame) < SCRATCH_MIN_ROWS:
            values = ", ".join(["?"] * len(dtypes) + literals)
            sql = f"INSERT INTO {self.quote(table)} ({names}) VALUES ({values}) {conflict}"
            self._executemany(sql, frame, dtypes, on_chunk)
            return
        staged = self._stage(frame, dtypes)
        selected = ", ".join([self._column_list(list(dtypes)), *literals])
        cursor = self._cursor()
        # The staged rows' rowids are 1..n in frame order: moved in a chunk at a time,
        # so that progress is reported as it is made. (WHERE: SQLite's parser needs one
        # before ON CONFLICT in INSERT ... SELECT.)
        for start in range(0, len(frame), CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, len(frame))
            cursor.execute(
                f"INSERT INTO {self.quote(table)} ({names}) SELECT {selected} FROM {staged} "
                f"WHERE rowid > {start} AND rowid <= {stop} {conflict}"
            )
            if on_chunk is not None:
                on_chunk(stop)

    def _stage(self, frame: pd.DataFrame, dtypes: Mapping[str, str]) -> str:
        """`frame`'s columns in a new scratch file attached to the connection; its table."""
        _remove_abandoned_scratch_files()
        prefix = f"{SCRATCH_PREFIX}{os.getpid()}-"
        descriptor, path = tempfile.mkstemp(prefix=prefix, suffix=".db")
        os.close(descriptor)
        alias = f"il_stage_{next(_STAGES)}"
        try:
            arrow = _arrow_table(frame, dtypes, {})
            with adbc_sqlite.connect(path, autocommit=True) as scratch, scratch.cursor() as writer:
                writer.execute("PRAGMA journal_mode = OFF")
                writer.execute("PRAGMA synchronous = OFF")
                writer.adbc_ingest("staged", arrow, mode="create")
            self._cursor().execute(f"ATTACH DATABASE ? AS {alias}", (path,))
        except BaseException:
            os.unlink(path)
            raise
        after_transaction(self.connection, functools.partial(self._drop_stage, alias, path))
        self._cursor().execute(f"PRAGMA {alias}.journal_mode = OFF")  # no -journal beside it
        return f"{alias}.staged"

    def _drop_stage(self, alias: str, path: str) -> None:
        try:
            self._cursor().execute(f"DETACH DATABASE {alias}")
        except sqlite3.Error:
            pass  # the connection is gone: so is the attachment
        finally:
            os.unlink(path)

    def _executemany(
        self,
        sql: str,
        frame: pd.DataFrame,
        dtypes: Mapping[str, str],
        on_chunk: ChunkDone | None,
    ) -> None:
        cursor = self._cursor()
        try:
            for start in range(0, len(frame), CHUNK_ROWS):
                chunk = frame.iloc[start : start + CHUNK_ROWS]
                columns = [_python_values(chunk[name], dtype) for name, dtype in dtypes.items()]
                cursor.executemany(sql, zip(*columns, strict=True))
                if on_chunk is not None:
                    on_chunk(start + len(chunk))
        finally:
            cursor.close()


def _remove_abandoned_scratch_files() -> None:
    """Delete the scratch files of writers that are gone (killed mid-batch: a transaction
    that never ended never ran its clean-up). A file whose process still runs is kept."""
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*.db"):
        pid = path.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


def _sqlite_value(dtype: str, value: Any) -> Any:
    if dtype == TIMESTAMP:
        return epoch_microseconds(pd.Timestamp(value))
    return value


def _python_values(values: pd.Series, dtype: str) -> list[Any]:
    """A column as Python values the sqlite3 module binds: str, int or None."""
    # numpy's tolist() is typed Any: the annotated name states what it is, without a copy.
    python: list[Any]
    if dtype == TIMESTAMP:
        micros = epoch_micros(values)
        missing = micros == _NAT
        if missing.all() and len(micros):
            return [None] * len(micros)
        if missing.any():
            boxed = micros.astype(object)
            boxed[missing] = None
            python = boxed.tolist()
        else:
            python = micros.tolist()
    elif dtype == "int64":
        python = values.to_numpy(dtype=np.int64).tolist()
    else:
        # pandas-stubs do not allow na_value=None; pandas does (missing values as None).
        objects: npt.NDArray[np.object_] = values.array.to_numpy(dtype=object, na_value=None)
        python = objects.tolist()
    return python


class PostgresWriter(BulkWriter):
    """``COPY ... FROM STDIN (FORMAT BINARY)`` encoded by `store.copy_binary`, in chunks."""

    def prepare(self) -> None:
        # One batch writer at a time, so that what this batch finds stored cannot change
        # before it writes (readers go on).
        self._cursor().execute("LOCK TABLE incidents IN SHARE ROW EXCLUSIVE MODE")

    def insert(
        self,
        table: str,
        frame: pd.DataFrame,
        dtypes: Mapping[str, str],
        *,
        constants: Mapping[str, tuple[str, Any]] | None = None,
        on_chunk: ChunkDone | None = None,
    ) -> None:
        self._copy(table, frame, dtypes, constants or {}, on_chunk)

    def upsert_incidents(
        self,
        frame: pd.DataFrame,
        dtypes: Mapping[str, str],
        *,
        constants: Mapping[str, tuple[str, Any]],
        on_chunk: ChunkDone | None = None,
    ) -> None:
        cursor = self._cursor()
        cursor.execute("DROP TABLE IF EXISTS il_stage")
        cursor.execute(
            "CREATE TEMP TABLE il_stage (LIKE incidents INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        self._copy("il_stage", frame, dtypes, constants, on_chunk)
        columns = self._column_list([*dtypes, *constants])
        cursor.execute(
            f"INSERT INTO incidents ({columns}) SELECT {columns} FROM il_stage "
            f"{self._upsert_clause([*dtypes, *constants])}"
        )
        cursor.execute("DROP TABLE il_stage")

    def stage_keys(self, keys: pd.DataFrame) -> str:
        cursor = self._cursor()
        cursor.execute("DROP TABLE IF EXISTS il_keys")
        cursor.execute(
            "CREATE TEMP TABLE il_keys (pos bigint PRIMARY KEY, source text NOT NULL, "
            "incident_id text NOT NULL, updated_at timestamptz) ON COMMIT DROP"
        )
        dtypes = {"pos": "int64", "source": "string", "incident_id": "string"}
        dtypes["updated_at"] = TIMESTAMP
        self._copy("il_keys", keys, dtypes, {}, None)
        cursor.execute("ANALYZE il_keys")
        return "il_keys"

    def delete_history(self, keys: pd.DataFrame) -> None:
        self._cursor().execute(
            "DELETE FROM assignment_history AS h "
            "USING (SELECT unnest(%s::text[]) AS source, unnest(%s::text[]) AS incident_id) AS k "
            "WHERE h.source = k.source AND h.incident_id = k.incident_id",
            (
                keys["source"].to_numpy(dtype=object).tolist(),
                keys["incident_id"].to_numpy(dtype=object).tolist(),
            ),
        )

    @contextlib.contextmanager
    def first_load(self, rows: int) -> Iterator[None]:
        """Into empty tables, `KEYLESS_LOAD_MIN_ROWS` incidents or more: keys built after.

        Drops the primary keys and indexes of ``incidents`` and ``assignment_history``,
        lets the batch be copied in, and builds them again under their own (Alembic's)
        names: one sort per index instead of a b-tree insert per row. On 1,000,000
        incidents with 1,798,142 history rows, in one process: 8.6 s -> 6.7 s. Both tables
        are locked against readers meanwhile (they would have found them empty); a
        failure rolls the keys back with the rows. A batch that repeats a key is refused
        by the key's build, as by the key itself.
        """
        tables = (incidents, assignment_history)
        if rows < KEYLESS_LOAD_MIN_ROWS or any(_has_rows(self.connection, t) for t in tables):
            yield
            return
        self._cursor().execute("LOCK TABLE incidents, assignment_history IN ACCESS EXCLUSIVE MODE")
        for table in tables:
            for index in table.indexes:
                self.connection.execute(DropIndex(index))
            self.connection.execute(DropConstraint(table.primary_key))
        yield
        for table in tables:
            self.connection.execute(AddConstraint(table.primary_key))
            for index in sorted(table.indexes, key=lambda index: str(index.name)):
                self.connection.execute(CreateIndex(index))

    def refresh_statistics(self, written: Mapping[str, int]) -> None:
        """``ANALYZE`` each table never analyzed, or with more rows written than
        `ANALYZE_GROWTH` of those it had.

        Autovacuum's own rule, applied at once and whether or not autovacuum runs (on
        this project's test server it is off). Without statistics, a week's review on a
        store of 10,000,000 incidents read every incident and sorted all 18,000,000
        history rows (4.4 s for its two reads; the Monday job 10.9 s); with them, the
        index on ``resolved_at`` and a hash join (2.5 s; the job 6.8 s). Run in the
        batch's transaction, whose new rows ``ANALYZE`` sees; it samples a fixed number
        of rows (~0.2 s).
        """
        cursor = self._cursor()
        for table, rows in written.items():
            if rows == 0:
                continue
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,))
            known = cursor.fetchone()[0]  # -1: never analyzed
            if known < 0 or rows > ANALYZE_GROWTH * known:
                cursor.execute(f"ANALYZE {self.quote(table)}")

    def _copy(
        self,
        table: str,
        frame: pd.DataFrame,
        dtypes: Mapping[str, str],
        constants: Mapping[str, tuple[str, Any]],
        on_chunk: ChunkDone | None,
    ) -> None:
        if len(frame) == 0:
            return
        arrow = _without_nul(_arrow_table(frame, dtypes, constants))
        types = self._column_types(table, arrow.column_names)
        columns = self._column_list(arrow.column_names)
        with (
            self._cursor() as cursor,
            cursor.copy(f"COPY {self.quote(table)} ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.write(SIGNATURE)
            for start in range(0, arrow.num_rows, CHUNK_ROWS):
                chunk = arrow.slice(start, CHUNK_ROWS)
                copy.write(encode_rows(chunk, types))
                if on_chunk is not None:
                    on_chunk(start + chunk.num_rows)
            copy.write(TRAILER)

    def _column_types(self, table: str, names: Sequence[str]) -> list[str]:
        """The PostgreSQL types of `table`'s columns `names` (as ``format_type`` names them)."""
        cursor = self._cursor()
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (self.quote(table),),
        )
        found = dict(cursor.fetchall())
        return [found[name] for name in names]


def _has_rows(connection: Connection, table: Table) -> bool:
    return bool(connection.execute(select(exists().select_from(table))).scalar_one())


def _arrow_table(
    frame: pd.DataFrame,
    dtypes: Mapping[str, str],
    constants: Mapping[str, tuple[str, Any]],
) -> pa.Table:
    """The columns as Arrow arrays, for ADBC or `copy_binary`: text as large strings,
    numbers as int64, moments as integer microseconds since the epoch (as SQLite keeps
    them); `constants` as columns of one value."""
    arrays: dict[str, pa.Array] = {}
    for name, dtype in dtypes.items():
        values = frame[name]
        if dtype == TIMESTAMP:
            micros = epoch_micros(values)
            array = pa.array(micros, type=pa.int64(), mask=micros == _NAT)
        elif dtype in ("int64", COUNT):
            array = pa.array(values, type=pa.int64())
        else:
            array = pa.array(values, type=pa.large_string())
        arrays[name] = array
    rows = len(frame)
    for name, (dtype, value) in constants.items():
        number = epoch_microseconds(pd.Timestamp(value)) if dtype == TIMESTAMP else int(value)
        arrays[name] = pa.array(np.full(rows, number, dtype=np.int64))
    return pa.table(arrays)


def _without_nul(table: pa.Table) -> pa.Table:
    """`table` with U+FFFD for each NUL character in its text: PostgreSQL text cannot hold NUL."""
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if field.type == pa.large_string() and _may_hold_nul(column):
            table = table.set_column(index, field, pc.replace_substring(column, "\x00", "\ufffd"))
    return table


def _may_hold_nul(column: pa.ChunkedArray) -> bool:
    """Whether a zero byte is in the text buffers behind `column` (numpy scans them ~10x
    faster than ``match_substring`` looks at each value; a hit outside a sliced chunk's
    values only costs a needless replace)."""
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        if data is not None and not np.frombuffer(data, dtype=np.uint8).all():
            return True
    return False
