"""DuckDB, the embedded default: `duckdb:///path/file.duckdb` or `duckdb:///:memory:`."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb

from crm_metrics.errors import BackendUnavailable, QueryTimeout
from crm_metrics.executors.base import ALL_CONVERSATIONS, STAGING, TOUCHED, Written, orphans, upsert
from crm_metrics.query import CompiledQuery

if TYPE_CHECKING:
    import pyarrow

    from crm_metrics.derived import Refresh


class DuckDBExecutor:
    dialect: ClassVar[str] = "duckdb"

    def __init__(self, path: str = ":memory:", *, read_only: bool = False, create: bool = True, timeout: float | None = None) -> None:
        self.description = f"duckdb:///{path}"
        self.timeout = timeout
        # An in-memory database cannot be opened read-only; it is private to this process anyway.
        read_only = read_only and path != ":memory:"
        if path != ":memory:" and not (create and not read_only) and not Path(path).exists():
            # Without this check DuckDB makes an empty file for a writer: a command that
            # only reads (refresh, query, serve) would leave a store behind that has no tables.
            raise BackendUnavailable(f"no DuckDB store at {path!r} (create it with `crm-metrics demo`, `crm-metrics init-db` or `crm-metrics load`)")
        try:
            self._db = duckdb.connect(path, read_only=read_only)
        except duckdb.Error as error:
            raise BackendUnavailable(_open_failure(path, error)) from error
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
        return rows

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

    def upsert_rows(self, table: str, rows: pyarrow.Table, refresh: Refresh | None = None) -> Written:
        cursor = self._cursor()
        refresh = refresh if table in TOUCHED else None
        update, insert = upsert(table, rows.column_names)
        cursor.register(STAGING, rows)
        try:
            with self._transaction(cursor), _missing_tables_explained():
                if refresh:
                    # Before the update: a message may be moving to another conversation.
                    _run(cursor, f"CREATE TEMP TABLE crm_metrics_touched AS {TOUCHED[table]}")
                ((updated,),) = cursor.execute(update).fetchall()
                ((inserted,),) = cursor.execute(insert).fetchall()
                written = Written(inserted, updated, *orphans(table, lambda q: cursor.execute(q).fetchall()))
                if refresh:
                    self._refresh(cursor, refresh)
        finally:
            cursor.unregister(STAGING)
        return written

    @contextlib.contextmanager
    def session(self, refresh: Refresh | None = None) -> Iterator[_Session]:
        # One process writes a DuckDB file, and within it the caller serialises event writers
        # (crm_metrics/events.py): no lock here.
        cursor = self._cursor()
        session = _Session(cursor)
        try:
            with self._transaction(cursor), _missing_tables_explained():
                yield session
        finally:
            for name in list(session.staged):
                session.unstage(name)

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


class _Session:
    """A write transaction on one cursor (`DuckDBExecutor.session`); staged rows are Arrow
    tables registered as views, read in place."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor
        self.staged: set[str] = set()

    def stage(self, name: str, rows: pyarrow.Table, *, like: str | None = None) -> None:
        self.cursor.register(name, rows)
        self.staged.add(name)

    def unstage(self, name: str) -> None:
        self.cursor.unregister(name)
        self.staged.discard(name)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.cursor.execute(sql).fetchall()

    def upsert(self, table: str, columns: Sequence[str]) -> None:
        for statement in upsert(table, columns):
            _run(self.cursor, statement)

    def prepare(self, refresh: Refresh) -> None:
        for statement in refresh.before:
            _run(self.cursor, statement)

    def refresh(self, refresh: Refresh) -> None:
        DuckDBExecutor._refresh(self.cursor, refresh)


class _Watchdog:
    """Interrupts DuckDB queries that outlive their deadline (DuckDB has no statement
    timeout). One thread for the process: a threading.Timer per query cost about 2 ms, as
    much as a small dashboard's query. The thread is woken only for a deadline sooner than
    its next wake-up (at most IDLE_WAKE seconds away): waking it for every query cost a
    thread switch each, milliseconds on a busy machine."""

    IDLE_WAKE = 1.0
    #: How often a query past its deadline is interrupted again.
    RETRY = 0.05

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
                        # An interrupt that lands before DuckDB starts executing (the query
                        # still being bound on a busy machine) is lost: keep interrupting until
                        # fetch releases the query.
                        self._deadlines[key] = (now + self.RETRY, cursor)
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
        # DuckDB's message carries the statement and a "Did you mean" of system tables.
        missing = _MISSING_TABLE.search(str(error))
        what = f"the store has no table {missing[1]}" if missing else str(error)
        raise BackendUnavailable(f"{what} (create the tables with `crm-metrics init-db`)") from error


_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")


#: DuckDB's words when another process holds the file: "Could not set lock on file ...:
#: Conflicting lock is held in /usr/bin/python3 (PID 123)" (duckdb.org/docs/current/connect/concurrency).
_LOCKED = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def _open_failure(path: str, error: duckdb.Error) -> str:
    """Why a store cannot be opened, in this tool's words."""
    if locked := _LOCKED.search(str(error)):
        return (
            f"the DuckDB store {path!r} is in use by another process (PID {locked['pid']}, {locked['program']}), most likely"
            " `crm-metrics serve`: DuckDB lets one process at a time open a store for writing, and none while another"
            " has it open. Stop that process, run this command, then start it again"
        )
    return f"cannot open DuckDB database {path!r}: {error}"


def _run(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run statements and drain their results: DuckDB refuses other work on a connection
    while a result is pending."""
    cursor.execute(sql)
    cursor.fetchall()
