"""The dashboard page's routes and lookups (the browser test drives the page itself): the
HTML at / and /dashboard with the chart definitions inside, same-origin files only, the
vendored chart libraries with their licences and in step with vl-convert's, and the tenant
listing's rules per environment."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

import jwt
from starlette.testclient import TestClient

from crm_metrics import charts
from server import ServerConfig
from server.params import ACCEPTS

from tests.support.api import OUTLET, TENANT_A, TENANT_B, assert_error

VENDOR = Path(__file__).resolve().parents[2] / "server" / "static" / "vendor"
SECRET = "s" * 64


def test_the_page_is_served(client: TestClient) -> None:
    for path in ("/", "/dashboard"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'self'" in response.headers["content-security-policy"]
    html = client.get("/").text
    views = json.loads(re.search(r'<script id="views" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert views == json.loads(json.dumps({**charts.page_views(), "accepts": ACCEPTS}))
    # Every script and style is the server's own.
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith(("/static/", "data:", "#")) for s in sources), sources
    for source in sources:
        if source.startswith("/static/"):
            assert client.get(source).status_code == 200, source
    assert_error(client.get("/static/missing.js"), 404, "not_found")


def test_vendored_chart_libraries() -> None:
    versions = dict(line.split()[0].rsplit("@", 1) for line in (VENDOR / "VERSIONS").read_text().splitlines() if line and not line.startswith("#"))
    assert set(versions) == {"vega", "vega-lite", "vega-embed"}
    for name in versions:
        assert (VENDOR / f"{name}.min.js").stat().st_size > 10_000
        assert "Redistribution and use in source and binary forms" in (VENDOR / f"{name}.LICENSE").read_text()
    # The page's Vega-Lite is the one the report renders with (major.minor), and the specs say so.
    import vl_convert

    assert versions["vega-lite"].startswith(charts.VEGA_LITE_VERSION + ".")
    assert charts.VEGA_LITE_VERSION in vl_convert.get_vegalite_versions()
    assert vl_convert.get_vega_version().split(".")[0] == versions["vega"].split(".")[0]
    assert charts.VEGA_LITE_SCHEMA.endswith(f"/v{charts.VEGA_LITE_VERSION.split('.')[0]}.json")


def test_tenants_in_development_are_all_listed(client: TestClient) -> None:
    body = client.get("/api/v1/tenants").json()
    assert body == {
        "listing": "all",
        "tenants": [
            {"id": TENANT_A, "name": "Acme Corp", "timezone": "Asia/Jakarta"},
            {"id": TENANT_B, "name": "Globex", "timezone": None},
        ],
    }
    assert_error(client.get("/api/v1/tenants?all=1"), 400, "unknown_parameter", "all")
    assert_error(client.get("/api/v1/tenants", headers={"X-Tenant-Id": "nope"}), 400, "invalid_parameter", "X-Tenant-Id")


def test_tenants_with_auth_are_the_tokens(connect: Callable[..., TestClient]) -> None:
    client = connect(ServerConfig(jwt_secret=SECRET))
    token = jwt.encode({"tenant_id": TENANT_A, "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)}, SECRET, algorithm="HS256")
    bearer = {"Authorization": f"Bearer {token}"}
    expected = {"listing": "one", "tenants": [{"id": TENANT_A, "name": "Acme Corp", "timezone": "Asia/Jakarta"}]}
    assert client.get("/api/v1/tenants", headers=bearer).json() == expected
    assert client.get("/api/v1/tenants", headers={**bearer, "X-Tenant-Id": TENANT_A}).json() == expected
    assert_error(client.get("/api/v1/tenants", headers={**bearer, "X-Tenant-Id": TENANT_B}), 403, "forbidden", "X-Tenant-Id")
    assert_error(client.get("/api/v1/tenants"), 401, "unauthorized", "Authorization")


def test_tenants_in_production_behind_a_gateway(connect: Callable[..., TestClient]) -> None:
    client = connect(ServerConfig(environment="production", allow_unauthenticated=True))
    assert client.get("/api/v1/tenants", headers={"X-Tenant-Id": TENANT_B}).json() == {"listing": "one", "tenants": [{"id": TENANT_B, "name": "Globex", "timezone": None}]}
    assert_error(client.get("/api/v1/tenants"), 400, "invalid_parameter", "X-Tenant-Id")


def test_outlets(client: TestClient) -> None:
    response = client.get("/api/v1/outlets?start_date=2025-11-01&end_date=2025-11-04", headers={"X-Tenant-Id": TENANT_A})
    assert response.json() == {"tenant_id": TENANT_A, "period_start": "2025-11-01", "period_end": "2025-11-04", "timezone": "Asia/Jakarta", "outlet_ids": [OUTLET]}
    assert client.get("/api/v1/outlets?start_date=2025-11-02&end_date=2025-11-02", headers={"X-Tenant-Id": TENANT_A}).json()["outlet_ids"] == []
    assert_error(client.get("/api/v1/outlets?outlet_id=" + OUTLET, headers={"X-Tenant-Id": TENANT_A}), 400, "unknown_parameter", "outlet_id")
