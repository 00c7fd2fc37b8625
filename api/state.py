"""What the service holds while it runs: the store, the current service map, and the
reviews it has already computed.

The map is read at start from ``--map`` (else the ``service_map`` setting, else the map a
``PUT /v1/service-map`` saved under ``<data_dir>``) and replaced whole by a valid PUT,
which writes the new map to ``<data_dir>/service_map.yaml`` first (atomically) so a
restart over the same settings serves it. A PUT never writes over the file ``--map`` or
the setting names: that file is the user's (hand-written, commented, perhaps read-only).
Reviews are cached per (period, key fields, as_of minute, map version, store revision):
a new ingest or map changes the key, so a cached review is never stale.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from impactlens.api.metrics import Metrics
from impactlens.api.settling import Settler
from impactlens.engine.impact import ImpactModel, build_impact_model
from impactlens.engine.weekly import WeeklyReview
from impactlens.service_map.build import build_service_map
from impactlens.service_map.load import load_service_map, parse_yaml
from impactlens.store import Store

from impactlens.analysis import review
from impactlens.errors import MapValidationError
from impactlens.settings import Settings

__all__ = ["SAVED_MAP_FILE", "CurrentMap", "ServiceState"]

log = logging.getLogger(__name__)
SAVED_MAP_FILE = "service_map.yaml"  # under data_dir, when no map file is configured
REVIEWS_KEPT = 16


@dataclass(frozen=True)
class CurrentMap:
    """The map the service scores with: its model (None: no map), file and version."""

    model: ImpactModel | None
    path: Path | None

    @property
    def version(self) -> str | None:
        return self.model.version if self.model is not None else None


class ServiceState:
    """The store, the current map and the review cache of one running service."""

    def __init__(
        self, settings: Settings, store: Store, map_path: Path | None, *, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        path = map_path or settings.service_map
        saved = settings.data_dir / SAVED_MAP_FILE
        if path is None and saved.is_file():
            path = saved
        elif path is not None and saved.is_file() and Path(path).resolve() != saved.resolve():
            log.warning("serving the map %s; the map a PUT saved at %s is not served", path, saved)
        model = build_impact_model(load_service_map(path)) if path is not None else None
        self._map = CurrentMap(model, path)
        self.settler: Settler | None = None  # set by the app when it settles impacts
        self._lock = threading.Lock()
        self._reviews: OrderedDict[tuple[object, ...], WeeklyReview] = OrderedDict()

    @property
    def current_map(self) -> CurrentMap:
        return self._map

    def replace_map(self, text: str) -> CurrentMap:
        """Validate the map `text` (YAML, or JSON, a subset of YAML), save it under the data
        folder and serve it; an invalid map raises `MapValidationError` and changes nothing."""
        records = parse_yaml(
            text, what="service map", source="the request body", invalid=MapValidationError
        )
        model = build_impact_model(build_service_map(records, source="the request body"))
        path = self.settings.data_dir / SAVED_MAP_FILE
        with self._lock:
            _write_atomically(path, text)
            self._map = CurrentMap(model, path)
            self._reviews.clear()
        if self.settler is not None:
            self.settler.settle_now()
        return self._map

    def incidents_changed(self) -> None:
        """Incidents were stored or updated: settle their impacts soon."""
        if self.settler is not None:
            self.settler.settle_soon()

    def review(
        self,
        *,
        week: str | None = None,
        month: str | None = None,
        as_of: pd.Timestamp,
        group_by: tuple[str, ...] | None = None,
        source: str | None = None,
    ) -> WeeklyReview:
        """`analysis.review` of the store, cached (see the module docstring)."""
        current = self._map
        settings = self.settings.review_settings()
        if group_by is not None:
            settings = replace(settings, group_by=group_by)
        key = (week, month, settings.group_by, source, as_of, current.version,
               self.store.revision())  # fmt: skip
        with self._lock:
            found = self._reviews.get(key)
            if found is not None:
                self._reviews.move_to_end(key)
                return found
        found = review(
            current.model, settings=settings, as_of=as_of, week=week, month=month,
            store=self.store, source=source,
        )  # fmt: skip
        with self._lock:
            self._reviews[key] = found
            while len(self._reviews) > REVIEWS_KEPT:
                self._reviews.popitem(last=False)
        return found


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
