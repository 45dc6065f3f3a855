"""Timing: the library, the same SQL through the driver, and the user's pandas alternative, for
the windows every bench asks for (`windows`: the largest and the median tenant's last 30 days),
with a `Clock` for the progress lines.

Every comparison runs its contestants interleaved (A, B, B, A, ...) in one loop, so that a
noisy neighbour slows both alike, and reports medians over the runs.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot

from bench import generate, pandas_metrics
from crm_metrics import Metrics
from crm_metrics.query import CompiledQuery, Field

#: The median tenant by size (generate.py ranks tenants from the largest).
MEDIAN_RANK = generate.TENANTS // 2

#: Runs per measurement: at least MIN_RUNS, then more while the budget lasts, up to MAX_RUNS.
MIN_RUNS, MAX_RUNS = 5, 31
BUDGET_SECONDS = 20.0
WARMUP_RUNS = 1


@dataclass(frozen=True)
class Window:
    """A request: tenant, local dates (both inclusive), the tenant's timezone."""

    label: str
    tenant_id: str
    start: dt.date
    end: dt.date
    tz: str


def windows(full: generate.DataSet) -> dict[str, Window]:
    """The largest and the median tenant, each over the year's last 30 local days."""
    tenants = pq.read_table(full.path("tenants"))
    end = generate.LAST_DAY
    start = end - dt.timedelta(days=29)
    found = {}
    for label, rank in (("largest", 1), ("median", MEDIAN_RANK)):
        tenant = generate.tenant_id(rank)
        (tz,) = tenants.filter(pc.equal(tenants["id"], tenant))["timezone"].to_pylist()
        found[label] = Window(label, tenant, start, end, tz)
    return found


class Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def __call__(self, line: str) -> None:
        print(f"[{self.seconds():6.0f} s] {line}", flush=True)


@dataclass
class Timings:
    """Seconds per run of each contestant, run interleaved."""

    runs: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.runs.setdefault(name, []).append(seconds)

    def median_ms(self, name: str) -> float:
        return round(statistics.median(self.runs[name]) * 1000, 2)

    def ratio(self, numerator: str, denominator: str) -> float:
        """The median of the per-round ratios: each round's two runs met the same neighbours."""
        pairs = zip(self.runs[numerator], self.runs[denominator], strict=True)
        return round(statistics.median(a / b for a, b in pairs), 2)

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "median_ms": self.median_ms(name),
                "min_ms": round(min(runs) * 1000, 2),
                "max_ms": round(max(runs) * 1000, 2),
                "runs": len(runs),
            }
            for name, runs in self.runs.items()
        }


def interleaved(
    contestants: Mapping[str, Callable[[], object]], budget: float = BUDGET_SECONDS, min_runs: int = MIN_RUNS
) -> Timings:
    """Run each contestant once per round, WARMUP_RUNS rounds untimed, then min_runs..MAX_RUNS
    timed rounds within `budget` seconds."""
    for _ in range(WARMUP_RUNS):
        for run in contestants.values():
            run()
    timings = Timings()
    deadline = time.perf_counter() + budget
    for round_number in range(MAX_RUNS):
        if round_number >= min_runs and time.perf_counter() > deadline:
            break
        # Every other round in reverse order: a contestant that runs after a heavy one (pandas'
        # allocations, a cold cache) should not always be the same one.
        order = list(contestants.items())
        for name, run in order if round_number % 2 == 0 else reversed(order):
            started = time.perf_counter()
            run()
            timings.add(name, time.perf_counter() - started)
    return timings


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


# -- the library and the same statements through the driver ---------------------------------


class Recorder:
    """Stands in for a Metrics' executor and notes every compiled statement it runs, with its
    bound values, so that the very same statements can be replayed through the driver."""

    def __init__(self, executor: Any) -> None:
        self._executor = executor
        self.statements: list[tuple[CompiledQuery, dict[str, Any]]] = []

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        self.statements.append((query, query.bind(values)))
        return self._executor.fetch(query, values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._executor, name)


def answer(metrics: Metrics, window: Window) -> dict[str, Any]:
    """Dashboard (day series) and summary of a window, as the JSON body's dicts."""
    dashboard = metrics.dashboard(window.tenant_id, window.start, window.end)
    summary = metrics.summary(window.tenant_id, window.start, window.end)
    return dashboard.to_dict() | {"summary": summary.to_dict()}


def statements(metrics: Metrics, window: Window) -> list[tuple[CompiledQuery, dict[str, Any]]]:
    """The statements one dashboard + summary runs, in order, with their values."""
    executor = metrics.executor
    recorder = Recorder(executor)
    metrics.executor = recorder  # type: ignore[assignment]
    try:
        answer(metrics, window)
    finally:
        metrics.executor = executor
    return recorder.statements


Replay = Callable[[Sequence[tuple[CompiledQuery, dict[str, Any]]]], None]


def duckdb_replay(connection: Any) -> Replay:
    """Run statements on a raw DuckDB connection, fetching every row (as the executor does)."""
    # The executor pins each session to UTC (tests/conformance/test_dialect_traps.py); the driver run must too.
    connection.execute("SET TimeZone = 'UTC'")

    def replay(recorded: Sequence[tuple[CompiledQuery, dict[str, Any]]]) -> None:
        for query, values in recorded:
            connection.execute(query.sql, values).fetchall()

    return replay


def duckdb_phases(connection: Any, recorded: Sequence[tuple[CompiledQuery, dict[str, Any]]], runs: int = 15) -> dict[str, dict[str, float]]:
    """Where a statement's time goes in DuckDB, medians over `runs`: parsing (timed around
    `extract_statements`), binding, optimizing and physical planning (DuckDB's own profiler, in
    detailed mode), execution (the profiler's total less those), and the wall time of the call."""
    import json
    import tempfile

    phases: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        output = f"{directory}/profile.json"
        for query, values in recorded:
            samples: dict[str, list[float]] = {}
            for _ in range(runs):
                started = time.perf_counter()
                connection.extract_statements(query.sql)
                parse = time.perf_counter() - started
                connection.execute("PRAGMA enable_profiling = 'json'")
                connection.execute("SET profiling_mode = 'detailed'")
                connection.execute(f"SET profiling_output = '{output}'")
                started = time.perf_counter()
                connection.execute(query.sql, values).fetchall()
                wall = time.perf_counter() - started
                connection.execute("PRAGMA disable_profiling")
                with open(output) as file:
                    profile = json.load(file)
                bind = profile["planner"]["total_time"]
                optimize = profile["optimizer"]["total_time"]
                plan = profile["physical_planner"]["total_time"]
                for name, seconds in (
                    ("parse", parse),
                    ("bind", bind),
                    ("optimize", optimize),
                    ("physical plan", plan),
                    ("execute", profile["query"]["total_time"] - bind - optimize - plan),
                    ("wall", wall),
                ):
                    samples.setdefault(name, []).append(seconds)
            phases[query.name] = {name: round(statistics.median(values) * 1000, 2) for name, values in samples.items()}
    return phases


def postgres_replay(connection: Any, metrics: Metrics) -> Replay:
    """Run statements on a raw psycopg connection given the same session settings as the
    library's connections (its executor sets some, such as jit = off: without them the driver
    would run a different experiment)."""
    for name, value in session_settings(metrics):
        connection.execute("SELECT set_config(%s, %s, false)", (name, value))

    def replay(recorded: Sequence[tuple[CompiledQuery, dict[str, Any]]]) -> None:
        for query, values in recorded:
            connection.execute(query.sql, values).fetchall()

    return replay


def session_settings(metrics: Metrics) -> list[tuple[Any, ...]]:
    """The settings a PostgreSQL executor gave its session, asked through the executor."""
    sql = "SELECT name, setting FROM pg_settings WHERE source = 'session'"
    columns = (Field("name", "STRING", ""), Field("setting", "STRING", ""))
    query = CompiledQuery("session_settings", "postgres", sql, (), columns, sqlglot.parse_one(sql, read="postgres"))
    return metrics.executor.fetch(query, {})


def paths(metrics: Metrics, replay: Replay, pandas: Callable[[], dict[str, Any]], window: Window) -> dict[str, Any]:
    """One window through the library (dashboard, summary), the same statements replayed
    through the driver, and the pandas alternative, interleaved (library and driver in one loop,
    library and pandas in another); the library's
    overhead and pandas' slowness as ratios; pandas' numbers checked against the library's.
    Give it a library and a driver connection fresh for this window: each then starts cold,
    with no plans cached from another tenant's requests."""
    started = time.perf_counter()
    library_answer = answer(metrics, window)
    first = time.perf_counter() - started
    recorded = statements(metrics, window)
    disagreements = pandas_metrics.compare(library_answer, pandas())

    def dashboard() -> None:
        metrics.dashboard(window.tenant_id, window.start, window.end)

    def summary() -> None:
        metrics.summary(window.tenant_id, window.start, window.end)

    # Two loops: the library against the driver, then the library against pandas; so that the
    # ratio of two fast contestants is not measured around a slow, allocation-heavy third one.
    timings = interleaved({"dashboard": dashboard, "summary": summary, "driver": lambda: replay(recorded)})
    timings.runs["dashboard+summary"] = [d + s for d, s in zip(timings.runs["dashboard"], timings.runs["summary"], strict=True)]
    versus = interleaved({"library": lambda: (dashboard(), summary()), "pandas": pandas})
    timings.runs["pandas"] = versus.runs["pandas"]
    # After the comparison, so that both sides ran each statement equally often before it
    # (PostgreSQL's plan cache counts executions per connection).
    per_statement = {
        query.name: interleaved({"driver": lambda single=[(query, values)]: replay(single)}, budget=2.0, min_runs=3).median_ms("driver")
        for query, values in recorded
    }
    return {
        "window": {"tenant_id": window.tenant_id, "start_date": str(window.start), "end_date": str(window.end), "tz": window.tz},
        "totals": {key: library_answer["summary"][key] for key in ("total_conversations", "total_messages")},
        "first_call_ms": round(first * 1000, 2),
        "timings": timings.summary(),
        "statements": len(recorded),
        "statement_ms": per_statement,
        "overhead_ratio": timings.ratio("dashboard+summary", "driver"),
        "pandas_ratio": versus.ratio("pandas", "library"),
        "pandas_disagreements": disagreements,
        "load_average": load_average(),
    }


def store_size(small: Metrics, full: Metrics, window: Window) -> dict[str, Any]:
    """The same window on the small and the full store, interleaved: same answer? how much
    slower on the store ten times larger?"""
    same = answer(small, window) == answer(full, window)
    timings = interleaved({"small": lambda: answer(small, window), "full": lambda: answer(full, window)})
    return {
        "same_answer": same,
        "timings": timings.summary(),
        "growth_ratio": timings.ratio("full", "small"),
        "load_average": load_average(),
    }
