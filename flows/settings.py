"""The settings a flow run uses: its parameters over the environment and impactlens.toml.

Every setting can be a flow parameter: the few every run may change are parameters of
their own (``service_map``, ``database_url``, ``reports_dir``); any other goes in the
``settings`` parameter by its name in impactlens.toml (``{"timezone": "Europe/Berlin"}``).
Secrets (passwords, tokens) belong in the environment of the worker, never in flow
parameters: Prefect stores parameters in its database.
"""

from __future__ import annotations

from typing import Any

from impactlens.settings import Settings, get_settings

__all__ = ["flow_settings"]


def flow_settings(settings: dict[str, Any] | None = None, **given: Any) -> Settings:
    """`get_settings` with `given` (None values ignored) over the `settings` overrides.

    >>> flow_settings({"timezone": "Europe/Berlin"}, service_map=None).timezone
    'Europe/Berlin'
    """
    return get_settings(**{**(settings or {}), **given})
