"""Every route answers errors in the one shape (support.assert_error), never a 500 for input."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from crm_metrics import Metrics, Settings
from server.routes import ROUTES

from tests.support.api import TENANT_A, assert_error, memory_metrics

DASHBOARD = "/api/v1/metrics/dashboard"
SUMMARY = "/api/v1/metrics/summary"
TENANT = {"X-Tenant-Id": TENANT_A}

# (path, headers, status, code, field) for both metrics endpoints.
BAD_REQUESTS: list[tuple[str, dict[str, str], str, str]] = [
    ("", {}, "invalid_parameter", "X-Tenant-Id"),
    ("", {"X-Tenant-Id": "acme"}, "invalid_parameter", "X-Tenant-Id"),
    ("", {"X-Tenant-Id": TENANT_A + "0"}, "invalid_parameter", "X-Tenant-Id"),
    ("?start_date=2025-13-01", TENANT, "invalid_parameter", "start_date"),
    ("?start_date=2025-02-30", TENANT, "invalid_parameter", "start_date"),
    ("?end_date=yesterday", TENANT, "invalid_parameter", "end_date"),
    ("?end_date=2025-11-04T00:00:00", TENANT, "invalid_parameter", "end_date"),
    ("?start_date=2025-11-05&end_date=2025-11-01", TENANT, "invalid_parameter", "start_date"),
    ("?start_date=2024-01-01&end_date=2025-11-01", TENANT, "invalid_parameter", "end_date"),
    ("?outlet_id=main-street", TENANT, "invalid_parameter", "outlet_id"),
    ("?tz=Mars/Olympus", TENANT, "invalid_parameter", "tz"),
    ("?tz=asia/jakarta", TENANT, "invalid_parameter", "tz"),
    ("?tz=localtime", TENANT, "invalid_parameter", "tz"),
    ("?tz=Factory", TENANT, "invalid_parameter", "tz"),
    ("?tz=posixrules", TENANT, "invalid_parameter", "tz"),
    ("?start_date=2020-01-01", TENANT, "invalid_parameter", "start_date"),
    ("?start_date=2025-11-01&start_date=2025-11-02", TENANT, "invalid_parameter", "start_date"),
    ("?tenant_id=" + TENANT_A, TENANT, "unknown_parameter", "tenant_id"),
    ("?page=2&limit=10", TENANT, "unknown_parameter", "limit"),
]


@pytest.mark.parametrize("path", [DASHBOARD, SUMMARY])
@pytest.mark.parametrize(("query", "headers", "code", "field"), BAD_REQUESTS)
def test_bad_request(client: TestClient, path: str, query: str, headers: dict[str, str], code: str, field: str) -> None:
    assert_error(client.get(path + query, headers=headers), 400, code, field)


def test_bad_granularity(client: TestClient) -> None:
    assert_error(client.get(DASHBOARD + "?granularity=hour", headers=TENANT), 400, "invalid_parameter", "granularity")


def test_summary_rejects_granularity(client: TestClient) -> None:
    """A summary is one row for the whole range: a granularity would be silently meaningless."""
    error = assert_error(client.get(SUMMARY + "?granularity=day", headers=TENANT), 400, "unknown_parameter", "granularity")
    assert "start_date, end_date, outlet_id, tz" in error["message"]


LONG = "x" * 60_000  # httpx refuses URLs over 64 KiB


@pytest.mark.parametrize(
    ("query", "headers", "field"),
    [
        (f"?tz={LONG}", TENANT, "tz"),
        (f"?start_date={LONG}", TENANT, "start_date"),
        (f"?outlet_id={LONG}", TENANT, "outlet_id"),
        ("", {"X-Tenant-Id": LONG}, "X-Tenant-Id"),
        (f"?{LONG}=1", TENANT, "x" * 64 + "…"),
        ("?" + "&".join(f"p{n:03d}{'y' * 50}=1" for n in range(500)), TENANT, "p000" + "y" * 50),
    ],
    ids=["tz", "start_date", "outlet_id", "header", "parameter-name", "many-names"],
)
def test_an_echoed_value_is_cut(client: TestClient, query: str, headers: dict[str, str], field: str) -> None:
    """A 100 KB value comes back as a few dozen characters, not a 100 KB body."""
    response = client.get(DASHBOARD + query, headers=headers)
    error = assert_error(response, 400, response.json()["error"]["code"], field)
    assert len(response.content) < 1000, error["message"]


def test_a_long_path_is_cut_in_the_404(client: TestClient) -> None:
    response = client.get("/" + LONG, headers=TENANT)
    assert_error(response, 404, "not_found")
    assert len(response.content) < 300


@pytest.mark.parametrize("route", [route.path for route in ROUTES])
def test_a_trailing_slash_is_a_json_404_naming_the_route(client: TestClient, route: str) -> None:
    """Not Starlette's 307 with an empty body."""
    response = client.get(route + "/", headers=TENANT, follow_redirects=False)
    error = assert_error(response, 404, "not_found")
    assert error["message"] == f"no route '{route}/'; did you mean {route} (without the trailing slash)?"


def test_a_non_ascii_header_comes_back_as_sent(client: TestClient) -> None:
    """Starlette reads header bytes as latin-1; the message shows the client's UTF-8."""
    for value in ("café", "テナント"):
        response = client.get(SUMMARY, headers={"X-Tenant-Id": value.encode()})
        error = assert_error(response, 400, "invalid_parameter", "X-Tenant-Id")
        assert error["message"].endswith(f"got {value!r}")
    latin1 = client.get(SUMMARY, headers={"X-Tenant-Id": "café".encode("latin-1")})
    assert assert_error(latin1, 400, "invalid_parameter", "X-Tenant-Id")["message"].endswith("got 'café'")


def test_unknown_route(client: TestClient) -> None:
    # "/" is the dashboard page (tests/server/test_page.py).
    for path in ("/nope", "/dashboard/extra", "/api/v1/metrics/dashboard/extra", "/api/v2/metrics/summary"):
        assert_error(client.get(path, headers=TENANT), 404, "not_found")


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
def test_wrong_method(client: TestClient, route: Any) -> None:
    for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - route.methods):
        response = client.request(method, route.path, headers=TENANT)
        assert_error(response, 405, "method_not_allowed")
        assert sorted(response.headers["allow"].split(", ")) == sorted(route.methods)


def test_backend_unavailable(connect: Callable[..., TestClient]) -> None:
    metrics = memory_metrics()
    client = connect(over=metrics)
    metrics.close()  # the database is gone
    for path in (DASHBOARD, SUMMARY):
        error = assert_error(client.get(path, headers=TENANT), 503, "backend_unavailable")
        assert "Connection" not in error["message"]  # the driver's words stay in the log


def test_query_timeout(connect: Callable[..., TestClient]) -> None:
    """QUERY_TIMEOUT_SECONDS: the DuckDB executor interrupts the query; the client gets 504."""
    metrics = memory_metrics(query_timeout_seconds=0.01)
    # Enough rows, in the seed's layout (turns and handoffs derived at query time), that the
    # dashboard's query takes far longer than 10 ms.
    metrics.executor.run_script("DROP TABLE conversation_facts; DROP TABLE message_facts")
    metrics = Metrics(metrics.executor, metrics.settings)
    metrics.executor.run_script(
        f"""
        INSERT INTO conversations SELECT 'bulk-' || i, '{TENANT_A}', NULL, '+62', 'resolved',
          TIMESTAMPTZ '2025-01-01' + INTERVAL (i % 300) DAY, NULL, NULL FROM range(20000) t(i);
        INSERT INTO messages SELECT 'bulk-' || i, 'bulk-' || (i % 20000), 'customer', NULL, 'x',
          TIMESTAMPTZ '2025-01-01' + INTERVAL (i % 300) DAY + INTERVAL (i % 86000) SECOND, NULL
          FROM range(400000) t(i);
        """
    )
    client = connect(over=metrics)
    response = client.get(DASHBOARD + "?start_date=2025-01-01&end_date=2025-10-31", headers=TENANT)
    assert_error(response, 504, "query_timeout")
    metrics.close()


class _Broken:
    """An executor with a bug: a failure no input should cause."""

    dialect = "duckdb"
    description = "broken"

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("secret internals\nTraceback (most recent call last):")


def test_internal_error_hides_details(connect: Callable[..., TestClient]) -> None:
    client = connect(over=Metrics(_Broken(), Settings()), raise_server_exceptions=False)  # type: ignore[arg-type]
    error = assert_error(client.get(SUMMARY, headers=TENANT), 500, "internal_error")
    assert "secret" not in error["message"]


def test_errors_are_not_cached(connect: Callable[..., TestClient], metrics: Metrics) -> None:
    """A request that failed (the database was down) succeeds once the database is back."""
    lock = threading.Lock()
    calls = []

    class Flaky(Metrics):
        def answer(self, *args: Any, **kwargs: Any) -> Any:
            with lock:
                calls.append(1)
                if len(calls) == 1:
                    from crm_metrics import BackendUnavailable

                    raise BackendUnavailable("down for a moment")
            return super().answer(*args, **kwargs)

    client = connect(over=Flaky(metrics.executor, metrics.settings, clock=metrics.clock))
    assert_error(client.get(SUMMARY, headers=TENANT), 503, "backend_unavailable")
    assert client.get(SUMMARY, headers=TENANT).status_code == 200
    assert len(calls) == 2
