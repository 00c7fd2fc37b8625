"""Settling impacts in the background while the service runs (`impactlens.settled`).

One daemon thread per service: it settles at start, as soon as a map is replaced, and
after incidents are ingested, at most once per `PAUSE_SECONDS` then (a stream of webhook
events makes one settle, not one each). Until an incident is settled its impact is
derived on request, with the same answer, so nothing waits for this thread. A failure is
logged and retried at the next request; stopping waits for the batch under way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from impactlens.engine.impact import ImpactModel
from impactlens.store import Store

from impactlens.settled import settle_impacts

__all__ = ["PAUSE_SECONDS", "Settler"]

log = logging.getLogger(__name__)
PAUSE_SECONDS = 30.0


class Settler:
    """Settles the impacts of `store` under the model `current_model` returns (None: no
    map, nothing to settle) on a thread of its own."""

    def __init__(
        self,
        store: Store,
        current_model: Callable[[], ImpactModel | None],
        *,
        pause: float | None = None,
    ) -> None:
        self._store = store
        self._current_model = current_model
        self._pause = PAUSE_SECONDS if pause is None else pause
        self._condition = threading.Condition()
        self._due: float | None = None  # monotonic moment of the next settle; None: none asked
        self._stopping = False
        self._idle = True
        self._thread = threading.Thread(target=self._run, name="impactlens-settler", daemon=True)

    def start(self) -> None:
        """Start the thread and settle now."""
        self.settle_now()
        self._thread.start()

    def settle_now(self) -> None:
        """Settle as soon as the thread is free (after a map is replaced)."""
        self._ask(time.monotonic())

    def settle_soon(self) -> None:
        """Settle within the pause (after incidents are ingested)."""
        self._ask(time.monotonic() + self._pause)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the batch under way (waiting up to `timeout` seconds)."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Whether the thread has nothing asked of it left, within `timeout` seconds (tests)."""
        with self._condition:
            return self._condition.wait_for(
                lambda: self._idle and self._due is None, timeout=timeout
            )

    def _ask(self, due: float) -> None:
        with self._condition:
            self._due = due if self._due is None else min(self._due, due)
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and (self._due is None or self._due > time.monotonic()):
                    wait = None if self._due is None else self._due - time.monotonic()
                    self._condition.wait(wait)
                if self._stopping:
                    return
                self._due = None
                self._idle = False
            try:
                model = self._current_model()
                if model is not None:
                    summary = settle_impacts(self._store, model, stop=lambda: self._stopping)
                    if summary.settled:
                        log.info("settled %d incidents' impacts under map %s in %.1f s",
                                 summary.settled, summary.map_version, summary.seconds)  # fmt: skip
            except Exception:  # a store or map error must not end the thread: retry later
                log.exception("settling impacts failed; retried at the next ingest or map")
            finally:
                with self._condition:
                    self._idle = True
                    self._condition.notify_all()
