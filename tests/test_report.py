"""The summary report as PDF, from the CLI and over HTTP: its text (pdftotext) holds the
tenant's name, the period in its timezone, the headline figures and their change as the
summary API gives them (compare=previous), the response-time and outcome totals and the outlet
table as their endpoints give them; it renders to PNG (pdftoppm) without errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from crm_metrics import Metrics, Settings
from crm_metrics.charts import CHARTS, HEADLINES, NOTHING_DRAWN, OUTLETS, TOTALS, change, formatted
from crm_metrics.cli import main
from server import ServerConfig, create_app

from tests.support.api import OUTLET, TENANT_A, assert_error, load
from tests.support.engines import unavailable

RANGE = ("2025-11-01", "2025-11-04")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    for tool in ("pdftotext", "pdftoppm"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is missing (Debian's poppler-utils; make test installs it)")
    url = f"duckdb:///{tmp_path_factory.mktemp('report') / 'crm.duckdb'}"
    with Metrics.connect(settings=Settings(database_url=url)) as metrics:
        load(metrics)
    return url


def text_of(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, text=True).stdout


def has_row(text: str, cells: list[str]) -> bool:
    """Whether a line of the text holds these cells in this order (pdftotext -layout keeps a
    table's row on one line)."""
    row = re.compile(r"\s+".join(re.escape(cell) for cell in cells))
    return any(row.search(line) for line in text.splitlines())


def test_cli_and_http_reports(database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.pdf"
    assert main(["report", "--tenant-id", TENANT_A, "--start-date", RANGE[0], "--end-date", RANGE[1], "--out", str(out), "--database-url", database]) == 0
    assert "pdf report written to" in capsys.readouterr().out
    with Metrics.connect(settings=Settings(database_url=database), read_only=True) as metrics, TestClient(create_app(metrics, ServerConfig())) as client:
        headers = {"X-Tenant-Id": TENANT_A}
        query = f"start_date={RANGE[0]}&end_date={RANGE[1]}"
        summary = client.get(f"/api/v1/metrics/summary?{query}&compare=previous", headers=headers).json()
        answers = {kind: client.get(f"/api/v1/metrics/{kind}?{query}", headers=headers).json() for kind in ("responses", "outcomes", "outlets")}
        response = client.get(f"/api/v1/reports/summary.pdf?{query}", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == f'attachment; filename="report-{TENANT_A}-2025-11-01-2025-11-04.pdf"'
        assert client.get(f"/api/v1/reports/summary.pdf?{query}", headers={**headers, "If-None-Match": response.headers["etag"]}).status_code in (200, 304)
        assert_error(client.get(f"/api/v1/reports/summary.pdf?{query}&granularity=week", headers=headers), 400, "unknown_parameter", "granularity")
        assert_error(client.get(f"/api/v1/reports/summary.pdf?{query}"), 400, "invalid_parameter", "X-Tenant-Id")
    served = tmp_path / "served.pdf"
    served.write_bytes(response.content)
    for pdf in (out, served):
        text = text_of(pdf)
        assert "Acme Corp" in text
        assert "2025-11-01 to 2025-11-04, Asia/Jakarta, all outlets" in text
        for measure in HEADLINES:
            assert formatted(summary[measure.field], measure.unit) in text, measure.field
            moved = change(summary[measure.field], summary["previous"][measure.field], summary["change"][measure.field], measure)[0]
            assert moved in text, measure.field
        assert "Change against the 4 days before: 2025-10-28 to 2025-10-31." in text
        for totals in TOTALS:
            for measure in totals.measures:
                assert measure.title in text and formatted(answers[totals.answer]["totals"][measure.field], measure.unit) in text, measure.field
        # The outlet table is the outlets answer, row by row: the outlet and the null row.
        rows = answers["outlets"]["outlets"]
        assert [row["outlet_id"] for row in rows] == [OUTLET, None]
        for row in rows:
            assert has_row(text, [formatted(row[c.field], c.unit) for c in (*OUTLETS.keys, *OUTLETS.table)]), row
        assert "Busy hours" in text and "Hour (local time)" in text
        rendered = subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / pdf.stem)], capture_output=True, text=True)
        assert rendered.returncode == 0 and rendered.stderr == "", rendered.stderr
        assert sorted(p.name for p in tmp_path.glob(f"{pdf.stem}-*.png"))


def test_html_report_and_no_data(database: str, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    nobody = "00000000-0000-0000-0000-0000000000ff"
    assert main(["report", "--tenant-id", nobody, "--start-date", "2025-11-01", "--end-date", "2025-11-01", "--format", "html", "--out", str(out), "--database-url", database]) == 0
    html = out.read_text()
    # No reply, no median: the response-time chart says so rather than drawing empty axes.
    assert html.startswith("<!doctype html>") and html.count("<svg") == len(CHARTS) - 1
    assert html.count(NOTHING_DRAWN.replace("'", "&#39;")) == 1
    assert "No data: no conversations or messages in this period." in html
