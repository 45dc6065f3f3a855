"""CSV for every metrics answer: `?format=csv` or `Accept: text/csv`, RFC 4180, the JSON's
field names and values (null as an empty field), a file name, its own ETag; the CLI's
`--format csv` prints the same bytes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from crm_metrics import Metrics, Settings
from crm_metrics.cli import main

from tests.support.api import OUTLET, TENANT_A, assert_error, load

HEADERS = {"X-Tenant-Id": TENANT_A}
# 2025-10-30 .. 2025-10-31 hold no data: rates and averages are null there.
QUERIES = {
    "dashboard": "start_date=2025-10-30&end_date=2025-11-04&granularity=day",
    "summary": "start_date=2025-10-30&end_date=2025-11-04",
}


def expected_rows(kind: str, body: dict[str, Any]) -> list[list[Any]]:
    """The JSON answer as the rows its CSV must hold, worked out here from the JSON itself:
    the summary's fields in one row; the dashboard's series side by side per bucket, the date
    once."""
    if kind == "summary":
        return [list(body), list(body.values())]
    series = [body[key] for key in ("conversations", "messages", "handoffs", "costs")]
    header = ["date"] + [name for rows in series for name in rows[0] if name != "date"]
    table = []
    for i, conversation in enumerate(body["conversations"]):
        assert all(rows[i]["date"] == conversation["date"] for rows in series)
        table.append([conversation["date"]] + [rows[i][name] for rows in series for name in rows[i] if name != "date"])
    return [header, *table]


def parsed(text: str) -> list[list[Any]]:
    """CSV read back with Python's csv module: an empty field is null, numbers are read as
    JSON reads them (so 0.829646017699 and 452 come back as the same float and int)."""

    def value(cell: str) -> Any:
        if cell == "":
            return None
        try:
            return json.loads(cell)
        except ValueError:
            return cell

    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    return [header, *[[value(cell) for cell in row] for row in rows]]


@pytest.mark.parametrize("kind", ["dashboard", "summary"])
def test_csv_holds_exactly_the_json_values(client: TestClient, kind: str) -> None:
    url = f"/api/v1/metrics/{kind}?{QUERIES[kind]}"
    body = client.get(url, headers=HEADERS).json()
    response = client.get(url + "&format=csv", headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode()
    # RFC 4180: every record ends with CRLF, the header row included.
    assert text.endswith("\r\n") and text.count("\r\n") == len(text.splitlines())
    assert parsed(text) == expected_rows(kind, body)
    # Empty days answer null rates: empty fields, never "None" or "null".
    assert None in parsed(text)[1] and "None" not in text and "null" not in text
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="{kind}-{TENANT_A}-2025-10-30-2025-11-04.csv"'


def test_accept_header_chooses_csv(client: TestClient) -> None:
    url = "/api/v1/metrics/summary?" + QUERIES["summary"]
    as_param = client.get(url + "&format=csv", headers=HEADERS)
    for accept in ("text/csv", "text/csv, application/json;q=0.5", "application/json;q=0.1, text/csv"):
        response = client.get(url, headers={**HEADERS, "Accept": accept})
        assert response.content == as_param.content, accept
        assert response.headers["content-type"].startswith("text/csv")
    for accept in ("application/json", "*/*", "text/html", "text/csv;q=0.5, application/json", "text/csv;q=0"):
        response = client.get(url, headers={**HEADERS, "Accept": accept})
        assert response.headers["content-type"] == "application/json", accept
    # ?format= wins over Accept.
    response = client.get(url + "&format=json", headers={**HEADERS, "Accept": "text/csv"})
    assert response.headers["content-type"] == "application/json"


def test_formats_have_their_own_etags(client: TestClient) -> None:
    url = "/api/v1/metrics/dashboard?" + QUERIES["dashboard"]
    as_json = client.get(url, headers=HEADERS)
    as_csv = client.get(url + "&format=csv", headers=HEADERS)
    assert as_json.headers["etag"] != as_csv.headers["etag"]
    assert "Accept" in as_csv.headers["vary"]
    # A client holding the JSON's tag gets the CSV in full, and the CSV's tag gets 304.
    assert client.get(url + "&format=csv", headers={**HEADERS, "If-None-Match": as_json.headers["etag"]}).status_code == 200
    assert client.get(url + "&format=csv", headers={**HEADERS, "If-None-Match": as_csv.headers["etag"]}).status_code == 304
    # Served from the cache after the JSON was: still CSV.
    assert client.get(url, headers={**HEADERS, "Accept": "text/csv"}).content == as_csv.content


def test_bad_format(client: TestClient) -> None:
    error = assert_error(client.get("/api/v1/metrics/summary?format=xml", headers=HEADERS), 400, "invalid_parameter", "format")
    assert "json, csv" in error["message"]


@pytest.mark.parametrize("kind", ["dashboard", "summary"])
def test_cli_prints_the_http_bytes(
    tmp_path: Path, connect: Callable[..., TestClient], capsysbinary: pytest.CaptureFixture[bytes], kind: str
) -> None:
    url = f"duckdb:///{tmp_path / 'crm.duckdb'}"
    with Metrics.connect(settings=Settings(database_url=url)) as writer:
        load(writer)
    extra = ["--granularity", "week"] if kind == "dashboard" else []
    code = main(["query", kind, "--tenant-id", TENANT_A, "--start-date", "2025-10-20", "--end-date", "2025-11-04", "--outlet-id", OUTLET, *extra, "--format", "csv", "--database-url", url])
    printed = capsysbinary.readouterr().out
    assert code == 0
    with Metrics.connect(settings=Settings(database_url=url), read_only=True) as reader:
        client = connect(over=reader)
        query = f"?start_date=2025-10-20&end_date=2025-11-04&outlet_id={OUTLET}&format=csv" + ("&granularity=week" if kind == "dashboard" else "")
        response = client.get(f"/api/v1/metrics/{kind}{query}", headers=HEADERS)
    assert response.content == printed
    body = client.get(f"/api/v1/metrics/{kind}{query.replace('&format=csv', '')}", headers=HEADERS).json()
    assert parsed(printed.decode()) == expected_rows(kind, body)
