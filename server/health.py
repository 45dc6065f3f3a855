"""GET /health: the seed's fields plus `cache`, `reports`, `tenant_service` and, on
PostgreSQL with the live rollup, `rollup` (its lag: changes not applied yet and the oldest
one's age); and `events` where the server consumes an events stream (its state, lag and pending
entries, dead-lettered count).

200 `healthy`, or 200 `degraded` when only the cache fails, the tenant service does not answer
(names come from the tenants table), a scheduled report's latest delivery failed (answers are
still served; `failing_reports` says which), the rollup lags more than
ROLLUP_LAG_DEGRADED_SECONDS, the events consumer fails or a custom metric file was refused
(`custom_metrics` lists it; the others keep answering); 503 `unhealthy` with
`database: "disconnected"` when the database does not answer.
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
#: A rollup whose oldest unapplied write is older than this makes the service `degraded`: the
#: applier is far behind (a bulk load) or not running (no `crm-metrics serve` applies, or its
#: role may not write the derived tables; its log says why).
ROLLUP_LAG_DEGRADED_SECONDS = 60.0


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
    rollup = await run_in_threadpool(_rollup, state.metrics) if database == "connected" else None
    lagging = rollup is not None and rollup["lag_seconds"] > ROLLUP_LAG_DEGRADED_SECONDS
    consumer = getattr(state, "consumer", None)
    stream = await run_in_threadpool(consumer.health) if consumer is not None else None
    custom = await run_in_threadpool(_custom_metrics, state.metrics)
    refused = custom is not None and bool(custom["refused"])
    degraded = cache == "unavailable" or tenant_service == "unavailable" or bool(failing) or lagging or refused or (stream is not None and stream["state"] == "failing")
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
    if rollup is not None:
        body["rollup"] = rollup
    if stream is not None:
        body["events"] = stream
    if custom is not None:
        body["custom_metrics"] = custom
    return JSONResponse(body, status_code=503 if status == "unhealthy" else 200, headers={"Cache-Control": "no-store"})



def _custom_metrics(metrics: Metrics) -> dict[str, Any] | None:
    """The custom metrics of CRM_METRICS_PATH: how many serve, and the refused files' errors
    (they make the service `degraded`; the others keep answering). None without the setting."""
    if metrics.custom.path is None:
        return None
    every = metrics.custom.all()
    return {"loaded": sum(m.ok for m in every), "refused": [{"name": m.name, "error": m.error} for m in every if not m.ok]}


def _rollup(metrics: Metrics) -> dict[str, Any] | None:
    """The live rollup's lag, or None without it (or when it cannot be read: logged)."""
    try:
        changes = metrics.changes()
    except Exception as error:
        log.warning("cannot read the rollup's queue: %s", error)
        return None
    if changes is None:
        return None
    return {"pending_changes": changes.pending, "lag_seconds": round(changes.lag_seconds, 3)}


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
