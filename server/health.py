"""GET /health: the seed's fields plus `cache`.

200 `healthy`, or 200 `degraded` when only the cache fails (answers are still served);
503 `unhealthy` with `database: "disconnected"` when the database does not answer.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crm_metrics import __version__

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
    status = "unhealthy" if database != "connected" else "degraded" if cache == "unavailable" else "healthy"
    body = {
        "status": status,
        "service": SERVICE,
        "version": __version__,
        "environment": state.config.environment,
        "database": database,
        "bigquery": bigquery,
        "cache": cache,
    }
    return JSONResponse(body, status_code=503 if status == "unhealthy" else 200, headers={"Cache-Control": "no-store"})

