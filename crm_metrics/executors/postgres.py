"""PostgreSQL: `postgresql://user:pass@host:port/db` (or `postgres://`), over psycopg 3 and a
psycopg_pool connection pool.

Queries arrive compiled to the postgres dialect, with `%(name)s` placeholders and every literal
`%` doubled (crm_metrics.dialects), and their values are bound by psycopg, never pasted.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from crm_metrics.errors import BackendUnavailable, ConfigError, LoadError, QueryTimeout
from crm_metrics.executors.base import ALL_CONVERSATIONS, STAGING, TOUCHED, Changes, Written, orphans, upsert
from crm_metrics.query import CompiledQuery

if TYPE_CHECKING:
    import pyarrow

    from crm_metrics.derived import Refresh

#: Seconds to wait for a connection (libpq's `connect_timeout` unless the URL sets one, and the
#: wait for a free pooled connection): a request fails with BackendUnavailable after this long
#: rather than hanging while the server is down.
CONNECT_TIMEOUT = 5.0
#: Connections kept open and the most opened at once (one per concurrent query).
MIN_CONNECTIONS, MAX_CONNECTIONS = 1, 10
#: The timeout is for queries; DDL and loads (a large COPY) run as long as they need, as on DuckDB.
_NO_TIMEOUT = "SET LOCAL statement_timeout = 0"
#: A load of more rows than this share of a table's (and a refresh touching this share of the
#: conversations, for the derived tables) ends with ANALYZE: the planner should know of that
#: many new rows at once, while a small load into a large table need not pay for sampling it
#: (about a second for 10M messages). Autovacuum's default threshold, which it acts on later.
_ANALYZE_SHARE = 0.1
#: Memory per sort or hash of a rebuild (a maintenance run over every row, like CREATE INDEX
#: with maintenance_work_mem), instead of the default 4MB that sends them to disk.
_REBUILD_WORK_MEM = "SET LOCAL work_mem = '256MB'"
#: The same for one batch of the live rollup or of events (a few thousand conversations at most).
_APPLY_WORK_MEM = "SET LOCAL work_mem = '64MB'"
#: Memory per sort or hash of a query (every session's default; the rebuilds' above are LOCAL).
_READ_WORK_MEM = "SET work_mem = '16MB'"
#: The CREATE INDEX statements of a DDL script (one per line in sql/schema/): a rebuild that
#: makes the derived tables builds their indexes once they are filled, which is faster than
#: maintaining them row by row.
_CREATE_INDEX = re.compile(r"^CREATE INDEX .*;[ \t]*$", re.MULTILINE)
_PASSWORD_PARAMETER = re.compile(r"((?:^|&)password=)[^&]*")
#: The live rollup's queue (sql/schema/postgres-live.sql).
CHANGES = "crm_metrics_changes"
#: Installing or removing the live rollup's triggers locks conversations and messages (CREATE
#: TRIGGER and DROP TRIGGER must), but only at an instant no writer holds them (NOWAIT), tried
#: every _LOCK_RETRY_SECONDS for up to _LOCK_PATIENCE_SECONDS: it never waits in a queue that
#: new writers would wait behind, and never holds one table while waiting for the other (a
#: writer holding that one and waiting for the first would make a deadlock, and could be the
#: one PostgreSQL aborts). Writers then wait only for the DDL itself, milliseconds.
_LOCK_RETRY_SECONDS, _LOCK_PATIENCE_SECONDS = 0.02, 30.0
#: What `init-db --rollup` needs, as (granted, what is missing): the seed's tables' ownership
#: (init-db creates indexes and triggers on them: the owner's right), CREATE on the schema
#: (the queue, its functions, the derived tables) and TEMPORARY (every refresh).
_PRIVILEGES = """
SELECT
  current_user,
  current_schema() IS NOT NULL,
  COALESCE(has_schema_privilege(current_schema(), 'CREATE'), FALSE),
  format('CREATE on schema %I', current_schema()),
  has_database_privilege(current_database(), 'TEMPORARY'),
  format('TEMPORARY on database %I', current_database()),
  ARRAY(
    SELECT format('ownership of table %I', c.relname) FROM pg_class AS c
    WHERE c.oid IN (to_regclass('tenants'), to_regclass('conversations'), to_regclass('messages'))
      AND NOT pg_has_role(c.relowner, 'USAGE')
    ORDER BY c.relname
  )
"""
#: Takes up to %(limit)s conversations with queued changes, from the first %(scan)s queued rows,
#: as the conversations to refresh. The triggers queue one row per row written, duplicates
#: included (sql/schema/postgres-live.sql): a conversation is claimed once, however many rows
#: it has queued, and a bulk write's backlog is applied in batches of whole conversations.
_CLAIM = f"""
INSERT INTO crm_metrics_touched
SELECT DISTINCT q.conversation_id FROM (SELECT c.conversation_id FROM {CHANGES} AS c LIMIT %(scan)s) AS q LIMIT %(limit)s
"""
#: Deletes every queued row of the claimed conversations, in this transaction (a crash puts
#: them back). Its snapshot comes after the claim's and before the refresh's: each row it
#: deletes was committed before the refresh reads the seed's tables; rows queued after it
#: stay for the next batch. No SKIP LOCKED: one applier runs at a time (the lock on the
#: derived tables), and writers only ever insert here.
_UNQUEUE = f"DELETE FROM {CHANGES} AS c USING crm_metrics_touched AS t WHERE c.conversation_id = t.conversation_id"
#: Queued rows the claim reads at most per batch, per conversation it may claim.
_SCAN_PER_CONVERSATION = 20


class PostgresExecutor:
    dialect: ClassVar[str] = "postgres"

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        timeout: float | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.description = mask_password(url)
        self.timeout = timeout
        self.read_only = read_only
        self.connect_timeout = connect_timeout
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as error:
            # libpq may quote the whole URL in its message.
            raise ConfigError(f"PostgreSQL URL {self.description!r} is not valid: {str(error).replace(url, self.description)}") from None
        self._where = _where(params)
        self._password = params.get("password")
        params.setdefault("connect_timeout", str(max(1, round(connect_timeout))))
        params.setdefault("application_name", "crm-metrics")
        self._params: dict[str, Any] = {**params, "autocommit": True}
        self._pool = ConnectionPool(
            kwargs=self._params,
            min_size=MIN_CONNECTIONS,
            max_size=MAX_CONNECTIONS,
            open=False,
            configure=self._configure,
            timeout=connect_timeout,
            # While the server is down the pool retries with a growing delay; giving up after
            # a short while lets the next request start afresh (first attempt at once), so
            # recovery is noticed within about `connect_timeout` of the server coming back.
            reconnect_timeout=connect_timeout,
            name="crm-metrics",
        )
        # One direct attempt first: a server that cannot be reached fails at once, with
        # libpq's reason; then the pool fills in the background.
        if reason := self._probe():
            raise BackendUnavailable(f"cannot connect to PostgreSQL at {self._where}: {reason}")
        self._pool.open()

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        # Trap (tests/conformance/test_dialect_traps.py): reading a naive `timestamp` column as an instant follows the
        # session TimeZone; pin every session to UTC whatever the server or role default is.
        conn.execute("SET TimeZone = 'UTC'")
        # The server cancels a statement running longer than this (0 = no limit); psycopg
        # then raises QueryCanceled. set_config() takes the value as a bound parameter.
        milliseconds = round(self.timeout * 1000) if self.timeout else 0
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{milliseconds}ms",))
        # The planner cannot estimate the dense series' joins (generate_series, aggregates
        # joined on their buckets), so a 30-day dashboard looks like millions of rows and
        # crosses jit_above_cost: compiling takes about a second, running it a few hundred ms.
        conn.execute("SET jit = off")
        # Reads of the seed's tables fetch the messages of a window's conversations by
        # conversation (docs/postgres.md, seed-layout reads): a few pages each, cached or on
        # SSD. At the default random_page_cost (4, a spinning disk's) the planner reads all
        # messages of every tenant instead (bench: 10M rows, seconds); 1.1 is PostgreSQL's
        # usual advice for SSDs and data in memory.
        conn.execute("SET random_page_cost = 1.1")
        # A plan made for one tenant is wrong for another: tenants differ in size by thousands
        # of times (bench: a generic plan, which psycopg's prepared statements get after five
        # runs, read the range's messages of every tenant for the median one: 1 s, not 20 ms).
        # Plan each statement for its values.
        conn.execute("SET plan_cache_mode = force_custom_plan")
        # Exact quantiles (responses, docs/metrics.md §7) sort a range's durations: the largest
        # bench tenant's 30 days are ~60k rows, sorted by bucket in ~5 MB, which the default
        # 4MB sent to disk (an external merge: ~5 ms more on a quiet machine, and temp-file I/O
        # on a busy one). 16MB keeps them in memory; a pool of 10 sessions stays small.
        conn.execute(_READ_WORK_MEM)
        if self.read_only:
            conn.execute("SET default_transaction_read_only = on")

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; failures become the library's errors."""
        try:
            with self._pool.connection() as conn:
                try:
                    yield conn
                except psycopg.OperationalError as error:
                    if not conn.broken:
                        raise
                    # The server closed this connection (a restart, pg_terminate_backend, a
                    # network cut), and most likely the idle ones too: replace them all. The
                    # pool's own `check` would find them one by one, sleeping a growing
                    # back-off between them.
                    self._pool.drain()
                    raise _ConnectionLost(f"PostgreSQL at {self._where} closed the connection: {self._masked(error)}") from error
        except psycopg.errors.UndefinedTable as error:
            raise BackendUnavailable(
                f"PostgreSQL at {self._where}: {error.diag.message_primary} (create the tables with"
                " `crm-metrics init-db`, or name their schema in the URL: ?options=-csearch_path%3Dschema)"
            ) from error
        except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedFunction) as error:
            raise BackendUnavailable(
                f"PostgreSQL at {self._where}: {error.diag.message_primary}: the tables differ from the seed's"
                " (ids and texts as text, timestamps as timestamptz, metadata as jsonb or json)"
            ) from error
        except psycopg.errors.InsufficientPrivilege as error:
            raise ConfigError(
                f"PostgreSQL at {self._where} refused: {error.diag.message_primary} (docs/postgres.md lists the privileges each command needs)"
            ) from error
        except psycopg.errors.QueryCanceled as error:
            raise QueryTimeout(f"PostgreSQL cancelled a statement after {self.timeout} s: {self._masked(error)}") from error
        except PoolTimeout:
            reason = self._probe() or f"all {MAX_CONNECTIONS} connections are busy"
            raise BackendUnavailable(
                f"PostgreSQL at {self._where} gave no connection within {self.connect_timeout} s: {reason}"
            ) from None
        except psycopg.OperationalError as error:
            raise BackendUnavailable(f"PostgreSQL at {self._where} failed: {self._masked(error)}") from error

    def _read(self, statement: str, params: Mapping[str, Any] | Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement. A read is safe to repeat, so one that met a closed
        connection runs once more, on a new one: the server restarted, the process goes on."""
        try:
            with self._connection() as conn:
                return conn.execute(statement, params).fetchall()
        except _ConnectionLost:
            with self._connection() as conn:
                return conn.execute(statement, params).fetchall()

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return self._read(query.sql, query.bind(values))

    def run_script(self, sql_text: str) -> None:
        # Without parameters psycopg sends the text as a simple query: several statements run
        # in one round trip, inside one transaction here.
        with self._connection() as conn, conn.transaction():
            conn.execute(_NO_TIMEOUT)
            conn.execute(sql_text, prepare=False)

    def has_table(self, name: str) -> bool:
        # Resolved through the search_path, as the queries resolve it (a view counts).
        ((found,),) = self._read("SELECT to_regclass(%s) IS NOT NULL", (name,))
        return bool(found)

    def upsert_rows(self, table: str, rows: pyarrow.Table, refresh: Refresh | None = None) -> Written:
        # COPY the rows into a temporary table, then write them in place by id and bring the
        # derived tables up to date, in one transaction: a failure anywhere, a bad value in
        # COPY included, rolls everything back.
        target = sql.Identifier(table)
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in rows.column_names)
        refresh = refresh if table in TOUCHED else None
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute(_NO_TIMEOUT)
                if refresh:
                    _refreshing(conn, refresh)
                # The staging table has the target's types for our columns only: not its
                # constraints, defaults or other columns (another application's NOT NULL
                # column would refuse a COPY of ours).
                conn.execute(
                    sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                        sql.Identifier(STAGING), columns, target
                    )
                )
                # Text COPY: the server parses each value as its column's type (metadata
                # arrives as JSON text and becomes jsonb; timestamps as ISO text with offset).
                with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(STAGING), columns)) as copy:
                    for row in zip(*(column.to_pylist() for column in rows.columns), strict=True):
                        copy.write_row(row)
                # Before the update: a message may be moving to another conversation.
                touched = _touch(conn, TOUCHED[table]) if refresh else 0
                update, insert = upsert(table, rows.column_names, as_text=_json_columns(conn))
                updated = conn.execute(update, prepare=False).rowcount
                inserted = conn.execute(insert, prepare=False).rowcount
                written = Written(inserted, updated, *orphans(table, lambda q: conn.execute(q, prepare=False).fetchall()))
                # Fresh planner statistics after a bulk load ("Populating a Database: Run
                # ANALYZE Afterwards", PostgreSQL docs): autovacuum may take a minute, and until
                # then the planner can pick nested loops that rerun a window per conversation.
                if inserted + updated > _ANALYZE_SHARE * _estimated_rows(conn, table):
                    conn.execute(sql.SQL("ANALYZE {}").format(target))
                if refresh:
                    _refresh(conn, refresh)
                    if touched > _ANALYZE_SHARE * _estimated_rows(conn, "conversation_facts"):
                        _analyze(conn, refresh.tables)
        except (psycopg.DataError, psycopg.IntegrityError) as error:
            # Values the loader accepts but PostgreSQL cannot store (a NUL character in text
            # or JSON), or a constraint of the user's own tables (a foreign key to a
            # conversation that is not there). COPY's context names the row.
            raise LoadError(f"PostgreSQL refused the rows for {table}; nothing was written: {self._masked(error)}") from error
        return written

    @contextmanager
    def session(self, refresh: Refresh | None = None) -> Iterator[_Session]:
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute(_NO_TIMEOUT)
                # Event writers one at a time, whichever process they run in: two batches
                # deciding on the same row's version at once would both apply (and, without a
                # unique id, both insert it).
                # One key per schema (a store): the stores of one database do not wait for
                # each other's batches.
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(COALESCE(current_schema(), ''), %s))", (_EVENTS_LOCK,))
                if refresh:
                    _refreshing(conn, refresh)
                yield _Session(conn)
        except (psycopg.DataError, psycopg.IntegrityError) as error:
            raise LoadError(f"PostgreSQL refused the events; nothing was written: {self._masked(error)}") from error

    def rebuild(self, refresh: Refresh, ddl: str | None = None) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                # One snapshot for every statement: the derived tables agree with the base
                # tables as they were when it began, whatever other writers commit meanwhile.
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                conn.execute(_NO_TIMEOUT)
                conn.execute(_REBUILD_WORK_MEM)
                if ddl:
                    conn.execute(_CREATE_INDEX.sub("", ddl), prepare=False)
                _lock(conn, refresh)
                # Tables never analyzed (just made and filled by another client) would be
                # planned as a row or two: the refresh's joins, and every apply of the live
                # rollup after it, then rerun a window per conversation.
                for table in ("conversations", "messages"):
                    if _estimated_rows(conn, table) == 0:
                        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
                _touch(conn, ALL_CONVERSATIONS)
                _refresh(conn, refresh)
                # Changes queued before this snapshot are in it; those committed after it are
                # invisible here, stay queued and are applied after this rebuild.
                if _exists(conn, CHANGES):
                    conn.execute(f"DELETE FROM {CHANGES}")
                for index in _CREATE_INDEX.findall(ddl or ""):
                    conn.execute(index)
                _analyze(conn, refresh.tables)
        except (psycopg.DataError, psycopg.IntegrityError) as error:
            # Rows written behind the loader that the derived tables cannot hold (a value out
            # of a column's range, a constraint of the user's own on them).
            names = ", ".join(refresh.tables)
            raise LoadError(f"PostgreSQL could not rebuild {names} from the rows there; nothing was changed: {self._masked(error)}") from error

    def install_changes(self, ddl: str, live: str) -> bool:
        with self._connection() as conn:
            user, has_schema, create, create_what, temporary, temporary_what, owned = conn.execute(_PRIVILEGES).fetchone()
            missing = [*owned]
            if not has_schema:
                missing.append("a schema on the search_path (none of its schemas exists)")
            elif not create:
                missing.append(create_what)
            if not temporary:
                missing.append(temporary_what)
            if missing:
                raise ConfigError(
                    f"PostgreSQL at {self._where}: init-db --rollup needs, for role {user}: {', '.join(missing)};"
                    " nothing was changed (docs/postgres.md, \"What the role needs\")"
                )
            installed = _exists(conn, CHANGES)
            tables = [name for name in ("tenants", "conversations", "messages") if _exists(conn, name)]

            def install(conn: psycopg.Connection[Any]) -> None:
                conn.execute(ddl + "\n" + live, prepare=False)

            _between_writes(conn, tables, "SHARE ROW EXCLUSIVE", install, what="install the live rollup's triggers")
        return installed

    def remove_changes(self, script: str) -> None:
        with self._connection() as conn:
            # The derived tables first, waiting for a running apply or refresh to end (writers
            # never take them), then the CRM's tables between two writes.
            derived = [name for name in ("conversation_facts", "message_facts", "metric_slots", "cost_slots") if _exists(conn, name)]
            tables = [name for name in ("conversations", "messages") if _exists(conn, name)]

            def remove(conn: psycopg.Connection[Any]) -> None:
                conn.execute(script, prepare=False)

            _between_writes(conn, tables, "ACCESS EXCLUSIVE", remove, first=derived, what="remove the live rollup's triggers")

    def apply_changes(self, refresh: Refresh, limit: int) -> int:
        with self._connection() as conn:
            # Two cheap looks first: most polls find nothing to do.
            ((ready,),) = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL AND to_regclass('metric_slots') IS NOT NULL", (CHANGES,)
            ).fetchall()
            if not ready or not conn.execute(f"SELECT EXISTS (SELECT FROM {CHANGES})").fetchone()[0]:
                return 0
            with conn.transaction():
                conn.execute(_NO_TIMEOUT)
                # How pg_stat_activity names a transaction applying changes.
                conn.execute("SET LOCAL application_name = 'crm-metrics rollup'")
                # The rollup's slots are sorted and grouped in memory, not in files.
                conn.execute(_APPLY_WORK_MEM)
                # Before any snapshot: every statement below sees all that loads, refreshes
                # and other appliers committed (READ COMMITTED takes one per statement).
                _lock(conn, refresh)
                conn.execute("CREATE TEMPORARY TABLE crm_metrics_touched (conversation_id text)")
                touched = conn.execute(_CLAIM, {"limit": limit, "scan": limit * _SCAN_PER_CONVERSATION}).rowcount
                conn.execute("ANALYZE crm_metrics_touched")
                conn.execute(_UNQUEUE)
                _refresh(conn, refresh)
            return max(touched, 0)

    def changes(self) -> Changes | None:
        ((installed,),) = self._read("SELECT to_regclass(%s) IS NOT NULL", (CHANGES,))
        if not installed:
            return None
        ((pending, lag),) = self._read(
            f"SELECT count(*), COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(queued_at)), 0) FROM {CHANGES}", ()
        )
        return Changes(int(pending), max(float(lag), 0.0))

    def pool_stats(self) -> dict[str, int]:
        """The pool's size, idle connections, and requests waiting for one (for /metrics)."""
        stats = self._pool.get_stats()
        return {"size": stats.get("pool_size", 0), "idle": stats.get("pool_available", 0), "max": self._pool.max_size, "waiting": stats.get("requests_waiting", 0)}

    def ping(self) -> None:
        self._read("SELECT 1", ())

    def close(self) -> None:
        self._pool.close()

    def _probe(self) -> str | None:
        """Why a connection cannot be made right now (one direct attempt), or None."""
        try:
            psycopg.connect(**self._params).close()
        except psycopg.Error as error:
            return self._masked(error)
        return None

    def _masked(self, error: Exception) -> str:
        """libpq's message on one line, without the password."""
        text = " ".join(str(error).split())
        return text.replace(self._password, "***") if self._password else text


#: The advisory lock that serialises event writers, hashed with the schema (any number: the key's meaning is ours).
_EVENTS_LOCK = 0x63726D5F65767473  # "crm_evts"
#: Arrow types of staged key lists, as PostgreSQL names them.
_STAGED_TYPES = {"string": "text", "large_string": "text", "int64": "bigint", "bool": "boolean"}


class _Session:
    """A write transaction on one pooled connection (`PostgresExecutor.session`); staged rows
    are COPYed into temporary tables dropped at commit."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._instead = False

    def stage(self, name: str, rows: pyarrow.Table, *, like: str | None = None) -> None:
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in rows.column_names)
        if like:
            make = sql.SQL("CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                sql.Identifier(name), columns, sql.Identifier(like)
            )
        else:
            typed = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_STAGED_TYPES[str(f.type)])) for f in rows.schema
            )
            make = sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(sql.Identifier(name), typed)
        self.conn.execute(make)
        with self.conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(name), columns)) as copy:
            for row in zip(*(column.to_pylist() for column in rows.columns), strict=True):
                copy.write_row(row)
        self.conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))

    def unstage(self, name: str) -> None:
        self.conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))

    def rows(self, statement: str) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(statement, prepare=False)
        return cursor.fetchall() if cursor.description else []

    def upsert(self, table: str, columns: Sequence[str]) -> None:
        for statement in upsert(table, columns, as_text=_json_columns(self.conn)):
            self.conn.execute(statement, prepare=False)

    def prepare(self, refresh: Refresh) -> None:
        statements = ["ANALYZE crm_metrics_touched", *refresh.before]
        self._instead = False
        if refresh.instead is None:
            _script(self.conn, statements)
            return
        # After `before`: a write of another client committed before it read the stored rows
        # is queued by then (its queue row commits with it), one committed later was not read.
        cursor = _script(self.conn, [*statements, *_QUEUED])
        while cursor.nextset():
            pass
        ((queued,),) = cursor.fetchall()
        self._instead = queued == "on"

    def refresh(self, refresh: Refresh) -> None:
        chosen = refresh.instead if self._instead and refresh.instead else refresh
        _script(self.conn, ["ANALYZE crm_metrics_touched", *chosen.statements, "DROP TABLE crm_metrics_touched"])


def _refreshing(conn: psycopg.Connection[Any], refresh: Refresh) -> None:
    """Begin a transaction that brings the derived tables up to date itself (a load, an event
    batch): the live rollup's triggers queue none of its rows (sql/schema/postgres-live.sql;
    else its applier recomputes them a second time, holding the same lock); the touched
    conversations' facts sorted and windowed in memory, as the live rollup's batches are (4MB
    sent a batch's sorts to disk); the derived tables locked."""
    conn.execute("SET LOCAL crm_metrics.refreshed = 'on'")
    conn.execute(_APPLY_WORK_MEM)
    _lock(conn, refresh)


def _lock(conn: psycopg.Connection[Any], refresh: Refresh) -> None:
    """Serialise writers of the derived tables, queries still read them. Two loads touching
    one conversation at once would each recompute its facts without the other's rows."""
    tables = sql.SQL(", ").join(sql.Identifier(name) for name in refresh.tables)
    conn.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(tables))


def _touch(conn: psycopg.Connection[Any], conversations: str) -> int:
    """Fill the temporary table `crm_metrics_touched` that the refresh statements read; the
    number of its rows. ANALYZE: autovacuum never sees temporary tables, and the plans of the
    refresh (a hash join over every conversation, or index lookups for a few) depend on it."""
    cursor = conn.execute(f"CREATE TEMPORARY TABLE crm_metrics_touched AS {conversations}", prepare=False)
    conn.execute("ANALYZE crm_metrics_touched")
    return max(cursor.rowcount, 0)


def _refresh(conn: psycopg.Connection[Any], refresh: Refresh) -> None:
    _script(conn, [*refresh.statements, "DROP TABLE crm_metrics_touched"])


#: Whether a touched conversation has a write queued for the live rollup (the rollup does not
#: agree with its stored rows yet): 'on' or ''. In the round trip of the statements before it
#: (the queue may not exist: the inner IF is planned only where it does).
_QUEUED = (
    f"""DO $$ BEGIN IF to_regclass('{CHANGES}') IS NOT NULL THEN
  IF EXISTS (SELECT FROM {CHANGES} AS c WHERE c.conversation_id IN (SELECT t.conversation_id FROM crm_metrics_touched AS t)) THEN
    PERFORM set_config('crm_metrics.queued', 'on', true);
  END IF;
END IF; END $$""",
    "SELECT COALESCE(current_setting('crm_metrics.queued', true), '')",
)


def _script(conn: psycopg.Connection[Any], statements: Sequence[str]) -> psycopg.Cursor[Any]:
    """Run `statements` in order, sent at once: an event batch's refresh is some forty
    statements, and a round trip each cost as much as the smaller ones take to run. Without
    parameters psycopg sends the text as it is, so the statements' `%%` (escape_text) become
    `%` here."""
    return conn.execute(";\n".join(statement.replace("%%", "%") for statement in statements), prepare=False)


def _between_writes(
    conn: psycopg.Connection[Any],
    tables: Sequence[str],
    mode: str,
    body: Callable[[psycopg.Connection[Any]], None],
    *,
    first: Sequence[str] = (),
    what: str,
) -> None:
    """Run `body` in a transaction holding `tables` in `mode`, taken with NOWAIT and retried
    (see _LOCK_PATIENCE_SECONDS); `first` are locked before them in the same mode, waiting."""
    deadline = time.monotonic() + _LOCK_PATIENCE_SECONDS
    while True:
        try:
            with conn.transaction():
                conn.execute(_NO_TIMEOUT)
                if first:
                    conn.execute(sql.SQL("LOCK TABLE {} IN {} MODE").format(_names(first), sql.SQL(mode)))
                if tables:
                    conn.execute(sql.SQL("LOCK TABLE {} IN {} MODE NOWAIT").format(_names(tables), sql.SQL(mode)))
                body(conn)
            return
        except psycopg.errors.LockNotAvailable:
            if time.monotonic() > deadline:
                raise BackendUnavailable(
                    f"could not {what}: {', '.join(tables)} were never free of writers at once for"
                    f" {_LOCK_PATIENCE_SECONDS:.0f} s (a long transaction is writing them); nothing was changed: run it again"
                ) from None
            time.sleep(_LOCK_RETRY_SECONDS * (1 + random.random()))


def _names(tables: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(name) for name in tables)


def _exists(conn: psycopg.Connection[Any], table: str) -> bool:
    ((found,),) = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchall()
    return bool(found)


def _json_columns(conn: psycopg.Connection[Any]) -> list[str]:
    """The staging table's `json` columns (a seed database may use json, not jsonb)."""
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND atttypid = 'json'::regtype AND attnum > 0",
        (STAGING,),
    ).fetchall()
    return [name for (name,) in rows]


def _analyze(conn: psycopg.Connection[Any], tables: Sequence[str]) -> None:
    for table in tables:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


def _estimated_rows(conn: psycopg.Connection[Any], table: str) -> float:
    """The planner's row count of a table (0 before its first ANALYZE)."""
    ((rows,),) = conn.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (table,)).fetchall()
    return max(rows or 0.0, 0.0)


class _ConnectionLost(BackendUnavailable):
    """The server closed a pooled connection under a statement."""


def mask_password(url: str) -> str:
    """The URL with its password (in the user part or a `password=` parameter) as `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: show only the scheme
        return f"{url.partition(':')[0]}://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{hostinfo}"
    query = _PASSWORD_PARAMETER.sub(r"\1***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _where(params: Mapping[str, str]) -> str:
    """`host:port/db` of a connection, with libpq's defaults."""
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname') or params.get('user') or 'postgres'}"
