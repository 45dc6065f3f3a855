"""Events (docs/events.md): ingestion throughput and freshness, on DuckDB and PostgreSQL.

    python -m bench.events      # this section alone (about 5 minutes): merges its figures into
                                # bench/report.json and rewrites bench/report.md
    python -m bench.events --engine postgres    # one engine alone, its figures printed only

The store holds the demo data (5 tenants, 90 days: about 17,000 conversations and 120,000
messages; the rollup layout: DuckDB as `init-db` makes it, PostgreSQL after `init-db --rollup`),
and the events are new messages of the last days' conversations, as a CRM's message service
sends them.

- Throughput: `crm-metrics serve` (EVENTS_TOKEN) in its own process, taking POSTs of 5,000
  NDJSON events one after the other; and the stream consumer (server/stream.py, in this process)
  draining a stream filled beforehand, reading 5,000 entries at a time. Events per second over
  the whole run, the transactions and the derived tables' refresh included.
- Freshness: `crm-metrics serve` with EVENTS_STREAM and EVENTS_TOKEN, no result cache, while
  1,000 message events per second arrive (by XADD 100 every 100 ms; by POST a batch of 1,000
  every second, not waiting for the answers); a probe adds one message to a tenant of its own,
  the same way (by XADD every 250 ms; by POST as one event of each second's batch), and a
  watcher polls that tenant's dashboard: the time from XADD or POST to the change, p50 and p99.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import machine, report, stores
from bench.http_load import CLI
from bench.http_load import _free_port as free_port

THROUGHPUT_EVENTS = 25_000
BATCH = 5_000
RATE = 1_000  # events per second, sustained
FRESHNESS_SECONDS = 20
PROBE_TENANT = "0be0c4e0-0000-4000-8000-0000000000fe"
PROBE_CONVERSATION = "bench-probe"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "bench-events-token"

Progress = Callable[[str], None]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Messages:
    """New messages of the store's recent conversations, numbered from `prefix`."""

    def __init__(self, conversations: list[str], prefix: str, seed: int = 12) -> None:
        self.conversations = conversations
        self.prefix = prefix
        self.rng = random.Random(seed)
        self.count = 0

    def events(self, n: int) -> list[dict[str, Any]]:
        now = dt.datetime.now(dt.UTC).isoformat()
        items = []
        for _ in range(n):
            self.count += 1
            sender = self.rng.choice(("customer", "llm", "agent"))
            items.append(
                {
                    "type": "message",
                    "data": {
                        "id": f"{self.prefix}-{self.count}",
                        "conversation_id": self.rng.choice(self.conversations),
                        "sender_type": sender,
                        "content": "Bisa cek status pesanan saya?",
                        "timestamp": now,
                        "metadata": {"tokens_used": 180} if sender == "llm" else None,
                    },
                }
            )
        return items


def _ndjson(items: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def _probe_rows() -> list[dict[str, Any]]:
    return [
        {"type": "tenant", "data": {"id": PROBE_TENANT, "name": "Bench probe", "timezone": "UTC"}},
        {"type": "conversation", "data": {"id": PROBE_CONVERSATION, "tenant_id": PROBE_TENANT, "customer_phone": "+1",
                                          "status": "active", "started_at": dt.datetime.now(dt.UTC).isoformat()}},
    ]


@contextmanager
def _server(url: str, log: Path, **settings: str) -> Iterator[str]:
    """`crm-metrics serve` over `url` with `settings`; its base URL."""
    import httpx2

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "JWT_", "CACHE_", "EVENTS_"))}
    env.update(ENVIRONMENT="test", LOG_LEVEL="WARNING", CACHE_TTL_SECONDS="0", EVENTS_TOKEN=TOKEN, REDIS_URL=REDIS_URL, **settings)
    with log.open("ab") as out:
        process = subprocess.Popen([CLI, "serve", "--database-url", url, "--port", str(port)], env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"crm-metrics serve exited with {process.returncode}; see {log}")
            try:
                health = httpx2.get(f"{base}/health", timeout=2).json()
                if "EVENTS_STREAM" not in settings or health.get("events", {}).get("state") == "running":
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"crm-metrics serve did not answer within 60 s; see {log}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(60)


def _recent_conversations(url: str) -> list[str]:
    """The demo's conversations of the last three days: those a message service writes to."""
    from crm_metrics import Metrics

    with Metrics.connect(url, read_only=True) as metrics:
        if url.startswith("duckdb"):
            rows = metrics.executor._cursor().execute(  # type: ignore[attr-defined]
                "SELECT id FROM conversations WHERE started_at > now() - INTERVAL 3 DAY ORDER BY id LIMIT 3000"
            ).fetchall()
        else:
            rows = metrics.executor._read(  # type: ignore[attr-defined]
                "SELECT id FROM conversations WHERE started_at > now() - interval '3 days' ORDER BY id LIMIT 3000", ()
            )
    return [row[0] for row in rows]


def throughput_http(url: str, conversations: list[str], log: Path) -> dict[str, Any]:
    import httpx2

    messages = Messages(conversations, "http")
    with _server(url, log, EVENTS_MAX_BATCH=str(BATCH)) as base, httpx2.Client(timeout=300) as client:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
        # One batch first: the versions table is made and the plans are warm.
        client.post(f"{base}/api/v1/events", content=_ndjson(messages.events(BATCH)), headers=headers).raise_for_status()
        bodies = [_ndjson(messages.events(BATCH)) for _ in range(THROUGHPUT_EVENTS // BATCH)]
        started = time.perf_counter()
        for body in bodies:
            client.post(f"{base}/api/v1/events", content=body, headers=headers).raise_for_status()
        seconds = time.perf_counter() - started
    return {"events": THROUGHPUT_EVENTS, "batch": BATCH, "seconds": round(seconds, 2), "events_per_second": round(THROUGHPUT_EVENTS / seconds)}


def throughput_stream(url: str, conversations: list[str]) -> dict[str, Any]:
    import redis

    from crm_metrics import Metrics
    from server.stream import Consumer

    client = redis.Redis.from_url(REDIS_URL)
    stream = f"bench-events-{os.getpid()}-{time.monotonic_ns()}"
    messages = Messages(conversations, "stream")
    def fill(items: list[dict[str, Any]]) -> None:
        pipe = client.pipeline(transaction=False)
        for item in items:
            pipe.xadd(stream, {"event": json.dumps(item)})
        pipe.execute()

    try:
        with Metrics.connect(url) as metrics:
            consumer = Consumer(metrics, client, stream, "bench", "bench-1", batch=BATCH, block=0.1)
            fill(messages.events(BATCH))
            consumer.drain()  # the warm-up batch: the versions table, the plans
            for _ in range(THROUGHPUT_EVENTS // BATCH):
                fill(messages.events(BATCH))
            started = time.perf_counter()
            consumer.drain()
            seconds = time.perf_counter() - started
    finally:
        client.delete(stream, f"{stream}:dead")
        client.close()
    return {"events": THROUGHPUT_EVENTS, "batch": BATCH, "seconds": round(seconds, 2), "events_per_second": round(THROUGHPUT_EVENTS / seconds)}


def freshness(url: str, conversations: list[str], way: str, log: Path) -> dict[str, Any]:
    """Time from XADD or POST to the change in an uncached dashboard, while RATE events/s arrive
    the same way (by XADD: 100 every 100 ms; by POST: a batch of RATE every second, as a service
    that buffers a second would send them, without waiting for the answers)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx2
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    stream = f"bench-fresh-{os.getpid()}-{time.monotonic_ns()}"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    load, probe = Messages(conversations, f"load-{way}"), Messages([PROBE_CONVERSATION], f"probe-{way}")
    stop = threading.Event()
    offered = [0]
    sent_at: list[float] = []
    seen_at: dict[int, float] = {}
    try:
        with _server(url, log, EVENTS_STREAM=stream) as base, httpx2.Client(timeout=300) as http, ThreadPoolExecutor(16) as pool:
            def post(items: list[dict[str, Any]]) -> None:
                with httpx2.Client(timeout=300) as own:
                    own.post(f"{base}/api/v1/events", content=_ndjson(items), headers=headers).raise_for_status()

            def send(items: list[dict[str, Any]]) -> None:
                if way == "stream":
                    pipe = client.pipeline(transaction=False)
                    for item in items:
                        pipe.xadd(stream, {"event": json.dumps(item)})
                    pipe.execute()
                else:
                    pool.submit(post, items)

            post(_probe_rows())
            today = dt.datetime.now(dt.UTC).date().isoformat()
            dashboard = f"{base}/api/v1/metrics/dashboard?start_date={today}&end_date={today}&tz=UTC"

            def counted() -> int:
                body = http.get(dashboard, headers={"X-Tenant-Id": PROBE_TENANT}).json()
                return sum(row["total_messages"] for row in body["messages"])

            def produce() -> None:
                period = 0.1 if way == "stream" else 1.0
                tick = time.perf_counter()
                while not stop.is_set():
                    items = load.events(round(RATE * period))
                    if way == "http":
                        # Over HTTP the probe rides in the second's batch, as a service sends it.
                        items[-1] = probe.events(1)[0]
                        sent_at.append(time.perf_counter())
                    send(items)
                    offered[0] += len(items)
                    tick += period
                    time.sleep(max(0.0, tick - time.perf_counter()))

            def watch() -> None:
                # Probe k is visible once the probe tenant counts k messages more than before
                # this run (the other way's run, before it, left its probes there).
                while not stop.is_set() or len(seen_at) < len(sent_at):
                    count = counted() - before
                    now = time.perf_counter()
                    for k in range(len(seen_at), min(count, len(sent_at))):
                        seen_at[k] = now
                    if stop.is_set() and now - stopped[0] > 120:
                        break
                    time.sleep(0.01)

            before = counted()
            stopped = [float("inf")]
            producer = threading.Thread(target=produce, daemon=True)
            watcher = threading.Thread(target=watch, daemon=True)
            producer.start()
            watcher.start()
            started = time.perf_counter()
            while time.perf_counter() - started < FRESHNESS_SECONDS:
                if way == "stream":
                    sent_at.append(time.perf_counter())
                    send(probe.events(1))
                time.sleep(0.25)
            elapsed = time.perf_counter() - started
            stopped[0] = time.perf_counter()
            stop.set()
            producer.join()
            watcher.join()
            lag = http.get(f"{base}/health").json().get("events", {})
    finally:
        client.delete(stream, f"{stream}:dead")
        client.close()
    latencies = [seen_at[k] - sent_at[k] for k in sorted(seen_at)] or [float("nan")]
    return {
        "way": way,
        "rate_offered": round(offered[0] / elapsed),
        "probes": len(sent_at),
        "probes_seen": len(latencies),
        "p50_ms": round(1000 * _percentile(latencies, 0.5), 1),
        "p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies), 1),
        "stream_lag_at_end": lag.get("lag") if way == "stream" else None,
    }


def _engine(name: str, url: str, progress: Progress, log: Path) -> dict[str, Any]:
    conversations = _recent_conversations(url)
    result: dict[str, Any] = {"conversations_written_to": len(conversations)}
    progress(f"events/{name}: throughput over HTTP ({THROUGHPUT_EVENTS:,} events in POSTs of {BATCH:,})")
    result["http"] = throughput_http(url, conversations, log)
    progress(f"events/{name}: throughput over the stream")
    result["stream"] = throughput_stream(url, conversations)
    for way in ("stream", "http"):
        progress(f"events/{name}: freshness by {way} at {RATE:,} events/s for {FRESHNESS_SECONDS} s")
        result[f"freshness_{way}"] = freshness(url, conversations, way, log)
    return result


def _postgres(progress: Progress, log: Path) -> dict[str, Any]:
    from crm_metrics import Metrics, demo

    if reason := stores.postgres_available():
        return {"skipped": reason}
    with stores.postgres_schema() as schema:
        pg = stores.schema_url(schema)
        progress("events: the demo data into PostgreSQL (init-db --rollup)")
        with Metrics.connect(pg) as metrics:
            metrics.store.init_db(rollup=True)
            demo.write(metrics)
        return _engine("postgres", pg, progress, log)


def measure(progress: Progress = print, engines: tuple[str, ...] = ("duckdb", "postgres")) -> dict[str, Any]:
    """Every figure of this section for `engines` (or `skipped` with the reason)."""
    import redis

    from crm_metrics import Metrics, demo

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return {"skipped": f"Redis at {REDIS_URL} does not answer: {error}"}
    section: dict[str, Any] = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "load_average_at_start": os.getloadavg()[0], "speed_ms": machine.speed_ms()}
    directory = Path(tempfile.mkdtemp(prefix="bench-events-"))
    log = directory / "serve.log"
    try:
        if "duckdb" in engines:
            url = f"duckdb:///{directory / 'events.duckdb'}"
            progress("events: the demo data into DuckDB")
            with Metrics.connect(url) as metrics:
                section["store"] = demo.write(metrics)
            section["duckdb"] = _engine("duckdb", url, progress, log)
        if "postgres" in engines:
            section["postgres"] = _postgres(progress, log)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    section["load_average_at_end"] = os.getloadavg()[0]
    return section


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("duckdb", "postgres"), help="measure this engine alone and print its figures (bench/report.md is left as it is)")
    args = parser.parse_args()
    started = time.perf_counter()

    def progress(line: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {line}", flush=True)

    if args.engine:
        print(json.dumps(measure(progress, (args.engine,)), indent=2))
        return
    path = report.HERE / "report.json"
    result = json.loads(path.read_text())
    result["events"] = measure(progress)
    report.write(result)
    progress("bench.events: done; wrote bench/report.md and bench/report.json")
    for row in report.events_targets(result):
        print("  " + " | ".join(row))


if __name__ == "__main__":
    sys.exit(main())
