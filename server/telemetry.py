"""GET /metrics: what operators scrape, in Prometheus' text format (prometheus-client).

Each app has its own registry (tests run many apps in one process). It counts requests and
times them per method, route and status (the route's path; `unmatched` for no route, so a
crawl cannot grow the label set), counts how the answer cache served them, times every SQL
statement per metric template and engine (`Metrics.query_observers`), and reads at scrape time
the database pool, the tenant service's lookups and the report scheduler's counts.

Where it is served (docs/deploy.md): on the public port unless ENVIRONMENT=production; with
METRICS_PORT on that port alone (HOST, `start_http_server`), never on the public one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_metrics import Metrics

#: Latency buckets (seconds): a cached answer takes a millisecond, a cold BigQuery one seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "unmatched"


class Telemetry:
    def __init__(self, metrics: Metrics, scheduler: Callable[[], Any]) -> None:
        """`scheduler` returns the report scheduler running in this process, if any."""
        self.registry = CollectorRegistry()
        labels = ["method", "route", "status"]
        self.requests = Counter("crm_metrics_http_requests", "HTTP requests answered", labels, registry=self.registry)
        self.latency = Histogram("crm_metrics_http_request_duration_seconds", "Time to answer an HTTP request", labels, buckets=BUCKETS, registry=self.registry)
        self.cache = Counter(
            "crm_metrics_cache_requests",
            "Metrics answers by how the cache served them: hit, miss, shared (joined a running query), uncached (the cache failed), off",
            ["route", "outcome"],
            registry=self.registry,
        )
        self.queries = Histogram(
            "crm_metrics_query_duration_seconds", "Time of one SQL statement, by metric template and engine", ["metric", "engine"], buckets=BUCKETS, registry=self.registry
        )
        self.registry.register(_Live(metrics, scheduler))

    def observe_query(self, metric: str, engine: str, seconds: float) -> None:
        self.queries.labels(metric, engine).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def endpoint(request: Request) -> Response:
    return Response(request.app.state.telemetry.exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def route_labels(routes: Iterable[BaseRoute]) -> Callable[[str], str]:
    """A request path -> the route it matched: a route's path, a mount's prefix, or `unmatched`."""
    exact = {route.path for route in routes if isinstance(route, Route)}
    mounts = [route.path for route in routes if isinstance(route, Mount)]

    def label(path: str) -> str:
        if path in exact:
            return path
        return next((mount for mount in mounts if path.startswith(mount + "/")), UNMATCHED)

    return label


class Measure:
    """ASGI middleware: counts and times every HTTP request, and the cache's outcome."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry, label: Callable[[str], str]) -> None:
        self.app = app
        self.telemetry = telemetry
        self.label = label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = self.label(scope["path"])
            labels = (scope["method"], route, str(status))
            self.telemetry.requests.labels(*labels).inc()
            self.telemetry.latency.labels(*labels).observe(time.perf_counter() - started)
            outcome = scope.get("state", {}).get("cache")
            if outcome:
                self.telemetry.cache.labels(route, outcome).inc()


class _Live(Collector):
    """Read at scrape time: the database pool, the tenant service's lookups, the report
    scheduler's counts."""

    def __init__(self, metrics: Metrics, scheduler: Callable[[], Any]) -> None:
        self.metrics = metrics
        self.scheduler = scheduler

    def collect(self) -> Iterator[Any]:
        stats = self.metrics.pool_stats()
        if stats is not None:
            pool = GaugeMetricFamily("crm_metrics_db_pool_connections", "Database pool connections: size (open), idle, in_use, max", labels=["state"])
            for state, value in (("size", stats["size"]), ("idle", stats["idle"]), ("in_use", stats["size"] - stats["idle"]), ("max", stats["max"])):
                pool.add_metric([state], value)
            yield pool
            yield GaugeMetricFamily("crm_metrics_db_pool_waiting", "Requests waiting for a pooled database connection", value=stats["waiting"])
        service = self.metrics.tenant_service
        if service is not None:
            lookups = CounterMetricFamily("crm_metrics_tenant_service_lookups", "Tenant service lookups by outcome: found, unknown (404), unavailable (the tenants table answered)", labels=["outcome"])
            for outcome in ("found", "unknown", "unavailable"):
                lookups.add_metric([outcome], service.counts[outcome])
            yield lookups
        running = self.scheduler()
        if running is not None:
            counts = running.counts
            yield CounterMetricFamily("crm_metrics_scheduler_ticks", "Report scheduler runs (each sends what is due)", value=counts["ticks"])
            yield CounterMetricFamily("crm_metrics_scheduler_tick_failures", "Report scheduler runs that failed (the store did not answer, say)", value=counts["tick_failures"])
            deliveries = CounterMetricFamily("crm_metrics_report_deliveries", "Report delivery attempts by outcome: sent, retrying, failed (given up)", labels=["outcome"])
            for outcome in ("sent", "retrying", "failed"):
                deliveries.add_metric([outcome], counts[outcome])
            yield deliveries
