"""The routes. The metrics handlers parse the request, ask `Metrics` (in the threadpool: its
calls block) through the cache, and send `crm_metrics.to_json` of the answer, byte for byte
what `crm-metrics query ... --format json` prints."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crm_metrics import Metrics, to_json

from server import events, formats, lookups, params, reports
from server.cache import cache_key
from server.auth import request_tenant
from server.etag import etag, not_modified
from server.health import health
from server.openapi import openapi

#: Answers differ per tenant and credentials: shared caches must not reuse them, clients
#: must revalidate (cheap: a matching ETag gets 304).
CACHE_CONTROL = "private, no-cache"
VARY = "Accept, Authorization, X-Tenant-Id"


def _endpoint(kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await _answer(request, kind)

    endpoint.__name__ = kind
    return endpoint


async def _answer(request: Request, kind: str) -> Response:
    return await _respond(request, params.ask(kind, request_tenant(request), request.query_params))


async def custom(request: Request) -> Response:
    """GET /api/v1/metrics/custom/{name}: a custom metric (docs/custom-metrics.md), with the
    built-in answers' auth, validation, cache, ETag, CSV and errors."""
    tenant = request_tenant(request)
    metric = await run_in_threadpool(request.app.state.metrics.custom.get, request.path_params["name"])
    return await _respond(request, params.ask_custom(metric, tenant, request.query_params))


async def catalogue(request: Request) -> Response:
    """GET /api/v1/metrics: every metric, built-in and custom (refused ones with their error)."""
    request_tenant(request)
    params.given((), request.query_params)
    entries = await run_in_threadpool(request.app.state.metrics.catalogue)
    return Response(to_json_value({"metrics": entries}), media_type="application/json", headers={"Cache-Control": CACHE_CONTROL, "Vary": VARY})


def to_json_value(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


async def _respond(request: Request, ask: params.Ask) -> Response:
    state = request.app.state
    compute = functools.partial(run_in_threadpool, _body, state.metrics, ask)
    # The cache holds the JSON body; other formats are renderings of it.
    generation = await state.results.generation(ask.query.tenant_id)
    key = cache_key(state.config.cache_key_prefix, ask, generation, state.metrics.fingerprint)
    body, outcome = await state.results.get(key, compute)
    request.state.cache = outcome
    fmt = formats.negotiated(ask.format, request.headers.get("accept"))
    body, extra = formats.rendered(body, fmt, ask.name or ask.kind)
    # The tag is of the bytes sent: a CSV and a JSON answer never share one.
    tag = etag(body)
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, "Vary": VARY}
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=fmt.media_type, headers={**headers, **extra})


def _body(metrics: Metrics, ask: params.Ask) -> bytes:
    if ask.kind == params.CUSTOM:
        assert ask.name is not None
        return to_json(metrics.custom_answer(ask.name, ask.query, dict(ask.extras))).encode()
    return to_json(metrics.answer(ask.kind, ask.query)).encode()


ROUTES = [
    Route("/health", health, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    # One route per answer (server.params.ACCEPTS): dashboard, summary, overview, responses, outcomes, outlets, heatmap, ...
    *(Route(f"/api/v1/metrics/{kind}", _endpoint(kind), methods=["GET"]) for kind in params.ACCEPTS),
    Route("/api/v1/metrics", catalogue, methods=["GET"]),
    Route("/api/v1/metrics/custom/{name}", custom, methods=["GET"]),
    Route("/api/v1/tenants", lookups.tenants, methods=["GET"]),
    Route("/api/v1/outlets", lookups.outlets, methods=["GET"]),
    Route("/api/v1/reports/summary.pdf", reports.summary_pdf, methods=["GET"]),
    Route("/api/v1/events", events.post, methods=["POST"]),
]
