"""The flow tests run their flows against a temporary Prefect server and database.

`prefect_test_harness` starts one Prefect server (a subprocess, ~10 s) for the whole
session, the first time a test here asks for it; only the tests in this folder pay it.
Analytics are off so nothing looks for the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """The temporary Prefect server's API URL, for the session."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield str(PREFECT_API_URL.value())
