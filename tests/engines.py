"""The engines the conformance suite runs on, behind one small interface.

Every engine gives a `Metrics` over empty seed tables (`fresh`), loaded through the public
loader. An engine that cannot run here skips with its reason, except under CI=true, where a
missing service fails the run (DEVELOPERS.md).
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
from crm_metrics.loader import load_rows

Rows = Mapping[str, Sequence[Mapping[str, Any]]]
FIXED_NOW = dt.datetime(2025, 11, 4, 12, 0, tzinfo=dt.UTC)


def unavailable(reason: str) -> None:
    """Skip outside CI; fail in CI, where every service must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required test service unavailable in CI: {reason}")
    pytest.skip(reason)


class Engine:
    """Base: subclasses say how to connect and how to empty the tables."""

    name: str

    def start(self) -> None:
        """Connect once per test session (or call `unavailable`)."""

    def stop(self) -> None: ...

    def metrics(self, clock: Callable[[], dt.datetime]) -> Metrics:
        """A Metrics over this engine's (empty) seed tables."""
        raise NotImplementedError

    def fresh(self, rows: Rows | None = None, *, clock: Callable[[], dt.datetime] = lambda: FIXED_NOW) -> Metrics:
        metrics = self.metrics(clock)
        for table in ("tenants", "conversations", "messages"):
            if rows and rows.get(table):
                load_rows(metrics.executor, table, rows[table])
        return metrics


class DuckDBEngine(Engine):
    name = "duckdb"

    def metrics(self, clock: Callable[[], dt.datetime]) -> Metrics:
        metrics = Metrics.connect("duckdb:///:memory:", settings=Settings(database_url="duckdb:///:memory:"), clock=clock)
        metrics.init_db()
        return metrics


POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def with_option(url: str, option: str) -> str:
    """`url` with a server setting for its sessions, e.g. `-csearch_path=s` (libpq `options`)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query["options"] = f"{query.get('options', '')} {option}".strip()
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class PostgresEngine(Engine):
    """The PostgreSQL server at CRM_TEST_POSTGRES_URL, in a schema of its own (a random name,
    so parallel runs do not collide), dropped at the end. One pool serves every test."""

    name = "postgres"

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
        self.executor = PostgresExecutor(self.url, timeout=60)
        Metrics(self.executor).init_db()

    def stop(self) -> None:
        import psycopg
        from psycopg import sql

        self.executor.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self.schema)))

    def metrics(self, clock: Callable[[], dt.datetime]) -> Metrics:
        # TRUNCATE empties the tables in one statement, fast enough for every hypothesis example.
        self.executor.run_script("TRUNCATE tenants, conversations, messages")
        return Metrics(self.executor, Settings(database_url=self.url), clock=clock)


#: Engines by name; BigQuery registers here too.
ENGINES: dict[str, type[Engine]] = {"duckdb": DuckDBEngine, "postgres": PostgresEngine}
