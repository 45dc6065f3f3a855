"""DuckDB, the embedded default: `duckdb:///path/file.duckdb` or `duckdb:///:memory:`."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb

from crm_metrics.errors import BackendUnavailable, QueryTimeout
from crm_metrics.executors.base import ALL_CONVERSATIONS, TOUCHED
from crm_metrics.query import CompiledQuery

if TYPE_CHECKING:
    import pyarrow

    from crm_metrics.derived import Refresh


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
            try:
                cursor = self._db.cursor()
                # Trap: DATE(ts) and TIMESTAMP(date) follow the session TimeZone; pin it to UTC.
                _run(cursor, "SET TimeZone = 'UTC'")
            except duckdb.ConnectionException as error:
                # The database was closed: a thread that never queried it cannot get a cursor.
                raise BackendUnavailable(f"DuckDB connection lost: {error}") from error
            self._local.cursor = cursor
            with self._lock:
                self._cursors.append(cursor)
        return cursor

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor = self._cursor()
        deadline = _WATCHDOG.watch(cursor, self.timeout) if self.timeout else None
        try:
            with _missing_tables_explained():
                rows = cursor.execute(query.sql, query.bind(values)).fetchall()
        except duckdb.InterruptException as error:
            raise QueryTimeout(f"{query.name} ran longer than {self.timeout} s") from error
        except duckdb.ConnectionException as error:
            raise BackendUnavailable(f"DuckDB connection lost: {error}") from error
        finally:
            if deadline is not None:  # the first key is 0
                _WATCHDOG.release(deadline)
        return query.normalise(rows)

    def run_script(self, sql: str) -> None:
        _run(self._cursor(), sql)

    def has_table(self, name: str) -> bool:
        try:
            ((found,),) = self._cursor().execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = $name AND table_schema = current_schema()",
                {"name": name},
            ).fetchall()
        except duckdb.ConnectionException as error:
            raise BackendUnavailable(f"DuckDB connection lost: {error}") from error
        return bool(found)

    def replace_rows(self, table: str, rows: pyarrow.Table, refresh: Refresh | None = None) -> None:
        cursor = self._cursor()
        columns = ", ".join(f'"{name}"' for name in rows.column_names)
        refresh = refresh if table in TOUCHED else None
        cursor.register("crm_metrics_staging", rows)
        try:
            with self._transaction(cursor), _missing_tables_explained():
                if refresh:
                    # Before the delete: a message may be moving to another conversation.
                    _run(cursor, f"CREATE TEMP TABLE crm_metrics_touched AS {TOUCHED[table]}")
                _run(cursor, f'DELETE FROM "{table}" WHERE id IN (SELECT id FROM crm_metrics_staging)')
                _run(cursor, f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM crm_metrics_staging')
                if refresh:
                    self._refresh(cursor, refresh)
        finally:
            cursor.unregister("crm_metrics_staging")

    def rebuild(self, refresh: Refresh, ddl: str | None = None) -> None:
        cursor = self._cursor()
        with self._transaction(cursor):
            if ddl:
                _run(cursor, ddl)
            _run(cursor, f"CREATE TEMP TABLE crm_metrics_touched AS {ALL_CONVERSATIONS}")
            self._refresh(cursor, refresh)

    @staticmethod
    def _refresh(cursor: duckdb.DuckDBPyConnection, refresh: Refresh) -> None:
        for statement in refresh.statements:
            _run(cursor, statement)
        _run(cursor, "DROP TABLE crm_metrics_touched")

    @staticmethod
    @contextlib.contextmanager
    def _transaction(cursor: duckdb.DuckDBPyConnection) -> Iterator[None]:
        _run(cursor, "BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            _run(cursor, "ROLLBACK")
            raise
        _run(cursor, "COMMIT")

    def ping(self) -> None:
        try:
            self._cursor().execute("SELECT 1").fetchall()
        except duckdb.Error as error:
            raise BackendUnavailable(f"DuckDB does not answer: {error}") from error

    def close(self) -> None:
        with self._lock:
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
        self._db.close()


class _Watchdog:
    """Interrupts DuckDB queries that outlive their deadline (DuckDB has no statement
    timeout). One thread for the process: a threading.Timer per query cost about 2 ms, as
    much as a small dashboard's query. The thread is woken only for a deadline sooner than
    its next wake-up (at most IDLE_WAKE seconds away): waking it for every query cost a
    thread switch each, milliseconds on a busy machine."""

    IDLE_WAKE = 1.0

    def __init__(self) -> None:
        self._deadlines: dict[int, tuple[float, duckdb.DuckDBPyConnection]] = {}
        self._next = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        #: When the thread looks next, on the monotonic clock.
        self._wake_at = 0.0

    def watch(self, cursor: duckdb.DuckDBPyConnection, seconds: float) -> int:
        with self._wake:
            key = next(self._next)
            deadline = time.monotonic() + seconds
            self._deadlines[key] = (deadline, cursor)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="crm-metrics-duckdb-watchdog", daemon=True)
                self._thread.start()
            elif deadline < self._wake_at:
                self._wake.notify()
            return key

    def release(self, key: int) -> None:
        with self._wake:
            self._deadlines.pop(key, None)

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                for key, (deadline, cursor) in list(self._deadlines.items()):
                    if deadline <= now:
                        del self._deadlines[key]
                        try:
                            cursor.interrupt()
                        except duckdb.Error:
                            pass  # closed meanwhile: nothing left to stop, and this thread must live on
                soonest = min((deadline for deadline, _ in self._deadlines.values()), default=now + self.IDLE_WAKE)
                self._wake_at = min(soonest, now + self.IDLE_WAKE)
                self._wake.wait(self._wake_at - now)


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def _missing_tables_explained() -> Iterator[None]:
    try:
        yield
    except duckdb.CatalogException as error:
        raise BackendUnavailable(f"{error} (create the tables with `crm-metrics init-db`)") from error


def _run(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run statements and drain their results: DuckDB refuses other work on a connection
    while a result is pending."""
    cursor.execute(sql)
    cursor.fetchall()
