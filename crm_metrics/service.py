"""The one entry point: `Metrics`. The CLI and the HTTP server call it; so can you.

    from crm_metrics import Metrics
    metrics = Metrics.connect("duckdb:///crm_metrics.duckdb")
    dashboard = metrics.dashboard("123e4567-e89b-12d3-a456-426614174000", granularity="week")
    print(dashboard.to_dict())

A request goes: validation (crm_metrics/request.py, once) -> defaults that need the tenant
(its timezone) -> a plan (crm_metrics/planning.py: layout and shape) -> the compiled template
(crm_metrics/compiler.py) -> the executor -> rows normalised here -> a typed result
(crm_metrics/answers.py). Writes live on `metrics.store` (crm_metrics/store.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import time
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from crm_metrics import anomalies, custom, partitions, planning, request, templates
from crm_metrics import prices as price_tables
from crm_metrics.prices import PriceTables
from crm_metrics.answers import ANSWERS, COMPUTED, DAILY_VALUES, Answer, Resolved, compared, markets
from crm_metrics.compiler import compile_sql, parse_dialect
from crm_metrics.config import Settings
from crm_metrics.errors import ConfigError, InvalidParameter, MetricsError, TemplateError, TenantNotFound
from crm_metrics.executors import Executor, connect
from crm_metrics.executors.base import Changes, ChangeQueue, DryRunner
from crm_metrics.models import (
    Anomalies,
    Anomaly,
    Costs,
    CustomAnswer,
    Dashboard,
    Forecast,
    ForecastDay,
    Heatmap,
    MonthActual,
    OutletBreakdown,
    Outcomes,
    Outlets,
    Overview,
    Responses,
    StoredTenant,
    Summary,
)
from crm_metrics.query import CompiledQuery
from crm_metrics.store import Store
from crm_metrics.tenant_service import TenantService, Unavailable
from crm_metrics.tenants import Found, Tenant, Tenants

#: The settings an answer depends on besides the rows (Metrics.fingerprint).
ANSWER_SETTINGS = (
    "llm_price_per_million_tokens", "whatsapp_price_per_message", "lookaround_days",
    # docs/anomalies.md: what anomalies and the forecast are judged by.
    "anomaly_history_weeks", "anomaly_min_history", "anomaly_band", "anomaly_min_volume", "anomaly_min_relative_spread",
    "forecast_lower_quantile", "forecast_upper_quantile",
)

#: The statements that read the rollup's priced columns where they hold the process's rate
#: card (templates.Shape.stored_prices; sql/macros/rollup.sql slot_series, sql/metrics/summary.sql
#: and costs.sql; the costs' per-market rows, cost_markets.sql, always price cost_slots).
STORED_PRICES = frozenset({"priced_dashboard", "summary", "costs"})


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
        prices: PriceTables | None = None,
    ) -> None:
        self.executor = executor
        self.settings = settings or Settings()
        #: COST_MODEL=priced: the price tables (`prices`, else read and checked here, at start,
        #: from WHATSAPP_PRICES and LLM_PRICES: an error names the file and line); None under
        #: the flat model.
        self.prices = None
        if self.priced:
            self.prices = prices or price_tables.load(self.settings.whatsapp_prices, self.settings.llm_prices)
        self.clock = clock
        url = self.settings.tenant_service_url
        self.tenant_service = TenantService(url, self.settings.tenant_service_timeout_seconds) if url else None
        self.tenants = Tenants(self._find_tenant, self.settings.tenant_cache_seconds)
        #: The write path: init_db, load, load_rows, write, refresh.
        self.store = Store(executor, read_only=read_only, on_write=self.tenants.forget)
        self._has_tenants: bool | None = None
        #: The custom metrics of CRM_METRICS_PATH (crm_metrics/custom.py), checked when loaded.
        self.custom = custom.CustomMetrics(self.settings.metrics_path, builtins=BUILTIN_NAMES)
        #: Called after every statement with (template, dialect, seconds), failed ones too:
        #: the server's /metrics times queries per metric and engine this way.
        self.query_observers: list[Callable[[str, str, float], None]] = []

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        *,
        read_only: bool = False,
        create: bool = True,
        settings: Settings | None = None,
        metrics_path: str | None = None,
        **kwargs: Any,
    ) -> Metrics:
        """Open the database at `url` (default: `DATABASE_URL`, else `duckdb:///crm_metrics.duckdb`).
        A DuckDB file that does not exist is made unless `read_only` or `create=False`.
        `metrics_path`: a directory of custom metrics (default: CRM_METRICS_PATH)."""
        settings = settings or Settings.from_env(database_url=url)
        if metrics_path is not None:
            settings = dataclasses.replace(settings, metrics_path=str(metrics_path))
        timeout = settings.query_timeout_seconds or None
        executor = connect(settings.database_url, read_only=read_only, create=create, timeout=timeout, settings=settings)
        return cls(executor, settings, read_only=read_only, **kwargs)

    @property
    def priced(self) -> bool:
        """Whether costs follow the price tables (COST_MODEL=priced, docs/costs.md)."""
        return self.settings.cost_model == "priced"

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
        one statement (sql/metrics/dashboard.sql)."""
        return self.answer("dashboard", request.query(tenant_id, start_date, end_date, outlet_id, tz, granularity))

    def summary(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
        compare: str | None = None,
    ) -> Summary:
        """The whole range in one row, computed from raw rows (sql/metrics/summary.sql); with
        `compare="previous"`, a `ComparedSummary`: also the n days before and the change
        (docs/metrics.md §7.3)."""
        return self.answer("summary", request.query(tenant_id, start_date, end_date, outlet_id, tz, compare=compare))

    def overview(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
        granularity: str = "day",
    ) -> Overview:
        """The dashboard and the summary of the same request from one statement (the
        dashboard's): `.dashboard` is what `dashboard` answers, `.summary` what `summary`
        answers (its figures added up from the buckets' counts and sums); `to_dict()` is the
        dashboard's fields and `summary`. One pass over the window's rows instead of two."""
        return self.answer("overview", request.query(tenant_id, start_date, end_date, outlet_id, tz, granularity))

    def responses(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
        granularity: str = "day",
    ) -> Responses:
        """Response times per bucket and over the range: turns, exact medians and p90, first
        and human responses (docs/metrics.md §7.1, sql/metrics/responses.sql)."""
        return self.answer("responses", request.query(tenant_id, start_date, end_date, outlet_id, tz, granularity))

    def outcomes(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
        granularity: str = "day",
    ) -> Outcomes:
        """Outcomes of the conversations started per bucket and over the range: containment,
        agent involvement, the cohort's messages and cost (docs/metrics.md §7.2)."""
        return self.answer("outcomes", request.query(tenant_id, start_date, end_date, outlet_id, tz, granularity))

    def outlets(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        tz: str | None = None,
    ) -> OutletBreakdown:
        """The summary's figures per outlet, the conversations without one last
        (docs/metrics.md §7.4, sql/metrics/outlets.sql)."""
        return self.answer("outlets", request.query(tenant_id, start_date, end_date, None, tz))

    def heatmap(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
    ) -> Heatmap:
        """168 cells by local weekday and hour (docs/metrics.md §7.5, sql/metrics/heatmap.sql)."""
        return self.answer("heatmap", request.query(tenant_id, start_date, end_date, outlet_id, tz))

    def costs(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
        granularity: str = "day",
        group_by: str | None = None,
    ) -> Costs:
        """Priced costs per bucket and over the range (COST_MODEL=priced; docs/metrics.md §8,
        sql/metrics/costs.sql); `group_by="market"` adds the WhatsApp figures per market."""
        return self.answer("costs", request.query(tenant_id, start_date, end_date, outlet_id, tz, granularity, group_by=group_by))

    def anomalies(
        self,
        tenant_id: str,
        metric: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
        direction: str = "both",
    ) -> Anomalies:
        """The days of the range whose `metric` departs from the tenant's own expected value
        (the same weekday of the previous ANOMALY_HISTORY_WEEKS weeks), `direction` up, down or
        both (docs/anomalies.md)."""
        return self.answer("anomalies", request.query(tenant_id, start_date, end_date, outlet_id, tz, metric=metric, direction=direction))

    def daily_values(
        self,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
    ) -> dict[dt.date, dict[str, Any]]:
        """The rows of sql/metrics/daily_values.sql by date: the watched metrics of each day
        with their volumes, what anomalies and the forecast are computed from."""
        resolved = self.resolve(request.query(tenant_id, start_date, end_date, outlet_id, tz))
        return self._daily_values(resolved, resolved.period.start_date, resolved.period.end_date)

    def forecast(self, tenant_id: str, metric: str, outlet_id: str | None = None, tz: str | None = None) -> Forecast:
        """The current calendar month in the timezone: actual so far, the projection of the
        remaining days with a range, and the previous month (docs/anomalies.md)."""
        return self.answer("forecast", request.query(tenant_id, None, None, outlet_id, tz, metric=metric))

    def answer(self, kind: str, query: request.Query) -> Any:
        """The answer `kind` (crm_metrics/answers.py: dashboard, summary, responses, outcomes,
        outlets, heatmap; anomalies and forecast) to a request validated by
        `crm_metrics.request.query` (the HTTP server validates it there once)."""
        if kind in COMPUTED:
            return self._anomalies(query) if kind == "anomalies" else self._forecast(query)
        if query.metric is not None:
            raise InvalidParameter("metric", f"applies to anomalies and forecast only, not to {kind}")
        answer = _answer(kind)
        if query.outlet_id is not None and not answer.outlet:
            raise InvalidParameter("outlet_id", f"the {kind} answer covers every outlet of the tenant: it takes no outlet_id")
        resolved = self.resolve(query)
        if answer.priced_only and not self.priced:
            raise InvalidParameter("COST_MODEL", f"the {kind} answer prices costs by the price tables: set COST_MODEL=priced (with WHATSAPP_PRICES, LLM_PRICES)")
        if query.group_by is not None and kind != "costs":
            raise InvalidParameter("group_by", f"applies to the costs only, not to {kind}")
        if query.group_by is not None:
            compiled, values = self._statement(answer, dataclasses.replace(resolved, query=dataclasses.replace(query, granularity="day")), template="cost_markets")
            by_market = markets(self._fetch(compiled, values))
            return dataclasses.replace(self._run(answer, resolved), markets=by_market)
        if query.compare is None:
            return self._run(answer, resolved)
        if kind != "summary":
            raise InvalidParameter("compare", f"applies to the summary only, not to {kind}")
        previous = dataclasses.replace(resolved, period=request.previous(resolved.period))
        return compared(self._run(answer, resolved), self._run(answer, previous))

    def _anomalies(self, query: request.Query) -> Anomalies:
        if query.metric is None:
            raise InvalidParameter("metric", f"is required: one of {', '.join(request.ANOMALY_METRICS)}")
        thresholds = anomalies.Thresholds.of(self.settings)
        resolved = self.resolve(query)
        period = resolved.period
        days = self._daily_values(resolved, anomalies.history_start(period.start_date, thresholds.history_weeks), period.end_date)
        # Today is not over: its counts so far would read as a drop every morning.
        today = self.clock().astimezone(zoneinfo.ZoneInfo(period.tz)).date()
        last = min(period.end_date, today - dt.timedelta(days=1))
        flags = anomalies.detect(days, query.metric, period.start_date, last, thresholds, query.direction)
        count = anomalies.WATCHED[query.metric].kind == "count"
        found = [
            Anomaly(f.date, round(f.value) if count else f.value, f.expected, f.lower, f.upper, f.direction, f.score) for f in flags
        ]
        return Anomalies(query.tenant_id, query.outlet_id, query.metric, period.start_date, period.end_date, period.tz, query.direction, found)

    def _forecast(self, query: request.Query) -> Forecast:
        metric = request.metric_choice("metric", query.metric, request.FORECAST_METRICS)
        if metric is None:
            raise InvalidParameter("metric", f"is required: one of {', '.join(request.FORECAST_METRICS)}")
        if query.start_date is not None or query.end_date is not None:
            raise InvalidParameter("start_date" if query.start_date else "end_date", "the forecast covers the current month: it takes no dates")
        resolved = self.resolve(query)
        tz = resolved.period.tz
        today = self.clock().astimezone(zoneinfo.ZoneInfo(tz)).date()
        weeks = self.settings.anomaly_history_weeks
        days = self._daily_values(resolved, anomalies.forecast_start(today, weeks), today)
        quantiles = (self.settings.forecast_lower_quantile, self.settings.forecast_upper_quantile)
        month = anomalies.forecast_month(days, metric, today, weeks, quantiles)
        count = metric != "total_cost"

        def shown(value: float) -> float:
            return round(value) if count else value

        rows = [ForecastDay(d, shown(float(days[d][metric])), None, None, None) for d in sorted(days) if month.first <= d < today]
        rows += [ForecastDay(p.date, None, p.expected, p.lower, p.upper) for p in month.projections]
        return Forecast(
            query.tenant_id, query.outlet_id, metric, tz, month.first, month.last, today,
            shown(month.actual), month.projected, month.lower, month.upper,
            MonthActual(month.previous_first, month.previous_last, shown(month.previous)), rows,
        )

    def _daily_values(self, resolved: Resolved, first: dt.date, last: dt.date) -> dict[dt.date, dict[str, Any]]:
        """sql/metrics/daily_values.sql over [first, last] in the request's timezone, by date.
        The history before a range is read whatever MAX_RANGE_DAYS says: that limits the
        range asked for."""
        first = max(first, request.MIN_DATE)
        tz = resolved.period.tz
        period = request.Period(first, last, tz, request.instant(first, tz), request.instant(last + dt.timedelta(days=1), tz))
        daily = Resolved(dataclasses.replace(resolved.query, granularity="day"), period, resolved.tenant_name)
        return self._run(DAILY_VALUES, daily)  # type: ignore[no-any-return]

    # -- custom metrics (crm_metrics/custom.py, docs/custom-metrics.md) -------------------------

    def query(
        self,
        name: str,
        tenant_id: str,
        start_date: str | dt.date | None = None,
        end_date: str | dt.date | None = None,
        outlet_id: str | None = None,
        tz: str | None = None,
        granularity: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> CustomAnswer:
        """The custom metric `name` of CRM_METRICS_PATH for a tenant and range: its rows, typed
        by its header. `params`: the extra parameters it declares (each required)."""
        metric = self.custom.get(name)
        if granularity is not None and not metric.series:
            raise InvalidParameter("granularity", f"{name} is one set of rows for the whole range: it takes no granularity")
        query = request.query(tenant_id, start_date, end_date, outlet_id, tz, granularity or "day")
        return self.custom_answer(name, query, params or {})

    def custom_answer(self, name: str, query: request.Query, params: Mapping[str, Any]) -> CustomAnswer:
        """The custom metric `name` for a validated query (the HTTP server validates it with
        `crm_metrics.request`, as for the built-in answers) and its extra parameters."""
        metric = self.custom.get(name)
        assert metric.template is not None
        if query.outlet_id is not None and not metric.outlet:
            raise InvalidParameter("outlet_id", f"{name} does not declare outlet_id: it takes no outlet filter")
        if query.compare is not None:
            raise InvalidParameter("compare", f"applies to the summary only, not to {name}")
        grain = query.granularity if metric.series else "range"
        if grain not in metric.template.granularities:
            raise InvalidParameter("granularity", f"{name} is by {', '.join(metric.template.granularities)}, not {grain}")
        extras = custom.extra_values(metric, params)
        resolved = self.resolve(query)
        period = resolved.period
        # Custom metrics read the seed's tables (every store has them), local dates and hours
        # by the range's UTC offsets where they are known.
        offsets = planning.utc_offsets(period)
        shape = templates.Shape("seed", query.outlet_id is not None, grain, offsets is not None)
        compiled = custom.compiled(metric, parse_dialect(self.executor.dialect), shape)
        values = {**planning.values(query.tenant_id, query.outlet_id, period, self.settings, offsets), **extras}
        try:
            rows = self._fetch(compiled, values)
        except ValueError as error:
            raise TemplateError(f"{metric.path.name}: its rows do not have the header's columns and types: {error}") from error
        names = [c.name for c in compiled.columns]
        return CustomAnswer(
            name, query.tenant_id, query.outlet_id, period.start_date, period.end_date, period.tz, grain,
            dict(extras), names, [dict(zip(names, row, strict=True)) for row in rows],
        )

    def catalogue(self) -> list[dict[str, Any]]:
        """Every metric this library answers: the built-in answers, then the custom metrics
        (those refused with their error), as GET /api/v1/metrics and `crm-metrics list` show."""
        return catalogue(self.custom)

    def _run(self, answer: Answer, resolved: Resolved) -> Any:
        compiled, values = self._statement(answer, resolved)
        return answer.build(resolved, [c.name for c in compiled.columns], self._fetch(compiled, values))

    def _statement(
        self, answer: Answer, resolved: Resolved, dialect: str | None = None, *, template: str | None = None
    ) -> tuple[CompiledQuery, Mapping[str, Any]]:
        """The compiled statement of an answer for a resolved request, and its values (in this
        database's dialect unless another is named; `template`: another statement of it, such
        as the costs' per-market rows)."""
        query = resolved.query
        template = template or answer.template_for(self.priced)
        granularity = templates.load(template).granularities[0] if template == "cost_markets" else answer.granularity(query)
        plan = self.plan(
            resolved.period, outlet=query.outlet_id is not None, granularity=granularity,
            wall_clock=answer.wall_clock, priced=self.priced,
        )
        shape = plan.shape
        dialect = dialect or self.executor.dialect
        if (
            template in STORED_PRICES and shape.priced and shape.layout == "rollup" and dialect == self.executor.dialect
            and self.store.installed_card() == self.rate_card
        ):
            # The rollup's priced columns hold these very tables (docs/costs.md, "The priced
            # rollup"): read them. Asked each time: another process may install its own card.
            shape = dataclasses.replace(shape, stored_prices=True)
        values = planning.values(query.tenant_id, query.outlet_id, resolved.period, self.settings, plan.offsets, self.prices)
        return compile_sql(template, dialect, shape), values

    def dry_run(self, kind: str, query: request.Query) -> int:
        """The bytes the statement of an answer would process (a BigQuery dry run: it does
        not run and nothing is billed for it; the tenant's timezone is still looked up, as it
        decides the range)."""
        if not isinstance(self.executor, DryRunner):
            raise ConfigError(f"dry runs are BigQuery-only; this database is {self.executor.description}")
        compiled, values = self._statement(_answer(kind), self.resolve(query))
        return self.executor.dry_run(compiled, values)

    def read_partitions(self, kind: str, query: request.Query) -> dict[str, tuple[dt.date | None, dt.date | None]]:
        """The partitions (UTC days) of BigQuery's partitioned tables that the statement of an
        answer reads, per table: the first and last day any of its scans reads (None: every
        partition on that side, as without LOOKAROUND_DAYS). From the partition filters of
        the BigQuery SQL (crm_metrics/partitions.py), whatever this database is."""
        compiled, values = self._statement(_answer(kind), self.resolve(query), "bigquery")
        read: dict[str, tuple[dt.date | None, dt.date | None]] = {}
        for scan in partitions.scans(compiled.sql):
            first, last = scan.days(values)
            if scan.table in read:
                before = read[scan.table]
                first = None if first is None or before[0] is None else min(first, before[0])
                last = None if last is None or before[1] is None else max(last, before[1])
            read[scan.table] = (first, last)
        return read

    def resolve(self, query: request.Query) -> Resolved:
        """Fill the defaults that need the tenant: its timezone, then the dates. With
        REQUIRE_KNOWN_TENANT, a tenant the tenant service does not know raises TenantNotFound."""
        found = self.tenants.find(query.tenant_id)
        if found.unknown and self.settings.require_known_tenant:
            raise TenantNotFound(query.tenant_id)
        name, tenant_zone = found.name, found.timezone
        period = request.period(
            query.start_date,
            query.end_date,
            query.tz or tenant_zone or "UTC",
            now=self.clock(),
            max_days=self.settings.max_range_days,
        )
        return Resolved(query, period, name)

    def plan(
        self, period: request.Period, *, outlet: bool = False, granularity: str = "day", wall_clock: bool = False, priced: bool = False
    ) -> planning.Plan:
        """The shape a request over `period` runs in on this store (crm_metrics/planning.py)."""
        return planning.plan(
            self.store.layout, period, outlet=outlet, granularity=granularity,
            lookaround_days=self.settings.lookaround_days, wall_clock=wall_clock, priced=priced,
        )

    @functools.cached_property
    def rate_card(self) -> str | None:
        """The name of this object's rate card (COST_MODEL=priced: a digest of the price tables'
        rows and of LLM_PRICE_PER_MILLION_TOKENS, which prices tokens without input or output
        counts); None under the flat model. The rollup's priced columns are read where they
        hold it (`install_prices`)."""
        if self.prices is None:
            return None
        card = [self.prices.fingerprint, self.settings.llm_price_per_million_tokens]
        return hashlib.sha256(json.dumps(card).encode()).hexdigest()[:12]

    def install_prices(self) -> bool:
        """Price the rollup by this object's price tables (COST_MODEL=priced), in one
        transaction: the dashboard then reads the rollup's priced columns instead of pricing
        cost_slots per request (docs/costs.md, "The priced rollup"). False where that card is
        installed already. ConfigError under the flat model or without the priced rollup."""
        if self.prices is None or self.rate_card is None:
            raise ConfigError("pricing the rollup needs COST_MODEL=priced (with WHATSAPP_PRICES, LLM_PRICES)")
        return self.store.install_prices(self.rate_card, self.prices, self.settings.llm_price_per_million_tokens)

    @functools.cached_property
    def fingerprint(self) -> str:
        """A short digest of the settings that change answers over the same rows: the prices,
        the look-around bound, the anomaly settings and, under COST_MODEL=priced, the price
        tables' rows. The server's cache keys carry it, so answers cached under other settings
        (in a Redis that outlives a restart) are never served. Settings and tables are fixed for
        the object's life: computed once, not per request."""
        answers: dict[str, object] = {name: getattr(self.settings, name) for name in ANSWER_SETTINGS}
        if self.prices is not None:
            # COST_MODEL=priced: the tables' rows themselves (a file may change under its name).
            answers["price_tables"] = self.prices.fingerprint
        return hashlib.sha256(json.dumps(answers, sort_keys=True).encode()).hexdigest()[:8]

    @property
    def layout(self) -> str:
        """The store's richest layout (seed, facts or rollup): `Store.layout`."""
        return self.store.layout

    def tenant(self, tenant_id: str) -> Tenant:
        """The tenant's name and timezone from the tenant service (TENANT_SERVICE_URL) or,
        without it or while it does not answer, the optional `tenants` table, remembered for
        TENANT_CACHE_SECONDS (and forgotten by every write). A timezone that is not a known
        IANA name is ignored: the request falls back to UTC."""
        return self.tenants.get(tenant_id)

    def list_tenants(self) -> list[StoredTenant]:
        """The tenants of the optional `tenants` table, by name (at most TENANTS_LISTED;
        none without the table): what a development dashboard offers to pick from."""
        if not self.executor.has_table("tenants"):
            return []
        rows = self._fetch(compile_sql("lookup/tenants", self.executor.dialect), {})
        return [StoredTenant(*row) for row in rows]

    def outlet_ids(self, query: request.Query) -> Outlets:
        """The outlets of the query's tenant with conversations started in its period (the
        query's outlet and granularity play no part)."""
        resolved = self.resolve(query)
        period = resolved.period
        values = {"tenant_id": query.tenant_id, "range_start": period.range_start, "range_end": period.range_end}
        rows = self._fetch(compile_sql("lookup/outlets", self.executor.dialect), values)
        return Outlets(query.tenant_id, period.start_date, period.end_date, period.tz, [row[0] for row in rows])

    def tenant_service_status(self) -> str:
        """For /health: not_configured, available or unavailable."""
        return "not_configured" if self.tenant_service is None else self.tenant_service.status()

    def _find_tenant(self, tenant_id: str) -> Found:
        """The tenant service's record of the tenant, else the `tenants` table's. A tenant the
        service does not know (404) keeps the table's name and timezone, if any, marked unknown."""
        unknown = False
        if self.tenant_service is not None:
            try:
                served = self.tenant_service.fetch(tenant_id)
            except Unavailable:
                served = None  # logged by the client; the table answers
            else:
                if served is not None:
                    return Found(*served)
                unknown = True
        stored = self._stored_tenant(tenant_id)
        return Found(*(stored or (None, None)), unknown=unknown)

    def _stored_tenant(self, tenant_id: str) -> Tenant | None:
        if self._has_tenants is None:
            self._has_tenants = self.executor.has_table("tenants")
        if not self._has_tenants:
            return None
        rows = self._fetch(compile_sql("lookup/tenant", self.executor.dialect), {"tenant_id": tenant_id})
        return rows[0] if rows else None

    def _fetch(self, compiled: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every statement's rows pass here: normalised once, by the template's column types."""
        started = time.perf_counter()
        try:
            return compiled.normalise(self.executor.fetch(compiled, values))
        finally:
            for observe in self.query_observers:
                observe(compiled.name, compiled.dialect, time.perf_counter() - started)

    def pool_stats(self) -> Mapping[str, int] | None:
        """The database connection pool's size, idle connections, maximum and waiting
        requests; None where the engine has no pool (DuckDB, BigQuery)."""
        stats = getattr(self.executor, "pool_stats", None)
        return stats() if stats is not None else None

    # -- inspection ---------------------------------------------------------------------------

    def sql(self, name: str, dialect: str | None = None, *, outlet: bool = False, granularity: str | None = None) -> str:
        """The SQL of a metric template, in a dialect (default: this database's, in its layout,
        as the library runs it: with derived tables, local dates by the range's UTC offsets)."""
        layout = self.layout if dialect is None else "seed"
        grain = granularity or templates.load(name).granularities[0]
        shape = planning.typical(layout, outlet=outlet, granularity=grain, lookaround_days=self.settings.lookaround_days)
        return compile_sql(name, parse_dialect(dialect or self.executor.dialect), shape).sql

    def changes(self) -> Changes | None:
        """PostgreSQL's live rollup: the writes not applied yet (how many queued changes, how
        old the oldest is); None on a store without it (crm_metrics/changes.py)."""
        return self.executor.changes() if isinstance(self.executor, ChangeQueue) else None

    def health(self) -> Mapping[str, str]:
        """For /health, from one round trip: `database` (connected, disconnected) and
        `bigquery` (not_configured unless the database is BigQuery; then configured, or
        unreachable); `reason` says why the database does not answer."""
        checked = {"database": "connected"}
        try:
            self.executor.ping()
        except MetricsError as error:
            checked = {"database": "disconnected", "reason": str(error)}
        if self.executor.dialect != "bigquery":
            return {**checked, "bigquery": "not_configured"}
        return {**checked, "bigquery": "configured" if checked["database"] == "connected" else "unreachable"}


def catalogue(found: custom.CustomMetrics) -> list[dict[str, Any]]:
    """The built-in answers, then the custom metrics of `found` (refused ones with their error)."""
    entries: list[dict[str, Any]] = [
        {"name": kind, "kind": "builtin", "status": "ok", "description": answer.description or templates.load(answer.template).table, "path": f"/api/v1/metrics/{kind}"}
        for kind, answer in ANSWERS.items()
    ]
    entries += [
        {"name": kind, "kind": "builtin", "status": "ok", "description": description, "path": f"/api/v1/metrics/{kind}"}
        for kind, description in COMPUTED_DESCRIPTIONS.items()
    ]
    for metric in found.all():
        entries.append({**metric.describe(), "path": f"/api/v1/metrics/custom/{metric.name}"})
    return entries


#: The answers computed from the daily values (docs/anomalies.md), as the catalogue lists them.
COMPUTED_DESCRIPTIONS = {
    "anomalies": "The days whose metric departs from the tenant's own expected value (the same weekday of the previous weeks).",
    "forecast": "The current calendar month of a metric: actual so far, the remaining days projected with a range, the previous month.",
}
assert COMPUTED_DESCRIPTIONS.keys() == set(COMPUTED)
#: Names no custom metric may take: the answers and the metric templates of sql/metrics/.
BUILTIN_NAMES = frozenset(ANSWERS) | frozenset(COMPUTED) | frozenset(templates.names())


def _answer(kind: str) -> Answer:
    try:
        return ANSWERS[kind]
    except KeyError:
        raise InvalidParameter("kind", f"must be one of {', '.join([*ANSWERS, *COMPUTED])}, got {kind!r}") from None
