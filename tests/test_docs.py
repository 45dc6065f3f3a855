"""The docs match the code: the README's generated sections (`make docs` rewrites them), the
metrics contract in docs/metrics.md, and no file pointing outside the repository."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest

from crm_metrics.request import DEFAULT_SPAN_DAYS

from tests.support.docs import README, _subparsers, render


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


ROOT = Path(__file__).resolve().parents[1]
METRICS_DOC = ROOT / "docs" / "metrics.md"
#: A clone is complete on its own: no file names a document kept outside the repository.
OUTSIDE = ("shared/", "metrics-contract.md", "DEVELOPERS.md")


def _tracked(*patterns: str) -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", *patterns], cwd=ROOT, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / name for name in listed.split("\0") if name]


def test_no_file_points_outside_the_repository() -> None:
    files = [path for path in _tracked("*.py", "*.md", "*.sql") if path != Path(__file__).resolve() and path.is_file()]
    assert METRICS_DOC in files
    found = [
        f"{path.relative_to(ROOT)}:{number}: {needle}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for needle in OUTSIDE
        if needle in line
    ]
    assert not found, "files point outside the repository (say it here, or link docs/metrics.md):\n" + "\n".join(found)


def test_the_metrics_contract_has_its_numbered_sections() -> None:
    """Tests and code comments cite docs/metrics.md by section number: §1 to §8, in order, and
    §7's parts 7.1 to 7.6."""
    headings = re.findall(r"^(#{2,3}) (.+)$", METRICS_DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    sections = [title for level, title in headings if level == "##"]
    assert [re.match(r"(\d+)\. \S", title) and int(title.split(".")[0]) for title in sections] == list(range(1, 9)), sections
    parts = [title.split(" ")[0] for level, title in headings if level == "###" and re.match(r"7\.\d ", title)]
    assert parts == [f"7.{n}" for n in range(1, 7)]
    # Anchors stay stable and unambiguous: no heading text twice.
    titles = [title for _, title in headings]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
