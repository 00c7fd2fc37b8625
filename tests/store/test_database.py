"""Engines, migrations and the head check, on a real SQLite file and the real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from impactlens.store import (
    DatabaseNotAtHeadError,
    StoreError,
    create_engine_for,
    current_revision,
    head_revision,
    load_incidents,
    save_batch,
    upgrade_database,
)
from impactlens.store.database import connect
from impactlens.store.schema import ingest_runs, metadata
from sqlalchemy import func, inspect, select, text

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_upgrade_creates_the_tables_and_is_idempotent(store_url):
    assert upgrade_database(store_url) == head_revision()
    assert upgrade_database(store_url) == head_revision()

    engine = create_engine_for(store_url)
    with connect(engine) as connection:
        assert current_revision(connection) == head_revision()
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert {"incidents", "assignment_history", "quarantine", "ingest_runs"} <= tables


def test_the_migrations_build_exactly_the_schema_the_code_uses(store_url):
    engine = create_engine_for(store_url)
    upgrade_database(engine)

    with connect(engine) as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), metadata
        )
    engine.dispose()

    assert differences == []


def test_a_database_without_the_schema_is_refused_with_what_to_run(store_url, make_batch):
    engine = create_engine_for(store_url)

    with pytest.raises(DatabaseNotAtHeadError) as refused:
        save_batch(engine, make_batch(incidents=[{}]), source_file="f.csv", format="csv")
    with pytest.raises(DatabaseNotAtHeadError):
        load_incidents(engine)

    message = str(refused.value)
    assert "revision none" in message
    assert "run `impactlens db upgrade`" in message
    assert isinstance(refused.value, StoreError)
    with connect(engine) as connection:
        assert "incidents" not in inspect(connection).get_table_names()
    engine.dispose()


def test_a_database_at_another_revision_is_refused_and_left_alone(fresh_store, make_batch):
    engine = fresh_store()
    with connect(engine, write=True) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))

    with pytest.raises(DatabaseNotAtHeadError, match="at revision ffff9999") as refused:
        save_batch(engine, make_batch(incidents=[{}]), source_file="f.csv", format="csv")
    with pytest.raises(DatabaseNotAtHeadError, match="newer impactlens"):
        upgrade_database(engine)

    assert "upgrade impactlens" in str(refused.value)
    with connect(engine) as connection:
        assert connection.execute(select(func.count()).select_from(ingest_runs)).scalar() == 0
        assert current_revision(connection) == "ffff9999"


def test_the_message_for_an_older_known_revision():
    error = DatabaseNotAtHeadError(database="x.db", current="0001", head="0002", known=True)

    assert str(error) == (
        "database x.db is at revision 0001, not at head 0002: run `impactlens db upgrade`"
    )


def test_upgrade_works_from_any_folder_and_from_a_fresh_interpreter(tmp_path):
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    url = f"sqlite:///{tmp_path / 'data' / 'store.db'}"

    done = subprocess.run(
        [sys.executable, "-c", f"import impactlens.store as s; print(s.upgrade_database({url!r}))"],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout.strip() == head_revision()
    assert (tmp_path / "data" / "store.db").is_file()  # its folder was created


def test_sqlite_connections_use_wal_and_the_store_pragmas(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade_database(engine)

    with connect(engine) as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in (
                "journal_mode",
                "synchronous",
                "foreign_keys",
                "busy_timeout",
                "temp_store",
            )
        }
    engine.dispose()

    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "foreign_keys": 1,
        "busy_timeout": 30_000,
        "temp_store": 2,  # MEMORY
    }
    assert (tmp_path / "store.db-wal").exists() or (tmp_path / "store.db").exists()


def test_a_sqlite_transaction_covers_what_it_reads(tmp_path):
    """SQLAlchemy emits BEGIN itself: a rollback undoes DDL too (the driver alone would not)."""
    engine = create_engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(RuntimeError), connect(engine) as connection:
        connection.exec_driver_sql("CREATE TABLE scratch (x)")
        raise RuntimeError("roll back")

    with connect(engine) as connection:
        assert "scratch" not in inspect(connection).get_table_names()
    engine.dispose()


def test_unsupported_and_unusable_urls_are_refused_with_a_message(tmp_path):
    with pytest.raises(StoreError, match="SQLite or PostgreSQL"):
        create_engine_for("mysql://root@127.0.0.1/test")
    with pytest.raises(StoreError, match="not a SQLAlchemy database URL"):
        create_engine_for("not a url")
    assert create_engine_for("postgres://u@h/db").url.drivername == "postgresql+psycopg"
    assert create_engine_for("postgresql://u@h/db").url.drivername == "postgresql+psycopg"


def test_a_database_that_cannot_be_reached_is_a_store_error_naming_it():
    # Port 9 (discard) has no PostgreSQL on this machine: refused at once.
    engine = create_engine_for(
        "postgresql+psycopg://nobody:secret@127.0.0.1:9/none", connect_args={"connect_timeout": 3}
    )

    with pytest.raises(
        StoreError, match=r"database postgresql\+psycopg://nobody:\*\*\*@127.0.0.1:9/none"
    ):
        upgrade_database(engine)
    engine.dispose()
