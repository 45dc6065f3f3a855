"""The events stream (server/stream.py) on the machine's Redis: every table's events, shuffled
and duplicated, converge to the loaded rows on DuckDB and PostgreSQL; poison entries go to the
dead letters while the rest apply; consumers of one group share the work and claim what a dead
one left pending; a consumer killed with SIGKILL mid-batch and restarted loses and doubles
nothing; /health shows the consumer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from crm_metrics import Metrics, Settings
from server.stream import Consumer, parse

from tests.server.test_cache import REDIS_URL, redis_url  # noqa: F401  (fixture: the machine's Redis)
from tests.support.api import ROWS, TENANT_A, TENANT_B
from tests.support.compare import assert_same
from tests.support.engines import FIXED_NOW, DuckDBEngine, Engine, PostgresRollupEngine
from tests.support.events import chunks, event, history, loaded

QUERY = {"start_date": "2025-10-30", "end_date": "2025-11-04"}


@pytest.fixture(scope="module", params=[DuckDBEngine, PostgresRollupEngine], ids=lambda e: e.name)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    instance = request.param()
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:  # noqa: F811
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def stream(client: redis.Redis) -> Iterator[str]:
    name = f"crm-metrics-test-{uuid.uuid4().hex[:12]}:events"
    yield name
    client.delete(name, f"{name}:dead")


def answers(metrics: Metrics) -> dict[str, Any]:
    return {tenant: (metrics.dashboard(tenant, **QUERY).to_dict(), metrics.summary(tenant, **QUERY).to_dict()) for tenant in (TENANT_A, TENANT_B)}


def add(client: redis.Redis, stream: str, items: list[Any], *, batched: bool = False) -> None:
    pipe = client.pipeline()
    for item in items:
        pipe.xadd(stream, {"events": json.dumps(item)} if batched else {"event": json.dumps(item)})
    pipe.execute()


def test_stream_events_converge_to_the_loaded_rows(engine: Engine, client: redis.Redis, stream: str) -> None:
    metrics = engine.fresh()
    items = history(3)
    # Some entries hold one event, others an array of several.
    add(client, stream, items[:20])
    add(client, stream, list(chunks(items[20:], 4)), batched=True)
    consumer = Consumer(metrics, client, stream, "g", "one", batch=7, block=0.05)
    consumer.drain()
    assert_same(answers(metrics), answers(loaded()))
    groups = client.xinfo_groups(stream)
    assert (groups[0]["pending"], groups[0]["lag"], client.xlen(f"{stream}:dead")) == (0, 0, 0)


def test_poison_entries_go_to_the_dead_letters_and_the_rest_apply(engine: Engine, client: redis.Redis, stream: str) -> None:
    metrics = engine.fresh()
    conversation = {**ROWS["conversations"][0], "id": "conv-9"}
    message = {**ROWS["messages"][0], "conversation_id": "conv-9"}
    client.xadd(stream, {"event": json.dumps(event("conversations", conversation, 1))})
    client.xadd(stream, {"event": b"{not json"})
    client.xadd(stream, {"other": b"1"})
    client.xadd(stream, {"event": json.dumps(event("messages", {**message, "timestamp": "soon"}, 1))})
    poison = ["not valid JSON", "neither an `event` nor an `events` field", "events[0].data.timestamp"]
    if engine.name.startswith("postgres"):
        # Checked, but PostgreSQL refuses it: found by applying the batch entry by entry.
        client.xadd(stream, {"event": json.dumps(event("messages", {**message, "id": "nul", "content": "a\x00b"}, 1))})
        poison.append("PostgreSQL refused the events")
    client.xadd(stream, {"event": json.dumps(event("messages", {**message, "id": "msg-9"}, 1))})
    consumer = Consumer(metrics, client, stream, "g", "one", block=0.05)
    consumer.drain()
    dead = client.xrange(f"{stream}:dead")
    assert len(dead) == len(poison)
    for (_, fields), error in zip(dead, poison, strict=True):
        assert error in fields[b"error"].decode() and fields[b"entry"] and fields[b"group"] == b"g"
    assert client.xinfo_groups(stream)[0]["pending"] == 0
    summary = metrics.summary(TENANT_A, "2025-11-01", "2025-11-01", tz="UTC")
    assert (summary.total_conversations, summary.total_messages) == (1, 1)  # conv-9 and msg-9


def test_consumers_share_the_work_and_claim_a_dead_ones(client: redis.Redis, stream: str) -> None:
    engine = DuckDBEngine()
    engine.start()
    try:
        metrics = engine.fresh()
        items = history(4)
        add(client, stream, items)
        # A consumer that read entries and died without acknowledging them.
        client.xgroup_create(stream, "g", id="0")
        taken = client.xreadgroup("g", "dead", {stream: ">"}, count=5)[0][1]
        one = Consumer(metrics, client, stream, "g", "one", batch=6, block=0.05, claim_idle=3600)
        two = Consumer(metrics, client, stream, "g", "two", batch=6, block=0.05, claim_idle=0)
        while one.step() + two.step():
            pass
        assert one.applied and two.applied and one.applied + two.applied == len(items)
        pending = client.xpending(stream, "g")
        assert pending["pending"] == 0, pending
        assert len(taken) == 5
        assert_same(answers(metrics), answers(loaded()))
    finally:
        engine.stop()


def test_an_entry_that_keeps_failing_is_dead_lettered(client: redis.Redis, stream: str) -> None:
    with Metrics.connect(settings=Settings(database_url="duckdb:///:memory:")) as metrics:
        metrics.store.init_db()
        client.xgroup_create(stream, "g", id="0", mkstream=True)
        client.xadd(stream, {"event": json.dumps(event("tenants", ROWS["tenants"][0], 1))})
        for _ in range(6):  # delivered, and the consumer died each time before acknowledging
            client.xreadgroup("g", "one", {stream: "0" if _ else ">"})
        Consumer(metrics, client, stream, "g", "one", block=0.05).drain()
        (_, fields), = client.xrange(f"{stream}:dead")
        assert b"delivered 7 times" in fields[b"error"] or b"delivered 6 times" in fields[b"error"]


def test_parse() -> None:
    item = event("tenants", ROWS["tenants"][0], None)
    assert parse({b"event": json.dumps(item).encode()}) == parse({b"events": json.dumps([item]).encode()})
    with pytest.raises(Exception, match="must be a JSON array"):
        parse({b"events": json.dumps(item).encode()})


def test_a_consumer_killed_mid_batch_loses_and_doubles_nothing(client: redis.Redis, stream: str, tmp_path: Path) -> None:
    """`crm-metrics consume` on a DuckDB file, SIGKILLed while it works, then run again; and
    refused while another process writes the file."""
    url = f"duckdb:///{tmp_path / 'crm.duckdb'}"
    env = {**os.environ, "REDIS_URL": REDIS_URL, "EVENTS_MAX_BATCH": "20", "CACHE_TTL_SECONDS": "0", "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "crm_metrics", "consume", "--database-url", url, "--stream", stream, "--name", "c1"]
    with Metrics.connect(settings=Settings(database_url=url)) as metrics:
        metrics.store.init_db()
        # This process writes the store: a consumer in another is refused, with the way out.
        refused = subprocess.run([*command, "--once"], env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "in use by another process" in refused.stderr and "set EVENTS_STREAM there" in refused.stderr, refused.stderr
    rows = {
        "tenants": ROWS["tenants"],
        "conversations": ROWS["conversations"],
        "messages": [{**ROWS["messages"][n % 8], "id": f"m{n:04d}"} for n in range(150)],
    }
    items = [event(table, row, None) for table in ("tenants", "conversations", "messages") for row in rows[table]]
    add(client, stream, items)
    log = tmp_path / "consume.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while not client.exists(stream) or not client.xinfo_groups(stream) or (client.xinfo_groups(stream)[0]["entries-read"] or 0) < 40:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the consumer did not start"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    group = client.xinfo_groups(stream)[0]
    assert group["lag"] + group["pending"] > 0  # killed with work left: read and not acknowledged, or not read
    done = subprocess.run([*command, "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    group = client.xinfo_groups(stream)[0]
    assert (group["pending"], group["lag"], client.xlen(f"{stream}:dead")) == (0, 0, 0)
    with Metrics.connect(settings=Settings(database_url=url), read_only=True, clock=lambda: FIXED_NOW) as metrics:
        assert_same(answers(metrics), answers(loaded(rows)))
        assert metrics.executor._cursor().execute("SELECT count(*), count(DISTINCT id) FROM messages").fetchall() == [(150, 150)]  # type: ignore[attr-defined]


def test_health_shows_the_consumer(connect: Callable[..., TestClient], client: redis.Redis, stream: str) -> None:
    with Metrics.connect(settings=Settings(database_url="duckdb:///:memory:")) as metrics:
        metrics.store.init_db()
        add(client, stream, [event("tenants", row, None) for row in ROWS["tenants"]])
        client.xadd(stream, {"event": b"poison"})
        consumer = Consumer(metrics, client, stream, "g", "one", batch=1, block=0.05)
        consumer.step()
        app = connect(over=metrics)
        app.app.state.consumer = consumer  # type: ignore[attr-defined]
        body = app.get("/health").json()
        assert body["events"] == {"stream": stream, "group": "g", "state": "running", "applied": 1, "lag": 2, "pending": 0, "dead_lettered": 0}
        consumer.drain()
        body = app.get("/health").json()
        assert (body["status"], body["events"]["lag"], body["events"]["dead_lettered"], body["events"]["applied"]) == ("healthy", 0, 1, 2)


def test_serve_consumes_the_stream(client: redis.Redis, stream: str, tmp_path: Path) -> None:
    """EVENTS_STREAM inside `crm-metrics serve` on a DuckDB file: an XADD shows in the next
    uncached answer and in /health."""
    import httpx2

    from tests.support.api import free_port, load

    url = f"duckdb:///{tmp_path / 'crm.duckdb'}"
    with Metrics.connect(settings=Settings(database_url=url)) as metrics:
        load(metrics)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "JWT_", "CACHE_", "EVENTS_"))}
    env.update(ENVIRONMENT="test", REDIS_URL=REDIS_URL, EVENTS_STREAM=stream, CACHE_KEY_PREFIX=stream)
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "crm_metrics", "serve", "--database-url", url, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
    base = f"http://127.0.0.1:{port}"
    summary = f"{base}/api/v1/metrics/summary?start_date=2025-11-01&end_date=2025-11-04"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx2.get(f"{base}/health", timeout=1).json().get("events", {}).get("state") == "running":
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        before = httpx2.get(summary, headers={"X-Tenant-Id": TENANT_A}).json()["total_messages"]
        new = {**ROWS["messages"][0], "id": "msg-streamed", "timestamp": "2025-11-01T02:30:00Z"}
        client.xadd(stream, {"event": json.dumps(event("messages", new, None))})
        while httpx2.get(summary, headers={"X-Tenant-Id": TENANT_A}).json()["total_messages"] == before:
            assert time.monotonic() < deadline + 10, log.read_text()
            time.sleep(0.05)
        health = httpx2.get(f"{base}/health").json()["events"]
        assert (health["stream"], health["state"], health["lag"], health["pending"], health["applied"]) == (stream, "running", 0, 0, 1)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0, log.read_text()
        for key in client.scan_iter(match=f"{stream}:generation:*"):
            client.delete(key)
