"""GET /api/v1/metrics/custom/{name} and the catalogue (docs/custom-metrics.md): the built-in
answers' auth, validation, cache, ETag, CSV and errors; a refused file in /health."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from crm_metrics import custom

from tests.support.api import TENANT_A, TENANT_B, assert_error, memory_metrics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "metrics"
WEEKS = "/api/v1/metrics/custom/conversations_with_status?start_date=2025-11-01&end_date=2025-11-09&granularity=week"


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    for path in EXAMPLES.glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "broken.sql").write_text((EXAMPLES / "agent_replies.sql").read_text().replace("agent_replies", "broken").replace("FROM ({{ crm.turns() }}) AS t", "FROM messages AS t"))
    return tmp_path


@pytest.fixture
def custom_client(connect: Callable[..., TestClient], directory: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(custom, "REFRESH_SECONDS", 0.0)
    with memory_metrics(metrics_path=str(directory)) as metrics:
        yield connect(over=metrics)


def test_a_custom_metric_answers_like_a_builtin(custom_client: TestClient) -> None:
    headers = {"X-Tenant-Id": TENANT_A}
    response = custom_client.get(f"{WEEKS}&status=handed_off", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["metric"], body["timezone"], body["granularity"], body["params"]) == ("conversations_with_status", "Asia/Jakarta", "week", {"status": "handed_off"})
    # conv-2 started on Sunday 2 November in Jakarta: the week of 27 October, clipped to the range.
    assert body["rows"] == [{"date": "2025-11-01", "conversations": 1}, {"date": "2025-11-03", "conversations": 0}]
    # The ETag of the bytes sent; If-None-Match gets 304; another parameter, another answer.
    assert custom_client.get(f"{WEEKS}&status=handed_off", headers={**headers, "If-None-Match": response.headers["etag"]}).status_code == 304
    resolved = custom_client.get(f"{WEEKS}&status=resolved", headers=headers)
    assert resolved.json()["rows"] == [{"date": "2025-11-01", "conversations": 1}, {"date": "2025-11-03", "conversations": 0}]
    assert resolved.headers["etag"] != response.headers["etag"]
    # Another tenant's rows are not this tenant's.
    other = custom_client.get(f"{WEEKS}&status=resolved", headers={"X-Tenant-Id": TENANT_B})
    assert other.json()["rows"] == [{"date": "2025-11-01", "conversations": 1}, {"date": "2025-11-03", "conversations": 0}]
    assert other.json()["timezone"] == "UTC"
    csv = custom_client.get(f"{WEEKS}&status=handed_off&format=csv", headers=headers)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == "date,conversations\r\n2025-11-01,1\r\n2025-11-03,0\r\n"
    assert 'filename="conversations_with_status-' in csv.headers["content-disposition"]


def test_custom_requests_are_validated(custom_client: TestClient) -> None:
    headers = {"X-Tenant-Id": TENANT_A}
    assert_error(custom_client.get(WEEKS, headers=headers), 400, "invalid_parameter", "status")
    assert_error(custom_client.get(f"{WEEKS}&status=x&colour=red", headers=headers), 400, "unknown_parameter", "colour")
    # A metric of the whole range takes no granularity.
    assert_error(custom_client.get("/api/v1/metrics/custom/agent_replies?granularity=week", headers=headers), 400, "unknown_parameter", "granularity")
    assert_error(custom_client.get(f"{WEEKS}&status=x&start_date=2025-13-01", headers=headers), 400, "invalid_parameter", "start_date")
    assert_error(custom_client.get(f"{WEEKS}&status=x"), 400, "invalid_parameter", "X-Tenant-Id")
    assert_error(custom_client.get("/api/v1/metrics/custom/nope", headers=headers), 404, "not_found")
    error = assert_error(custom_client.get("/api/v1/metrics/custom/broken", headers=headers), 404, "not_found")
    assert "refused when loaded" in error["message"]


def test_the_catalogue_health_and_openapi_show_custom_metrics(custom_client: TestClient) -> None:
    listed = custom_client.get("/api/v1/metrics", headers={"X-Tenant-Id": TENANT_A}).json()["metrics"]
    entries = {entry["name"]: entry for entry in listed}
    assert entries["summary"]["kind"] == "builtin"
    assert entries["conversations_with_status"]["params"] == [{"name": "status", "type": "STRING", "description": "the status counted, matched exactly (active, resolved, handed_off, ...)"}]
    assert entries["broken"]["status"] == "error"
    assert entries["broken"]["error"].startswith("broken.sql:23: scan of messages AS t is not restricted to the request's tenant")
    health = custom_client.get("/health").json()
    assert health["status"] == "degraded"
    assert health["custom_metrics"]["loaded"] == len(list(EXAMPLES.glob("*.sql")))
    assert [r["name"] for r in health["custom_metrics"]["refused"]] == ["broken"]
    paths = custom_client.get("/openapi.json").json()["paths"]
    operation = paths["/api/v1/metrics/custom/conversations_with_status"]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"start_date", "end_date", "outlet_id", "tz", "granularity", "format", "status"}
    assert "/api/v1/metrics/custom/broken" not in paths


def test_files_are_read_again_when_they_change(custom_client: TestClient, directory: Path) -> None:
    headers = {"X-Tenant-Id": TENANT_A}
    assert custom_client.get("/api/v1/metrics/custom/hours?start_date=2025-11-01&end_date=2025-11-03", headers=headers).status_code == 404
    source = (EXAMPLES / "messages_by_local_hour.sql").read_text().replace("messages_by_local_hour", "hours")
    (directory / "hours.sql").write_text(source)
    (directory / "broken.sql").unlink()
    response = custom_client.get("/api/v1/metrics/custom/hours?start_date=2025-11-01&end_date=2025-11-03", headers=headers)
    assert response.status_code == 200, response.text
    # Tenant A's messages of 1-3 November in Jakarta (msg-006 is on the 4th there).
    assert sum(row["messages"] for row in response.json()["rows"]) == 5
    assert custom_client.get("/health").json()["custom_metrics"] == {"loaded": len(list(EXAMPLES.glob("*.sql"))) + 1, "refused": []}
    # An edited file answers afresh: the cache key holds the hash of its text.
    (directory / "hours.sql").write_text(source.replace("COUNT(m.sender_type) AS messages", "COUNTIF(m.sender_type = 'llm') AS messages"))
    edited = custom_client.get("/api/v1/metrics/custom/hours?start_date=2025-11-01&end_date=2025-11-03", headers=headers)
    assert sum(row["messages"] for row in edited.json()["rows"]) == 2
