"""TENANT_SERVICE_URL: names and timezones from a real HTTP tenant service on loopback that
answers, is slow (the timeout is hit), errors and disappears; the tenants table answers
meanwhile, /health says so, and the cache asks once per tenant per TENANT_CACHE_SECONDS."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from crm_metrics import ConfigError, Metrics, Settings
from server import ServerConfig

from tests.support.api import FIXED_NOW, TENANT_A, TENANT_B, assert_error, load
from tests.support.tenant_service import FakeTenantService

UNLISTED = "00000000-0000-0000-0000-0000000000ff"
RANGE = {"start_date": "2025-11-01", "end_date": "2025-11-04"}
TIMEOUT = 0.2


@pytest.fixture
def service() -> Iterator[FakeTenantService]:
    fake = FakeTenantService(
        {
            TENANT_A: {"id": TENANT_A, "name": "Acme (service)", "timezone": "Europe/Berlin"},
            UNLISTED: {"id": UNLISTED, "name": "Only in the service", "timezone": "America/Sao_Paulo"},
        }
    )
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test data in a DuckDB file, loaded once: each test opens it read-only with its own settings."""
    url = f"duckdb:///{tmp_path_factory.mktemp('tenants') / 'crm.duckdb'}"
    with Metrics.connect(settings=Settings(database_url=url)) as metrics:
        load(metrics)
    return url


def served(service: FakeTenantService, database: str, **settings: object) -> Metrics:
    values: dict[str, object] = {"database_url": database, "tenant_service_url": service.url, "tenant_service_timeout_seconds": TIMEOUT, "tenant_cache_seconds": 60.0}
    return Metrics.connect(settings=Settings(**{**values, **settings}), read_only=True, clock=lambda: FIXED_NOW)


def summary(client: TestClient, tenant: str) -> dict[str, object]:
    response = client.get("/api/v1/metrics/summary", params=RANGE, headers={"X-Tenant-Id": tenant})
    assert response.status_code == 200, response.text
    return response.json()


def test_names_and_timezones_come_from_the_service(service: FakeTenantService, database: str, connect: Callable[..., TestClient]) -> None:
    with served(service, database) as metrics:
        client = connect(over=metrics)
        assert summary(client, TENANT_A)["tenant_name"] == "Acme (service)"
        assert summary(client, UNLISTED)["tenant_name"] == "Only in the service"
        # The service's timezone cuts the days: the default range ends "today" in Berlin.
        assert metrics.tenant(TENANT_A) == ("Acme (service)", "Europe/Berlin")
        # A tenant the service does not know keeps the table's name (without REQUIRE_KNOWN_TENANT).
        assert summary(client, TENANT_B)["tenant_name"] == "Globex"
        assert client.get("/health").json()["tenant_service"] == "available"
        scraped = client.get("/metrics").text.splitlines()
        assert 'crm_metrics_tenant_service_lookups_total{outcome="found"} 2.0' in scraped
        assert 'crm_metrics_tenant_service_lookups_total{outcome="unknown"} 1.0' in scraped
    assert service.calls == {TENANT_A: 1, UNLISTED: 1, TENANT_B: 1}


def test_the_same_inside_a_data_object(database: str) -> None:
    service = FakeTenantService({TENANT_A: {"id": TENANT_A, "name": "Wrapped", "timezone": "Asia/Tokyo"}}, wrapped=True)
    try:
        with served(service, database) as metrics:
            assert metrics.tenant(TENANT_A) == ("Wrapped", "Asia/Tokyo")
    finally:
        service.stop()


@pytest.mark.parametrize("mode", ["slow", "error", "garbage", "gone"])
def test_a_failing_service_falls_back_to_the_table(service: FakeTenantService, database: str, connect: Callable[..., TestClient], mode: str) -> None:
    with served(service, database) as metrics:
        client = connect(over=metrics)
        if mode == "gone":
            service.stop()
        else:
            service.mode, service.delay = mode, 5.0
        started = time.monotonic()
        assert summary(client, TENANT_A)["tenant_name"] == "Acme Corp"  # the tenants table's
        # The timeout, not the service's 5 seconds, bounds the wait.
        assert time.monotonic() - started < 2.0
        assert metrics.tenant(TENANT_A) == ("Acme Corp", "Asia/Jakarta")
        # Neither the table nor the service: no name, UTC.
        body = summary(client, UNLISTED)
        assert body["tenant_name"] is None
        assert client.get("/api/v1/metrics/summary", headers={"X-Tenant-Id": UNLISTED}).status_code == 200
        health = client.get("/health")
        assert (health.status_code, health.json()["status"], health.json()["tenant_service"]) == (200, "degraded", "unavailable")
        scraped = client.get("/metrics").text.splitlines()
        assert 'crm_metrics_tenant_service_lookups_total{outcome="unavailable"} 2.0' in scraped


def test_health_recovers_when_the_service_answers_again(service: FakeTenantService, database: str, connect: Callable[..., TestClient]) -> None:
    with served(service, database, tenant_cache_seconds=0.0) as metrics:
        client = connect(ServerConfig(cache_ttl_seconds=0), over=metrics)
        service.mode = "error"
        summary(client, TENANT_A)
        assert client.get("/health").json()["tenant_service"] == "unavailable"
        service.mode = "answer"
        assert summary(client, TENANT_A)["tenant_name"] == "Acme (service)"
        assert client.get("/health").json()["tenant_service"] == "available"


def test_one_call_per_tenant_per_ttl_under_concurrent_requests(service: FakeTenantService, database: str) -> None:
    service.mode, service.delay = "slow", 0.1  # slow enough that the requests overlap
    # Far under the timeout, however loaded the machine (a full parallel run once took 0.2 s).
    with served(service, database, tenant_cache_seconds=0.5, tenant_service_timeout_seconds=2.0) as metrics:
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(metrics.tenant, [TENANT_A, UNLISTED] * 16))
        assert set(answers) == {("Acme (service)", "Europe/Berlin"), ("Only in the service", "America/Sao_Paulo")}
        assert service.calls == {TENANT_A: 1, UNLISTED: 1}
        time.sleep(0.6)  # the TTL passed: asked again, once
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(metrics.tenant, [TENANT_A] * 8))
        assert service.calls[TENANT_A] == 2


def test_require_known_tenant(service: FakeTenantService, database: str, connect: Callable[..., TestClient]) -> None:
    with served(service, database, require_known_tenant=True) as metrics:
        client = connect(over=metrics)
        assert summary(client, TENANT_A)["tenant_name"] == "Acme (service)"
        # TENANT_B has rows and a tenants-table row, but the service answers 404.
        response = client.get("/api/v1/metrics/dashboard", params=RANGE, headers={"X-Tenant-Id": TENANT_B})
        error = assert_error(response, 404, "tenant_not_found", "X-Tenant-Id")
        assert TENANT_B in error["message"]
        # While the service is down nobody can say a tenant is unknown: answers still come.
        service.stop()
        metrics.tenants.forget()
        assert summary(client, TENANT_B)["tenant_name"] == "Globex"


def test_settings() -> None:
    settings = Settings.from_env({"TENANT_SERVICE_URL": "http://tenant-service:3001/", "REQUIRE_KNOWN_TENANT": "true"})
    assert (settings.tenant_service_url, settings.require_known_tenant, settings.tenant_service_timeout_seconds) == ("http://tenant-service:3001", True, 1.0)
    with pytest.raises(ConfigError, match="REQUIRE_KNOWN_TENANT"):
        Settings.from_env({"REQUIRE_KNOWN_TENANT": "true"})
    for name, value in [("TENANT_SERVICE_URL", "tenant-service:3001"), ("TENANT_SERVICE_TIMEOUT_SECONDS", "0"), ("REQUIRE_KNOWN_TENANT", "maybe")]:
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: value, "TENANT_SERVICE_URL": "http://t:1"} if name != "TENANT_SERVICE_URL" else {name: value})


def test_without_the_service_health_says_not_configured(client: TestClient) -> None:
    assert client.get("/health").json()["tenant_service"] == "not_configured"
