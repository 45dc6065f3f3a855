"""The DuckDB executor: threads, read-only serving, UTC sessions, time limits, errors."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest
import sqlglot

from crm_metrics import BackendUnavailable, Metrics, QueryTimeout
from crm_metrics.errors import ConfigError
from crm_metrics.executors import connect, duckdb_path
from crm_metrics.executors import duckdb as duckdb_executor
from crm_metrics.executors.duckdb import _WATCHDOG, DuckDBExecutor
from crm_metrics.query import CompiledQuery, Field
from tests.support.engines import DuckDBEngine
from tests.support.golden import ROWS, TENANT


def _query(sql: str, columns: tuple[Field, ...], params: tuple[Field, ...] = ()) -> CompiledQuery:
    return CompiledQuery("adhoc", "duckdb", sql, params, columns, sqlglot.parse_one("SELECT 1"))


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"duckdb:///{tmp_path / 'metrics.duckdb'}"
    with Metrics.connect(url) as metrics:
        metrics.store.init_db()
        for table in ("tenants", "conversations", "messages"):
            metrics.store.load_rows(table, ROWS[table])
    return url


def test_threads_share_one_executor(database: str) -> None:
    metrics = Metrics.connect(database, read_only=True)
    expected = metrics.dashboard(TENANT, "2025-10-31", "2025-11-02").to_dict()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: metrics.dashboard(TENANT, "2025-10-31", "2025-11-02").to_dict(), range(32)))
    assert all(answer == expected for answer in answers)
    metrics.close()


def test_read_only_serves_but_refuses_writes(database: str) -> None:
    metrics = Metrics.connect(database, read_only=True)
    assert metrics.summary(TENANT, "2025-11-01", "2025-11-01").total_conversations == 25
    with pytest.raises(Exception, match="read-only"):
        metrics.store.init_db()
    metrics.close()


def test_sessions_are_pinned_to_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    executor = DuckDBExecutor(":memory:")
    query = _query("SELECT current_setting('TimeZone'), CAST(TIMESTAMPTZ '2025-11-01 00:30:00+00' AS DATE)",
                   (Field("tz", "STRING", ""), Field("day", "DATE", "")))
    assert executor.fetch(query, {}) == [("UTC", dt.date(2025, 11, 1))]


def test_a_slow_query_is_cancelled() -> None:
    executor = DuckDBExecutor(":memory:", timeout=0.2)
    slow = _query("SELECT count(*) FROM range(100000000000) AS a(x) WHERE x % 7 = 3", (Field("n", "INT64", ""),))
    with pytest.raises(QueryTimeout, match="0.2"):
        executor.fetch(slow, {})
    assert executor.fetch(_query("SELECT 1", (Field("n", "INT64", ""),)), {}) == [(1,)]


def test_a_deadline_later_than_the_watchdogs_next_look_still_holds() -> None:
    # Such a deadline does not wake the watchdog thread; its next regular look must find it.
    executor = DuckDBExecutor(":memory:", timeout=duckdb_executor._Watchdog.IDLE_WAKE * 1.5)
    executor.fetch(_query("SELECT 1", (Field("n", "INT64", ""),)), {})  # the thread is running and idle
    slow = _query("SELECT count(*) FROM range(100000000000) AS a(x) WHERE x % 7 = 3", (Field("n", "INT64", ""),))
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        executor.fetch(slow, {})
    assert time.monotonic() - started < duckdb_executor._Watchdog.IDLE_WAKE * 3


def test_a_deadline_that_passed_before_the_query_started_still_stops_it() -> None:
    # On a busy machine the deadline can pass while the query is still being bound: DuckDB
    # drops an interrupt that comes before execution, so the watchdog interrupts again.
    watchdog = duckdb_executor._Watchdog()
    cursor = duckdb.connect(":memory:")
    key = watchdog.watch(cursor, 0.01)
    time.sleep(0.1)  # the first interrupt has landed on an idle connection
    started = time.monotonic()
    backstop = threading.Timer(10, cursor.interrupt)  # so that a regression fails, not hangs
    backstop.start()
    with pytest.raises(duckdb.InterruptException):
        cursor.execute("SELECT count(*) FROM range(100000000000) AS a(x) WHERE x % 7 = 3").fetchall()
    backstop.cancel()
    watchdog.release(key)
    assert time.monotonic() - started < 5


def test_every_deadline_is_released_after_its_query(monkeypatch: pytest.MonkeyPatch) -> None:
    # A deadline left behind interrupts whatever its cursor runs once it expires (a load, say):
    # the first one, key 0, once was, for being falsy.
    watchdog = duckdb_executor._Watchdog()
    monkeypatch.setattr(duckdb_executor, "_WATCHDOG", watchdog)
    executor = DuckDBExecutor(":memory:", timeout=30)
    for _ in range(2):
        assert executor.fetch(_query("SELECT 1", (Field("n", "INT64", ""),)), {}) == [(1,)]
        assert watchdog._deadlines == {}


def test_missing_file_and_missing_tables_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="init-db"):
        Metrics.connect(f"duckdb:///{tmp_path / 'nothing.duckdb'}", read_only=True)
    engine = DuckDBEngine()
    engine.start()
    metrics = engine.fresh()
    metrics.executor.run_script("DROP TABLE messages; DROP TABLE message_facts")
    with pytest.raises(BackendUnavailable, match="init-db"):
        metrics.dashboard(TENANT, "2025-11-01", "2025-11-01")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("duckdb:///crm_metrics.duckdb", "crm_metrics.duckdb"),
        ("duckdb:///data/x.duckdb", "data/x.duckdb"),
        ("duckdb:////var/lib/x.duckdb", "/var/lib/x.duckdb"),
        ("duckdb:///:memory:", ":memory:"),
    ],
)
def test_duckdb_urls(url: str, path: str) -> None:
    assert duckdb_path(url) == path


@pytest.mark.parametrize("url", ["duckdb://", "duckdb:///", "mysql://x/y", "crm_metrics.duckdb"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        connect(url)


def test_the_time_limit_survives_a_closed_database() -> None:
    """A deadline that falls after its executor closed must not stop later time limits."""
    closing = DuckDBExecutor(":memory:", timeout=0.05)
    slow = _query("SELECT count(*) FROM range(100000000000) AS a(x) WHERE x % 7 = 3", (Field("n", "INT64", ""),))
    with pytest.raises(QueryTimeout):
        closing.fetch(slow, {})
    cursor = closing._cursor()
    deadline = _WATCHDOG.watch(cursor, 0.01)
    closing.close()
    time.sleep(0.1)
    _WATCHDOG.release(deadline)
    executor = DuckDBExecutor(":memory:", timeout=0.2)
    with pytest.raises(QueryTimeout):
        executor.fetch(slow, {})


@pytest.mark.parametrize("rollup", [False, True], ids=["seed-tables", "rollup"])
def test_upper_case_ids_written_behind_the_loader_answer(rollup: bool) -> None:
    # A DuckDB file of the user's own, written by another program with upper-case UUIDs.
    with Metrics.connect("duckdb:///:memory:") as metrics:
        metrics.store.init_db(rollup=rollup)
        metrics.store.load_rows("tenants", ROWS["tenants"])
        metrics.store.load_rows("conversations", ROWS["conversations"])
        metrics.store.load_rows("messages", ROWS["messages"])
        expected = metrics.dashboard(TENANT, "2025-11-01", "2025-11-01").to_dict(), metrics.summary(TENANT, "2025-11-01", "2025-11-01").to_dict()
        metrics.executor.run_script("UPDATE conversations SET tenant_id = upper(tenant_id); UPDATE tenants SET id = upper(id)")
        if rollup:
            metrics.store.refresh()
        metrics.tenants.forget()
        got = metrics.dashboard(TENANT.upper(), "2025-11-01", "2025-11-01").to_dict(), metrics.summary(TENANT, "2025-11-01", "2025-11-01").to_dict()
    assert got == expected and expected[1]["tenant_name"] == "Acme Corp" and expected[1]["total_conversations"] == 25
