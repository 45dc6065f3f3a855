"""The answer cache: keys, the in-process TTL cache, Redis (the machine's, and a private
instance stopped and started mid-test), single flight."""

from __future__ import annotations

import dataclasses

import asyncio
import datetime as dt
import logging
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
import redis
from starlette.testclient import TestClient

from crm_metrics import ConfigError, Metrics, __version__
from server import ServerConfig, create_app
from server.cache import MemoryStore, cache_key
from crm_metrics.request import Query
from server.params import Ask

from tests.support.engines import unavailable
from tests.support.api import TENANT_A, assert_error, free_port

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
DASHBOARD = "/api/v1/metrics/dashboard?start_date=2025-11-01&end_date=2025-11-04"
SUMMARY = "/api/v1/metrics/summary?start_date=2025-11-01&end_date=2025-11-04"
TENANT = {"X-Tenant-Id": TENANT_A}


class CountingMetrics(Metrics):
    """Counts the queries the server asks for; `delay` holds each one open a while."""

    def __init__(self, base: Metrics, delay: float = 0.0) -> None:
        super().__init__(base.executor, base.settings, clock=base.clock)
        self.delay = delay
        self.calls = 0
        self._count = threading.Lock()

    def _counted(self) -> None:
        with self._count:
            self.calls += 1
        time.sleep(self.delay)

    def answer(self, *args: Any, **kwargs: Any) -> Any:
        self._counted()
        return super().answer(*args, **kwargs)


def outcomes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The cache outcome of each request, from the access log."""
    return [r.fields["cache"] for r in caplog.records if r.name == "server.access" and r.fields["route"] != "/health"]


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The machine's Redis; every key this test writes carries its own prefix and is removed."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        unavailable(f"Redis at {REDIS_URL} does not answer: {error}")
    yield REDIS_URL
    client.close()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    prefix = f"crm-metrics-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


class PrivateRedis:
    """A redis-server of our own on a free loopback port, to stop and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    instance = PrivateRedis()
    instance.start()
    yield instance
    instance.stop()


def test_cache_key() -> None:
    query = Ask("dashboard", Query(TENANT_A, dt.date(2025, 11, 1), dt.date(2025, 11, 4), "11111111-1111-1111-1111-111111111111", "Asia/Jakarta", "week"))
    assert cache_key("analytics", query) == (
        f"analytics:dashboard:v{__version__}:{TENANT_A}:2025-11-01:2025-11-04:11111111-1111-1111-1111-111111111111:Asia/Jakarta:week:g0"
    )
    defaults = Ask("summary", Query(TENANT_A))
    assert cache_key("analytics", defaults) == f"analytics:summary:v{__version__}:{TENANT_A}:-:-:-:-:-:g0"
    # The tenant's generation, raised by every event that touches it (tests/server/test_events.py).
    assert cache_key("analytics", defaults, 7) == f"analytics:summary:v{__version__}:{TENANT_A}:-:-:-:-:-:g7"
    compared = Ask("summary", Query(TENANT_A, compare="previous"))
    assert cache_key("analytics", compared) == f"analytics:summary:v{__version__}:{TENANT_A}:-:-:-:-:-:previous:g0"
    # The settings' digest (Metrics.fingerprint) rides with the version.
    assert cache_key("analytics", defaults, 0, "3f2a9c1e") == f"analytics:summary:v{__version__}-3f2a9c1e:{TENANT_A}:-:-:-:-:-:g0"


def test_fingerprint_follows_the_settings_answers_depend_on(metrics: Metrics) -> None:
    same = Metrics(metrics.executor, dataclasses.replace(metrics.settings, query_timeout_seconds=5))
    assert same.fingerprint == metrics.fingerprint
    for change in ({"whatsapp_price_per_message": 0.02}, {"llm_price_per_million_tokens": 0.6}, {"lookaround_days": 30}):
        assert Metrics(metrics.executor, dataclasses.replace(metrics.settings, **change)).fingerprint != metrics.fingerprint


def test_a_restart_with_other_prices_never_serves_the_old_answers(
    connect: Callable[..., TestClient], metrics: Metrics, redis_url: str, prefix: str
) -> None:
    config = ServerConfig(redis_url=redis_url, cache_key_prefix=prefix)
    before = connect(config).get(SUMMARY, headers=TENANT).json()
    dearer = Metrics(metrics.executor, dataclasses.replace(metrics.settings, whatsapp_price_per_message=0.02))
    after = connect(config, over=dearer).get(SUMMARY, headers=TENANT).json()
    assert after["total_cost"] > before["total_cost"] > 0


@pytest.mark.anyio
async def test_memory_store_expires_and_evicts() -> None:
    now = [0.0]
    store = MemoryStore(ttl=300, max_entries=2, clock=lambda: now[0])
    await store.set("a", b"1")
    await store.set("b", b"2")
    assert await store.get("a") == b"1"  # "a" is now the most recently used
    await store.set("c", b"3")
    assert (await store.get("b"), await store.get("a"), await store.get("c")) == (None, b"1", b"3")
    now[0] = 299.9
    assert await store.get("a") == b"1"
    now[0] = 300.0
    assert await store.get("a") is None


def test_in_process_cache(connect: Callable[..., TestClient], metrics: Metrics, caplog: pytest.LogCaptureFixture) -> None:
    counting = CountingMetrics(metrics)
    client = connect(over=counting)
    caplog.set_level(logging.INFO, "server.access")
    first, second = client.get(DASHBOARD, headers=TENANT), client.get(DASHBOARD, headers=TENANT)
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    client.get(DASHBOARD + "&granularity=week", headers=TENANT)
    client.get(SUMMARY, headers=TENANT)
    assert counting.calls == 3
    assert outcomes(caplog) == ["miss", "hit", "miss", "miss"]
    assert client.get("/health").json()["cache"] == "in_process"


def test_cache_disabled(connect: Callable[..., TestClient], metrics: Metrics, caplog: pytest.LogCaptureFixture) -> None:
    counting = CountingMetrics(metrics)
    client = connect(ServerConfig(cache_ttl_seconds=0), over=counting)
    caplog.set_level(logging.INFO, "server.access")
    assert client.get(DASHBOARD, headers=TENANT).content == client.get(DASHBOARD, headers=TENANT).content
    assert counting.calls == 2
    assert outcomes(caplog) == ["off", "off"]
    assert client.get("/health").json()["cache"] == "disabled"


def test_invalid_requests_never_reach_the_cache(connect: Callable[..., TestClient], metrics: Metrics) -> None:
    counting = CountingMetrics(metrics)
    client = connect(over=counting)
    assert_error(client.get(DASHBOARD + "&tz=Nowhere", headers=TENANT), 400, "invalid_parameter", "tz")
    assert counting.calls == 0


async def _concurrent(app: Any, urls: list[str]) -> list[httpx2.Response]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test") as client:
        return await asyncio.gather(*(client.get(url, headers=TENANT) for url in urls))


@pytest.mark.anyio
@pytest.mark.parametrize("store", ["memory", "redis", "off"])
async def test_identical_concurrent_requests_run_once(
    store: str, metrics: Metrics, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    if store == "redis":
        config = ServerConfig(redis_url=REDIS_URL, cache_key_prefix=request.getfixturevalue("prefix"))
    else:
        config = ServerConfig(cache_ttl_seconds=300 if store == "memory" else 0)
    counting = CountingMetrics(metrics, delay=0.3)
    app = create_app(counting, config)
    caplog.set_level(logging.INFO, "server.access")
    responses = await _concurrent(app, [DASHBOARD] * 8 + [SUMMARY] * 4)
    await app.state.results.close()
    assert [r.status_code for r in responses] == [200] * 12
    assert len({r.content for r in responses[:8]}) == 1 and len({r.content for r in responses[8:]}) == 1
    assert counting.calls == 2  # one dashboard, one summary
    first = "off" if store == "off" else "miss"
    assert sorted(outcomes(caplog)) == sorted([first] * 2 + ["shared"] * 10)


def test_redis_cache(connect: Callable[..., TestClient], metrics: Metrics, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    counting = CountingMetrics(metrics)
    client = connect(ServerConfig(redis_url=redis_url, cache_key_prefix=prefix), over=counting)
    caplog.set_level(logging.INFO, "server.access")
    first = client.get(DASHBOARD, headers=TENANT)
    key = f"{prefix}:dashboard:v{__version__}-{metrics.fingerprint}:{TENANT_A}:2025-11-01:2025-11-04:-:-:day:g0"
    direct = redis.Redis.from_url(redis_url)
    assert direct.get(key) == first.content
    assert 0 < direct.ttl(key) <= 300
    assert client.get(DASHBOARD, headers=TENANT).content == first.content
    assert counting.calls == 1
    # An entry another server process wrote is served as it is.
    direct.set(key, b'{"from":"another instance"}\n', ex=60)
    assert client.get(DASHBOARD, headers=TENANT).content == b'{"from":"another instance"}\n'
    direct.close()
    assert outcomes(caplog) == ["miss", "hit", "hit"]
    assert client.get("/health").json()["cache"] == "connected"


def test_redis_stopped_mid_run(
    connect: Callable[..., TestClient], metrics: Metrics, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping Redis changes nothing a client sees but latency; caching resumes by itself."""
    counting = CountingMetrics(metrics)
    client = connect(ServerConfig(redis_url=private_redis.url), over=counting)
    caplog.set_level(logging.INFO)
    body = client.get(DASHBOARD, headers=TENANT).content
    assert client.get(DASHBOARD, headers=TENANT).content == body

    private_redis.stop()
    for _ in range(3):
        response = client.get(DASHBOARD, headers=TENANT)
        assert (response.status_code, response.content) == (200, body)
    health = client.get("/health")
    assert health.status_code == 200
    assert (health.json()["status"], health.json()["cache"]) == ("degraded", "unavailable")
    warnings = [r for r in caplog.records if r.name == "server.cache" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()  # once per outage

    private_redis.start()  # same port, empty (no persistence)
    time.sleep(1.05)  # REDIS_RETRY_AFTER: requests skip Redis that long after a failure
    assert client.get(DASHBOARD, headers=TENANT).content == body
    assert client.get(DASHBOARD, headers=TENANT).content == body
    assert outcomes(caplog) == ["miss", "hit", "uncached", "uncached", "uncached", "miss", "hit"]
    assert counting.calls == 5
    assert client.get("/health").json()["cache"] == "connected"


def test_redis_down_from_the_start(connect: Callable[..., TestClient], caplog: pytest.LogCaptureFixture) -> None:
    client = connect(ServerConfig(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    caplog.set_level(logging.INFO, "server.access")
    assert client.get(DASHBOARD, headers=TENANT).status_code == 200
    assert outcomes(caplog) == ["uncached"]
    assert client.get("/health").json()["cache"] == "unavailable"


def test_bad_redis_url(metrics: Metrics) -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        create_app(metrics, ServerConfig(redis_url="http://127.0.0.1:6379"))
