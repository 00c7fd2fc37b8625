"""Opening the store, engines, migrations and the head check, on a real SQLite file and
the real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import impactlens.store.database
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from impactlens.store import (
    DatabaseNotAtHeadError,
    Store,
    StoreError,
    create_engine_for,
    current_revision,
    head_revision,
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


def test_opening_an_empty_database_creates_the_schema_once(store_url, make_batch):
    with Store.open(store_url) as first:
        assert first.created is True
        first.save_batch(make_batch(incidents=[{}]), source_file="f.csv", format="csv")
    with Store.open(store_url) as second:
        assert second.created is False
        assert second.load_incidents()["incident_id"].tolist() == ["INC1"]
        with connect(second.engine) as connection:
            assert current_revision(connection) == head_revision()


def test_an_empty_database_is_refused_with_what_to_run_when_not_to_be_created(store_url):
    with pytest.raises(DatabaseNotAtHeadError) as refused:
        Store.open(store_url, create=False)

    message = str(refused.value)
    assert "revision none" in message
    assert "run `impactlens db upgrade`" in message
    assert isinstance(refused.value, StoreError)
    engine = create_engine_for(store_url)
    with connect(engine) as connection:
        assert inspect(connection).get_table_names() == []
    engine.dispose()


def test_a_database_with_other_tables_is_not_taken_over(store_url):
    engine = create_engine_for(store_url)
    with connect(engine, write=True) as connection:
        connection.execute(text("CREATE TABLE someone_elses (x integer)"))
    engine.dispose()

    with pytest.raises(DatabaseNotAtHeadError, match="revision none"):
        Store.open(store_url)


def test_a_database_at_an_unknown_revision_is_refused_at_open_and_left_alone(fresh_store):
    engine = fresh_store().engine
    with connect(engine, write=True) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))

    with pytest.raises(DatabaseNotAtHeadError, match="at revision ffff9999") as refused:
        fresh_store()
    with pytest.raises(DatabaseNotAtHeadError, match="newer impactlens"):
        upgrade_database(engine)

    assert "upgrade impactlens" in str(refused.value)
    with connect(engine) as connection:
        assert connection.execute(select(func.count()).select_from(ingest_runs)).scalar() == 0
        assert current_revision(connection) == "ffff9999"


def test_a_database_at_an_older_revision_is_refused_at_open(fresh_store, monkeypatch):
    fresh_store()  # at 0006, the head of this version
    # As a later version of impactlens sees it: its head is a newer migration.
    monkeypatch.setattr(impactlens.store.database, "head_revision", lambda: "0007")

    with pytest.raises(DatabaseNotAtHeadError) as refused:
        fresh_store()

    assert str(refused.value).endswith(
        "is at revision 0006, not at head 0007: run `impactlens db upgrade`"
    )


def test_the_revision_is_checked_once_at_open_not_on_every_read_or_write(fresh_store, make_batch):
    store = fresh_store()
    # Behind the open store's back: it goes on working (the check was at open).
    with connect(store.engine, write=True) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))

    summary = store.save_batch(make_batch(incidents=[{}]), source_file="f.csv", format="csv")

    assert summary.new == 1
    assert len(store.load_incidents()) == 1
    with pytest.raises(DatabaseNotAtHeadError):
        fresh_store()  # the next open sees it


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


def one_line_error(url: str) -> str:
    with pytest.raises(StoreError) as refused:
        Store.open(url)
    message = str(refused.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_text_file_is_not_a_sqlite_database(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Incidents to look at on Monday:\nINC0010001, INC0010002\n" * 50)

    message = one_line_error(f"sqlite:///{notes}")

    assert message == f"database {notes} is not a SQLite database (the file holds something else)"
    assert notes.read_text().startswith("Incidents to look at")  # left as it was


def test_a_binary_file_is_not_a_sqlite_database(tmp_path):
    picture = tmp_path / "chart.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)

    message = one_line_error(f"sqlite:///{picture}")

    assert message == f"database {picture} is not a SQLite database (the file holds something else)"


def test_a_folder_is_not_a_sqlite_database(tmp_path):
    folder = tmp_path / "store.db"
    folder.mkdir()

    assert one_line_error(f"sqlite:///{folder}") == (
        f"database {folder} is a folder, not a SQLite database file"
    )


def test_a_postgresql_that_does_not_answer_is_one_line_naming_it():
    # Port 9 (discard) has no PostgreSQL on this machine: refused at once.
    message = one_line_error("postgresql+psycopg://nobody:secret@127.0.0.1:9/none")

    assert message.startswith("database postgresql+psycopg://nobody:***@127.0.0.1:9/none: ")
    assert "secret" not in message


def test_a_closed_store_says_so(fresh_store):
    store = fresh_store()
    store.close()

    with pytest.raises(StoreError, match="is closed"):
        store.load_incidents()


def test_the_store_names_its_database_without_the_password():
    store = Store("postgresql+psycopg://app:secret@db/impact", create_engine_for("sqlite://"))

    assert store.description() == "postgresql+psycopg://app:***@db/impact"
    assert repr(store) == "Store('postgresql+psycopg://app:***@db/impact')"
    store.close()


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


def test_a_snapshot_read_is_repeatable_read_on_postgresql_and_does_not_linger(fresh_store):
    store = fresh_store()
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite: every transaction reads one snapshot (WAL)")

    def isolation(**options) -> str:
        with connect(store.engine, **options) as connection:
            return connection.exec_driver_sql("SHOW transaction_isolation").scalar()

    assert isolation(snapshot=True) == "repeatable read"
    store.load_week(since="2026-11-02", until="2026-11-09")
    # The pool's connection goes back to the default: writers must not get it.
    assert isolation() == "read committed"
    assert isolation(write=True) == "read committed"
