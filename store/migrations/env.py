"""Alembic environment of the incident store.

`store.database.upgrade_database` runs it with a connection in
``config.attributes["connection"]`` (one transaction for the whole upgrade). Run from the
alembic command line (``alembic -c store/alembic.ini revision --autogenerate -m ...``),
it opens ``sqlalchemy.url`` or, when that is empty, the database of `get_settings`.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from impactlens.store.schema import metadata
from sqlalchemy.engine import Connection

config = context.config


def _configure(**options: Any) -> None:  # alembic's own keyword arguments
    context.configure(target_metadata=metadata, compare_type=True, **options)


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from impactlens.settings import get_settings

    return get_settings().database_url


def _run_on(connection: Connection) -> None:
    # SQLite alters a table by copying it: batch mode does that for later migrations.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    _configure(url=_database_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from impactlens.store.database import create_engine_for

    engine = create_engine_for(_database_url())
    try:
        with engine.connect() as connection:
            _run_on(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
