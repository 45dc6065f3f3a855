"""The engines the conformance suite runs on, behind one small interface.

Every engine gives a `Metrics` over empty seed tables (`fresh`), loaded through the public
loader. An engine that cannot run here skips with its reason, except under CI=true, where a
missing service fails the run (docs/testing.md).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from crm_metrics import Metrics, Settings
from crm_metrics.events import VERSIONS_DDL
from crm_metrics.schema import ddl

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
    tables = ("tenants", "conversations", "messages", "conversation_facts", "message_facts", "metric_slots", "crm_metrics_versions")

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
        # One statement, fast enough for every hypothesis example.
        tables = self.tables if self.rollup else ("tenants", "conversations", "messages", "crm_metrics_versions")
        self.executor.run_script(f"TRUNCATE {', '.join(tables)}")


class PostgresRollupEngine(PostgresEngine):
    """PostgreSQL after `crm-metrics init-db --rollup`: the derived tables and the rollup,
    kept exact by every load (the 'rollup' layout; a range whose local days are not whole
    15-minute slots reads the derived tables)."""

    name = "postgres-rollup"
    rollup = True


#: Engines by name.
ENGINES: dict[str, type[Engine]] = {
    "duckdb": DuckDBEngine,
    "duckdb-facts": DuckDBFactsEngine,
    "duckdb-seed": DuckDBSeedEngine,
    "bigquery": BigQueryEngine,
    "postgres": PostgresEngine,
    "postgres-rollup": PostgresRollupEngine,
}
