"""The metrics endpoints: the seed's shapes, the library's answers byte for byte, ETags."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from crm_metrics import Metrics, Settings, to_json

from tests.support.api import OUTLET, TENANT_A, TENANT_B, assert_error, load
from tests.support.compare import assert_same

DASHBOARD = "/api/v1/metrics/dashboard"
SUMMARY = "/api/v1/metrics/summary"

# The seed's response keys, in its order (README of the analytics service), plus the
# contract's timezone and granularity.
SEED_DASHBOARD_KEYS = ["tenant_id", "outlet_id", "period_start", "period_end", "timezone", "granularity", "conversations", "messages", "handoffs", "costs"]
SEED_SUMMARY_KEYS = ["tenant_id", "tenant_name", "period_start", "period_end", "outlet_id", "timezone", "total_conversations", "total_messages", "average_response_time_seconds", "resolution_rate", "handoff_rate", "total_cost"]


def test_dashboard_is_the_library_answer(client: TestClient, metrics: Metrics, tenant_headers: dict[str, str]) -> None:
    response = client.get(DASHBOARD + "?start_date=2025-11-01&end_date=2025-11-04", headers=tenant_headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == to_json(metrics.dashboard(TENANT_A, "2025-11-01", "2025-11-04")).encode()
    body = response.json()
    assert list(body) == SEED_DASHBOARD_KEYS
    assert [row["date"] for row in body["conversations"]] == ["2025-11-01", "2025-11-02", "2025-11-03", "2025-11-04"]
    assert body["timezone"] == "Asia/Jakarta"  # the tenant's
    assert sum(row["total_conversations"] for row in body["conversations"]) == 3


def test_summary_is_the_library_answer(client: TestClient, metrics: Metrics, tenant_headers: dict[str, str]) -> None:
    response = client.get(SUMMARY + "?start_date=2025-10-01&end_date=2025-11-01", headers=tenant_headers)
    assert response.status_code == 200
    assert response.content == to_json(metrics.summary(TENANT_A, "2025-10-01", "2025-11-01")).encode()
    body = response.json()
    assert list(body) == SEED_SUMMARY_KEYS
    assert (body["tenant_name"], body["total_conversations"]) == ("Acme Corp", 1)


def test_overview_is_the_dashboard_and_the_summary(client: TestClient, metrics: Metrics, tenant_headers: dict[str, str]) -> None:
    """GET /api/v1/metrics/overview: the dashboard's fields then `summary`, each what its own
    endpoint answers; the dashboard's parameters (granularity), not the summary's (compare);
    its CSV is the dashboard's series."""
    query = f"?start_date=2025-10-27&end_date=2025-11-09&outlet_id={OUTLET}&tz=UTC&granularity=week"
    response = client.get("/api/v1/metrics/overview" + query, headers=tenant_headers)
    assert response.status_code == 200
    assert response.content == to_json(metrics.overview(TENANT_A, "2025-10-27", "2025-11-09", OUTLET, "UTC", "week")).encode()
    body = response.json()
    assert list(body) == [*SEED_DASHBOARD_KEYS, "summary"]
    assert {k: v for k, v in body.items() if k != "summary"} == client.get(DASHBOARD + query, headers=tenant_headers).json()
    summary = client.get(SUMMARY + f"?start_date=2025-10-27&end_date=2025-11-09&outlet_id={OUTLET}&tz=UTC", headers=tenant_headers).json()
    assert_same(body["summary"], summary, "overview.summary")
    assert body["summary"]["total_conversations"] > 0
    csv = client.get("/api/v1/metrics/overview" + query + "&format=csv", headers=tenant_headers)
    assert csv.text == client.get(DASHBOARD + query + "&format=csv", headers=tenant_headers).text
    assert_error(client.get("/api/v1/metrics/overview?compare=previous", headers=tenant_headers), 400, "unknown_parameter", "compare")


def test_parameters_reach_the_library(client: TestClient, metrics: Metrics, tenant_headers: dict[str, str]) -> None:
    query = f"?start_date=2025-10-27&end_date=2025-11-09&outlet_id={OUTLET.upper()}&tz=UTC&granularity=week"
    response = client.get(DASHBOARD + query, headers=tenant_headers)
    expected = metrics.dashboard(TENANT_A, "2025-10-27", "2025-11-09", OUTLET, "UTC", "week")
    assert response.content == to_json(expected).encode()
    assert response.json()["outlet_id"] == OUTLET
    response = client.get(SUMMARY + f"?start_date=2025-11-01&end_date=2025-11-04&outlet_id={OUTLET}&tz=UTC", headers=tenant_headers)
    assert response.content == to_json(metrics.summary(TENANT_A, "2025-11-01", "2025-11-04", OUTLET, "UTC")).encode()


def test_defaults(client: TestClient, tenant_headers: dict[str, str]) -> None:
    """No dates: end = today in the tenant's timezone (the fixed clock's), start = end - 30 days;
    an empty value is the same as no value."""
    for query in ("", "?start_date=&end_date=&outlet_id=&tz=&granularity="):
        body = client.get(DASHBOARD + query, headers=tenant_headers).json()
        assert (body["period_start"], body["period_end"], body["granularity"]) == ("2025-10-05", "2025-11-04", "day")


def test_tenant_header_is_case_insensitive_uuid(client: TestClient) -> None:
    lower = client.get(SUMMARY + "?start_date=2025-11-01&end_date=2025-11-04", headers={"X-Tenant-Id": TENANT_A})
    upper = client.get(SUMMARY + "?start_date=2025-11-01&end_date=2025-11-04", headers={"x-tenant-id": TENANT_A.upper()})
    assert upper.content == lower.content


def test_tenants_are_isolated(client: TestClient) -> None:
    a = client.get(SUMMARY + "?start_date=2025-11-01&end_date=2025-11-04", headers={"X-Tenant-Id": TENANT_A}).json()
    b = client.get(SUMMARY + "?start_date=2025-11-01&end_date=2025-11-04", headers={"X-Tenant-Id": TENANT_B}).json()
    assert (a["tenant_id"], a["total_conversations"], a["total_messages"]) == (TENANT_A, 3, 6)
    assert (b["tenant_id"], b["total_conversations"], b["total_messages"]) == (TENANT_B, 1, 2)


def test_etag_and_conditional_get(client: TestClient, tenant_headers: dict[str, str]) -> None:
    url = DASHBOARD + "?start_date=2025-11-01&end_date=2025-11-04"
    first = client.get(url, headers=tenant_headers)
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"')
    assert first.headers["cache-control"] == "private, no-cache"
    assert first.headers["vary"] == "Accept, Authorization, X-Tenant-Id"
    for matching in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        response = client.get(url, headers={**tenant_headers, "If-None-Match": matching})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == tag
    changed = client.get(url, headers={**tenant_headers, "If-None-Match": '"stale"'})
    assert (changed.status_code, changed.content) == (200, first.content)
    other_range = client.get(DASHBOARD + "?start_date=2025-11-01&end_date=2025-11-03", headers={**tenant_headers, "If-None-Match": tag})
    assert other_range.status_code == 200 and other_range.headers["etag"] != tag


def test_conditional_get_still_validates(client: TestClient) -> None:
    assert_error(client.get(SUMMARY + "?tz=Nowhere", headers={"X-Tenant-Id": TENANT_A, "If-None-Match": "*"}), 400, "invalid_parameter", "tz")


def test_cors_off_by_default(client: TestClient, tenant_headers: dict[str, str]) -> None:
    response = client.get(SUMMARY, headers={**tenant_headers, "Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins(connect: Callable[..., TestClient], tenant_headers: dict[str, str]) -> None:
    from server import ServerConfig

    client = connect(ServerConfig(cors_origins=("https://app.example",)))
    response = client.get(SUMMARY, headers={**tenant_headers, "Origin": "https://app.example"})
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "ETag" in response.headers["access-control-expose-headers"]
    preflight = client.options(
        SUMMARY,
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-tenant-id, authorization"},
    )
    assert preflight.status_code == 200
    denied = client.get(SUMMARY, headers={**tenant_headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers


@pytest.mark.parametrize("kind", ["dashboard", "summary"])
def test_http_body_is_the_cli_output(tmp_path: Path, connect: Callable[..., TestClient], kind: str) -> None:
    """`crm-metrics query KIND --format json` prints exactly the HTTP body."""
    url = f"duckdb:///{tmp_path / 'crm.duckdb'}"
    with Metrics.connect(settings=Settings(database_url=url)) as writer:
        load(writer)
    args = ["--tenant-id", TENANT_A, "--start-date", "2025-10-20", "--end-date", "2025-11-04", "--outlet-id", OUTLET]
    extra = ["--granularity", "week"] if kind == "dashboard" else []
    cli = subprocess.run(
        [sys.executable, "-m", "crm_metrics", "query", kind, *args, *extra, "--format", "json", "--database-url", url],
        capture_output=True,
        check=True,
    )
    with Metrics.connect(settings=Settings(database_url=url), read_only=True) as reader:
        client = connect(over=reader)
        query = f"?start_date=2025-10-20&end_date=2025-11-04&outlet_id={OUTLET}" + ("&granularity=week" if kind == "dashboard" else "")
        response = client.get(f"/api/v1/metrics/{kind}{query}", headers={"X-Tenant-Id": TENANT_A})
        assert response.status_code == 200
        assert response.content == cli.stdout
        assert json.loads(cli.stdout)["tenant_id"] == TENANT_A


SECOND_SET = {
    # docs/metrics.md §7: each endpoint's answer is the library's, byte for byte.
    "responses": ("?start_date=2025-10-27&end_date=2025-11-09&tz=UTC&granularity=week", lambda m: m.responses(TENANT_A, "2025-10-27", "2025-11-09", tz="UTC", granularity="week")),
    "outcomes": (f"?start_date=2025-11-01&end_date=2025-11-04&outlet_id={OUTLET}", lambda m: m.outcomes(TENANT_A, "2025-11-01", "2025-11-04", OUTLET)),
    "outlets": ("?start_date=2025-11-01&end_date=2025-11-04", lambda m: m.outlets(TENANT_A, "2025-11-01", "2025-11-04")),
    "heatmap": ("?start_date=2025-11-01&end_date=2025-11-04&tz=UTC", lambda m: m.heatmap(TENANT_A, "2025-11-01", "2025-11-04", tz="UTC")),
    "summary": ("?start_date=2025-11-01&end_date=2025-11-04&compare=previous", lambda m: m.summary(TENANT_A, "2025-11-01", "2025-11-04", compare="previous")),
    # docs/anomalies.md
    "anomalies": ("?metric=total_messages&start_date=2025-11-01&end_date=2025-11-04&direction=up", lambda m: m.anomalies(TENANT_A, "total_messages", "2025-11-01", "2025-11-04", direction="up")),
    "forecast": ("?metric=total_cost&tz=UTC", lambda m: m.forecast(TENANT_A, "total_cost", tz="UTC")),
}


@pytest.mark.parametrize("kind", SECOND_SET)
def test_second_set_endpoints_are_the_library_answers(client: TestClient, metrics: Metrics, tenant_headers: dict[str, str], kind: str) -> None:
    query, ask = SECOND_SET[kind]
    response = client.get(f"/api/v1/metrics/{kind}{query}", headers=tenant_headers)
    assert response.status_code == 200, response.text
    assert response.content == to_json(ask(metrics)).encode()
    tag = response.headers["etag"]
    assert client.get(f"/api/v1/metrics/{kind}{query}", headers={**tenant_headers, "If-None-Match": tag}).status_code == 304
    csv = client.get(f"/api/v1/metrics/{kind}{query}&format=csv", headers=tenant_headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")


def test_second_set_validation(client: TestClient, tenant_headers: dict[str, str]) -> None:
    assert_error(client.get(SUMMARY + "?compare=last", headers=tenant_headers), 400, "invalid_parameter", "compare")
    assert_error(client.get(f"/api/v1/metrics/outlets?outlet_id={OUTLET}", headers=tenant_headers), 400, "unknown_parameter", "outlet_id")
    assert_error(client.get("/api/v1/metrics/heatmap?granularity=week", headers=tenant_headers), 400, "unknown_parameter", "granularity")
    assert_error(client.get("/api/v1/metrics/responses?granularity=hour", headers=tenant_headers), 400, "invalid_parameter", "granularity")
    assert_error(client.get("/api/v1/metrics/outcomes?start_date=2025-02-30", headers=tenant_headers), 400, "invalid_parameter", "start_date")
    assert_error(client.get("/api/v1/metrics/responses"), 400, "invalid_parameter", "X-Tenant-Id")
    # A compared summary is cached apart from the plain one.
    plain = client.get(SUMMARY + "?start_date=2025-11-01&end_date=2025-11-04", headers=tenant_headers).json()
    compared = client.get(SUMMARY + "?start_date=2025-11-01&end_date=2025-11-04&compare=previous", headers=tenant_headers).json()
    assert "previous" not in plain and compared["previous"]["period_end"] == "2025-10-31"


def test_anomalies_and_forecast_validation(client: TestClient, tenant_headers: dict[str, str]) -> None:
    anomalies, forecast = "/api/v1/metrics/anomalies", "/api/v1/metrics/forecast"
    assert_error(client.get(anomalies, headers=tenant_headers), 400, "invalid_parameter", "metric")
    assert_error(client.get(anomalies + "?metric=total_handoffs", headers=tenant_headers), 400, "invalid_parameter", "metric")
    assert_error(client.get(anomalies + "?metric=total_cost&direction=sideways", headers=tenant_headers), 400, "invalid_parameter", "direction")
    assert_error(client.get(anomalies + "?metric=total_cost&granularity=week", headers=tenant_headers), 400, "unknown_parameter", "granularity")
    assert_error(client.get(forecast + "?metric=handoff_rate", headers=tenant_headers), 400, "invalid_parameter", "metric")
    assert_error(client.get(forecast + "?metric=total_cost&start_date=2025-11-01", headers=tenant_headers), 400, "unknown_parameter", "start_date")
    # Each metric and direction is an answer of its own in the cache.
    up = client.get(anomalies + "?metric=total_cost&direction=up", headers=tenant_headers).json()
    down = client.get(anomalies + "?metric=total_messages&direction=down", headers=tenant_headers).json()
    assert (up["metric"], up["direction"], down["metric"], down["direction"]) == ("total_cost", "up", "total_messages", "down")


def test_costs_over_http_need_the_priced_model_and_name_bad_input(client: TestClient, tenant_headers: dict[str, str]) -> None:
    from server.app import create_app
    from server.config import ServerConfig
    from tests.support.api import memory_metrics

    asked = "/api/v1/metrics/costs?start_date=2025-11-01&end_date=2025-11-04"
    # The flat model (the default) has no priced costs: a 400 naming the setting.
    assert_error(client.get(asked, headers=tenant_headers), 400, "invalid_parameter", "COST_MODEL")
    priced = memory_metrics(cost_model="priced", whatsapp_prices="examples/prices/whatsapp.csv", llm_prices="examples/prices/llm.csv")
    with TestClient(create_app(priced, ServerConfig())) as priced_client:
        answer = priced_client.get(asked + "&group_by=market", headers=tenant_headers)
        assert answer.status_code == 200
        assert answer.content == to_json(priced.costs(TENANT_A, "2025-11-01", "2025-11-04", group_by="market")).encode()
        assert answer.json()["markets"], "the demo rows' priced template messages give market rows"
        assert_error(priced_client.get(asked + "&group_by=country", headers=tenant_headers), 400, "invalid_parameter", "group_by")
