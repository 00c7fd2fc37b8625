"""Opening the store: engines for SQLite and PostgreSQL, and its schema migrations.

`create_engine_for` gives an engine set up for the store's work (SQLite in WAL mode with
foreign keys on; PostgreSQL through psycopg 3). `upgrade_database` applies the Alembic
migrations under ``store/migrations`` (configured in code, so it works from any folder
and from an installed package); `require_head` refuses a database whose schema is not
the newest, and `open_schema` (what `Store.open` calls, once) checks that or creates the
schema in an empty database.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from impactlens.store.errors import DatabaseNotAtHeadError, StoreError
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

__all__ = [
    "MIGRATIONS_DIR",
    "after_transaction",
    "alembic_config",
    "connect",
    "create_engine_for",
    "current_revision",
    "describe_database",
    "head_revision",
    "open_schema",
    "require_head",
    "upgrade_database",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
# Two `impactlens db upgrade` at once on PostgreSQL: the second waits for the first.
_UPGRADE_LOCK_KEY = 0x1A7C_1E45
_BEGIN_MODES = {"", "DEFERRED", "IMMEDIATE", "EXCLUSIVE"}
_AFTER_TRANSACTION = "impactlens_after_transaction"


def create_engine_for(url: str | URL, **engine_options: Any) -> Engine:
    """An engine for the store at `url` (SQLite or PostgreSQL); nothing is opened yet.

    SQLite: the file's folder is created when missing; each connection is put in WAL
    mode with ``synchronous=NORMAL`` (a commit survives the process being killed),
    foreign keys on, a 30 s busy timeout and temporary tables in memory. SQLAlchemy
    emits ``BEGIN`` itself, so a transaction really covers everything in it; a
    connection with the execution option ``sqlite_begin="IMMEDIATE"`` takes the write
    lock when it begins. PostgreSQL: ``postgresql://`` and ``postgres://`` mean psycopg 3.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"{url!r} is not a SQLAlchemy database URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().absolute().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"database {database}: cannot create its folder {folder} ({error.strerror})"
                ) from None
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        connect_args.update(engine_options.pop("connect_args", {}))
        engine = create_engine(parsed, connect_args=connect_args, **engine_options)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True, **engine_options)
        except NoSuchModuleError:
            raise StoreError(
                f"no driver {parsed.drivername!r} for PostgreSQL: use postgresql+psycopg://"
            ) from None
    raise StoreError(
        f"database {describe_database(parsed)}: impactlens stores incidents in SQLite or "
        "PostgreSQL (sqlite:///path/to/file.db or postgresql+psycopg://user@host/db)"
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling skips BEGIN before DDL and SELECT; turn it
    # off and let `_sqlite_on_begin` emit BEGIN (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA temp_store = MEMORY")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    mode = str(connection.get_execution_options().get("sqlite_begin", "")).upper()
    if mode not in _BEGIN_MODES:
        raise ValueError(f"sqlite_begin={mode!r} is not one of {sorted(_BEGIN_MODES)}")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def after_transaction(connection: Connection, callback: Callable[[], None]) -> None:
    """Call `callback` once `connect`'s transaction on `connection` has ended, either way.

    For what cannot be done inside it (SQLite cannot detach a database it has read).
    """
    connection.info.setdefault(_AFTER_TRANSACTION, []).append(callback)


def describe_database(url: str | URL) -> str:
    """How messages name a database: a SQLite file's path, else the URL without password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


@contextmanager
def connect(engine: Engine, *, write: bool = False, snapshot: bool = False) -> Iterator[Connection]:
    """A connection in one transaction, committed on success, rolled back on error.

    `write` takes SQLite's write lock at ``BEGIN`` (``BEGIN IMMEDIATE``), so that what a
    writer reads before it writes cannot change under it. `snapshot` makes every
    statement of the transaction see one state of the database: SQLite (WAL) does that
    for any transaction; PostgreSQL needs ``REPEATABLE READ`` (its default, ``READ
    COMMITTED``, gives each statement a snapshot of its own). A database that cannot be
    opened, is not a database, or fails on the way (locked past the busy timeout, disk
    full, connection lost), raises `StoreError` naming it; the transaction is rolled back.
    """
    where = describe_database(engine.url)
    try:
        with engine.connect() as connection:
            if write:
                connection.execution_options(sqlite_begin="IMMEDIATE")
            if snapshot and connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="REPEATABLE READ")
            try:
                with connection.begin():
                    yield connection
            finally:
                for callback in connection.info.pop(_AFTER_TRANSACTION, []):
                    callback()
    except OperationalError as error:
        raise StoreError(_unusable(engine, where, error)) from error
    except DatabaseError as error:
        # Other database errors are the store's own bugs (a constraint, bad SQL): let them
        # show as such, except SQLite's "not a database" and "malformed", which are the
        # user's file.
        name = getattr(error.orig, "sqlite_errorname", None)
        if name == "SQLITE_NOTADB":
            raise StoreError(
                f"database {where} is not a SQLite database (the file holds something else)"
            ) from error
        if name == "SQLITE_CORRUPT":
            raise StoreError(f"database {where} is damaged: {_first_line(error)}") from error
        raise


def _unusable(engine: Engine, where: str, error: OperationalError) -> str:
    """The one-line message for a database that cannot be opened or used."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ""
        if database and Path(database).expanduser().is_dir():
            return f"database {where} is a folder, not a SQLite database file"
    return f"database {where}: {_first_line(error)}"


def _first_line(error: DatabaseError) -> str:
    text = str(error.orig if error.orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def alembic_config() -> Config:
    """The Alembic configuration of the store, built in code (no ``alembic.ini`` read)."""
    config = Config()
    # ConfigParser interpolates "%": a path that has one must say "%%".
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


@functools.cache
def _script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest migration's revision id."""
    head = _script_directory().get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for a database without the store's tables."""
    return MigrationContext.configure(connection).get_current_revision()


def require_head(connection: Connection) -> None:
    """Raise `DatabaseNotAtHeadError` unless the database is at the newest revision."""
    _require_at_head(connection, current_revision(connection))


def _require_at_head(connection: Connection, current: str | None) -> None:
    head = head_revision()
    if current == head:
        return
    raise DatabaseNotAtHeadError(
        database=describe_database(connection.engine.url),
        current=current,
        head=head,
        known=current is None or _is_known(current),
    )


def _is_known(revision: str) -> bool:
    try:
        return _script_directory().get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for unknown ids; any means "not known"
        return False


def upgrade_database(target: str | URL | Engine, *, revision: str = "head") -> str:
    """Apply the store's migrations up to `revision` in one transaction; the revision now.

    `target` is a database URL (an engine is made and disposed of) or an engine. A
    database at a revision this version does not know (written by a newer impactlens)
    is refused with `DatabaseNotAtHeadError` and left alone.
    """
    engine = target if isinstance(target, Engine) else create_engine_for(target)
    try:
        with connect(engine, write=True) as connection:
            _lock_schema(connection)
            return _upgrade_on(connection, revision)
    finally:
        if engine is not target:
            engine.dispose()


def open_schema(engine: Engine, *, create: bool = True) -> bool:
    """Check the database is at the newest revision, or create the schema; whether it did.

    A database with no tables at all gets the schema when `create` (and is refused,
    saying to run ``impactlens db upgrade``, when not); one with tables must be at the
    head revision (else `DatabaseNotAtHeadError`): migrating someone's data is their
    call, not a side effect of opening it.
    """
    # Look first without the write lock: an open must not wait for a running ingest.
    with connect(engine) as connection:
        current = current_revision(connection)
        if current is not None or _has_tables(connection):
            _require_at_head(connection, current)
            return False
    if not create:
        raise DatabaseNotAtHeadError(
            database=describe_database(engine.url), current=None, head=head_revision(), known=True
        )
    with connect(engine, write=True) as connection:
        _lock_schema(connection)
        # Another process may have created it since the look above.
        current = current_revision(connection)
        if current is not None or _has_tables(connection):
            _require_at_head(connection, current)
            return False
        _upgrade_on(connection, "head")
        return True


def _has_tables(connection: Connection) -> bool:
    return bool(inspect(connection).get_table_names())


def _lock_schema(connection: Connection) -> None:
    """Wait for any other migration to finish (SQLite's write lock does that already)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})


def _upgrade_on(connection: Connection, revision: str) -> str:
    current = current_revision(connection)
    if current is not None and not _is_known(current):
        raise DatabaseNotAtHeadError(
            database=describe_database(connection.engine.url),
            current=current,
            head=head_revision(),
            known=False,
        )
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
    return current_revision(connection) or ""
