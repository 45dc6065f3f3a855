"""The report scheduler's record in the store: the table `report_deliveries`, one row per
scheduled report and period (sql/schema/<engine>-deliveries.sql), read and written by the
statements of sql/schedule/. DuckDB and PostgreSQL keep it; on BigQuery the scheduler needs a
store of its own (`--database-url` of the scheduler).

A row is planned before its report is due, then recorded as sent, retrying or failed (given
up). The scheduler reads the latest row of each report when it starts, so a restart neither
skips a report nor sends one twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_metrics.compiler import compile_sql
from crm_metrics.errors import ConfigError
from crm_metrics.templates import sql_dir

if TYPE_CHECKING:
    from crm_metrics.schedule import Period
    from crm_metrics.service import Metrics

TABLE = "report_deliveries"
STATUSES = ("planned", "retrying", "sent", "failed")


@dataclass(frozen=True)
class Record:
    period_start: dt.date
    period_end: dt.date
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None


@dataclass(frozen=True)
class Failure:
    entry: str
    period_start: dt.date
    period_end: dt.date
    status: str
    attempts: int
    last_error: str | None


class Deliveries:
    """The record of one store. Safe to share between threads (each call is one statement)."""

    def __init__(self, metrics: Metrics) -> None:
        self._executor = metrics.executor

    def _ddl(self) -> Path:
        return sql_dir() / "schema" / f"{self._executor.dialect}-deliveries.sql"

    def create(self) -> None:
        """Make the table where missing."""
        dialect = self._executor.dialect
        path = self._ddl()
        if not path.is_file():
            raise ConfigError(
                f"the report scheduler keeps its record in DuckDB or PostgreSQL, not {dialect}: "
                "give the scheduler a database of its own (--database-url duckdb:///reports.duckdb)"
            )
        self._executor.run_script(path.read_text(encoding="utf-8"))

    def latest(self, entry: str) -> Record | None:
        rows = self._fetch("latest", entry=entry)
        return Record(*rows[0]) if rows else None

    def find(self, entry: str, period_start: dt.date) -> Record | None:
        """The record of one period of an entry (an alert's anomaly: its day), if any."""
        rows = self._fetch("delivery", entry=entry, period_start=period_start)
        return Record(*rows[0]) if rows else None

    def plan(self, entry: str, period: Period, due: dt.datetime, now: dt.datetime) -> None:
        self._fetch("plan", entry=entry, period_start=period.start, period_end=period.end, due_at=due, now=now)

    def record(
        self,
        entry: str,
        period: Period,
        status: str,
        attempts: int,
        now: dt.datetime,
        *,
        next_attempt_at: dt.datetime | None = None,
        last_error: str | None = None,
    ) -> None:
        assert status in STATUSES
        self._fetch(
            "record",
            entry=entry,
            period_start=period.start,
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=last_error,
            sent_at=now if status == "sent" else None,
            now=now,
        )

    def failing(self) -> list[Failure]:
        """Reports whose latest delivery failed (none while the table does not exist)."""
        # Not on BigQuery (no record there: and every look would be a billed query).
        if not self._ddl().is_file() or not self._executor.has_table(TABLE):
            return []
        return [Failure(*row) for row in self._fetch("failing")]

    def _fetch(self, statement: str, **values: Any) -> list[tuple[Any, ...]]:
        compiled = compile_sql(f"schedule/{statement}", self._executor.dialect)
        return compiled.normalise(self._executor.fetch(compiled, values))
