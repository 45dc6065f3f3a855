"""PostgreSQL's live rollup (docs/postgres.md, "The live rollup"): what it costs the CRM's
writers and how fresh it keeps the rollup. Runs alone:

    python -m bench.live        # about 6 minutes: loads the small set, then measures

It loads the small set (about 100k conversations, 1M messages) into a private schema, then:

- **fill**: `init-db --rollup` on those rows while a writer inserts a message every 20 ms;
  the writer's slowest insert says how long the install blocked it.
- **writer cost**: the CRM's writes of messages into existing conversations, with the
  mechanism's triggers enabled and disabled (ALTER TABLE ... DISABLE TRIGGER), rounds
  interleaved (the order flips every round): single-row INSERTs in autocommit, 1,000-row COPY
  in one transaction, one 1,000-row INSERT (multi-row VALUES, as ORMs batch), 1,000
  single-row INSERTs in one transaction (executemany: one trigger call per statement, the
  worst case of a statement-level trigger). The ratio is the median
  round's time with over without; where PostgreSQL runs on this machine, also the ratio of
  the server backend's CPU time (/proc/PID/schedstat), which a loaded machine moves far less
  than wall time (the writer's connection waits for a core, with or without the triggers).
- **lag**: 4 writers, each inserting a message every 20 ms (200 writes/s), for LAG_SECONDS,
  while a `crm-metrics serve` (its default ROLLUP_POLL_SECONDS) applies; an observer looks up
  every written message in `message_facts` every 10 ms (message_facts and metric_slots are
  written in one transaction): lag = seen - committed, as a client of the rollup sees it.

The result goes into bench/report.json under "live_rollup" and its section of bench/report.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import psycopg

from bench import generate, report, stores
from bench.measure import Clock
from crm_metrics import Metrics, Settings

ROUNDS = 6
SINGLE_ROWS = 200
BATCH_ROWS = 1_000
BATCHES = 2
WRITERS, WRITES_PER_SECOND = 4, 200
LAG_SECONDS = 60
COLUMNS = ("id", "conversation_id", "sender_type", "sender_id", "content", "timestamp", "metadata")
INSERT = f"INSERT INTO messages ({', '.join(COLUMNS)}) VALUES (%s, %s, %s, %s, %s, %s, %s)"


class Messages:
    """Messages of the CRM: into the latest conversations, a few minutes after their start."""

    def __init__(self, conn: psycopg.Connection, prefix: str) -> None:
        self.targets = conn.execute("SELECT id, started_at FROM conversations ORDER BY started_at DESC LIMIT 2000").fetchall()
        self.prefix, self.count, self.random = prefix, 0, random.Random(prefix)

    def next(self) -> tuple[Any, ...]:
        self.count += 1
        conversation, started = self.random.choice(self.targets)
        sender = self.random.choice(["customer", "llm", "llm", "agent"])
        metadata = json.dumps({"tokens_used": 150}) if sender == "llm" else None
        moment = started + dt.timedelta(seconds=self.random.randint(1, 3600))
        return (f"{self.prefix}-{self.count}", conversation, sender, None, "bench message", moment, metadata)


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)

    return {"p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 1), "count": len(ordered)}


def fill(url: str, progress: stores.Progress) -> dict[str, Any]:
    """`init-db --rollup` while a writer inserts a message every 20 ms."""
    stop, latencies = threading.Event(), []

    def write() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            messages = Messages(conn, "bench-fill")
            while not stop.is_set():
                started = time.perf_counter()
                conn.execute(INSERT, messages.next())
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    time.sleep(1)
    started = time.perf_counter()
    with Metrics.connect(url, settings=Settings(database_url=url, query_timeout_seconds=0)) as metrics:
        metrics.store.init_db(rollup=True)
    seconds = time.perf_counter() - started
    time.sleep(1)
    stop.set()
    writer.join()
    result = {"seconds": round(seconds, 1), "writer": _percentiles(latencies)}
    progress(f"  filled in {result['seconds']} s; the writer's slowest insert meanwhile {result['writer']['max_ms']} ms")
    return result


def writer_cost(url: str, progress: stores.Progress) -> dict[str, Any]:
    """The CRM's writes with the triggers enabled and disabled, interleaved rounds."""
    cases: dict[str, Any] = {
        "single-row INSERT, autocommit": lambda conn, m: [conn.execute(INSERT, m.next()) for _ in range(SINGLE_ROWS)],
        f"{BATCH_ROWS:,}-row COPY, one transaction": _copy,
        f"{BATCH_ROWS:,}-row INSERT (one statement, multi-row VALUES)": _values,
        f"{BATCH_ROWS:,} single-row INSERTs, one transaction": _executemany,
    }
    seconds: dict[str, dict[str, list[float]]] = {case: {"on": [], "off": []} for case in cases}
    cpu_seconds: dict[str, dict[str, list[float]]] = {case: {"on": [], "off": []} for case in cases}
    with psycopg.connect(url, autocommit=True) as conn:
        messages = Messages(conn, "bench-cost")
        cpu = _server_cpu(conn.info.backend_pid)
        for round_ in range(ROUNDS):
            for mode in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
                conn.execute(f"ALTER TABLE messages {'ENABLE' if mode == 'on' else 'DISABLE'} TRIGGER USER")
                for case, run in cases.items():
                    started, cpu_started = time.perf_counter(), cpu() if cpu else 0.0
                    run(conn, messages)
                    seconds[case][mode].append(time.perf_counter() - started)
                    if cpu:
                        cpu_seconds[case][mode].append(cpu() - cpu_started)
        conn.execute("ALTER TABLE messages ENABLE TRIGGER USER")
        # The rows written without the triggers reach the rollup too: queue their conversations.
        conn.execute("INSERT INTO crm_metrics_changes (conversation_id) SELECT DISTINCT conversation_id FROM messages WHERE id LIKE 'bench-cost-%'")
    result = {}
    for case, modes in seconds.items():
        per_row = SINGLE_ROWS if case.startswith("single") else BATCH_ROWS * BATCHES
        off, on = statistics.median(modes["off"]), statistics.median(modes["on"])
        result[case] = {
            "without_ms_per_row": round(off / per_row * 1000, 4),
            "with_ms_per_row": round(on / per_row * 1000, 4),
            "ratio": round(on / off, 2),
            "rounds": ROUNDS,
            "rows_per_round": per_row,
        }
        if cpu:
            cpu_off, cpu_on = statistics.median(cpu_seconds[case]["off"]), statistics.median(cpu_seconds[case]["on"])
            result[case] |= {
                "without_server_cpu_us_per_row": round(cpu_off / per_row * 1e6, 1),
                "with_server_cpu_us_per_row": round(cpu_on / per_row * 1e6, 1),
                "server_cpu_ratio": round(cpu_on / cpu_off, 2),
            }
        cpu_note = f"; server CPU {result[case]['server_cpu_ratio']}×" if cpu else ""
        progress(f"  {case}: {result[case]['without_ms_per_row']} → {result[case]['with_ms_per_row']} ms a row ({result[case]['ratio']}×{cpu_note})")
    return result


def _server_cpu(pid: int) -> Any:
    """Seconds the backend `pid` has run on a CPU, as a function; None where PostgreSQL does
    not run on this machine (or /proc does not tell)."""
    path = f"/proc/{pid}/schedstat"

    def seconds() -> float:
        with open(path) as f:
            return int(f.read().split()[0]) / 1e9

    try:
        seconds()
    except (OSError, ValueError, IndexError):
        return None
    return seconds


def _copy(conn: psycopg.Connection, messages: Messages) -> None:
    for _ in range(BATCHES):
        with conn.transaction(), conn.cursor().copy(f"COPY messages ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for _ in range(BATCH_ROWS):
                copy.write_row(messages.next())


def _values(conn: psycopg.Connection, messages: Messages) -> None:
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * BATCH_ROWS)
    statement = f"INSERT INTO messages ({', '.join(COLUMNS)}) VALUES {placeholders}"
    for _ in range(BATCHES):
        conn.execute(statement, [value for _ in range(BATCH_ROWS) for value in messages.next()])


def _executemany(conn: psycopg.Connection, messages: Messages) -> None:
    for _ in range(BATCHES):
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(INSERT, [messages.next() for _ in range(BATCH_ROWS)])


def lag(url: str, progress: stores.Progress) -> dict[str, Any]:
    """Lag at WRITES_PER_SECOND from WRITERS writers while `crm-metrics serve` applies."""
    port = stores_free_port()
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "warning", "PORT": str(port)}
    env.pop("ROLLUP_POLL_SECONDS", None)  # the default
    serve = subprocess.Popen([sys.executable, "-m", "crm_metrics", "serve"], env=env, stdout=subprocess.DEVNULL)
    _listening(port)
    committed: dict[str, tuple[str, float]] = {}
    lags: list[float] = []
    lock, stop, given_up = threading.Lock(), threading.Event(), threading.Event()
    writes: list[int] = [0] * WRITERS
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            # The backlog of the writer-cost rounds first.
            while conn.execute("SELECT EXISTS (SELECT FROM crm_metrics_changes)").fetchone()[0]:
                time.sleep(0.1)

        def write(number: int) -> None:
            interval = WRITERS / WRITES_PER_SECOND
            with psycopg.connect(url, autocommit=True) as conn:
                messages = Messages(conn, f"bench-lag{number}")
                due = time.monotonic()
                while not stop.is_set():
                    row = messages.next()
                    conn.execute(INSERT, row)
                    with lock:
                        committed[row[0]] = (row[1], time.monotonic())
                    writes[number] += 1
                    due += interval
                    time.sleep(max(0.0, due - time.monotonic()))

        def observe() -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                while not given_up.is_set() and (not stop.is_set() or committed):
                    with lock:
                        pending = dict(committed)
                    if pending:
                        ids = list(pending)
                        conversations = list({c for c, _ in pending.values()})
                        seen = conn.execute(
                            "SELECT id FROM message_facts WHERE conversation_id = ANY(%s) AND id = ANY(%s)", (conversations, ids)
                        ).fetchall()
                        now = time.monotonic()
                        with lock:
                            for (message,) in seen:
                                lags.append(now - committed.pop(message)[1])
                    time.sleep(0.01)

        threads = [threading.Thread(target=write, args=(n,), daemon=True) for n in range(WRITERS)]
        observer = threading.Thread(target=observe, daemon=True)
        observer.start()
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(LAG_SECONDS)
        load = os.getloadavg()[0]
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        observer.join(timeout=60)
        given_up.set()  # writes not seen by now count as never seen
        observer.join()
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    result = {"writers": WRITERS, "writes": sum(writes), "writes_per_second": round(sum(writes) / elapsed, 1), "seconds": LAG_SECONDS, "unseen": len(committed)}
    # The machine's other work: the applier shares the cores with the writers, the observer,
    # PostgreSQL and whatever else runs.
    result["load_average"] = round(load, 2)
    result |= _percentiles(lags)
    progress(f"  {result['writes_per_second']} writes/s: lag p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms")
    return result


def _listening(port: int, timeout: float = 60.0) -> None:
    """Wait until `crm-metrics serve` listens (its applier thread starts just before)."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"crm-metrics serve did not listen on {port} within {timeout} s")


def stores_free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(small: generate.DataSet, progress: stores.Progress) -> dict[str, Any]:
    if reason := stores.postgres_available():
        progress(f"live rollup: skipped: {reason}")
        return {"skipped": reason}
    with stores.postgres_schema() as schema:
        url = stores.schema_url(schema)
        progress(f"live rollup: loading the small set into schema {schema} ...")
        stores.postgres_store(small, url, progress)
        progress("live rollup: init-db --rollup while the CRM writes ...")
        result: dict[str, Any] = {"set": "small", "fill": fill(url, progress)}
        progress("live rollup: the writer's cost with and without the triggers ...")
        result["writer_cost"] = writer_cost(url, progress)
        progress(f"live rollup: lag at {WRITES_PER_SECOND} writes/s from {WRITERS} writers, {LAG_SECONDS} s ...")
        result["lag"] = lag(url, progress)
    return result


def main() -> None:
    """Measure, then put the result into bench/report.json and bench/report.md."""
    import signal

    # Stopped by SIGTERM, unwind like Ctrl-C: the PostgreSQL schema and the server go away.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    clock = Clock()
    _, small = generate.ensure(progress=clock)
    result = measure(small, clock)
    path = report.HERE / "report.json"
    whole = json.loads(path.read_text()) if path.exists() else {}
    whole["live_rollup"] = result
    if "machine" in whole:
        report.write(whole)
    else:
        path.write_text(json.dumps(whole, indent=2, default=str) + "\n")
    clock(f"live rollup: done; wrote bench/report.json{' and bench/report.md' if 'machine' in whole else ''}")


if __name__ == "__main__":
    main()
