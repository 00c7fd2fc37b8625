"""The store on real databases: a SQLite file in tmp_path, and the machine's PostgreSQL.

Each test that takes `store_url` (or `fresh_store`) runs twice, once per backend. The PostgreSQL run works
in a schema of its own (``search_path`` set through the URL), dropped afterwards; it is
skipped, with the reason, when no server answers at 127.0.0.1:5432 (database ``test``,
user ``postgres`` or ``root``; ``IMPACTLENS_TEST_POSTGRES_URL`` overrides).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import impactlens.store.bulk
import pandas as pd
import pytest
from impactlens.ingest.batch import HISTORY_COLUMNS, INCIDENT_COLUMNS, REJECTED_COLUMNS, IngestBatch
from impactlens.store import Store
from impactlens.store.schema import HISTORY_DTYPES, INCIDENT_DTYPES, REJECTED_DTYPES
from sqlalchemy import create_engine, text

POSTGRES_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)
_postgres: dict[str, Any] = {}


def postgres_base_url() -> tuple[str | None, str]:
    """The first PostgreSQL URL that answers, or None and why none does (checked once)."""
    if not _postgres:
        override = os.environ.get("IMPACTLENS_TEST_POSTGRES_URL")
        reasons = []
        for url in (override,) if override else POSTGRES_CANDIDATES:
            engine = create_engine(url, connect_args={"connect_timeout": 3})
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            except Exception as error:  # any failure means: try the next, then skip
                reasons.append(f"{url}: {str(error).strip().splitlines()[0]}")
                continue
            finally:
                engine.dispose()
            _postgres.update(url=url, reason="")
            break
        else:
            _postgres.update(url=None, reason="no PostgreSQL answers (" + "; ".join(reasons) + ")")
    return _postgres["url"], _postgres["reason"]


def with_search_path(url: str, schema: str) -> str:
    """`url` whose connections use `schema` (libpq's ``options``, passed by psycopg)."""
    return f"{url}?options={quote(f'-csearch_path={schema}')}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`store_url` on each backend; on every write path of each for `write_paths` tests."""
    if "store_url" in metafunc.fixturenames:
        kinds = ["sqlite", "postgresql"]
        if metafunc.definition.get_closest_marker("write_paths"):
            kinds = ["sqlite", "sqlite-staged", "postgresql", "postgresql-keyless"]
        metafunc.parametrize("store_url", kinds, indirect=True)


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> Iterator[str]:
    """The URL of an empty database (no tables), on each backend in turn.

    ``sqlite-staged`` (for tests marked ``write_paths``) is SQLite with every write
    staged through a scratch file, as frames of `store.bulk.SCRATCH_MIN_ROWS` rows or
    more are; the tests' batches are smaller, so plain ``sqlite`` binds them row by row.
    ``postgresql-keyless`` is PostgreSQL with every load into empty tables done without
    keys, built after (`PostgresWriter.first_load`), as for `KEYLESS_LOAD_MIN_ROWS` or more.
    """
    if request.param.startswith("sqlite"):
        if request.param == "sqlite-staged":
            monkeypatch.setattr(impactlens.store.bulk, "SCRATCH_MIN_ROWS", 0)
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if request.param == "postgresql-keyless":
        monkeypatch.setattr(impactlens.store.bulk, "KEYLESS_LOAD_MIN_ROWS", 0)
    base, reason = postgres_base_url()
    if base is None:
        pytest.skip(reason)
    schema = f"test_store_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield with_search_path(base, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def fresh_store(store_url: str) -> Iterator[Callable[..., Store]]:
    """``fresh_store(create=True) -> Store``: the test's database opened with `Store.open`
    (its schema created on the first call); every store made is closed afterwards."""
    stores: list[Store] = []

    def make(*, create: bool = True) -> Store:
        store = Store.open(store_url, create=create)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


INCIDENT_DEFAULTS: dict[str, Any] = {
    "source": "servicenow",
    "opened_at": "2026-11-02T10:00:00Z",
    "updated_at": "2026-11-02T11:00:00Z",
    "priority": 3,
}


def build_batch(
    incidents: list[dict[str, Any]] = (),  # type: ignore[assignment]
    history: list[dict[str, Any]] = (),  # type: ignore[assignment]
    rejected: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> IngestBatch:
    """A canonical batch: each incident dict over `INCIDENT_DEFAULTS` (ids INC1, INC2, ...
    unless given), history rows default to source "servicenow", moments are ISO text."""
    incident_rows = [
        {"incident_id": f"INC{number}", **INCIDENT_DEFAULTS, **row}
        for number, row in enumerate(incidents, start=1)
    ]
    history_rows = [{"source": "servicenow", **row} for row in history]
    rejected_rows = [{"source": "servicenow", **row} for row in rejected]
    return IngestBatch(
        incidents=_typed(incident_rows, INCIDENT_COLUMNS, INCIDENT_DTYPES),
        history=_typed(history_rows, HISTORY_COLUMNS, HISTORY_DTYPES),
        rejected=_typed(rejected_rows, REJECTED_COLUMNS, REJECTED_DTYPES),
    )


def _typed(rows: list[dict[str, Any]], columns: tuple[str, ...], dtypes: dict[str, str]):
    columns_data = {}
    for name in columns:
        values = [row.get(name) for row in rows]
        dtype = dtypes[name]
        if dtype.startswith("datetime64"):
            columns_data[name] = pd.Series(
                pd.to_datetime(values, utc=True, format="ISO8601"), dtype=dtype
            )
        else:
            columns_data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(columns_data, columns=list(columns))


@pytest.fixture(scope="session")
def make_batch() -> Callable[..., IngestBatch]:
    """``make_batch(incidents=[...], history=[...], rejected=[...])``; see `build_batch`."""
    return build_batch
