"""`create_app(metrics, config)`: the Starlette app. It does not own `metrics` (the caller
opens and closes it); it owns the cache connection, closed when the app shuts down."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from crm_metrics import Metrics

from server import openapi
from server.access_log import AccessLog
from server.auth import authenticator
from server.cache import results
from server.config import ServerConfig
from server.errors import EXCEPTION_HANDLERS
from server.page import PAGE_ROUTES, html
from server.routes import ROUTES


def create_app(metrics: Metrics, config: ServerConfig | None = None) -> Starlette:
    """Raises `ConfigError` for a configuration the server must not run with."""
    config = config or ServerConfig()
    auth = authenticator(config)
    cache = results(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await cache.close()

    middleware = [Middleware(AccessLog)]
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
    app = Starlette(routes=[*ROUTES, *PAGE_ROUTES], middleware=middleware, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    # A trailing slash gets the JSON 404 (naming the route without it), not an empty 307.
    app.router.redirect_slashes = False
    app.state.metrics = metrics
    app.state.config = config
    app.state.auth = auth
    app.state.results = cache
    app.state.openapi = openapi.build(auth=auth is not None)
    app.state.page = html()
    return app
