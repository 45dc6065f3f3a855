"""PostgreSQL: `postgresql://user:pass@host:port/db` (or `postgres://`), over psycopg 3 and a
psycopg_pool connection pool.

Queries arrive compiled to the postgres dialect, with `%(name)s` placeholders and every literal
`%` doubled (crm_metrics.dialects), and their values are bound by psycopg, never pasted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from crm_metrics.errors import BackendUnavailable, ConfigError, QueryTimeout
from crm_metrics.query import CompiledQuery

if TYPE_CHECKING:
    import pyarrow

#: Seconds to wait for a connection (libpq's `connect_timeout` unless the URL sets one, and the
#: wait for a free pooled connection): a request fails with BackendUnavailable after this long
#: rather than hanging while the server is down.
CONNECT_TIMEOUT = 5.0
#: Connections kept open and the most opened at once (one per concurrent query).
MIN_CONNECTIONS, MAX_CONNECTIONS = 1, 10
_PASSWORD_PARAMETER = re.compile(r"((?:^|&)password=)[^&]*")


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
            raise ConfigError(f"PostgreSQL URL {self.description!r} is not valid: {error}") from None
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
            # A connection whose server went away (restart, pg_terminate_backend, network)
            # fails this check when taken from the pool and is replaced by a new one, so the
            # process recovers by itself once the server is back.
            check=ConnectionPool.check_connection,
            timeout=connect_timeout,
            name="crm-metrics",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout:
            self._pool.close()
            raise BackendUnavailable(f"cannot connect to PostgreSQL at {self._where}: {self._reason()}") from None

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        # Trap (dialect-traps.md): DATE(ts) and timestamptz casts follow the session TimeZone;
        # every session is pinned to UTC whatever the server or role default is.
        conn.execute("SET TimeZone = 'UTC'")
        # The server cancels a statement running longer than this (0 = no limit); psycopg
        # then raises QueryCanceled. set_config() takes the value as a bound parameter.
        milliseconds = round(self.timeout * 1000) if self.timeout else 0
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{milliseconds}ms",))
        if self.read_only:
            conn.execute("SET default_transaction_read_only = on")

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; failures become the library's errors."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.errors.QueryCanceled as error:
            raise QueryTimeout(f"PostgreSQL cancelled a statement after {self.timeout} s: {error}") from error
        except PoolTimeout:
            raise BackendUnavailable(
                f"PostgreSQL at {self._where} gave no connection within {self.connect_timeout} s: {self._reason()}"
            ) from None
        except psycopg.OperationalError as error:
            raise BackendUnavailable(f"PostgreSQL at {self._where} failed: {self._masked(error)}") from error

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            rows = conn.execute(query.sql, query.bind(values)).fetchall()
        return query.normalise(rows)

    def run_script(self, sql_text: str) -> None:
        # Without parameters psycopg sends the text as a simple query: several statements run
        # in one round trip, inside one transaction here.
        with self._connection() as conn, conn.transaction():
            conn.execute(sql_text, prepare=False)

    def has_table(self, name: str) -> bool:
        with self._connection() as conn:
            found = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables"
                " WHERE table_name = %s AND table_schema = current_schema())",
                (name,),
            ).fetchone()
        return bool(found and found[0])

    def replace_rows(self, table: str, rows: pyarrow.Table) -> None:
        # COPY the rows into a temporary table, then replace by id, in one transaction: a
        # failure anywhere (a bad value in COPY included) rolls everything back.
        target = sql.Identifier(table)
        staging = sql.Identifier(f"crm_metrics_staging_{table}")
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in rows.column_names)
        with self._connection() as conn, conn.transaction():
            conn.execute(
                sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {}) ON COMMIT DROP").format(staging, target)
            )
            # Text COPY: the server parses each value as its column's type (metadata arrives
            # as JSON text and becomes jsonb; timestamps as ISO text with their offset).
            with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(staging, columns)) as copy:
                for row in zip(*(column.to_pylist() for column in rows.columns), strict=True):
                    copy.write_row(row)
            conn.execute(sql.SQL("DELETE FROM {} WHERE id IN (SELECT id FROM {})").format(target, staging))
            conn.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(target, columns, columns, staging)
            )

    def ping(self) -> None:
        with self._connection() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._pool.close()

    def _reason(self) -> str:
        """Why a connection cannot be made right now, from one direct attempt."""
        try:
            psycopg.connect(**self._params).close()
        except psycopg.Error as error:
            return self._masked(error)
        return "all connections are busy"

    def _masked(self, error: Exception) -> str:
        text = str(error).strip()
        return text.replace(self._password, "***") if self._password else text


def mask_password(url: str) -> str:
    """The URL with its password (in the user part or a `password=` parameter) as `***`."""
    parts = urlsplit(url)
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
