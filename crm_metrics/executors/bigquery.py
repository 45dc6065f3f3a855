"""BigQuery: `bigquery://PROJECT/DATASET`, over google-cloud-bigquery.

Queries arrive compiled to BigQuery SQL with `@name` parameters and unqualified table names.
They run with the dataset as the job's default dataset and typed query parameters, so no value
is ever part of the SQL text. Every query job carries the cost controls:
- `maximum_bytes_billed`: a query that would bill more fails before it runs, at no cost;
- `job_timeout_ms`, and a wait as long: past the timeout the job is cancelled;
- labels `app=crm-metrics` and `metric=<template>` (and `tenant=<uuid>`), so that
  INFORMATION_SCHEMA.JOBS can say what each metric and each tenant costs.

Start-up checks the credentials, the project and the dataset, and fails with a message that
says which is wrong: the service never starts against a BigQuery it cannot read.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import io
import re
import secrets
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import google.auth
import requests
from google.api_core import exceptions as api
from google.auth import exceptions as auth
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY

from crm_metrics.config import url_setting
from crm_metrics.errors import BackendUnavailable, ConfigError, CostLimitExceeded, LoadError, MetricsError, QueryTimeout
from crm_metrics.executors.base import Written, orphans
from crm_metrics.query import CompiledQuery

if TYPE_CHECKING:
    import pyarrow

    from crm_metrics.derived import Refresh

SCOPES = ("https://www.googleapis.com/auth/bigquery",)
#: Seconds for a metadata call (a dataset, a table), retries included: start-up and /health
#: fail after this long rather than hang while BigQuery cannot be reached.
CONNECT_TIMEOUT = 10.0
#: A load's staging table expires by itself should the process die before dropping it.
STAGING_LIFETIME = dt.timedelta(hours=1)
#: Label values: lowercase letters, digits, `_` and `-`, at most 63 characters.
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{1,63}$")
#: What "BigQuery cannot be reached" looks like from the client, after its retries.
_UNREACHABLE = (
    api.RetryError,
    api.ServerError,
    api.TooManyRequests,
    requests.exceptions.RequestException,
    auth.TransportError,
    ConnectionError,
)


class BigQueryExecutor:
    dialect: ClassVar[str] = "bigquery"

    def __init__(
        self,
        project: str,
        dataset: str,
        *,
        credentials_file: str | None = None,
        api_endpoint: str | None = None,
        maximum_bytes_billed: int | None = None,
        read_only: bool = False,
        timeout: float | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.project = project
        self.dataset = dataset
        self.description = f"bigquery://{project}/{dataset}" + (f" at {api_endpoint}" if api_endpoint else "")
        self.maximum_bytes_billed = maximum_bytes_billed
        self.read_only = read_only
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._dataset = bigquery.DatasetReference(project, dataset)
        self._client = bigquery.Client(
            project=project,
            credentials=credentials(credentials_file, api_endpoint),
            client_options={"api_endpoint": api_endpoint} if api_endpoint else None,
        )
        # The client retries failed calls for up to ten minutes by default; a request should
        # fail within its timeout instead: the library's own retry rules with a shorter
        # deadline, written as google-cloud-bigquery's documentation writes it.
        deadline = timeout or connect_timeout * 6
        self._retry = DEFAULT_RETRY.with_deadline(deadline)
        self._job_retry = DEFAULT_JOB_RETRY.with_deadline(deadline)
        self._metadata_retry = DEFAULT_RETRY.with_deadline(connect_timeout)
        try:
            self.location = self._check_dataset()
        except BaseException:
            self._client.close()
            raise

    # -- start-up ------------------------------------------------------------------------------

    def _check_dataset(self) -> str | None:
        """The dataset's location (jobs run there), or an error naming what is wrong."""
        try:
            found = self._client.get_dataset(self._dataset, retry=self._metadata_retry, timeout=self.connect_timeout)
        except (api.NotFound, api.Forbidden) as error:
            raise ConfigError(self._which_is_wrong(error)) from None
        except auth.RefreshError as error:
            raise ConfigError(f"Google refused the BigQuery credentials (GOOGLE_APPLICATION_CREDENTIALS or the default ones): {error}") from None
        except _UNREACHABLE as error:
            raise BackendUnavailable(f"cannot reach BigQuery for {self.description}: {error}") from error
        return found.location

    def _which_is_wrong(self, error: api.GoogleAPICallError) -> str:
        # BigQuery answers 404 or 403 both for a missing dataset and for a project that does
        # not exist or that the credentials cannot see; listing the project's datasets tells
        # the two apart.
        try:
            list(self._client.list_datasets(self.project, max_results=1, retry=self._metadata_retry, timeout=self.connect_timeout))
        except (api.NotFound, api.Forbidden) as project_error:
            return (
                f"BigQuery project {self.project!r} ({url_setting()} or BIGQUERY_PROJECT_ID) does not exist "
                f"or these credentials cannot use it: {project_error.message}"
            )
        if isinstance(error, api.Forbidden):
            return f"these credentials may not read BigQuery dataset {self.project}.{self.dataset}: {error.message}"
        return (
            f"BigQuery dataset {self.dataset!r} ({url_setting()} or BIGQUERY_DATASET) does not exist in project "
            f"{self.project!r}; create it with `bq mk --dataset --location=LOCATION {self.project}:{self.dataset}`"
        )

    # -- queries -------------------------------------------------------------------------------

    def _config(self, query: CompiledQuery, values: Mapping[str, Any], **options: Any) -> bigquery.QueryJobConfig:
        bound = query.bind(values)
        labels = {"app": "crm-metrics", "metric": query.name}
        tenant = str(bound.get("tenant_id", ""))
        if _LABEL_VALUE.match(tenant):
            labels["tenant"] = tenant
        return bigquery.QueryJobConfig(
            default_dataset=self._dataset,
            query_parameters=[_parameter(p.name, p.type, bound[p.name]) for p in query.params],
            labels=labels,
            use_legacy_sql=False,
            **options,
        )

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        config = self._config(query, values, maximum_bytes_billed=self.maximum_bytes_billed)
        if self.timeout:
            config.job_timeout_ms = int(self.timeout * 1000)
        job = None
        try:
            # jobs.insert + getQueryResults rather than the one-call jobs.query
            # (`query_and_wait`): the emulator answers a failed jobs.query with an empty
            # success, which would hide a broken query behind empty results in the tests.
            job = self._client.query(query.sql, job_config=config, location=self.location, retry=self._retry, job_retry=self._job_retry)
            rows = job.result(timeout=self.timeout, retry=self._retry)
            return [row.values() for row in rows]
        except (concurrent.futures.TimeoutError, requests.exceptions.Timeout) as error:
            if job is not None:
                _cancel(job)
            raise QueryTimeout(f"{query.name} ran longer than {self.timeout} s") from error
        except (api.GoogleAPIError, auth.GoogleAuthError, *_UNREACHABLE) as error:
            if failure := self._failure(query.name, error):
                raise failure from error
            raise

    def dry_run(self, query: CompiledQuery, values: Mapping[str, Any]) -> int:
        """The bytes BigQuery says the query would process; nothing runs, nothing is billed."""
        config = self._config(query, values, dry_run=True, use_query_cache=False)
        try:
            job = self._client.query(query.sql, job_config=config, location=self.location, retry=self._retry)
        except (api.GoogleAPIError, auth.GoogleAuthError, *_UNREACHABLE) as error:
            if failure := self._failure(query.name, error):
                raise failure from error
            raise
        return int(job.total_bytes_processed or 0)

    def _failure(self, name: str, error: Exception) -> MetricsError | None:
        """What a failed job means to the caller; None for an error in our SQL, which stays
        what it is."""
        # By reason first: a job that fails on the cost limit surfaces as a 400 from
        # getQueryResults or as a 500 built from the job's errorResult, depending on the call.
        if _reason(error) == "bytesBilledLimitExceeded":
            return CostLimitExceeded(
                f"{name} would bill more than BIGQUERY_MAXIMUM_BYTES_BILLED={self.maximum_bytes_billed or 0:,} bytes "
                f"(narrow the range, or raise the limit): {getattr(error, 'message', error)}"
            )
        if isinstance(error, api.NotFound):
            return BackendUnavailable(f"{error.message} (create the tables with `crm-metrics init-db`)")
        if isinstance(error, (api.Forbidden, api.Unauthorized, auth.GoogleAuthError)):
            return BackendUnavailable(f"BigQuery refused {name}: {error}")
        if isinstance(error, _UNREACHABLE):
            return BackendUnavailable(f"BigQuery cannot be reached: {error}")
        return None

    # -- data in -------------------------------------------------------------------------------

    def run_script(self, sql: str) -> None:
        self._writable()
        # DDL runs as long as it needs: the query timeout is for answers.
        config = bigquery.QueryJobConfig(default_dataset=self._dataset, labels={"app": "crm-metrics"})
        self._client.query(sql, job_config=config, location=self.location).result()

    def has_table(self, name: str) -> bool:
        try:
            self._client.get_table(self._dataset.table(name), retry=self._metadata_retry, timeout=self.connect_timeout)
        except api.NotFound:
            return False
        except _UNREACHABLE as error:
            raise BackendUnavailable(f"BigQuery cannot be reached: {error}") from error
        return True

    def upsert_rows(self, table: str, rows: pyarrow.Table, refresh: Refresh | None = None) -> Written:
        """All or nothing: a load job fills a staging table (atomic), then one MERGE updates
        rows in place by id and inserts the rest (atomic). Load jobs, not streaming inserts, so
        that the rows can be updated by the next load at once (streamed rows refuse DML for a
        while)."""
        self._writable()
        _seed_layout(refresh)
        if rows.num_rows == 0:
            return Written(0, 0)
        try:
            target = self._client.get_table(self._dataset.table(table), retry=self._metadata_retry)
        except api.NotFound as error:
            raise BackendUnavailable(f"{error.message} (create the tables with `crm-metrics init-db`)") from error
        types = {field.name: field.field_type for field in target.schema}
        if missing := [name for name in rows.column_names if name not in types]:
            raise LoadError(f"BigQuery table {self.dataset}.{table} has no column {', '.join(missing)}; recreate it from sql/schema/bigquery.sql")
        staging = bigquery.Table(
            self._dataset.table(f"_crm_metrics_load_{table}_{secrets.token_hex(6)}"),
            # JSON arrives as text and is parsed by the MERGE.
            schema=[bigquery.SchemaField(name, "STRING" if types[name] == "JSON" else types[name]) for name in rows.column_names],
        )
        staging.expires = dt.datetime.now(dt.UTC) + STAGING_LIFETIME
        try:
            self._client.create_table(staging)
            try:
                load = self._client.load_table_from_file(
                    _parquet(rows),
                    staging,
                    job_config=bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET, write_disposition="WRITE_APPEND"),
                    location=self.location,
                )
                load.result()
                config = bigquery.QueryJobConfig(default_dataset=self._dataset, labels={"app": "crm-metrics", "load": table})
                merge = merge_sql(table, staging.table_id, rows.column_names, types)
                job = self._client.query(merge, job_config=config, location=self.location)
                job.result()
                stats = job.dml_stats
                inserted, updated = (stats.inserted_row_count, stats.updated_row_count) if stats else (rows.num_rows, 0)
                return Written(inserted, updated, *orphans(table, lambda q: self._run(q, config), f"`{staging.table_id}`"))
            finally:
                self._client.delete_table(staging, not_found_ok=True)
        except api.BadRequest as error:
            raise LoadError(f"BigQuery refused the rows for {table}: {error.message}") from None
        except (api.GoogleAPIError, auth.GoogleAuthError, *_UNREACHABLE) as error:
            if failure := self._failure(f"the load into {table}", error):
                raise failure from error
            raise

    def _run(self, sql: str, config: bigquery.QueryJobConfig) -> list[tuple[Any, ...]]:
        return [row.values() for row in self._client.query(sql, job_config=config, location=self.location).result()]

    def rebuild(self, refresh: Refresh, ddl: str | None = None) -> None:
        _seed_layout(refresh)

    def _writable(self) -> None:
        if self.read_only:
            raise ConfigError(f"{self.description} is opened read-only: it serves queries, it does not write")

    # -- plumbing ------------------------------------------------------------------------------

    def ping(self) -> None:
        try:
            self._client.get_dataset(self._dataset, retry=self._metadata_retry, timeout=self.connect_timeout)
        except (api.GoogleAPIError, auth.GoogleAuthError, *_UNREACHABLE) as error:
            raise BackendUnavailable(f"BigQuery does not answer for {self.description}: {error}") from error

    def close(self) -> None:
        self._client.close()


def _parameter(name: str, sql_type: str, value: Any) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    """A typed query parameter; `ARRAY<T>` (the price tables' columns) as an array of T."""
    if sql_type.startswith("ARRAY<"):
        return bigquery.ArrayQueryParameter(name, sql_type.removeprefix("ARRAY<").removesuffix(">"), list(value))
    return bigquery.ScalarQueryParameter(name, sql_type, value)


def credentials(credentials_file: str | None, api_endpoint: str | None) -> Credentials:
    """The credentials file's, else Application Default Credentials; anonymous for a plain
    http endpoint (an emulator: a token is never sent in the clear). A file that is set is
    checked even then, so a wrong path fails at start-up wherever it points."""
    loaded = None
    if credentials_file:
        path = Path(credentials_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"GOOGLE_APPLICATION_CREDENTIALS is {credentials_file!r}: no such file")
        try:
            with warnings.catch_warnings():
                # The warning is about credential files from untrusted sources; this one is the
                # operator's own setting, read as Application Default Credentials would read it.
                warnings.filterwarnings("ignore", "The load_credentials_from_file method is deprecated", DeprecationWarning)
                loaded, _ = google.auth.load_credentials_from_file(str(path), scopes=SCOPES)
        except (auth.DefaultCredentialsError, OSError, ValueError) as error:
            raise ConfigError(f"GOOGLE_APPLICATION_CREDENTIALS file {credentials_file!r} holds no usable Google credentials: {error}") from None
    if api_endpoint and api_endpoint.lower().startswith("http://"):
        return AnonymousCredentials()
    if loaded is not None:
        return loaded
    try:
        found, _ = google.auth.default(scopes=SCOPES)
    except auth.DefaultCredentialsError:
        raise ConfigError(
            "No Google credentials for BigQuery: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, "
            "or run `gcloud auth application-default login`"
        ) from None
    return found


def _seed_layout(refresh: Refresh | None) -> None:
    # BigQuery keeps the seed's tables only (sql/schema/bigquery.sql): the derived tables are
    # made on DuckDB and PostgreSQL, and Metrics asks for them only where it finds them.
    if refresh:
        names = ", ".join(refresh.tables)
        raise ConfigError(f"the BigQuery dataset has tables {names}, which crm-metrics keeps only on DuckDB and PostgreSQL: drop them")


def merge_sql(table: str, staging: str, columns: Sequence[str], types: Mapping[str, str]) -> str:
    """One MERGE from the staging table: rows whose id is stored replace the stored ones, the
    others are inserted. Names come from the schema, never from data."""

    def name(column: str) -> str:
        return f"`{column}`"

    def source(column: str) -> str:
        if types[column] != "JSON":
            return name(column)
        # 'round': a JSON number too long for a double is kept, rounded, rather than failing
        # the load (the metrics read such a number as 0 either way).
        return f"PARSE_JSON({name(column)}, wide_number_mode => 'round') AS {name(column)}"

    updates = ", ".join(f"{name(c)} = source.{name(c)}" for c in columns if c != "id")
    return (
        f"MERGE {name(table)} AS target\n"
        f"USING (SELECT {', '.join(source(c) for c in columns)} FROM {name(staging)}) AS source\n"
        f"ON target.id = source.id\n"
        f"WHEN MATCHED THEN UPDATE SET {updates}\n"
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(name(c) for c in columns)}) "
        f"VALUES ({', '.join(f'source.{name(c)}' for c in columns)})"
    )


def _parquet(rows: pyarrow.Table) -> io.BytesIO:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(rows, buffer)
    buffer.seek(0)
    return buffer


def _reason(error: api.GoogleAPICallError) -> str | None:
    try:
        return error.errors[0]["reason"]
    except (IndexError, KeyError, TypeError):
        return None


def _cancel(job: bigquery.QueryJob) -> None:
    """Ask BigQuery to stop a job we no longer wait for (its job_timeout_ms stops it anyway)."""
    try:
        job.cancel(retry=None, timeout=5)
    except (api.GoogleAPIError, *_UNREACHABLE):
        pass
