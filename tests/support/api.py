"""Shared test data and the one helper that checks the error shape of every route."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Callable
from typing import Any

from crm_metrics import Metrics, Settings

from tests.support.engines import FIXED_NOW

TENANT_A = "00000000-0000-0000-0000-000000000001"
TENANT_B = "00000000-0000-0000-0000-000000000002"
OUTLET = "11111111-1111-1111-1111-111111111111"


def _conversation(n: int, tenant: str, started: str, status: str, outlet: str | None = None) -> dict[str, Any]:
    return {
        "id": f"conv-{n}",
        "tenant_id": tenant,
        "outlet_id": outlet,
        "customer_phone": f"+6281000000{n:02d}",
        "status": status,
        "started_at": started,
        "ended_at": None,
        "last_message_at": None,
    }


def _message(n: int, conversation: int, sender: str, at: str, metadata: Any = None) -> dict[str, Any]:
    return {
        "id": f"msg-{n:03d}",
        "conversation_id": f"conv-{conversation}",
        "sender_type": sender,
        "sender_id": None,
        "content": "hello",
        "timestamp": at,
        "metadata": metadata,
    }


ROWS: dict[str, list[dict[str, Any]]] = {
    "tenants": [
        {"id": TENANT_A, "name": "Acme Corp", "timezone": "Asia/Jakarta"},
        {"id": TENANT_B, "name": "Globex", "timezone": None},
    ],
    "conversations": [
        _conversation(1, TENANT_A, "2025-11-01T02:00:00Z", "resolved", OUTLET),
        _conversation(2, TENANT_A, "2025-11-02T03:00:00Z", "handed_off"),
        _conversation(3, TENANT_A, "2025-11-03T20:00:00Z", "active", OUTLET),
        _conversation(4, TENANT_B, "2025-11-02T10:00:00Z", "resolved"),
    ],
    "messages": [
        _message(1, 1, "customer", "2025-11-01T02:00:00Z"),
        _message(2, 1, "llm", "2025-11-01T02:00:20Z", {"tokens_used": 500}),
        _message(3, 2, "customer", "2025-11-02T03:00:00Z"),
        _message(4, 2, "llm", "2025-11-02T03:00:30Z", {"tokens_used": 700, "handoff_requested": True, "trigger": "keyword"}),
        _message(5, 2, "agent", "2025-11-02T03:05:00Z"),
        _message(6, 3, "customer", "2025-11-03T20:00:00Z"),
        _message(7, 4, "customer", "2025-11-02T10:00:00Z"),
        _message(8, 4, "llm", "2025-11-02T10:00:05Z", {"tokens_used": 100}),
    ],
}


def load(metrics: Metrics) -> Metrics:
    metrics.store.init_db()
    for table, rows in ROWS.items():
        metrics.store.load_rows(table, rows)
    return metrics


def memory_metrics(clock: Callable[[], dt.datetime] = lambda: FIXED_NOW, **settings: Any) -> Metrics:
    """The test data in an in-memory DuckDB, with a fixed clock."""
    config = Settings(database_url="duckdb:///:memory:", **settings)
    return load(Metrics.connect(settings=config, clock=clock))


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape: status, JSON body {"error": {code, field, message}}, the field
    named in the message, no traceback, and a request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    body = json.loads(response.content)
    assert list(body) == ["error"]
    error = body["error"]
    assert sorted(error) == ["code", "field", "message"]
    assert (error["code"], error["field"]) == (code, field), error
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert field in error["message"], error
    assert "Traceback" not in response.text and 'File "' not in response.text
    return error


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
