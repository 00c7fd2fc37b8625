"""What the tests of a real ``impactlens serve`` process share: the CLI run as a user
runs it, a free port, and a server started over a data folder and stopped after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import MAP

STARTUP_SECONDS = 20.0
COMMAND_SECONDS = 30.0
SCRIPT = Path(sys.executable).with_name("impactlens")
IMPACTLENS = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "impactlens.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any IMPACTLENS_* setting, plus the data folder."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("IMPACTLENS_")}
    return {**env, "IMPACTLENS_DATA_DIR": str(data_dir), **extra}


def impactlens(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*IMPACTLENS, *args], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=COMMAND_SECONDS,
    )  # fmt: skip


def create_key(data_dir: Path, scope: str, name: str) -> str:
    done = impactlens("keys", "create", "--scope", scope, "--name", name,
                      env=environment(data_dir), cwd=data_dir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("il_"), done.stdout
    return key


class Server:
    """One ``impactlens serve`` process (no shell between: `pid` is uvicorn's process)."""

    def __init__(self, data_dir: Path, *, port: int, log: Path, **settings: str) -> None:
        """Serve the fixture map over `data_dir`, with `settings` (``IMPACTLENS_*``
        variables) besides the data folder."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [*IMPACTLENS, "serve", "--host", "127.0.0.1", "--port", str(port), "--map", str(MAP)],
            env=environment(data_dir, **settings), cwd=data_dir, stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.log = log

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"the server exited ({self.process.returncode}): {self.log.read_text()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(
            f"no answer on {self.url}/healthz in {STARTUP_SECONDS:.0f} s: {self.log.read_text()}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
