"""What the dashboard page looks up besides answers: the tenants it may show and a tenant's
outlets. `GET /api/v1/tenants` lists every tenant of the store by name only in development
(auth off and ENVIRONMENT not production, where any caller may read any tenant anyway);
with auth on it is the token's tenant, and in production behind a gateway the X-Tenant-Id
one. `GET /api/v1/outlets` lists the outlets with conversations in a range."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crm_metrics import Metrics

from server import params
from server.auth import request_tenant

#: The query parameters of /api/v1/outlets.
OUTLETS_ACCEPTS = ("start_date", "end_date", "tz")
HEADERS = {"Cache-Control": "private, no-cache", "Vary": "Authorization, X-Tenant-Id"}


def lists_every_tenant(request: Request) -> bool:
    state = request.app.state
    return state.auth is None and state.config.environment != "production"


async def tenants(request: Request) -> Response:
    params.given((), request.query_params)
    state = request.app.state
    if params.TENANT_HEADER.lower() in request.headers:
        # Optional here, but checked like everywhere else when sent.
        params.tenant(request.headers)
    if lists_every_tenant(request):
        listed = await run_in_threadpool(state.metrics.list_tenants)
        body: dict[str, Any] = {"listing": "all", "tenants": [tenant.to_dict() for tenant in listed]}
        return JSONResponse(body, headers=HEADERS)
    if state.auth is not None and params.TENANT_HEADER.lower() not in request.headers:
        # The token names the tenant; a page that does not know it yet asks here.
        tenant = state.auth.claimed_tenant(request.headers.get("authorization"))
        request.state.tenant_id = tenant
    else:
        tenant = request_tenant(request)
    name, zone = await run_in_threadpool(state.metrics.tenant, tenant)
    return JSONResponse({"listing": "one", "tenants": [{"id": tenant, "name": name, "timezone": zone}]}, headers=HEADERS)


async def outlets(request: Request) -> Response:
    tenant = request_tenant(request)
    query = params.query(tenant, params.given(OUTLETS_ACCEPTS, request.query_params))
    metrics: Metrics = request.app.state.metrics
    found = await run_in_threadpool(metrics.outlet_ids, query)
    return JSONResponse(found.to_dict(), headers=HEADERS)
