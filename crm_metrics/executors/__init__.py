"""Engines behind one protocol, picked by the scheme of a database URL."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from crm_metrics.config import Settings, url_scheme, url_setting
from crm_metrics.errors import ConfigError
from crm_metrics.executors.base import Executor

__all__ = ["Executor", "connect", "SCHEMES"]

SCHEMES = ("duckdb", "postgresql", "postgres", "bigquery")


def connect(
    url: str,
    *,
    read_only: bool = False,
    create: bool = True,
    timeout: float | None = None,
    settings: Settings | None = None,
) -> Executor:
    """An executor for `url`: `duckdb:///file.duckdb`, `duckdb:///:memory:`, `postgresql://...`
    or `bigquery://PROJECT/DATASET`. Drivers are imported only when their scheme is used;
    `settings` carries what an engine needs beyond its URL (BigQuery's credentials, endpoint
    and cost limit). `create=False` refuses to make a new embedded store (commands that
    only read)."""
    settings = settings or Settings()
    scheme = url_scheme(url)
    if scheme != "bigquery" and (settings.bigquery_project_id or settings.bigquery_dataset):
        # One database serves every answer; a half-configured BigQuery must not be ignored.
        raise ConfigError(
            f"BIGQUERY_PROJECT_ID/BIGQUERY_DATASET are set but {url_setting()} is {scheme}://...: "
            f"use {url_setting('bigquery://PROJECT/DATASET')} to use BigQuery, or unset them"
        )
    if scheme == "bigquery":
        with _driver("BigQuery", "bigquery", ("google", "requests")):
            from crm_metrics.executors.bigquery import BigQueryExecutor

        project, dataset = bigquery_target(url, settings)
        return BigQueryExecutor(
            project,
            dataset,
            credentials_file=settings.google_application_credentials,
            api_endpoint=settings.bigquery_api_endpoint,
            maximum_bytes_billed=settings.bigquery_maximum_bytes_billed or None,
            read_only=read_only,
            timeout=timeout,
        )
    if scheme == "duckdb":
        from crm_metrics.executors.duckdb import DuckDBExecutor

        return DuckDBExecutor(duckdb_path(url), read_only=read_only, create=create, timeout=timeout)
    if scheme in ("postgresql", "postgres"):
        # libpq reads both schemes (and the whole URL: host, port, dbname, user, password,
        # and parameters such as sslmode or options).
        with _driver("PostgreSQL", "postgres", ("psycopg", "psycopg_pool")):
            from crm_metrics.executors.postgres import PostgresExecutor

        return PostgresExecutor(url, read_only=read_only, timeout=timeout)
    if not scheme and url and (":" not in url or url == ":memory:"):
        # A bare path: the user meant a DuckDB file.
        raise ConfigError(f"{url_setting()} {url!r} is a path, not a URL: for a DuckDB file use {url_setting('duckdb:///' + url)}")
    raise ConfigError(f"Unknown database URL scheme {scheme!r} in {url_setting()}. Known: {', '.join(SCHEMES)}")


@contextlib.contextmanager
def _driver(engine: str, extra: str, modules: tuple[str, ...]) -> Iterator[None]:
    """Turn the driver's ImportError into a ConfigError naming the extra that installs it.
    Only the driver's: an ImportError of another module is a bug, and stays one. psycopg raises
    a nameless ImportError when it finds no libpq, which its binary build (our extra) brings."""
    try:
        yield
    except ImportError as error:
        if error.name is not None and error.name.partition(".")[0] not in modules:
            raise
        missing = f"module {error.name} is missing" if error.name else str(error).splitlines()[0]
        raise ConfigError(f"{engine} needs the {extra} extra: pip install 'crm-metrics[{extra}]' ({missing})") from None


def duckdb_path(url: str) -> str:
    """`duckdb:///rel/file.duckdb` is relative, `duckdb:////abs/file.duckdb` absolute (as in
    SQLAlchemy); `duckdb:///:memory:` is an in-memory database."""
    prefix = "duckdb:///"
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise ConfigError(f"DuckDB URL {url!r} must look like duckdb:///path/file.duckdb or duckdb:///:memory:")
    return url[len(prefix):]


#: BigQuery names: project ids are lowercase letters, digits, hyphens (and the dots and colon
#: of legacy domain-scoped ids); dataset names are letters, digits and underscores.
_PROJECT = re.compile(r"^[a-z][a-z0-9.:-]*[a-z0-9]$")
_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")


def bigquery_target(url: str, settings: Settings) -> tuple[str, str]:
    """(project, dataset) from `bigquery://PROJECT/DATASET`, a part the URL leaves out taken
    from BIGQUERY_PROJECT_ID / BIGQUERY_DATASET. Where both give one, they must agree."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or "@" in parts.netloc or parts.path.strip("/").count("/"):
        raise ConfigError(f"BigQuery URL {url!r} must look like bigquery://PROJECT/DATASET")
    found = {}
    for what, from_url, env, from_env in (
        # netloc, not hostname: hostname lowercases, and a legacy project id has a colon.
        ("project", parts.netloc, "BIGQUERY_PROJECT_ID", settings.bigquery_project_id),
        ("dataset", parts.path.strip("/"), "BIGQUERY_DATASET", settings.bigquery_dataset),
    ):
        if from_url and from_env and from_url != from_env:
            raise ConfigError(f"{url_setting()} names BigQuery {what} {from_url!r} but {env} is {from_env!r}; set one of them")
        name = from_url or from_env
        if not name:
            raise ConfigError(f"No BigQuery {what}: use {url_setting('bigquery://PROJECT/DATASET')} or set {env}")
        pattern = _PROJECT if what == "project" else _DATASET
        if not pattern.match(name):
            raise ConfigError(f"BigQuery {what} {name!r} ({url_setting()} or {env}) is not a valid {what} name")
        found[what] = name
    return found["project"], found["dataset"]
