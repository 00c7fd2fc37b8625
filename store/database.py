"""Opening the store: engines for SQLite and PostgreSQL, and its schema migrations.

`create_engine_for` gives an engine set up for the store's work (SQLite in WAL mode with
foreign keys on; PostgreSQL through psycopg 3). `upgrade_database` applies the Alembic
migrations under ``store/migrations`` (configured in code, so it works from any folder
and from an installed package); `require_head` refuses a database whose schema is not
the newest, which every read and write of the store checks first.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from impactlens.store.errors import DatabaseNotAtHeadError, StoreError
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "connect",
    "create_engine_for",
    "current_revision",
    "describe_database",
    "head_revision",
    "require_head",
    "upgrade_database",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
# Two `impactlens db upgrade` at once on PostgreSQL: the second waits for the first.
_UPGRADE_LOCK_KEY = 0x1A7C_1E45
_BEGIN_MODES = {"", "DEFERRED", "IMMEDIATE", "EXCLUSIVE"}


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


def describe_database(url: str | URL) -> str:
    """How messages name a database: a SQLite file's path, else the URL without password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return parsed.render_as_string(hide_password=True)


@contextmanager
def connect(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """A connection in one transaction, committed on success, rolled back on error.

    `write` takes SQLite's write lock at ``BEGIN`` (``BEGIN IMMEDIATE``), so that what a
    writer reads before it writes cannot change under it. A database that cannot be
    opened, or fails on the way (locked past the busy timeout, disk full, connection
    lost), raises `StoreError` naming it; the transaction is rolled back.
    """
    where = describe_database(engine.url)
    try:
        with engine.connect() as connection:
            if write:
                connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                yield connection
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise StoreError(f"database {where}: {reason}") from error


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
    current = current_revision(connection)
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
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY}
                )
            current = current_revision(connection)
            if current is not None and not _is_known(current):
                raise DatabaseNotAtHeadError(
                    database=describe_database(engine.url),
                    current=current,
                    head=head_revision(),
                    known=False,
                )
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            now = current_revision(connection)
        return now or ""
    finally:
        if engine is not target:
            engine.dispose()
