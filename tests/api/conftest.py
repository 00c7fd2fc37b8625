"""What the API and dashboard tests share: a store holding the fixtures, keys of each
scope, and the app over them.

The fixtures are ingested once per session into a SQLite file (``fixture_db``); each test
gets its own copy of that file (``store``), so a test that writes never disturbs another.
The usual moment is the Monday after week 2026-W47 (``AS_OF``), as the report tests use.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from impactlens.api.app import create_app
from impactlens.engine.impact import build_impact_model
from impactlens.ingest.pipeline import ingest
from impactlens.service_map.load import load_service_map
from impactlens.store import Store

from impactlens.settings import Settings, get_settings
from impactlens.settled import settle_impacts

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
MAP = FIXTURES / "service_map.yaml"
INCIDENTS = FIXTURES / "incidents.csv"
HISTORY = FIXTURES / "assignment_history.csv"
AS_OF = pd.Timestamp("2026-11-23T00:00:00Z")
AS_OF_TEXT = "2026-11-23T00:00:00Z"
WEEK = "2026-W47"
SCOPES = ("read", "ingest", "admin")


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding the fixtures (source ``csv``) and one key of each scope;
    never written after this (tests use copies)."""
    path = tmp_path_factory.mktemp("api-store") / "impactlens.db"
    with Store.open(f"sqlite:///{path}") as store:
        ingest(INCIDENTS, store, format="csv", history=HISTORY, service_map=load_service_map(MAP),
               now=AS_OF)  # fmt: skip
        for scope in SCOPES:
            store.create_api_key(f"test-{scope}", scope)
        # Restored incidents read by key, as a running service has them soon after start.
        settle_impacts(store, build_impact_model(load_service_map(MAP)))
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The product's settings with this test's own data folder (where the store is); no
    settling in the background (the fixture store is settled; `test_settling` turns it on)."""
    return get_settings(data_dir=tmp_path, api_settle_impacts=False)


@pytest.fixture
def store(fixture_db: Path, settings: Settings) -> Iterator[Store]:
    """This test's own copy of the fixture store, at the settings' database URL."""
    target = settings.data_dir / "impactlens.db"
    shutil.copyfile(fixture_db, target)
    with Store.open(f"sqlite:///{target}") as opened:
        yield opened


@pytest.fixture
def keys(store: Store) -> dict[str, str]:
    """A fresh key of each scope (the fixture store's own keys are not known in clear)."""
    return {scope: store.create_api_key(f"{scope}-key", scope)[1] for scope in SCOPES}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def app(settings: Settings, store: Store) -> FastAPI:
    """The service over this test's store, scoring with the fixture map."""
    return create_app(settings, map_path=MAP, store=store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
