"""``/healthz``, ``/readyz``, ``/metrics``: for load balancers and Prometheus (no key)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from impactlens.api.security import State
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready: the reason is given."}})
def readyz(state: State) -> JSONResponse:
    """Ready to serve: the store answers and a service map is loaded."""
    checks: dict[str, str] = {}
    try:
        state.store.revision()
        checks["store"] = "ok"
    except Exception as error:  # the reason is the answer
        checks["store"] = f"unreachable: {str(error).splitlines()[0]}"
    current = state.current_map
    checks["service_map"] = f"version {current.version}" if current.model else "none loaded"
    ready = checks["store"] == "ok" and current.model is not None
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)  # fmt: skip


@router.get("/metrics", response_class=Response)
def metrics(state: State) -> Response:
    """Prometheus metrics: requests and latencies by route, incidents ingested and
    quarantined by source."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
