from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from crm_metrics import Metrics
from server import ServerConfig, create_app

from tests.support.api import TENANT_A, memory_metrics


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    with memory_metrics() as metrics:
        yield metrics


@pytest.fixture
def connect(metrics: Metrics) -> Iterator[Callable[..., TestClient]]:
    """Start the app (lifespan included) over `metrics`, or over given metrics, with a config."""
    clients: list[TestClient] = []

    def start(config: ServerConfig | None = None, over: Metrics | None = None, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(over or metrics, config or ServerConfig()), **kwargs)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(connect: Callable[..., TestClient]) -> TestClient:
    return connect()


@pytest.fixture
def tenant_headers() -> dict[str, str]:
    return {"X-Tenant-Id": TENANT_A}
