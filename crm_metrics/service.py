"""The one entry point: `Metrics`. The CLI and the HTTP server call it; so can you.

    from crm_metrics import Metrics
    metrics = Metrics.connect("duckdb:///crm_metrics.duckdb")
    dashboard = metrics.dashboard("123e4567-e89b-12d3-a456-426614174000", granularity="week")
    print(dashboard.to_dict())
"""

from __future__ import annotations

import datetime as dt
import operator
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_metrics import derived, loader, request, schema
from crm_metrics.compiler import compile_sql, parse_dialect
from crm_metrics.config import Settings
from crm_metrics.errors import ConfigError, InvalidParameter, MetricsError
from crm_metrics.executors import Executor, connect
from crm_metrics.executors.base import DryRunner
from crm_metrics.models import DASHBOARD_TEMPLATE, SERIES, SUMMARY_TEMPLATE, Dashboard, Summary

if TYPE_CHECKING:
    import pyarrow

def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Metrics:
    """Metrics of one database. Safe to share between threads."""

    def __init__(
        self,
        executor: Executor,
        settings: Settings | None = None,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        read_only: bool = False,
    ) -> None:
        self.executor = executor
        self.read_only = read_only
        self.settings = settings or Settings()
        self.clock = clock
        self._layout: str | None = None
        self._has_tenants: bool | None = None
        #: tenant id -> (expiry on the monotonic clock, name, timezone)
        self._tenants: dict[str, tuple[float, str | None, str | None]] = {}

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        *,
        read_only: bool = False,
        create: bool = True,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> Metrics:
        """Open the database at `url` (default: `DATABASE_URL`, else `duckdb:///crm_metrics.duckdb`).
        A DuckDB file that does not exist is made unless `read_only` or `create=False`."""
        settings = settings or Settings.from_env(database_url=url)
        timeout = settings.query_timeout_seconds or None
        executor = connect(settings.database_url, read_only=read_only, create=create, timeout=timeout, settings=settings)
        return cls(executor, settings, read_only=read_only, **kwargs)

    def close(self) -> None:
        self.executor.close()

    def __enter__(self) -> Metrics:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- answers -----------------------------------------------------------------------------

    def dashboard(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
        granularity: str = "day",
    ) -> Dashboard:
        """The four dense series (conversations, messages, handoffs, costs) of a tenant, from
        one statement (sql/dashboard.sql)."""
        grain = request.granularity("granularity", granularity)
        tenant, outlet, period, _ = self._resolve(tenant_id, start_date, end_date, outlet_id, tz)
        layout, offsets = self.plan(period)
        values = request.values(tenant, outlet, period, self.settings, offsets)
        names, rows = self._fetch(
            DASHBOARD_TEMPLATE, values, layout, outlet=outlet is not None, granularity=grain, offsets=offsets is not None
        )
        position = {name: i for i, name in enumerate(names)}
        series = {}
        for key, row_type in SERIES.items():
            # Every series has a date and more than one figure: itemgetter gives tuples.
            pick = operator.itemgetter(*[position[f] for f in row_type.field_names()])
            series[key] = [row_type(*pick(row)) for row in rows]
        return Dashboard(
            tenant_id=tenant,
            outlet_id=outlet,
            period_start=period.start_date,
            period_end=period.end_date,
            timezone=period.tz,
            granularity=grain,
            **series,
        )

    def summary(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
    ) -> Summary:
        """The whole range in one row, computed from raw rows (sql/tenant_summary.sql)."""
        tenant, outlet, period, name = self._resolve(tenant_id, start_date, end_date, outlet_id, tz)
        layout, _ = self.plan(period)
        values = request.values(tenant, outlet, period, self.settings)
        _, (row,) = self._fetch(SUMMARY_TEMPLATE, values, layout, outlet=outlet is not None)
        return Summary(tenant, name, period.start_date, period.end_date, outlet, period.tz, *row)

    def dry_run(
        self,
        kind: str,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
        granularity: str = "day",
    ) -> int:
        """The bytes the statement of a `dashboard` or a `summary` would process (a BigQuery
        dry run: it does not run and nothing is billed for it; the tenant's timezone is still
        looked up, as it decides the range)."""
        if not isinstance(self.executor, DryRunner):
            raise ConfigError(f"dry runs are BigQuery-only; this database is {self.executor.description}")
        if kind not in ("dashboard", "summary"):
            raise InvalidParameter("kind", f"must be dashboard or summary, got {kind!r}")
        grain = request.granularity("granularity", granularity)
        tenant, outlet, period, _ = self._resolve(tenant_id, start_date, end_date, outlet_id, tz)
        values = request.values(tenant, outlet, period, self.settings)
        if kind == "dashboard":
            name, shape = DASHBOARD_TEMPLATE, {"outlet": outlet is not None, "granularity": grain}
        else:
            name, shape = SUMMARY_TEMPLATE, {"outlet": outlet is not None}
        return self.executor.dry_run(compile_sql(name, self.executor.dialect, **shape), values)

    def bigquery_status(self) -> str:
        """For /health: `not_configured` unless the database is BigQuery, then `configured`
        when it answers and `unreachable` when it does not."""
        if self.executor.dialect != "bigquery":
            return "not_configured"
        try:
            self.executor.ping()
        except MetricsError:
            return "unreachable"
        return "configured"

    def sql(self, name: str, dialect: str | None = None, *, outlet: bool = False, granularity: str = "day") -> str:
        """The SQL of a template, in a dialect (default: this database's, in its layout, as the
        library runs it: with derived tables, local dates by the range's UTC offsets)."""
        layout = self.layout if dialect is None else "seed"
        dialect = parse_dialect(dialect or self.executor.dialect)
        query = compile_sql(name, dialect, outlet=outlet, granularity=granularity, layout=layout, offsets=layout != "seed")
        return query.sql

    # -- data in ----------------------------------------------------------------------------

    def init_db(self, *, rollup: bool | None = None) -> None:
        """Create the tables where missing; with `rollup`, the derived tables and the rollup
        too, filled from the rows already there in the same transaction (all or nothing).
        `rollup` defaults to True on DuckDB (the embedded store, which only crm-metrics
        writes) and False elsewhere; BigQuery has no derived tables (ConfigError). Tables are
        never dropped: without `rollup`, derived tables already there stay and stay exact."""
        self._writable()
        dialect = self.executor.dialect
        if rollup is None:
            rollup = dialect in schema.ROLLUP_BY_DEFAULT
        script = schema.ddl(dialect, rollup=rollup)
        if rollup and self.layout != "rollup":
            self.executor.rebuild(derived.refresh(parse_dialect(dialect), rollup=True), ddl=script)
        else:
            self.executor.run_script(script)
        self._layout = self._has_tenants = None
        self._tenants.clear()

    def load(self, table: str, path: str | Path, *, assume_tz: str | None = None) -> loader.LoadReport:
        """Load a CSV, JSON Lines or Parquet file into a table, all or nothing; stored rows
        with the same id are updated in place. Timestamps without a UTC offset are read in
        `assume_tz` (default UTC)."""
        return self.write(loader.prepare_file(table, path, assume_tz=assume_tz))

    def load_rows(
        self, table: str, rows: Iterable[Mapping[str, Any]], source: str = "rows", *, assume_tz: str | None = None
    ) -> loader.LoadReport:
        """Load rows (dicts with the table's columns) as `load` loads a file."""
        return self.write(loader.prepare_rows(table, rows, source, assume_tz=assume_tz))

    def write(self, batch: loader.Batch) -> loader.LoadReport:
        """Write a batch checked by `crm_metrics.loader.prepare_file` / `prepare_rows`, all
        or nothing, keeping derived tables up to date."""
        self._writable()
        # Looked up afresh: another process may have made the derived tables since (init-db
        # --rollup), and a write that skipped them would leave them stale.
        self._layout = None
        written = self.executor.upsert_rows(batch.table, batch.rows, self._refresh())
        self._tenants.clear()
        return loader.LoadReport(
            table=batch.table,
            source=batch.source,
            rows=batch.rows.num_rows,
            inserted=written.inserted,
            updated=written.updated,
            naive_timestamps=batch.naive_timestamps,
            assumed_tz=batch.assumed_tz,
            orphan_messages=written.orphan_messages,
            orphan_conversations=written.orphan_conversations,
            orphan_examples=written.orphan_examples,
        )

    def refresh(self) -> None:
        """Recompute the derived tables from the base tables (after writing those directly)."""
        self._writable()
        self._layout = None
        if refresh := self._refresh():
            self.executor.rebuild(refresh)

    def _writable(self) -> None:
        if self.read_only:
            raise ConfigError(f"{self.executor.description} is opened read-only: open it without read_only to write")

    @property
    def layout(self) -> str:
        """The store's richest layout: 'rollup' where the derived tables and the rollup exist
        (the embedded store; PostgreSQL after `init-db --rollup`), 'facts' where only the
        derived tables do, else 'seed'. Looked up once (and again by every write)."""
        if self._layout is None:
            self._layout = "seed"
            if all(self.executor.has_table(table) for table in derived.FACTS):
                self._layout = "rollup" if self.executor.has_table(derived.ROLLUP) else "facts"
        return self._layout

    def plan(self, period: request.Period) -> tuple[str, request.Offsets | None]:
        """The layout a request over `period` reads, and the range's UTC offsets where local
        dates are computed from them. The rollup answers where the range's local days are
        whole 15-minute slots (every current timezone); other ranges read the facts."""
        layout = self.layout
        if layout == "seed":
            return layout, None
        offsets = request.utc_offsets(period)
        if layout == "rollup" and not request.on_slots(period, offsets):
            layout = "facts"
        return layout, offsets

    # -- plumbing ---------------------------------------------------------------------------

    def _refresh(self) -> derived.Refresh | None:
        if self.layout == "seed":
            return None
        return derived.refresh(parse_dialect(self.executor.dialect), rollup=self.layout == "rollup")

    def _fetch(
        self, template: str, values: Mapping[str, Any], layout: str = "seed", **shape: Any
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        query = compile_sql(template, self.executor.dialect, layout=layout, **shape)
        return [c.name for c in query.columns], self.executor.fetch(query, values)

    def _resolve(
        self,
        tenant_id: object,
        start_date: object,
        end_date: object,
        outlet_id: object,
        tz: object,
    ) -> tuple[str, str | None, request.Period, str | None]:
        """Validate every field, then fill the defaults that need the tenant (its timezone)."""
        tenant = request.uuid("tenant_id", tenant_id)
        outlet = request.optional_uuid("outlet_id", outlet_id)
        zone = request.timezone("tz", tz)
        start = request.date("start_date", start_date)
        end = request.date("end_date", end_date)
        name, tenant_zone = self.tenant(tenant)
        period = request.period(
            start,
            end,
            zone or tenant_zone or "UTC",
            now=self.clock(),
            max_days=self.settings.max_range_days,
        )
        return tenant, outlet, period, name

    def tenant(self, tenant_id: str) -> tuple[str | None, str | None]:
        """The tenant's name and timezone from the optional `tenants` table, remembered for
        TENANT_CACHE_SECONDS (and forgotten by every load). A timezone that is not a known IANA
        name is ignored: the request falls back to UTC."""
        now = time.monotonic()
        cached = self._tenants.get(tenant_id)
        if cached and cached[0] > now:
            return cached[1], cached[2]
        name, zone = self._lookup(tenant_id)
        if len(self._tenants) > 10_000:
            self._tenants.clear()
        self._tenants[tenant_id] = (now + self.settings.tenant_cache_seconds, name, zone)
        return name, zone

    def _lookup(self, tenant_id: str) -> tuple[str | None, str | None]:
        if self._has_tenants is None:
            self._has_tenants = self.executor.has_table("tenants")
        if not self._has_tenants:
            return None, None
        _, rows = self._fetch("tenant", {"tenant_id": tenant_id})
        if not rows:
            return None, None
        name, zone = rows[0]
        try:
            return name, request.timezone("timezone", zone)
        except InvalidParameter:
            return name, None
