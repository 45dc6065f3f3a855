"""GET /health: the seed's fields plus `cache`, `reports` and `tenant_service`.

200 `healthy`, or 200 `degraded` when only the cache fails, the tenant service does not answer
(names come from the tenants table) or a scheduled report's latest delivery failed (answers
are still served; `failing_reports` says which);
503 `unhealthy` with `database: "disconnected"` when the database does not answer.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crm_metrics import Metrics, __version__
from crm_metrics.deliveries import Deliveries

log = logging.getLogger("server.health")

SERVICE = "crm-metrics"


async def health(request: Request) -> Response:
    state = request.app.state
    # One round trip to the database answers both `database` and `bigquery`.
    try:
        checked = await run_in_threadpool(state.metrics.health)
    except Exception as error:  # whatever the failure, the answer is "disconnected"
        checked = {"database": "disconnected", "bigquery": "not_configured", "reason": str(error)}
    database, bigquery = checked["database"], checked["bigquery"]
    if database != "connected":
        log.error("database does not answer: %s", checked.get("reason"))
    cache = await state.results.status()
    tenant_service = await run_in_threadpool(state.metrics.tenant_service_status)
    failing = await run_in_threadpool(_failing_reports, state.metrics) if database == "connected" else []
    degraded = cache == "unavailable" or tenant_service == "unavailable" or bool(failing)
    status = "unhealthy" if database != "connected" else "degraded" if degraded else "healthy"
    body = {
        "status": status,
        "service": SERVICE,
        "version": __version__,
        "environment": state.config.environment,
        "database": database,
        "bigquery": bigquery,
        "cache": cache,
        "reports": "failing" if failing else "ok",
        "tenant_service": tenant_service,
    }
    if failing:
        body["failing_reports"] = failing
    return JSONResponse(body, status_code=503 if status == "unhealthy" else 200, headers={"Cache-Control": "no-store"})



def _failing_reports(metrics: Metrics) -> list[dict[str, Any]]:
    """Scheduled reports whose latest delivery failed, from the scheduler's record in the
    store (whichever process runs the scheduler)."""
    try:
        failures = Deliveries(metrics).failing()
    except Exception as error:  # the record is unreadable: say so, and keep answering
        log.warning("cannot read the report scheduler's record: %s", error)
        return []
    return [
        {"report": f.entry, "period_start": f.period_start.isoformat(), "period_end": f.period_end.isoformat(), "status": f.status, "attempts": f.attempts, "error": f.last_error}
        for f in failures
    ]
