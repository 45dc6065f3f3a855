"""/openapi.json describes every route, parameter, header and response, and the server keeps
to it: schemathesis fuzzes every operation (valid and invalid input) and checks that no answer
is a 5xx and every answer matches the document."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance
from starlette.testclient import TestClient

from server import ServerConfig, create_app
from server.errors import CODES
from server.params import ACCEPTS
from server.routes import ROUTES

from tests.support.api import TENANT_A, memory_metrics

SECRET = "s" * 64

# Cross-field rules (start_date <= end_date, the range limit, known IANA zones, years the
# engines support) cannot be said in OpenAPI, so a schema-valid request may still get a
# documented 400: the positive-data check does not apply. Every other check runs.
EXCLUDED = [positive_data_acceptance]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context: schemathesis.SerializationContext, value: Any) -> bytes:
    """POST /api/v1/events takes NDJSON too: the document says a string, sent as it is."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


# Loaded at import: schemathesis makes one test per operation at collection time (its
# fixture-based loader does not work with this pytest).
_open_metrics, _auth_metrics = memory_metrics(), memory_metrics()
open_app = create_app(_open_metrics, ServerConfig())
auth_app = create_app(_auth_metrics, ServerConfig(jwt_secret=SECRET))
# The PDF report takes seconds per request (vl-convert, WeasyPrint): fuzzing it would cost
# minutes; tests/server/test_report.py holds it to the document instead.
REPORT = "/api/v1/reports/summary.pdf"
open_schema = schemathesis.openapi.from_asgi("/openapi.json", open_app).exclude(path=REPORT)
auth_schema = schemathesis.openapi.from_asgi("/openapi.json", auth_app).exclude(path=REPORT)


@pytest.fixture(scope="module", autouse=True)
def _close_metrics() -> Iterator[None]:
    yield
    _open_metrics.close()
    _auth_metrics.close()


@open_schema.parametrize()
def test_fuzz_without_auth(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)


@auth_schema.parametrize()
def test_fuzz_with_auth(case: schemathesis.Case) -> None:
    token = jwt.encode({"tenant_id": TENANT_A, "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)}, SECRET, algorithm="HS256")
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, excluded_checks=EXCLUDED)


def test_document_covers_the_server(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {route.path for route in ROUTES}
    for kind, accepted in ACCEPTS.items():  # the metrics endpoints
        operation = document["paths"][f"/api/v1/metrics/{kind}"]["get"]
        assert {(p["in"], p["name"]) for p in operation["parameters"]} == {("header", "X-Tenant-Id"), ("header", "If-None-Match")} | {("query", name) for name in accepted}
        assert "security" not in operation
    assert document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"] == list(CODES)


def test_document_says_when_auth_is_required() -> None:
    document = auth_app.state.openapi
    operation = document["paths"]["/api/v1/metrics/summary"]["get"]
    assert operation["security"] == [{"bearer": []}]
    assert {"401", "403"} <= set(operation["responses"])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
