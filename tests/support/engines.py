"""The engines the conformance suite runs on, behind one small interface.

Every engine gives a `Metrics` over empty seed tables (`fresh`), loaded through the public
loader. An engine that cannot run here skips with its reason, except under CI=true, where a
missing service fails the run (docs/testing.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from crm_metrics import Metrics, Settings
from crm_metrics.events import VERSIONS_DDL
from crm_metrics.schema import ddl
from tests.support.strategies import TENANT

Rows = Mapping[str, Sequence[Mapping[str, Any]]]
FIXED_NOW = dt.datetime(2025, 11, 4, 12, 0, tzinfo=dt.UTC)

def unavailable(reason: str) -> None:
    """Skip outside CI; fail in CI, where every service must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required test service unavailable in CI: {reason}")
    pytest.skip(reason)

class Engine:
    """Base: subclasses connect in `start`; `fresh` empties the tables and loads rows."""

    name: str
    #: At most this many examples per hypothesis property on this engine (None: the default
    #: profile's); registered as the profile `engine-<name>` (tests/conftest.py).
    max_examples: int | None = None
    #: Tables emptied between examples (the derived ones too, where the layout has them).
    tables = ("tenants", "conversations", "messages", "conversation_facts", "message_facts", "metric_slots", "cost_slots", "crm_metrics_versions")

    def start(self) -> None:
        """Connect once per test session (or call `unavailable`) and set `self.executor`
        and `self.settings`, over the tables `init_db` creates."""
        raise NotImplementedError

    def stop(self) -> None:
        self.executor.close()

    def reset(self) -> None:
        for table in self.tables:
            if self.executor.has_table(table):
                self.executor.run_script(f"DELETE FROM {table}")

    def fresh(self, rows: Rows | None = None, *, clock: Callable[[], dt.datetime] = lambda: FIXED_NOW) -> Metrics:
        """A new Metrics (no remembered tenants) over tables holding exactly `rows`."""
        self.reset()
        metrics = Metrics(self.executor, self.settings, clock=clock)
        for table in ("tenants", "conversations", "messages"):
            if rows and rows.get(table):
                metrics.store.load_rows(table, rows[table])
        return metrics

class DuckDBEngine(Engine):
    """The embedded store as `crm-metrics init-db` makes it: derived tables and the rollup
    (the 'rollup' layout; a range whose local days are not whole 15-minute slots reads the
    derived tables)."""

    name = "duckdb"

    def start(self) -> None:
        self.settings = Settings(database_url="duckdb:///:memory:")
        metrics = Metrics.connect(settings=self.settings)
        metrics.store.init_db()
        assert metrics.layout == "rollup"
        self.executor = metrics.executor

class DuckDBFactsEngine(Engine):
    """The embedded store without its rollup (as stores made before it are, until `init-db`
    adds it): every request reads the derived tables (the 'facts' layout)."""

    name = "duckdb-facts"
    # The same store as "duckdb" but for the rollup; that engine reads these tables too for
    # ranges off the 15-minute slots (tests/conformance/test_rollup.py). Fewer examples keep the suite short.
    max_examples = 10

    def start(self) -> None:
        self.settings = Settings(database_url="duckdb:///:memory:")
        self.executor = Metrics.connect(settings=self.settings).executor
        self.executor.run_script(ddl("duckdb", rollup=True))
        self.executor.run_script("DROP TABLE metric_slots")
        assert Metrics(self.executor).layout == "facts"

class DuckDBSeedEngine(Engine):
    """DuckDB holding only the seed's tables, as a user who brings their own would: the
    queries derive turns and handoffs at query time (the 'seed' layout)."""

    name = "duckdb-seed"
    # Its seed-layout SQL is PostgreSQL's and BigQuery's too (both run the seed layout); half
    # the default keeps the suite within its ten minutes.
    max_examples = 10

    def start(self) -> None:
        self.settings = Settings(database_url="duckdb:///:memory:")
        metrics = Metrics.connect(settings=self.settings)
        metrics.store.init_db(rollup=False)
        assert metrics.layout == "seed"
        self.executor = metrics.executor

class BigQueryEngine(Engine):
    """BigQuery through google-cloud-bigquery, on the local emulator (tests/support/bigquery_emulator.py),
    in a dataset of its own, with the seed's tables (BigQuery's layout). One executor serves
    every test."""

    name = "bigquery"
    # Every query is a job the emulator translates to DuckDB in Python (0.1 to 0.3 s for a
    # metric query): a property gets a handful of examples here; the other engines run the
    # profile's count over the same strategies.
    max_examples = 5

    def start(self) -> None:
        from crm_metrics.executors import connect
        from tests.support import bigquery_emulator

        try:
            emulator = bigquery_emulator.shared()
        except bigquery_emulator.EmulatorUnavailable as error:
            unavailable(str(error))
        self.settings = Settings(
            database_url=f"bigquery://{bigquery_emulator.PROJECT}/{emulator.create_dataset()}",
            bigquery_api_endpoint=emulator.endpoint,
        )
        self.executor = connect(self.settings.database_url, timeout=60, settings=self.settings)
        metrics = Metrics(self.executor, self.settings)
        metrics.store.init_db()
        assert metrics.layout == "seed"

    def reset(self) -> None:
        # One script for the three tables (BigQuery's DELETE wants a WHERE clause).
        self.executor.run_script("TRUNCATE TABLE tenants; TRUNCATE TABLE conversations; TRUNCATE TABLE messages;")

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

def with_option(url: str, option: str) -> str:
    """`url` with a server setting for its sessions, e.g. `-csearch_path=s` (libpq `options`)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query["options"] = f"{query.get('options', '')} {option}".strip()
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))

class PostgresEngine(Engine):
    """The PostgreSQL server at CRM_TEST_POSTGRES_URL (the seed's tables, as `init-db` makes
    them: the 'seed' layout), in a schema of its own with a random name, so that parallel runs
    do not collide; dropped at the end. One pool serves every test."""

    name = "postgres"
    #: `init_db(rollup=...)`: the derived tables and the rollup too.
    rollup = False

    def start(self) -> None:
        import psycopg
        from psycopg import sql

        from crm_metrics.executors.postgres import PostgresExecutor, mask_password

        self.schema = f"crm_test_{secrets.token_hex(4)}"
        try:
            with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        except psycopg.OperationalError as error:
            reason = " ".join(str(error).split())
            unavailable(f"PostgreSQL at {mask_password(POSTGRES_URL)} is unreachable (set CRM_TEST_POSTGRES_URL): {reason}")
        self.url = with_option(POSTGRES_URL, f"-csearch_path={self.schema}")
        self.settings = Settings(database_url=self.url)
        self.executor = PostgresExecutor(self.url, timeout=60)
        metrics = Metrics(self.executor, self.settings)
        metrics.store.init_db(rollup=self.rollup)
        assert metrics.layout == ("rollup" if self.rollup else "seed")
        # The events' record of versions (crm_metrics/events.py), emptied with the tables.
        self.executor.run_script(VERSIONS_DDL)

    def stop(self) -> None:
        import psycopg
        from psycopg import sql

        self.executor.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self.schema)))

    def reset(self) -> None:
        # One script; DELETE, not TRUNCATE: for an example's few rows it takes milliseconds where
        # TRUNCATE's new files took 0.17 s, every hypothesis example.
        tables = self.tables if self.rollup else ("tenants", "conversations", "messages", "crm_metrics_versions")
        self.executor.run_script("; ".join(f"DELETE FROM {table}" for table in tables))

class PostgresRollupEngine(PostgresEngine):
    """PostgreSQL after `crm-metrics init-db --rollup`: the derived tables and the rollup,
    kept exact by every load (the 'rollup' layout; a range whose local days are not whole
    15-minute slots reads the derived tables)."""

    name = "postgres-rollup"
    rollup = True

@contextlib.contextmanager
def rollup_metrics() -> Iterator[Metrics]:
    """`Metrics.connect` (as a user opens it) over a schema of its own after `init-db --rollup`,
    dropped at the end."""
    engine = PostgresRollupEngine()
    engine.start()
    engine.executor.close()
    try:
        with Metrics.connect(settings=engine.settings) as opened:
            yield opened
    finally:
        engine.stop()

class PostgresLiveEngine(PostgresRollupEngine):
    """PostgreSQL after `init-db --rollup`, written by plain SQL over psycopg as the CRM
    writes its own tables (COPY, INSERT, UPDATE, DELETE; messages before their conversation),
    never through crm-metrics: the live rollup's triggers queue every write and the applier
    that `crm-metrics serve` runs (crm_metrics.changes.follow, here in a thread) applies them.
    `fresh` returns once the queue is empty, i.e. every write is applied."""

    name = "postgres-live"
    # Each example writes in nine statements and waits for the applier: a few examples keep
    # the suite short; "postgres-rollup" runs the same layout (written by loads) for the full
    # count, and tests/executors/test_postgres_live.py runs concurrent writers.
    max_examples = 5
    #: How long `fresh` waits for the applier before failing.
    drain_seconds = 30.0

    def start(self) -> None:
        import threading

        import psycopg

        from crm_metrics import changes

        super().start()
        self.writer = psycopg.connect(self.url, autocommit=True)
        self.stopping = threading.Event()
        applier = Settings(database_url=self.url, rollup_poll_seconds=0.005)
        self.applier = threading.Thread(target=changes.follow, args=(applier, self.stopping), name="rollup", daemon=True)
        self.applier.start()

    def stop(self) -> None:
        self.stopping.set()
        self.applier.join()
        self.writer.close()
        super().stop()

    def reset(self) -> None:
        # DELETE, not TRUNCATE: a few rows go faster than TRUNCATE's new files. The queue goes
        # last, in the same transaction, with what the triggers queued for these deletes.
        self.executor.run_script("; ".join(f"DELETE FROM {table}" for table in (*self.tables, "crm_metrics_changes")))

    def fresh(self, rows: Rows | None = None, *, clock: Callable[[], dt.datetime] = lambda: FIXED_NOW) -> Metrics:

        from crm_metrics.loader import prepare_rows

        self.reset()
        rows = rows or {}
        # The loader's checks only turn the rows into column values (metadata as JSON text).
        tables = {t: prepare_rows(t, rows[t]).rows.to_pylist() if rows.get(t) else [] for t in ("tenants", "conversations", "messages")}
        conn = self.writer
        with conn.cursor() as cursor:
            if tables["tenants"]:
                cursor.executemany("INSERT INTO tenants (id, name, timezone) VALUES (%(id)s, %(name)s, %(timezone)s)", tables["tenants"])
            # Messages first, by COPY, every other one in a conversation that is not theirs.
            columns = ("id", "conversation_id", "sender_type", "sender_id", "content", "timestamp", "metadata")
            with cursor.copy(f"COPY messages ({', '.join(columns)}) FROM STDIN") as copy:
                for n, message in enumerate(tables["messages"]):
                    moved = {**message, "conversation_id": f"moved-{message['conversation_id']}"} if n % 2 else message
                    copy.write_row([moved[c] for c in columns])
            # Then the conversations, in a status that no answer counts, one INSERT each.
            cursor.executemany(
                "INSERT INTO conversations (id, tenant_id, outlet_id, customer_phone, status, started_at, ended_at, last_message_at)"
                " VALUES (%(id)s, %(tenant_id)s, %(outlet_id)s, %(customer_phone)s, 'draft', %(started_at)s, %(ended_at)s, %(last_message_at)s)",
                tables["conversations"],
            )
            # A conversation and a message that come and go.
            cursor.execute(
                "INSERT INTO conversations (id, tenant_id, customer_phone, status, started_at) VALUES ('gone', %s, '+1', 'active', %s)",
                (TENANT, FIXED_NOW - dt.timedelta(days=2)),
            )
            cursor.execute(
                "INSERT INTO messages (id, conversation_id, sender_type, content, \"timestamp\") VALUES ('gone', 'gone', 'customer', '?', %s)",
                (FIXED_NOW - dt.timedelta(days=2),),
            )
            # Each message into its own conversation, each conversation into its own status.
            cursor.execute("UPDATE messages SET conversation_id = substr(conversation_id, 7) WHERE conversation_id LIKE 'moved-%%'")
            cursor.executemany("UPDATE conversations SET status = %(status)s WHERE id = %(id)s", tables["conversations"])
            cursor.execute("DELETE FROM messages WHERE id = 'gone'")
            cursor.execute("DELETE FROM conversations WHERE id = 'gone'")
        self.drain()
        return Metrics(self.executor, self.settings, clock=clock)

    def drain(self) -> None:
        """Wait until the applier has applied every queued write."""
        import time

        deadline = time.monotonic() + self.drain_seconds
        while self.writer.execute("SELECT EXISTS (SELECT FROM crm_metrics_changes)").fetchone()[0]:
            if time.monotonic() > deadline:
                pytest.fail(f"the live rollup's applier left writes queued for {self.drain_seconds} s")
            time.sleep(0.005)

#: Engines by name.
ENGINES: dict[str, type[Engine]] = {
    "duckdb": DuckDBEngine,
    "duckdb-facts": DuckDBFactsEngine,
    "duckdb-seed": DuckDBSeedEngine,
    "bigquery": BigQueryEngine,
    "postgres": PostgresEngine,
    "postgres-rollup": PostgresRollupEngine,
    "postgres-live": PostgresLiveEngine,
}
