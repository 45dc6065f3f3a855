from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from server.logs import JsonFormatter

from tests.support.api import TENANT_A


def access(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.fields for r in caplog.records if r.name == "server.access"]


def test_one_line_per_request(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "server.access")
    response = client.get("/api/v1/metrics/summary?start_date=2025-11-01", headers={"X-Tenant-Id": TENANT_A.upper(), "X-Request-Id": "req-42"})
    client.get("/nope")
    client.get("/api/v1/metrics/summary?tz=Nowhere", headers={"X-Tenant-Id": TENANT_A})
    assert response.headers["x-request-id"] == "req-42"
    (ok, missing, bad) = access(caplog)
    assert {k: v for k, v in ok.items() if k != "latency_ms"} == {
        "request_id": "req-42",
        "method": "GET",
        "path": "/api/v1/metrics/summary",
        "route": "/api/v1/metrics/summary",
        "status": 200,
        "tenant_id": TENANT_A,
        "cache": "miss",
    }
    assert isinstance(ok["latency_ms"], float) and ok["latency_ms"] >= 0
    assert (missing["status"], missing["route"], missing["tenant_id"], missing["cache"]) == (404, None, None, None)
    assert (bad["status"], bad["tenant_id"], bad["cache"]) == (400, TENANT_A, None)


@pytest.mark.parametrize("given", [b"", b"a b", b"x" * 129, "id\u00e9".encode(), b"a\r\nSet-Cookie: x"])
def test_unusable_request_ids_are_replaced(client: TestClient, given: bytes) -> None:
    response = client.get("/health", headers={"X-Request-Id": given})
    assert len(response.headers["x-request-id"]) == 32 and response.headers["x-request-id"].encode() != given


def test_json_lines() -> None:
    record = logging.LogRecord("server.access", logging.INFO, __file__, 1, "GET %s", ("/health",), None)
    record.fields = {"status": 200, "tenant_id": None}
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["message"], entry["status"], entry["tenant_id"]) == ("info", "server.access", "GET /health", 200, None)
