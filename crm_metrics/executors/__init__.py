"""Engines behind one protocol, picked by the scheme of a database URL."""

from __future__ import annotations

from crm_metrics.errors import ConfigError
from crm_metrics.executors.base import Executor

__all__ = ["Executor", "connect", "SCHEMES"]

SCHEMES = ("duckdb", "postgresql", "postgres", "bigquery")


def connect(url: str, *, read_only: bool = False, timeout: float | None = None) -> Executor:
    """An executor for `url`: `duckdb:///file.duckdb`, `duckdb:///:memory:`, `postgresql://...`
    or `bigquery://PROJECT/DATASET`. Drivers are imported only when their scheme is used."""
    # Not urlsplit: it raises ValueError on a malformed netloc, which the engine reports better.
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "duckdb":
        from crm_metrics.executors.duckdb import DuckDBExecutor

        return DuckDBExecutor(duckdb_path(url), read_only=read_only, timeout=timeout)
    if scheme in ("postgresql", "postgres"):
        # libpq reads both schemes (and the whole URL: host, port, dbname, user, password,
        # and parameters such as sslmode or options).
        from crm_metrics.executors.postgres import PostgresExecutor

        return PostgresExecutor(url, read_only=read_only, timeout=timeout)
    raise ConfigError(f"Unknown database URL scheme {scheme!r} in DATABASE_URL. Known: {', '.join(SCHEMES)}")


def duckdb_path(url: str) -> str:
    """`duckdb:///rel/file.duckdb` is relative, `duckdb:////abs/file.duckdb` absolute (as in
    SQLAlchemy); `duckdb:///:memory:` is an in-memory database."""
    prefix = "duckdb:///"
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise ConfigError(f"DuckDB URL {url!r} must look like duckdb:///path/file.duckdb or duckdb:///:memory:")
    return url[len(prefix):]
