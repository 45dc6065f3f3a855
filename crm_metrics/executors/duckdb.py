"""DuckDB, the embedded default: `duckdb:///path/file.duckdb` or `duckdb:///:memory:`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb

from crm_metrics.errors import BackendUnavailable, QueryTimeout
from crm_metrics.query import CompiledQuery

if TYPE_CHECKING:
    import pyarrow


class DuckDBExecutor:
    dialect: ClassVar[str] = "duckdb"

    def __init__(self, path: str = ":memory:", *, read_only: bool = False, timeout: float | None = None) -> None:
        self.description = f"duckdb:///{path}"
        self.timeout = timeout
        # An in-memory database cannot be opened read-only; it is private to this process anyway.
        read_only = read_only and path != ":memory:"
        try:
            self._db = duckdb.connect(path, read_only=read_only)
        except duckdb.Error as error:
            hint = " (create it with `crm-metrics init-db` or `crm-metrics demo`)" if "does not exist" in str(error) else ""
            raise BackendUnavailable(f"cannot open DuckDB database {path!r}: {error}{hint}") from error
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # A DuckDB connection must not be used by two threads at once; a cursor is a new
        # connection to the same database, so each thread gets its own.
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._db.cursor()
            # Trap: DATE(ts) and TIMESTAMP(date) follow the session TimeZone; pin it to UTC.
            cursor.execute("SET TimeZone = 'UTC'")
            self._local.cursor = cursor
            with self._lock:
                self._cursors.append(cursor)
        return cursor

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor = self._cursor()
        timer = threading.Timer(self.timeout, cursor.interrupt) if self.timeout else None
        try:
            if timer:
                timer.start()
            rows = cursor.execute(query.sql, query.bind(values)).fetchall()
        except duckdb.InterruptException as error:
            raise QueryTimeout(f"{query.name} ran longer than {self.timeout} s") from error
        except duckdb.ConnectionException as error:
            raise BackendUnavailable(f"DuckDB connection lost: {error}") from error
        except duckdb.CatalogException as error:
            raise BackendUnavailable(f"{error} (create the tables with `crm-metrics init-db`)") from error
        finally:
            if timer:
                timer.cancel()
        return query.normalise(rows)

    def run_script(self, sql: str) -> None:
        self._cursor().execute(sql)

    def has_table(self, name: str) -> bool:
        found = self._cursor().execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = $name AND table_schema = current_schema()",
            {"name": name},
        ).fetchone()
        return bool(found and found[0])

    def replace_rows(self, table: str, rows: pyarrow.Table) -> None:
        cursor = self._cursor()
        columns = ", ".join(f'"{name}"' for name in rows.column_names)
        cursor.register("crm_metrics_staging", rows)
        try:
            cursor.execute("BEGIN TRANSACTION")
            try:
                cursor.execute(f'DELETE FROM "{table}" WHERE id IN (SELECT id FROM crm_metrics_staging)')
                cursor.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM crm_metrics_staging')
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        finally:
            cursor.unregister("crm_metrics_staging")

    def ping(self) -> None:
        try:
            self._cursor().execute("SELECT 1").fetchone()
        except duckdb.Error as error:
            raise BackendUnavailable(f"DuckDB does not answer: {error}") from error

    def close(self) -> None:
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self._db.close()
