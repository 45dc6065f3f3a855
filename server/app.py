"""`create_app(metrics, config)`: the Starlette app. It does not own `metrics` (the caller
opens and closes it); it owns the cache connection, closed when the app shuts down."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from crm_metrics import Metrics

from server import openapi
from server.access_log import AccessLog
from server.auth import authenticator
from server.cache import results
from server.config import ServerConfig
from server.errors import EXCEPTION_HANDLERS
from server.page import PAGE_ROUTES, html
from server.routes import ROUTES
from server.telemetry import Measure, Telemetry, endpoint, route_labels


def create_app(metrics: Metrics, config: ServerConfig | None = None) -> Starlette:
    """Raises `ConfigError` for a configuration the server must not run with."""
    config = config or ServerConfig()
    auth = authenticator(config)
    cache = results(config)
    telemetry = Telemetry(metrics, lambda: getattr(app.state, "scheduler", None))
    routes = [*ROUTES, *PAGE_ROUTES]
    if config.metrics_on_public_port:
        routes.append(Route("/metrics", endpoint, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        metrics.query_observers.append(telemetry.observe_query)
        try:
            yield
        finally:
            metrics.query_observers.remove(telemetry.observe_query)
            await cache.close()

    middleware = [Middleware(Measure, telemetry=telemetry, label=route_labels(routes)), Middleware(AccessLog)]
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=config.cors_origins,
                allow_methods=["GET"],
                allow_headers=["Authorization", "X-Tenant-Id", "X-Request-Id", "If-None-Match"],
                expose_headers=["ETag", "X-Request-Id"],
            )
        )
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    # A trailing slash gets the JSON 404 (naming the route without it), not an empty 307.
    app.router.redirect_slashes = False
    app.state.metrics = metrics
    app.state.config = config
    app.state.auth = auth
    app.state.results = cache
    app.state.telemetry = telemetry
    #: The report scheduler running beside the server, if any (`crm-metrics serve --schedule`).
    app.state.scheduler = None
    app.state.openapi = openapi.build(auth=auth is not None)
    app.state.page = html()
    return app
