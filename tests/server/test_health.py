from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from crm_metrics import Metrics, Settings, __version__
from server import ServerConfig

from tests.server.support import memory_metrics


def test_healthy(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "status": "healthy",
        "service": "crm-metrics",
        "version": __version__,
        "environment": "development",
        "database": "connected",
        "bigquery": "not_configured",
        "cache": "in_process",
    }


def test_environment_and_bigquery(connect: Callable[..., TestClient], metrics: Metrics) -> None:
    on_bigquery = Metrics(metrics.executor, Settings(database_url="bigquery://my-project/crm_analytics"))
    body = connect(ServerConfig(environment="staging"), over=on_bigquery).get("/health").json()
    assert (body["environment"], body["bigquery"]) == ("staging", "configured")


def test_database_down(connect: Callable[..., TestClient]) -> None:
    metrics = memory_metrics()
    client = connect(over=metrics)
    metrics.close()
    response = client.get("/health")
    assert response.status_code == 503
    assert (response.json()["status"], response.json()["database"]) == ("unhealthy", "disconnected")
