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


#: Engines by name; PostgreSQL and BigQuery register here too.
ENGINES: dict[str, type[Engine]] = {"duckdb": DuckDBEngine}
