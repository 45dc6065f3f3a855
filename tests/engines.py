"""The engines the conformance suite runs on, behind one small interface.

Every engine gives a `Metrics` over empty seed tables (`fresh`), loaded through the public
loader. An engine that cannot run here skips with its reason, except under CI=true, where a
missing service fails the run (DEVELOPERS.md).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
    #: At most this many examples per hypothesis property on this engine (None: the profile's).
    #: tests/conftest.py applies it to every property test that takes the `engine` fixture.
    max_examples: int | None = None

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


class BigQueryEngine(Engine):
    """BigQuery through google-cloud-bigquery, on the local emulator (tests/bigquery_emulator.py),
    in a dataset of its own. One executor serves every test; TRUNCATE empties the tables."""

    name = "bigquery"
    # Every query is a job on the emulator, which translates it to DuckDB in Python (0.1 to
    # 0.3 s a metric query): a property gets a handful of examples here; DuckDB and PostgreSQL
    # run the full count over the same strategies.
    max_examples = 6

    def start(self) -> None:
        from crm_metrics.executors import connect
        from tests import bigquery_emulator

        try:
            emulator = bigquery_emulator.shared()
        except bigquery_emulator.EmulatorUnavailable as error:
            unavailable(str(error))
        self.settings = Settings(
            database_url=f"bigquery://{bigquery_emulator.PROJECT}/{emulator.create_dataset()}",
            bigquery_api_endpoint=emulator.endpoint,
        )
        self.executor = connect(self.settings.database_url, timeout=60, settings=self.settings)
        Metrics(self.executor, self.settings).init_db()

    def stop(self) -> None:
        self.executor.close()

    def metrics(self, clock: Callable[[], dt.datetime]) -> Metrics:
        self.executor.run_script("TRUNCATE TABLE tenants; TRUNCATE TABLE conversations; TRUNCATE TABLE messages;")
        return Metrics(self.executor, self.settings, clock=clock)


#: Engines by name; PostgreSQL registers here too.
ENGINES: dict[str, type[Engine]] = {"duckdb": DuckDBEngine, "bigquery": BigQueryEngine}
