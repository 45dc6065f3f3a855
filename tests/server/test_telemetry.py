"""GET /metrics: Prometheus' text format, parsed by prometheus-client's own parser; its
counters move with traffic; where it is served depends on ENVIRONMENT and METRICS_PORT."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from crm_metrics import Metrics, Settings
from server import ServerConfig

from tests.support.api import TENANT_A, assert_error
from tests.support.engines import POSTGRES_URL, unavailable

RANGE = {"start_date": "2025-11-01", "end_date": "2025-11-04"}


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels), read by prometheus-client's parser."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_move_with_traffic(client: TestClient) -> None:
    summary = "/api/v1/metrics/summary"
    before = scrape(client)
    for _ in range(3):
        assert client.get(summary, params=RANGE, headers={"X-Tenant-Id": TENANT_A}).status_code == 200
    assert client.get(summary, params={"start_date": "nope"}, headers={"X-Tenant-Id": TENANT_A}).status_code == 400
    assert client.get("/no/such/route/123").status_code == 404
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("crm_metrics_http_requests_total", method="GET", route=summary, status="200") == 3
    assert moved("crm_metrics_http_requests_total", method="GET", route=summary, status="400") == 1
    # Paths no route matched share one label: a crawl cannot grow the series.
    assert moved("crm_metrics_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert moved("crm_metrics_http_request_duration_seconds_count", method="GET", route=summary, status="200") == 3
    assert value(after, "crm_metrics_http_request_duration_seconds_sum", method="GET", route=summary, status="200") > 0
    # The first answer is computed (a miss), the next two come from the cache.
    assert moved("crm_metrics_cache_requests_total", route=summary, outcome="miss") == 1
    assert moved("crm_metrics_cache_requests_total", route=summary, outcome="hit") == 2
    # One summary statement ran, on DuckDB, and the tenant's lookup before it.
    assert moved("crm_metrics_query_duration_seconds_count", metric="summary", engine="duckdb") == 1
    assert moved("crm_metrics_query_duration_seconds_count", metric="tenant", engine="duckdb") == 1
    # The scrape before counts too.
    assert moved("crm_metrics_http_requests_total", method="GET", route="/metrics", status="200") == 1
    # DuckDB has no pool and no scheduler runs here: their series are absent, not zero.
    assert not any(name.startswith(("crm_metrics_db_pool", "crm_metrics_scheduler")) for name, _ in after)


def test_scheduler_counts(connect: Callable[..., TestClient]) -> None:
    client = connect()
    client.app.state.scheduler = SimpleNamespace(counts=Counter(ticks=5, tick_failures=1, sent=3, retrying=2, failed=1))  # type: ignore[attr-defined]
    samples = scrape(client)
    assert value(samples, "crm_metrics_scheduler_ticks_total") == 5
    assert value(samples, "crm_metrics_scheduler_tick_failures_total") == 1
    assert [value(samples, "crm_metrics_report_deliveries_total", outcome=o) for o in ("sent", "retrying", "failed")] == [3, 2, 1]


def test_database_pool_on_postgresql(connect: Callable[..., TestClient]) -> None:
    from crm_metrics.executors.postgres import PostgresExecutor

    try:
        executor = PostgresExecutor(POSTGRES_URL, timeout=10)
    except Exception as error:  # noqa: BLE001 - any failure to connect means the service is missing
        unavailable(f"PostgreSQL at {POSTGRES_URL}: {error}")
    with Metrics(executor, Settings(database_url=POSTGRES_URL)) as metrics:
        client = connect(over=metrics)
        assert client.get("/health").json()["database"] == "connected"
        samples = scrape(client)
        size = value(samples, "crm_metrics_db_pool_connections", state="size")
        assert size >= 1
        assert value(samples, "crm_metrics_db_pool_connections", state="max") >= size
        assert value(samples, "crm_metrics_db_pool_connections", state="in_use") + value(samples, "crm_metrics_db_pool_connections", state="idle") == size
        assert ("crm_metrics_db_pool_waiting", ()) in samples


@pytest.mark.parametrize(
    ("config", "served"),
    [
        (ServerConfig(environment="development"), True),
        (ServerConfig(environment="staging"), True),
        (ServerConfig(environment="production", allow_unauthenticated=True), False),
        (ServerConfig(environment="development", metrics_port=9464), False),
    ],
)
def test_where_metrics_are_served(connect: Callable[..., TestClient], config: ServerConfig, served: bool) -> None:
    response = connect(config).get("/metrics")
    if served:
        assert response.status_code == 200
    else:
        assert_error(response, 404, "not_found")


def test_metrics_port_setting() -> None:
    assert ServerConfig.from_env({"METRICS_PORT": "9464"}).metrics_port == 9464
    assert ServerConfig.from_env({}).metrics_port is None
