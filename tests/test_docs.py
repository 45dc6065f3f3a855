"""The README's generated sections match the code (`make docs` rewrites them)."""

from __future__ import annotations

import datetime as dt
import re

from crm_metrics.request import DEFAULT_SPAN_DAYS

from tests.readme import README, _subparsers, render


def test_readme_sections_are_current() -> None:
    text = README.read_text()
    assert render(text) == text, "README.md is stale: run `make docs` and commit the result"


def test_readme_starts_with_the_quickstart() -> None:
    text = README.read_text()
    assert text.index("make run") < text.index("make test") < text.index("crm-metrics query")


def _curl_examples(text: str) -> list[tuple[str, str]]:
    """(path and query, tenant) of every README curl of /api/v1, continuation lines joined."""
    commands = text.replace("\\\n", " ").splitlines()
    found = []
    for command in commands:
        url = re.search(r'curl [^"]*"http://(?:localhost|127\.0\.0\.1):3007(/api/v1/[^"]*)"', command)
        if url:
            tenant = re.search(r'-H "X-Tenant-Id: ([0-9a-f-]{36})"', command)
            assert tenant, command
            found.append((url.group(1), tenant.group(1)))
    return found


def test_the_curl_examples_answer_with_data_against_the_demo() -> None:
    """The README's curl examples, against `make run` (the demo: the 90 days up to today), get
    answers with conversations in them, not zeros for dates the demo does not hold."""
    from starlette.testclient import TestClient

    from crm_metrics import Metrics, demo
    from server import ServerConfig, create_app

    examples = _curl_examples(README.read_text())
    assert len(examples) >= 4
    now = dt.datetime.now(dt.UTC)
    with Metrics.connect("duckdb:///:memory:", clock=lambda: now) as metrics:
        demo.write(metrics)
        with TestClient(create_app(metrics, ServerConfig())) as client:
            for path, tenant in examples:
                response = client.get(path, headers={"X-Tenant-Id": tenant})
                assert response.status_code == 200, (path, response.text)
                body = response.json()
                total = body["total_conversations"] if "summary" in path else sum(row["total_conversations"] for row in body["conversations"])
                assert total > 0, f"{path} answers zeros against the demo"


def test_the_default_range_is_said_to_be_31_days() -> None:
    """end_date - 30 days, both ends included: 31 days, wherever the default is described."""
    from crm_metrics.cli import _parser
    from server import openapi

    days = f"{DEFAULT_SPAN_DAYS + 1} days"
    summary = _subparsers(_subparsers(_parser())["query"])["summary"]
    assert days in " ".join(summary.format_help().split())
    parameters = openapi.build(auth=False)["paths"]["/api/v1/metrics/summary"]["get"]["parameters"]
    assert days in next(p["description"] for p in parameters if p["name"] == "start_date")
    text = README.read_text()
    assert "last 30 days" not in text
    assert text.count(days) >= 3


def test_handoff_rate_is_described_as_the_contract_defines_it() -> None:
    """Conversations with a handoff request (metadata.handoff_requested), not "handed-off" ones,
    which reads as status = 'handed_off'."""
    from crm_metrics import templates
    from server import openapi

    sources = [README.read_text(), *(path.read_text() for path in templates.sql_dir().glob("*.sql"))]
    assert not any("handed-off /" in source for source in sources)
    schemas = openapi.build(auth=False)["components"]["schemas"]
    for schema in ("Summary", "HandoffMetrics"):
        assert "handoff request" in schemas[schema]["properties"]["handoff_rate"]["description"]
