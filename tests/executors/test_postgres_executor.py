"""The PostgreSQL executor: connection errors, session settings, timeouts, recovery, loading;
and the HTTP server over it (503 while the server is away, the same bodies as on DuckDB).

The metrics themselves are checked on PostgreSQL by the conformance suite (the `engine`
fixture); this module holds what only this executor does. Every test talks to the server at
CRM_TEST_POSTGRES_URL, in a schema of its own, and cuts its own connections only.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple
from decimal import Decimal
from urllib.parse import urlsplit

import psycopg
import pytest
import sqlglot
from psycopg import sql
from starlette.testclient import TestClient

from crm_metrics import (
    BackendUnavailable,
    ConfigError,
    LoadError,
    Metrics,
    QueryTimeout,
    Settings,
    demo,
)
from crm_metrics import request
from crm_metrics.cli import main
from crm_metrics.templates import Shape
from crm_metrics.compiler import compile_sql
from crm_metrics.executors import connect
from crm_metrics.executors.postgres import PostgresExecutor, mask_password
from crm_metrics.query import CompiledQuery, Field
from crm_metrics.console import console_sql
from server import ServerConfig, create_app
from tests.support.engines import (
    FIXED_NOW,
    POSTGRES_URL,
    DuckDBEngine,
    PostgresEngine,
    PostgresRollupEngine,
    with_option,
)
from tests.support import reference
from tests.support.compare import assert_same
from tests.support.api import ROWS, TENANT_A, assert_error

TENANT = "00000000-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresEngine]:
    engine = PostgresEngine()
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def metrics(postgres: PostgresEngine) -> Metrics:
    return postgres.fresh()


def raw(text: str, *columns: tuple[str, str]) -> CompiledQuery:
    """A hand-written postgres query (no parameters) for the executor to run."""
    return CompiledQuery(
        name="raw",
        dialect="postgres",
        sql=text,
        params=(),
        columns=tuple(Field(name, type_, "") for name, type_ in columns),
        tree=sqlglot.parse_one("SELECT 1"),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def url_with(url: str, **params: str) -> str:
    """`url` with extra libpq parameters."""
    joiner = "&" if urlsplit(url).query else "?"
    return url + joiner + "&".join(f"{key}={value}" for key, value in params.items())


def conversation(id_: str, started: str, **extra: object) -> dict[str, object]:
    return {"id": id_, "tenant_id": TENANT, "customer_phone": "+1", "status": "resolved", "started_at": started, **extra}


def message(id_: str, at: str, sender: str = "customer", **extra: object) -> dict[str, object]:
    return {"id": id_, "conversation_id": "c1", "sender_type": sender, "content": "hi", "timestamp": at, **extra}


# -- the URL and start-up ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://crm:s3cret@db.internal:5433/crm", "postgresql://crm:***@db.internal:5433/crm"),
        ("postgres://crm:p@ss@db/crm?sslmode=require", "postgres://crm:***@db/crm?sslmode=require"),
        ("postgresql://crm@db/crm?password=s3cret&sslmode=require", "postgresql://crm@db/crm?password=***&sslmode=require"),
        ("postgresql://db/crm", "postgresql://db/crm"),
    ],
)
def test_mask_password(url: str, masked: str) -> None:
    assert mask_password(url) == masked


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_unreachable_at_start_names_the_host_and_masks_the_password(scheme: str) -> None:
    port = free_port()
    url = f"{scheme}://crm:s3cret@127.0.0.1:{port}/analytics"
    with pytest.raises(BackendUnavailable) as caught:
        Metrics.connect(settings=Settings(database_url=url))
    message = str(caught.value)
    assert f"127.0.0.1:{port}/analytics" in message
    assert "Connection refused" in message
    assert "s3cret" not in message


def test_a_missing_database_is_named(postgres: PostgresEngine) -> None:
    url = url_with(POSTGRES_URL.rsplit("/", 1)[0] + "/crm_metrics_no_such_db", connect_timeout="2")
    with pytest.raises(BackendUnavailable, match='database "crm_metrics_no_such_db" does not exist'):
        connect(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://crm:s3cret@db/crm?bogus=1", "postgresql://crm:***@db/crm?bogus=1"),
        ("postgresql://crm:s3cret@[::1/crm", "postgresql://***"),
    ],
)
def test_an_invalid_url_is_a_config_error_without_the_password(url: str, shown: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(shown)) as caught:
        connect(url)
    assert "s3cret" not in str(caught.value)


def test_missing_tables_and_other_schemas_say_what_to_do(postgres: PostgresEngine) -> None:
    metrics = Metrics.connect(settings=Settings(database_url=with_option(postgres.url, "-csearch_path=crm_test_nowhere")))
    try:
        with pytest.raises(BackendUnavailable, match=r'relation "\w+" does not exist \(create the tables with `crm-metrics init-db`'):
            metrics.summary(TENANT, "2025-11-01", "2025-11-01")
        with pytest.raises(BackendUnavailable, match=r'relation "conversations" does not exist \(create the tables'):
            metrics.store.load_rows("conversations", [conversation("c1", "2025-11-01T10:00:00Z")])
    finally:
        metrics.close()
    metrics = postgres.fresh()
    metrics.executor.run_script("ALTER TABLE messages ALTER COLUMN metadata TYPE text")
    try:
        with pytest.raises(BackendUnavailable, match=r"operator does not exist: text #>> .*metadata as jsonb or json"):
            metrics.summary(TENANT, "2025-11-01", "2025-11-01")
    finally:
        metrics.executor.run_script("ALTER TABLE messages ALTER COLUMN metadata TYPE jsonb USING metadata::jsonb")


def test_description_hides_the_password(postgres: PostgresEngine) -> None:
    url = url_with(postgres.url, password="s3cret")
    executor = connect(url)
    try:
        assert executor.dialect == "postgres"
        assert "s3cret" not in executor.description
        assert "password=***" in executor.description
    finally:
        executor.close()


# -- sessions ------------------------------------------------------------------------------


TIMESTAMP_COLUMNS = {"conversations": ("started_at", "ended_at", "last_message_at"), "messages": ("timestamp",)}


def _retype_timestamps(executor: PostgresExecutor, type_: str) -> None:
    for table, columns in TIMESTAMP_COLUMNS.items():
        changes = ", ".join(f'ALTER COLUMN "{c}" TYPE {type_} USING "{c}" AT TIME ZONE \'UTC\'' for c in columns)
        executor.run_script(f"ALTER TABLE {table} {changes}")


def test_sessions_are_pinned_to_utc_whatever_the_server_default(postgres: PostgresEngine) -> None:
    # A seed database may store naive `timestamp` columns, which the contract reads as UTC;
    # converting them follows the session TimeZone, and a role or database default of another
    # zone (here through libpq options) must not leak in (tests/conformance/test_dialect_traps.py).
    metrics = postgres.fresh({
        "conversations": [conversation("c1", "2025-11-01T22:30:00Z")],
        "messages": [message("m1", "2025-11-01T22:30:00Z")],
    })
    _retype_timestamps(metrics.executor, "timestamp")
    executor = PostgresExecutor(with_option(postgres.url, "-cTimeZone=America/Santiago"))
    try:
        assert executor.fetch(raw("SHOW TimeZone", ("zone", "STRING")), {}) == [("UTC",)]
        local = Metrics(executor, metrics.settings, clock=lambda: FIXED_NOW)
        dashboard = local.dashboard(TENANT, "2025-11-01", "2025-11-02", tz="UTC")
        assert [(d.date.isoformat(), d.total_conversations) for d in dashboard.conversations] == [("2025-11-01", 1), ("2025-11-02", 0)]
        assert [(d.date.isoformat(), d.total_messages) for d in dashboard.messages] == [("2025-11-01", 1), ("2025-11-02", 0)]
    finally:
        executor.close()
        _retype_timestamps(metrics.executor, "timestamptz")


def test_sessions_do_not_jit_compile(postgres: PostgresEngine) -> None:
    # A dashboard's estimated cost crosses jit_above_cost although it reads few rows: JIT
    # compiling would cost about a second per query.
    assert postgres.executor.fetch(raw("SHOW jit", ("jit", "STRING")), {}) == [("off",)]


def test_sessions_plan_for_probing_by_conversation_and_for_each_tenant(postgres: PostgresEngine) -> None:
    # Seed-layout reads fetch a window's messages by conversation (docs/postgres.md): at the
    # default random_page_cost the planner reads every tenant's messages instead; and a plan
    # cached for one tenant (psycopg prepares after five runs) is wrong for one of another size.
    assert postgres.executor.fetch(raw("SHOW random_page_cost", ("cost", "STRING")), {}) == [("1.1",)]
    assert postgres.executor.fetch(raw("SHOW plan_cache_mode", ("mode", "STRING")), {}) == [("force_custom_plan",)]


def test_sessions_sort_a_large_tenants_durations_in_memory(postgres: PostgresEngine) -> None:
    # Exact quantiles sort the range's durations (bench's largest tenant: ~5 MB): the default
    # 4MB work_mem sent them to disk.
    assert postgres.executor.fetch(raw("SHOW work_mem", ("mem", "STRING")), {}) == [("16MB",)]


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_rendered_sql_does_not_depend_on_the_session_timezone(postgres: PostgresEngine, granularity: str) -> None:
    # `crm-metrics render --inline` prints SQL for a console, whose session may be in any
    # zone. America/Santiago has no midnight on 2024-09-08 (DST): day arithmetic in
    # timestamptz loses that day (crm_metrics/dialects.py, _zoneless_dates).
    days = [f"2024-09-{day:02}T12:00:00Z" for day in range(3, 10)]
    metrics = postgres.fresh({
        "conversations": [conversation(f"c{i}", at) for i, at in enumerate(days)],
        "messages": [message(f"m{i}", at) for i, at in enumerate(days)],
    })
    params = {"tenant_id": TENANT, "start_date": "2024-09-03", "end_date": "2024-09-09", "tz": "UTC", "granularity": granularity}
    expected = metrics.dashboard(TENANT, "2024-09-03", "2024-09-09", tz="UTC", granularity=granularity)
    with psycopg.connect(with_option(postgres.url, "-cTimeZone=America/Santiago")) as conn:
        for name, series in (("conversation_metrics", expected.conversations), ("message_metrics", expected.messages)):
            rows = conn.execute(console_sql(name, "postgres", params, style="inline")).fetchall()
            answer = compile_sql(name, "postgres", Shape(granularity=granularity)).normalise(rows)
            assert answer == [astuple(row) for row in series]
    assert sum(row.total_conversations for row in expected.conversations) == len(days)
    assert len(expected.conversations) == {"day": 7, "week": 2, "month": 1}[granularity]


def test_threads_share_one_executor(postgres: PostgresEngine) -> None:
    metrics = postgres.fresh({
        "conversations": [conversation(f"c{i}", f"2025-11-01T{i:02}:00:00Z") for i in range(12)],
        "messages": [message(f"m{i}", f"2025-11-01T{i:02}:00:00Z") for i in range(12)],
    })
    expected = metrics.summary(TENANT, "2025-11-01", "2025-11-01")
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: metrics.summary(TENANT, "2025-11-01", "2025-11-01"), range(64)))
    assert answers == [expected] * 64 and expected.total_conversations == 12


def test_statement_timeout_raises_query_timeout_and_the_pool_goes_on(postgres: PostgresEngine) -> None:
    executor = PostgresExecutor(postgres.url, timeout=0.2)
    try:
        with pytest.raises(QueryTimeout):
            executor.fetch(raw("SELECT pg_sleep(5)", ("slept", "STRING")), {})
        assert executor.fetch(raw("SELECT 1", ("one", "INT64")), {}) == [(1,)]
    finally:
        executor.close()


def test_loads_and_ddl_are_not_cut_by_the_query_timeout(postgres: PostgresEngine) -> None:
    postgres.fresh()
    # 20 ms: a catalog lookup fits even on a loaded machine; the sleeps and the load do not.
    executor = PostgresExecutor(postgres.url, timeout=0.02)
    try:
        executor.run_script("SELECT pg_sleep(0.1)")
        Metrics(executor).store.load_rows("messages", [message(f"m{i}", "2025-11-01T10:00:00Z") for i in range(20_000)])
        with pytest.raises(QueryTimeout):
            executor.fetch(raw("SELECT count(*) FROM messages, pg_sleep(0.1)", ("n", "INT64")), {})
    finally:
        executor.close()


def test_read_only_refuses_writes(postgres: PostgresEngine) -> None:
    executor = connect(postgres.url, read_only=True)
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            executor.run_script("CREATE TABLE crm_metrics_read_only_probe (x int)")
        assert executor.has_table("messages")
    finally:
        executor.close()


# -- schema and loading --------------------------------------------------------------------


def test_init_db_is_idempotent_and_creates_the_indexes(postgres: PostgresEngine, metrics: Metrics) -> None:
    metrics.store.init_db()
    metrics.store.init_db()
    rows = metrics.executor.fetch(
        raw(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname",
            ("name", "STRING"),
        ),
        {},
    )
    assert {
        "conversations_lower_tenant_started_covering",
        "messages_conversation_timestamp",
        "messages_timestamp_conversation",
    } <= {name for (name,) in rows}
    types = metrics.executor.fetch(
        raw(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'messages'"
            " AND column_name IN ('timestamp', 'metadata') ORDER BY column_name",
            ("column", "STRING"),
            ("type", "STRING"),
        ),
        {},
    )
    assert types == [("metadata", "jsonb"), ("timestamp", "timestamp with time zone")]
    assert metrics.executor.has_table("tenants")
    assert not metrics.executor.has_table("crm_metrics_no_such_table")


# -- derived tables and the rollup (init-db --rollup) ----------------------------------------

OTHER_TENANT = "00000000-0000-4000-8000-000000000002"
OUTLET_A, OUTLET_B = "0b1e7000-0000-4000-8000-00000000000a", "0b1e7000-0000-4000-8000-00000000000b"
DERIVED = ("conversation_facts", "message_facts", "metric_slots")


@pytest.fixture(scope="module")
def rollup() -> Iterator[PostgresRollupEngine]:
    engine = PostgresRollupEngine()
    engine.start()
    yield engine
    engine.stop()


def at(hour: int, minute: int = 0, second: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2025, 11, day, hour, minute, second, tzinfo=dt.UTC)


def talk(id_: str, conversation_id: str, when: dt.datetime, sender: str = "customer", **extra: object) -> dict[str, object]:
    return {"id": id_, "conversation_id": conversation_id, "sender_type": sender, "sender_id": None, "content": "hi",
            "timestamp": when, "metadata": None, **extra}


def started(id_: str, when: dt.datetime, **extra: object) -> dict[str, object]:
    return {"id": id_, "tenant_id": TENANT, "outlet_id": None, "customer_phone": "+1", "status": "resolved",
            "started_at": when, "ended_at": None, "last_message_at": None, **extra}


class Store:
    """A Metrics and the rows its base tables hold after the writes so far (replaced by id),
    from which the plain-Python reference (tests/support/reference.py) computes the contract's answer."""

    def __init__(self, metrics: Metrics, rows: dict[str, list[dict[str, object]]] | None = None) -> None:
        self.metrics = metrics
        self.rows: dict[str, dict[object, dict[str, object]]] = {"conversations": {}, "messages": {}}
        for table, table_rows in (rows or {}).items():
            self.load(table, table_rows)

    def load(self, table: str, rows: list[dict[str, object]]) -> None:
        self.metrics.store.load_rows(table, rows)
        self.wrote(table, rows)

    def wrote(self, table: str, rows: list[dict[str, object]]) -> None:
        self.rows[table].update((row["id"], row) for row in rows)

    def deleted(self, table: str, *ids: str) -> None:
        for id_ in ids:
            del self.rows[table][id_]

    def assert_exact(self, start: str = "2025-10-31", end: str = "2025-11-02", tz: str = "UTC", layout: str = "rollup") -> None:
        """Every tenant's and outlet's dashboard and summary equal the reference's, read from
        `layout` (the rollup, or the derived tables where local days are not whole slots)."""
        period = request.period(dt.date.fromisoformat(start), dt.date.fromisoformat(end), tz, now=FIXED_NOW, max_days=366)
        assert self.metrics.plan(period).shape.layout == layout
        rows = {table: list(by_id.values()) for table, by_id in self.rows.items()}
        first, last = period.start_date, period.end_date
        for tenant in (TENANT, OTHER_TENANT):
            for outlet in (None, OUTLET_A, OUTLET_B):
                got = self.metrics.dashboard(tenant, start, end, outlet_id=outlet, tz=tz).to_dict()
                expected = reference.dashboard(rows, tenant_id=tenant, start=first, end=last, tz=tz, granularity="day", outlet_id=outlet)
                for series in ("conversations", "messages", "handoffs", "costs"):
                    assert_same(got[series], expected[series], f"{tenant} {outlet} {series}")
                summary = self.metrics.summary(tenant, start, end, outlet_id=outlet, tz=tz).to_dict()
                expected = reference.summary(rows, tenant_id=tenant, start=first, end=last, tz=tz, outlet_id=outlet)
                assert_same({key: summary[key] for key in expected}, expected, f"{tenant} {outlet} summary")


def _derived_rows(executor: PostgresExecutor) -> list[list[tuple[object, ...]]]:
    return [executor._read(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4", ()) for table in DERIVED]


def test_derived_tables_are_opt_in(postgres: PostgresEngine, capsys: pytest.CaptureFixture[str]) -> None:
    # Without --rollup PostgreSQL keeps the seed's tables only: other writers may fill them.
    store = Store(postgres.fresh(), {
        "conversations": [started("c1", at(10), outlet_id=OUTLET_A, ended_at=at(10, 20)), started("c2", at(23, 50), status="active")],
        "messages": [talk("m1", "c1", at(10)), talk("m2", "c1", at(10, 0, 5), "llm", metadata={"tokens_used": 7}),
                     talk("m3", "c2", at(23, 55)), talk("m4", "c2", at(0, 10, day=2), "agent")],
    })
    metrics = store.metrics
    metrics.store.init_db()
    assert metrics.layout == "seed" and not any(metrics.executor.has_table(table) for table in DERIVED)
    store.assert_exact(layout="seed")
    try:
        assert main(["init-db", "--rollup", "--database-url", postgres.url]) == 0
        assert capsys.readouterr().out == f"tables, derived tables and rollup ready in {postgres.url}\n"
        rollup = Store(Metrics(metrics.executor, metrics.settings, clock=lambda: FIXED_NOW))
        rollup.rows = store.rows
        # Filled from the rows already there, then kept by every load.
        rollup.assert_exact(tz="Asia/Kathmandu")
        rollup.load("messages", [talk("m5", "c1", at(10, 0, 2), "agent")])
        rollup.assert_exact()
        # Without the flag, init-db leaves them in place: they stay exact and in use.
        rollup.metrics.store.init_db()
        assert rollup.metrics.layout == "rollup"
    finally:
        metrics.executor.run_script("DROP TABLE IF EXISTS conversation_facts, message_facts, metric_slots")


def test_loads_keep_the_rollup_exact(rollup: PostgresRollupEngine) -> None:
    store = Store(rollup.fresh(), {
        "conversations": [
            started("c1", at(10), outlet_id=OUTLET_A, ended_at=at(10, 20)),
            started("c2", at(11), outlet_id=OUTLET_B, status="active"),
        ],
        "messages": [
            talk("m1", "c1", at(10)),
            talk("m2", "c1", at(10, 0, 5), "llm", metadata={"tokens_used": 7, "handoff_requested": True, "trigger": "keyword"}),
            talk("m3", "c2", at(11)),
        ],
    })
    store.assert_exact()
    summary = store.metrics.summary
    assert summary(TENANT, "2025-11-01", "2025-11-01").average_response_time_seconds == 5.0
    # A late message re-decides an earlier turn: the turn now starts a minute sooner.
    store.load("messages", [talk("m0", "c1", at(9, 59)), talk("m4", "c2", at(11, 30), "agent")])
    store.assert_exact()
    assert summary(TENANT, "2025-11-01", "2025-11-01").average_response_time_seconds == (65 + 1800) / 2
    # A late handoff request before the first one becomes the conversation's handoff.
    store.load("messages", [talk("m6", "c1", at(10, 0, 1), "agent", metadata={"handoff_requested": "true", "trigger": "confidence"})])
    store.assert_exact()
    # A conversation moves to another outlet, then to another tenant; a message to another conversation.
    store.load("conversations", [started("c2", at(11), outlet_id=OUTLET_A, status="resolved")])
    store.assert_exact()
    store.load("conversations", [started("c1", at(10), tenant_id=OTHER_TENANT, outlet_id=OUTLET_B, ended_at=at(10, 20))])
    store.load("messages", [talk("m3", "c1", at(11, 45))])
    store.assert_exact()
    assert summary(OTHER_TENANT, "2025-11-01", "2025-11-01").total_messages == 5


def test_concurrent_loads_of_one_conversation_stay_exact(rollup: PostgresRollupEngine) -> None:
    # Each load recomputes the facts of the conversations it touches: two at once, each
    # without the other's rows, would leave duplicate or missing facts (loads take turns).
    # (Loads of one table already wait for each other's ANALYZE; here the two tables mix.)
    conversation = started("c1", at(10))
    store = Store(rollup.fresh(), {"conversations": [conversation]})
    messages = [talk(f"m{i:02}", "c1", at(10, 0, i), "customer" if i % 3 else "llm") for i in range(24)]
    loads = [load for row in messages for load in (("messages", [row]), ("conversations", [conversation]))]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda load: store.metrics.store.load_rows(*load), loads))
    store.wrote("messages", messages)
    store.assert_exact()


def test_refresh_rebuilds_the_rollup_after_direct_writes(rollup: PostgresRollupEngine) -> None:
    store = Store(rollup.fresh(), {
        "conversations": [started("c1", at(10), outlet_id=OUTLET_A), started("c2", at(12), outlet_id=OUTLET_B)],
        "messages": [talk("m1", "c1", at(10)), talk("m2", "c2", at(12)), talk("m3", "c2", at(12, 0, 9), "llm")],
    })
    # The application writes the seed's tables itself: a message, a moved conversation, a
    # deleted one (which only the derived tables still know).
    store.metrics.executor.run_script(
        "INSERT INTO messages VALUES ('m4', 'c1', 'llm', NULL, 'hi', '2025-11-01 10:00:03+00', '{\"tokens_used\": 9}');"
        f" UPDATE conversations SET outlet_id = '{OUTLET_B}', started_at = '2025-11-02 08:00+00' WHERE id = 'c1';"
        " DELETE FROM messages WHERE conversation_id = 'c2'; DELETE FROM conversations WHERE id = 'c2'"
    )
    store.wrote("messages", [talk("m4", "c1", at(10, 0, 3), "llm", metadata={"tokens_used": 9})])
    store.wrote("conversations", [started("c1", at(8, day=2), outlet_id=OUTLET_B)])
    store.deleted("messages", "m2", "m3")
    store.deleted("conversations", "c2")
    with pytest.raises(AssertionError):
        store.assert_exact()  # the rollup does not see them ...
    store.metrics.store.refresh()
    store.assert_exact()  # ... until it is rebuilt


def test_a_failed_load_leaves_the_derived_tables_as_they_were(rollup: PostgresRollupEngine) -> None:
    store = Store(rollup.fresh(), {
        "conversations": [started("c1", at(10))],
        "messages": [talk("m1", "c1", at(10)), talk("m2", "c1", at(10, 1), "llm")],
    })
    executor = store.metrics.executor
    before = _derived_rows(executor)
    # The last statement of the refresh fails, after the base tables and the facts changed.
    executor.run_script("ALTER TABLE metric_slots ADD CONSTRAINT crm_test_few CHECK (messages < 3)")
    try:
        with pytest.raises(LoadError, match="crm_test_few"):
            store.metrics.store.load_rows("messages", [talk("m3", "c1", at(10, 2), "agent"), talk("m1", "c1", at(10, 4), "llm")])
    finally:
        executor.run_script("ALTER TABLE metric_slots DROP CONSTRAINT crm_test_few")
    assert _derived_rows(executor) == before
    store.assert_exact()


def test_a_refresh_that_fails_changes_nothing(rollup: PostgresRollupEngine) -> None:
    store = Store(rollup.fresh(), {"conversations": [started("c1", at(10))], "messages": [talk("m1", "c1", at(10))]})
    executor = store.metrics.executor
    before = _derived_rows(executor)
    executor.run_script(
        "ALTER TABLE metric_slots ADD CONSTRAINT crm_test_few CHECK (messages < 2);"
        " INSERT INTO messages VALUES ('m2', 'c1', 'llm', NULL, 'hi', '2025-11-01 10:01+00', NULL)"
    )
    try:
        with pytest.raises(LoadError, match=r"could not rebuild conversation_facts, message_facts, metric_slots, cost_slots .*nothing was changed: .*crm_test_few"):
            store.metrics.store.refresh()
    finally:
        executor.run_script("ALTER TABLE metric_slots DROP CONSTRAINT crm_test_few")
    assert _derived_rows(executor) == before


def test_ranges_off_the_slots_read_the_derived_tables(rollup: PostgresRollupEngine) -> None:
    # Amsterdam was UTC+01:19:32 in the summer of 1935: its local days are not whole 15-minute
    # slots. Local midnight fell at 22:40:28 UTC, within the slot of these two messages.
    def utc(hour: int, minute: int, second: int = 0) -> dt.datetime:
        return dt.datetime(1935, 6, 1, hour, minute, second, tzinfo=dt.UTC)

    store = Store(rollup.fresh(), {
        "conversations": [started("c1", utc(22, 40, 10), ended_at=utc(23, 0))],
        "messages": [talk("m1", "c1", utc(22, 40)), talk("m2", "c1", utc(22, 41), "llm")],
    })
    store.assert_exact("1935-06-01", "1935-06-03", tz="Europe/Amsterdam", layout="facts")
    dashboard = store.metrics.dashboard(TENANT, "1935-06-01", "1935-06-03", tz="Europe/Amsterdam")
    assert [row.total_messages for row in dashboard.messages] == [1, 1, 0]


def test_rollup_sums_pass_bigint(rollup: PostgresRollupEngine) -> None:
    # Tokens of up to 18 digits and durations of millennia, summed over one slot.
    store = Store(rollup.fresh(), {
        "conversations": [
            started(f"c{i}", at(10), ended_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC)) for i in range(200)
        ],
        "messages": [
            talk(f"m{i}", "c0", at(10, 0, i), "llm", metadata={"tokens_used": "999999999999999999"}) for i in range(10)
        ],
    })
    store.assert_exact()
    (costs,) = store.metrics.dashboard(TENANT, "2025-11-01", "2025-11-01").costs
    assert costs.total_tokens_used == 9_999_999_999_999_999_990 and type(costs.total_tokens_used) is int


def test_replace_rows_copies_json_and_replaces_by_id(metrics: Metrics) -> None:
    executor = metrics.executor
    metrics.store.load_rows("messages", [
        message("m1", "2025-11-01T10:00:00Z", metadata={"tokens_used": 5, "nested": {"a": [1, "%s"]}}),
        message("m2", "2025-11-01T10:00:01+07:00", metadata=[1, 2]),
        message("m3", "2025-11-01T10:00:02", metadata=None, content="100% %(x)s \\N \t tab"),
    ])
    metrics.store.load_rows("messages", [message("m1", "2025-11-01T11:00:00Z", metadata='"replaced"')])
    rows = executor.fetch(
        raw(
            "SELECT id, jsonb_typeof(metadata), metadata::text, \"timestamp\", content FROM messages ORDER BY id",
            ("id", "STRING"), ("kind", "STRING"), ("metadata", "STRING"), ("at", "TIMESTAMP"), ("content", "STRING"),
        ),
        {},
    )
    assert rows == [
        ("m1", "string", '"replaced"', dt.datetime(2025, 11, 1, 11, tzinfo=dt.UTC), "hi"),
        ("m2", "array", "[1, 2]", dt.datetime(2025, 11, 1, 3, 0, 1, tzinfo=dt.UTC), "hi"),
        ("m3", None, None, dt.datetime(2025, 11, 1, 10, 0, 2, tzinfo=dt.UTC), "100% %(x)s \\N \t tab"),
    ]


def test_a_load_refreshes_planner_statistics(metrics: Metrics) -> None:
    metrics.store.load_rows("conversations", [conversation(f"c{i}", "2025-11-01T10:00:00Z") for i in range(500)])
    (estimate,) = metrics.executor.fetch(
        raw("SELECT reltuples::bigint FROM pg_class WHERE oid = 'conversations'::regclass", ("rows", "INT64")), {}
    )
    assert estimate == (500,)


@pytest.mark.parametrize(
    "bad",
    [
        message("m9", "2025-11-01T10:00:00Z", content="nul \x00 byte"),
        message("m9", "2025-11-01T10:00:00Z", metadata={"text": "nul \x00 byte"}),
    ],
    ids=["nul-in-text", "nul-in-jsonb"],
)
def test_replace_rows_is_all_or_nothing(metrics: Metrics, bad: dict[str, object]) -> None:
    # PostgreSQL cannot store NUL characters; the loader accepts them (DuckDB can). The
    # server refuses the batch in COPY, after the good row went in: nothing may remain.
    metrics.store.load_rows("messages", [message("m1", "2025-11-01T10:00:00Z", content="before")])
    with pytest.raises(LoadError, match="messages; nothing was written"):
        metrics.store.load_rows("messages", [message("m1", "2025-11-01T10:00:00Z", content="after"), bad])
    rows = metrics.executor.fetch(raw("SELECT id, content FROM messages ORDER BY id", ("id", "STRING"), ("c", "STRING")), {})
    assert rows == [("m1", "before")]


def test_replace_rows_rolls_back_the_delete_when_the_insert_fails(metrics: Metrics) -> None:
    # A seed database may have constraints of its own. Here the INSERT fails after the DELETE
    # of m1 ran: the transaction must bring m1 back as it was.
    executor = metrics.executor
    metrics.store.load_rows("messages", [message("m1", "2025-11-01T10:00:00Z", content="before")])
    executor.run_script("ALTER TABLE messages ADD CONSTRAINT crm_test_no_forbidden CHECK (content <> 'forbidden')")
    try:
        with pytest.raises(LoadError, match="crm_test_no_forbidden"):
            metrics.store.load_rows("messages", [
                message("m1", "2025-11-01T10:00:00Z", content="after"),
                message("m2", "2025-11-01T10:00:00Z", content="forbidden"),
            ])
    finally:
        executor.run_script("ALTER TABLE messages DROP CONSTRAINT crm_test_no_forbidden")
    rows = executor.fetch(raw("SELECT id, content FROM messages ORDER BY id", ("id", "STRING"), ("c", "STRING")), {})
    assert rows == [("m1", "before")]


def test_replace_rows_works_with_a_primary_key(metrics: Metrics) -> None:
    # Existing seed tables usually have `id` as primary key: delete-then-insert of the same
    # id in one transaction is fine on PostgreSQL.
    executor = metrics.executor
    executor.run_script("ALTER TABLE messages ADD CONSTRAINT crm_test_pk PRIMARY KEY (id)")
    try:
        metrics.store.load_rows("messages", [message("m1", "2025-11-01T10:00:00Z", content="before")])
        metrics.store.load_rows("messages", [message("m1", "2025-11-01T10:00:00Z", content="after"), message("m2", "2025-11-01T10:00:00Z")])
        rows = executor.fetch(raw("SELECT id, content FROM messages ORDER BY id", ("id", "STRING"), ("c", "STRING")), {})
    finally:
        executor.run_script("ALTER TABLE messages DROP CONSTRAINT crm_test_pk")
    assert rows == [("m1", "after"), ("m2", "hi")]


def test_uuid_ids_through_text_views(postgres: PostgresEngine) -> None:
    # The recipe of docs/postgres.md for a seed database whose ids are `uuid`: views that
    # cast them to text, in a schema put first on the search_path.
    suffix = secrets.token_hex(4)
    views_name = f"crm_test_views_{suffix}"
    app, views = sql.Identifier(f"crm_test_app_{suffix}"), sql.Identifier(views_name)
    conversation_id, other = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}; CREATE SCHEMA {}").format(app, views))
    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn, conn.transaction():
            conn.execute(sql.SQL("SET LOCAL search_path = {}").format(app))
            conn.execute(
                "CREATE TABLE conversations (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, outlet_id uuid,"
                " customer_phone text NOT NULL, status text NOT NULL, started_at timestamptz NOT NULL,"
                " ended_at timestamptz, last_message_at timestamptz)"
            )
            conn.execute(
                "CREATE TABLE messages (id uuid PRIMARY KEY, conversation_id uuid NOT NULL REFERENCES conversations,"
                " sender_type text NOT NULL, sender_id uuid, content text NOT NULL, \"timestamp\" timestamptz NOT NULL,"
                " metadata jsonb)"
            )
            conn.execute(
                "INSERT INTO conversations VALUES (%s, %s, NULL, '+1', 'resolved', '2025-11-01T10:00Z', NULL, NULL)",
                (conversation_id, TENANT),
            )
            conn.execute(
                "INSERT INTO messages VALUES (gen_random_uuid(), %s, 'customer', NULL, 'hi', '2025-11-01T10:00Z', NULL),"
                " (%s, %s, 'llm', NULL, 'hi', '2025-11-01T10:00:05Z', %s)",
                (conversation_id, other, conversation_id, psycopg.types.json.Jsonb({"tokens_used": 10})),
            )
            conn.execute(sql.SQL(
                "CREATE VIEW {views}.conversations AS SELECT id::text AS id, tenant_id::text AS tenant_id,"
                " outlet_id::text AS outlet_id, customer_phone, status, started_at, ended_at, last_message_at"
                " FROM {app}.conversations"
            ).format(views=views, app=app))
            conn.execute(sql.SQL(
                "CREATE VIEW {views}.messages AS SELECT id::text AS id, conversation_id::text AS conversation_id,"
                " sender_type, sender_id::text AS sender_id, content, \"timestamp\", metadata FROM {app}.messages"
            ).format(views=views, app=app))
        metrics = Metrics.connect(settings=Settings(database_url=with_option(POSTGRES_URL, f"-csearch_path={views_name}")))
        try:
            summary = metrics.summary(TENANT, "2025-11-01", "2025-11-01")
        finally:
            metrics.close()
        assert (summary.total_conversations, summary.total_messages, summary.average_response_time_seconds) == (1, 2, 5.0)
        assert summary.tenant_name is None  # no tenants table or view: fine
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE; DROP SCHEMA {} CASCADE").format(views, app))


# -- result types --------------------------------------------------------------------------


def test_numeric_results_leave_as_int_and_float(postgres: PostgresEngine) -> None:
    # Trap: PostgreSQL returns SUM(bigint) and AVG as numeric, which psycopg reads as
    # Decimal; Decimal must never reach the models or JSON (tests/conformance/test_dialect_traps.py).
    metrics = postgres.fresh({
        "conversations": [conversation("c1", "2025-11-01T10:00:00Z", ended_at="2025-11-01T10:00:10Z")],
        "messages": [
            message("m1", "2025-11-01T10:00:00Z"),
            message("m2", "2025-11-01T10:00:01Z", "llm", metadata={"tokens_used": 7}),
        ],
    })
    query = compile_sql("cost_metrics", "postgres")
    values = {
        "tenant_id": TENANT, "start_date": dt.date(2025, 11, 1), "end_date": dt.date(2025, 11, 1), "tz": "UTC",
        "range_start": dt.datetime(2025, 11, 1, tzinfo=dt.UTC), "range_end": dt.datetime(2025, 11, 2, tzinfo=dt.UTC),
        "llm_price_per_million_tokens": 0.15, "whatsapp_price_per_message": 0.01,
    }
    with psycopg.connect(postgres.url) as conn:
        (driver_row,) = conn.execute(query.sql, query.bind(values)).fetchall()
    assert isinstance(driver_row[2], Decimal)  # the normalisation below is not idle
    (row,) = query.normalise(metrics.executor.fetch(query, values))
    assert row[2] == 7 and type(row[2]) is int
    assert all(type(value) is float for value in row[3:])
    summary = metrics.summary(TENANT, "2025-11-01", "2025-11-01")
    assert type(summary.average_response_time_seconds) is float and summary.average_response_time_seconds == 1.0
    assert type(summary.total_messages) is int


def test_id_order_is_bytewise_whatever_the_column_collation(postgres: PostgresEngine) -> None:
    # Trap: ORDER BY id follows the column's collation; under ICU 'en' 'm1' sorts before 'M1',
    # in byte order after. The queries compare ids under COLLATE "C" (crm_metrics/dialects.py),
    # so a seed database with a linguistic collation still gives the contract's order.
    metrics = postgres.fresh()
    metrics.executor.run_script('ALTER TABLE messages ALTER COLUMN id TYPE text COLLATE "en-x-icu"')
    try:
        metrics.store.load_rows("conversations", [conversation("c1", "2025-11-01T10:00:00Z")])
        metrics.store.load_rows("messages", [
            message("M1", "2025-11-01T10:00:00Z", "customer"),
            message("m1", "2025-11-01T10:00:00Z", "llm"),
            message("z1", "2025-11-01T10:00:10Z", "llm"),
        ])
        ordered = metrics.executor.fetch(raw("SELECT id FROM messages ORDER BY id", ("id", "STRING")), {})
        assert [i for (i,) in ordered] == ["m1", "M1", "z1"]  # the column's own order differs
        # Byte order: M1 (customer) then m1 (llm) at the same instant: a reply after 0 s.
        assert metrics.summary(TENANT, "2025-11-01", "2025-11-01").average_response_time_seconds == 0.0
    finally:
        metrics.executor.run_script('ALTER TABLE messages ALTER COLUMN id TYPE text COLLATE "default"')


# -- failures while serving ----------------------------------------------------------------


def _backends(application: str) -> list[int]:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,)).fetchall()
    return [pid for (pid,) in rows]


def test_terminated_backends_are_replaced(postgres: PostgresEngine) -> None:
    application = f"crm-test-{secrets.token_hex(4)}"
    metrics = postgres.fresh({"conversations": [conversation("c1", "2025-11-01T10:00:00Z")]})
    executor = PostgresExecutor(url_with(postgres.url, application_name=application))
    try:
        served = Metrics(executor, metrics.settings, clock=lambda: FIXED_NOW)
        assert served.summary(TENANT, "2025-11-01", "2025-11-01").total_conversations == 1
        pids = _backends(application)
        assert pids
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for pid in pids:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # Every pooled connection is dead now; the next calls get new ones.
        assert served.summary(TENANT, "2025-11-01", "2025-11-01").total_conversations == 1
        executor.ping()
        assert set(_backends(application)).isdisjoint(pids)
    finally:
        executor.close()


class Proxy:
    """A TCP proxy on a free loopback port to PostgreSQL, which a test can cut and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopped.clear()
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Refuse new connections and cut the open ones, like a server that went away."""
        self._stopped.set()
        if self._thread:
            self._thread.join()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while not self._stopped.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                upstream = socket.create_connection(self.target)
                self._sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    parts = urlsplit(POSTGRES_URL)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.start()
    yield proxy
    proxy.stop()


def test_unreachable_while_serving_then_recovers(postgres: PostgresEngine, proxy: Proxy) -> None:
    metrics = postgres.fresh({"conversations": [conversation("c1", "2025-11-01T10:00:00Z")]})
    parts = urlsplit(postgres.url)
    through = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}").geturl()
    executor = PostgresExecutor(through, connect_timeout=1)
    try:
        served = Metrics(executor, metrics.settings, clock=lambda: FIXED_NOW)
        assert served.summary(TENANT, "2025-11-01", "2025-11-01").total_conversations == 1

        proxy.stop()
        with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{proxy.port}/") as caught:
            served.summary(TENANT, "2025-11-01", "2025-11-01")
        assert "Connection refused" in str(caught.value)
        with pytest.raises(BackendUnavailable):
            executor.ping()

        proxy.start()
        # Back by itself: no new executor, no restart.
        assert served.summary(TENANT, "2025-11-01", "2025-11-01").total_conversations == 1
        executor.ping()
    finally:
        executor.close()


# -- the HTTP server on PostgreSQL ---------------------------------------------------------

DASHBOARD, SUMMARY = "/api/v1/metrics/dashboard", "/api/v1/metrics/summary"


def test_server_says_503_while_postgres_is_away_and_recovers(
    postgres: PostgresEngine, proxy: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = postgres.fresh(ROWS)
    parts = urlsplit(postgres.url)
    # Trust authentication ignores the password; it is there to be masked.
    through = parts._replace(netloc=f"{parts.username or 'postgres'}:s3cret@127.0.0.1:{proxy.port}").geturl()
    served = Metrics(PostgresExecutor(through, connect_timeout=1), metrics.settings, clock=lambda: FIXED_NOW)
    headers = {"X-Tenant-Id": TENANT_A}
    query = "?start_date=2025-11-01&end_date=2025-11-04"
    with TestClient(create_app(served, ServerConfig(cache_ttl_seconds=0))) as client:
        assert client.get("/health").json()["database"] == "connected"
        before = client.get(SUMMARY + query, headers=headers)
        assert before.status_code == 200

        proxy.stop()
        health = client.get("/health")
        assert (health.status_code, health.json()["status"], health.json()["database"]) == (503, "unhealthy", "disconnected")
        assert_error(client.get(SUMMARY + query, headers=headers), 503, "backend_unavailable")
        # The body stays generic; the log names the server, without the password.
        (logged,) = [r.getMessage() for r in caplog.records if r.name == "server.errors"]
        assert f"PostgreSQL at 127.0.0.1:{proxy.port}/" in logged and "s3cret" not in caplog.text

        proxy.start()
        # Back by itself: the same app, the same pool.
        assert client.get(SUMMARY + query, headers=headers).content == before.content
        assert client.get("/health").json()["database"] == "connected"
    served.close()


def test_server_bodies_are_the_same_on_postgres_and_duckdb(postgres: PostgresEngine) -> None:
    today, now = dt.date(2025, 11, 4), dt.datetime(2025, 11, 5, 17, 0, tzinfo=dt.UTC)
    duckdb = DuckDBEngine()
    duckdb.start()
    try:
        bodies = []
        for engine in (duckdb, postgres):
            metrics = engine.fresh(clock=lambda: now)
            demo.write(metrics, today=today, days=7)
            with TestClient(create_app(metrics, ServerConfig(cache_ttl_seconds=0))) as client:
                bodies.append([
                    client.get(path, headers={"X-Tenant-Id": tenant.id}).content
                    for tenant in demo.TENANTS
                    for path in (
                        f"{DASHBOARD}?start_date=2025-10-29&end_date=2025-11-04",
                        f"{DASHBOARD}?start_date=2025-10-01&end_date=2025-11-04&granularity=week",
                        f"{DASHBOARD}?start_date=2025-10-01&end_date=2025-11-04&granularity=month&tz=UTC",
                        f"{SUMMARY}?start_date=2025-10-29&end_date=2025-11-04",
                    )
                ])
    finally:
        duckdb.stop()
    assert all(body.startswith(b'{"tenant_id"') for body in bodies[0])
    assert bodies[1] == bodies[0]
