from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from crm_metrics import BackendUnavailable, Metrics, Settings, __version__
from server import ServerConfig

from tests.support.api import memory_metrics


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
        "reports": "ok",
        "tenant_service": "not_configured",
    }


class _BigQuery:
    """Stands in for the BigQuery executor: /health only pings it."""

    dialect = "bigquery"
    description = "bigquery://my-project/crm_analytics"

    def __init__(self, answers: bool) -> None:
        self.answers = answers

    def ping(self) -> None:
        if not self.answers:
            raise BackendUnavailable("BigQuery does not answer")

    def close(self) -> None: ...


@pytest.mark.parametrize(("answers", "status", "bigquery"), [(True, 200, "configured"), (False, 503, "unreachable")])
def test_environment_and_bigquery(connect: Callable[..., TestClient], answers: bool, status: int, bigquery: str) -> None:
    on_bigquery = Metrics(_BigQuery(answers), Settings(database_url="bigquery://my-project/crm_analytics"))  # type: ignore[arg-type]
    response = connect(ServerConfig(environment="staging"), over=on_bigquery).get("/health")
    assert response.status_code == status
    assert (response.json()["environment"], response.json()["bigquery"]) == ("staging", bigquery)


def test_other_engines_say_bigquery_is_not_configured(connect: Callable[..., TestClient], metrics: Metrics) -> None:
    assert connect(over=metrics).get("/health").json()["bigquery"] == "not_configured"


def test_database_down(connect: Callable[..., TestClient]) -> None:
    metrics = memory_metrics()
    client = connect(over=metrics)
    metrics.close()
    response = client.get("/health")
    assert response.status_code == 503
    assert (response.json()["status"], response.json()["database"]) == ("unhealthy", "disconnected")
