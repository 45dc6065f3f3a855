"""The one entry point: `Metrics`. The CLI and the HTTP server call it; so can you.

    from crm_metrics import Metrics
    metrics = Metrics.connect("duckdb:///crm_metrics.duckdb")
    dashboard = metrics.dashboard("123e4567-e89b-12d3-a456-426614174000", granularity="week")
    print(dashboard.to_dict())
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from crm_metrics import loader, request, schema
from crm_metrics.compiler import compile_sql, parse_dialect
from crm_metrics.config import Settings
from crm_metrics.errors import InvalidParameter
from crm_metrics.executors import Executor, connect
from crm_metrics.models import SERIES, SUMMARY_TEMPLATE, Dashboard, Summary
from crm_metrics.query import CompiledQuery


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
    ) -> None:
        self.executor = executor
        self.settings = settings or Settings()
        self.clock = clock
        self._has_tenants: bool | None = None
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, url: str | None = None, *, read_only: bool = False, settings: Settings | None = None, **kwargs: Any) -> Metrics:
        """Open the database at `url` (default: `DATABASE_URL`, else `duckdb:///crm_metrics.duckdb`)."""
        settings = settings or Settings.from_env(database_url=url)
        timeout = settings.query_timeout_seconds or None
        return cls(connect(settings.database_url, read_only=read_only, timeout=timeout), settings, **kwargs)

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
        """The four dense series (conversations, messages, handoffs, costs) of a tenant."""
        grain = request.granularity("granularity", granularity)
        tenant, outlet, period, _ = self._resolve(tenant_id, start_date, end_date, outlet_id, tz)
        values = request.values(tenant, outlet, period, self.settings)
        series = {
            key: [row_type(*row) for row in self._fetch(template, values, outlet=outlet is not None, granularity=grain)]
            for key, (template, row_type) in SERIES.items()
        }
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
        """The whole range in one row, computed from raw rows."""
        tenant, outlet, period, name = self._resolve(tenant_id, start_date, end_date, outlet_id, tz)
        values = request.values(tenant, outlet, period, self.settings)
        (row,) = self._fetch(SUMMARY_TEMPLATE, values, outlet=outlet is not None)
        return Summary(tenant, name, period.start_date, period.end_date, outlet, period.tz, *row)

    def sql(self, name: str, dialect: str | None = None, *, outlet: bool = False, granularity: str = "day") -> str:
        """The SQL the library runs for a template, in a dialect (default: this database's)."""
        return compile_sql(name, parse_dialect(dialect or self.executor.dialect), outlet=outlet, granularity=granularity).sql

    # -- data in ----------------------------------------------------------------------------

    def init_db(self) -> None:
        """Create the seed's tables where they are missing."""
        self.executor.run_script(schema.ddl(self.executor.dialect))
        self._has_tenants = None

    def load(self, table: str, path: str | Path) -> int:
        """Load a CSV, JSON Lines or Parquet file into a table, all or nothing; rows whose id
        is already stored replace the stored ones. Returns the number of rows loaded."""
        count = loader.load_file(self.executor, table, path)
        self._has_tenants = None
        return count

    # -- plumbing ---------------------------------------------------------------------------

    def _fetch(self, template: str, values: Mapping[str, Any], **shape: Any) -> list[tuple[Any, ...]]:
        query: CompiledQuery = compile_sql(template, self.executor.dialect, **shape)
        return self.executor.fetch(query, values)

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
        """The tenant's name and timezone from the optional `tenants` table; a timezone that
        is not a known IANA name is ignored (the request falls back to UTC)."""
        if self._has_tenants is None:
            with self._lock:
                self._has_tenants = self.executor.has_table("tenants")
        if not self._has_tenants:
            return None, None
        rows = self._fetch("tenant", {"tenant_id": tenant_id})
        if not rows:
            return None, None
        name, zone = rows[0]
        try:
            return name, request.timezone("timezone", zone)
        except InvalidParameter:
            return name, None
