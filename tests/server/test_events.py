"""POST /api/v1/events: every table's events, shuffled and duplicated, converge to the answers of
the final rows loaded with `crm-metrics load`, on DuckDB and PostgreSQL (every engine:
tests/conformance/test_events.py); a bad batch writes nothing; the credential; the cache goes
stale for the tenant an event touches and no other."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from crm_metrics import Metrics, Settings
from server import ServerConfig

from tests.support.api import OUTLET, ROWS, TENANT_A, TENANT_B, assert_error, memory_metrics
from tests.support.compare import assert_same
from tests.support.engines import DuckDBEngine, Engine, PostgresRollupEngine
from tests.support.events import chunks, event, history, loaded, ndjson
from tests.server.test_cache import prefix, redis_url  # noqa: F401  (fixtures: the machine's Redis, a key prefix)

URL = "/api/v1/events"
QUERIES = [
    "/api/v1/metrics/dashboard?start_date=2025-10-30&end_date=2025-11-04",
    "/api/v1/metrics/summary?start_date=2025-11-01&end_date=2025-11-04",
    f"/api/v1/metrics/summary?start_date=2025-11-01&end_date=2025-11-04&outlet_id={OUTLET}&tz=UTC",
]
TOKEN = "s3cret-events-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module", params=[DuckDBEngine, PostgresRollupEngine], ids=lambda e: e.name)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    instance = request.param()
    instance.start()
    yield instance
    instance.stop()


def answers(get: Callable[[str, dict[str, str]], Any]) -> dict[tuple[str, str], Any]:
    return {(tenant, query): get(query, {"X-Tenant-Id": tenant}) for tenant in (TENANT_A, TENANT_B) for query in QUERIES}


def test_events_over_http_converge_to_the_loaded_rows(engine: Engine, connect: Callable[..., TestClient]) -> None:
    expected = loaded()
    want = answers(lambda query, headers: connect(over=expected).get(query, headers=headers).json())
    for seed in (1,):
        client = connect(ServerConfig(events_token=TOKEN), over=engine.fresh())
        for number, batch in enumerate(chunks(history(seed), 7)):
            if number % 2:
                response = client.post(URL, content=ndjson(batch), headers={**AUTH, "Content-Type": "application/x-ndjson"})
            else:
                response = client.post(URL, json=batch, headers=AUTH)
            assert (response.status_code, response.json()) == (202, {"accepted": len(batch)})
        got = answers(lambda query, headers: client.get(query, headers=headers).json())
        assert_same(got, want)


def test_a_bad_batch_writes_nothing(engine: Engine, connect: Callable[..., TestClient]) -> None:
    client = connect(ServerConfig(events_token=TOKEN), over=engine.fresh(ROWS))
    before = answers(lambda query, headers: client.get(query, headers=headers).content)
    conversation = {**ROWS["conversations"][0], "status": "active"}
    good = [event("conversations", conversation, None), event("tenants", {**ROWS["tenants"][0], "name": "Renamed"}, None)]
    bad = [
        ([*good, event("messages", {**ROWS["messages"][0], "timestamp": "yesterday"}, None)], "events[2].data.timestamp"),
        ([*good, {"type": "message", "op": "delete", "data": {}}], "events[2].data.id"),
        ([*good, {"type": "conversation", "data": conversation, "extra": 1}], "events[2].extra"),
        ([*good, "not an event"], "events[2]"),
    ]
    for batch, field in bad:
        error = assert_error(client.post(URL, json=batch, headers=AUTH), 422, "invalid_event", field)
        assert error["message"].startswith(field)
    assert_error(client.post(URL, content=b'{"type": "tenant"', headers=AUTH), 422, "invalid_event", "body")
    assert_error(client.post(URL, content=b'{"x": 1}\n{oops', headers={**AUTH, "Content-Type": "application/x-ndjson"}), 422, "invalid_event", "events[1]")
    if engine.name.startswith("postgres"):
        # Checked, but PostgreSQL cannot store a NUL character: the transaction rolls back whole.
        refused = [*good, event("messages", {**ROWS["messages"][0], "content": "a\x00b"}, None)]
        assert_error(client.post(URL, json=refused, headers=AUTH), 422, "invalid_event", "events")
    assert answers(lambda query, headers: client.get(query, headers=headers).content) == before


def test_the_batch_size_is_limited(connect: Callable[..., TestClient]) -> None:
    client = connect(ServerConfig(events_max_batch=2))
    items = [event("tenants", row, None) for row in ROWS["tenants"]] * 2
    assert_error(client.post(URL, json=items), 422, "invalid_event", "events")
    assert client.post(URL, json=items[:2]).status_code == 202


def test_the_events_token(connect: Callable[..., TestClient]) -> None:
    item = [event("tenants", ROWS["tenants"][0], None)]
    client = connect(ServerConfig(events_token=TOKEN))
    assert_error(client.post(URL, json=item), 401, "unauthorized", "Authorization")
    assert_error(client.post(URL, json=item, headers={"Authorization": "Bearer nope"}), 401, "unauthorized", "Authorization")
    assert_error(client.post(URL, json=item, headers={"Authorization": f"Basic {TOKEN}"}), 401, "unauthorized", "Authorization")
    assert client.post(URL, json=item, headers=AUTH).status_code == 202
    # A tenant's JWT is no events credential, nor is an events token a tenant's.
    production = connect(ServerConfig(environment="production", allow_unauthenticated=True))
    assert_error(production.post(URL, json=item), 404, "not_found")
    assert connect(ServerConfig(environment="development")).post(URL, json=item).status_code == 202


def test_a_read_only_store_takes_no_events(connect: Callable[..., TestClient], tmp_path: Any) -> None:
    url = f"duckdb:///{tmp_path / 'crm.duckdb'}"
    with Metrics.connect(settings=Settings(database_url=url)) as metrics:
        metrics.store.init_db()
    with Metrics.connect(settings=Settings(database_url=url), read_only=True) as metrics:
        error = assert_error(connect(over=metrics).post(URL, json=[]), 404, "not_found")
        assert "read-only: set EVENTS_TOKEN (or EVENTS_STREAM)" in error["message"]


def _summary(client: TestClient, tenant: str) -> tuple[int, str]:
    response = client.get(QUERIES[1], headers={"X-Tenant-Id": tenant})
    return response.json()["total_messages"], response.headers.get("etag", "")


@pytest.mark.parametrize("cache", ["in_process", "redis"])
def test_an_event_makes_its_tenant_stale_and_no_other(
    cache: str, connect: Callable[..., TestClient], caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    config = ServerConfig(redis_url=request.getfixturevalue("redis_url"), cache_key_prefix=request.getfixturevalue("prefix")) if cache == "redis" else ServerConfig()
    with memory_metrics() as metrics:
        client = connect(config, over=metrics)
        assert client.get("/health").json()["cache"] == ("connected" if cache == "redis" else "in_process")
        a, b = _summary(client, TENANT_A), _summary(client, TENANT_B)
        caplog.set_level(logging.INFO, "server.access")
        assert (_summary(client, TENANT_A), _summary(client, TENANT_B)) == (a, b)
        new = {**ROWS["messages"][0], "id": "msg-new", "timestamp": "2025-11-01T02:10:00Z"}
        assert client.post(URL, json=[event("messages", new, None)]).status_code == 202
        assert _summary(client, TENANT_A)[0] == a[0] + 1
        assert _summary(client, TENANT_B) == b
        cached = [r.fields["cache"] for r in caplog.records if r.name == "server.access" and r.fields["route"] != URL]
        assert cached == ["hit", "hit", "miss", "hit"]
