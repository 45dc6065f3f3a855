"""A metric template as SQL to read or to paste into a console (`crm-metrics render`).

Takes the request's own parameters (tenant_id, start_date, end_date, outlet_id, tz,
granularity), validated as a query would validate them. Three styles:
- `params`: the SQL the library runs, with its bound parameters;
- `inline`: each parameter a typed literal built by sqlglot, one statement for a console;
- `declare` (BigQuery): a script, one `DECLARE` per parameter, then the query.
For the BigQuery console the seed's tables are qualified with `PROJECT.DATASET` (the console
has no default dataset), given or taken from the BigQuery settings.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from crm_metrics import custom, planning, prices, request, templates
from crm_metrics.compiler import compile_sql, declare, inline, parse_dialect
from crm_metrics.config import Settings
from crm_metrics.templates import Shape
from crm_metrics.dialects import Dialect
from crm_metrics.errors import InvalidParameter, TemplateError
from crm_metrics.executors import bigquery_target

PARAMS = ("tenant_id", "start_date", "end_date", "outlet_id", "tz", "granularity")
STYLES = ("params", "inline", "declare")
_DATASET = re.compile(r"^(?:[a-z][a-z0-9.:-]*[a-z0-9]\.)?[A-Za-z0-9_]+$")


def console_sql(
    name: str,
    dialect: str,
    params: Mapping[str, str] | None = None,
    *,
    style: str = "params",
    dataset: str | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> str:
    """The metric template `name` compiled for `dialect` in a style, its header comment first."""
    params = dict(params or {})
    for key in params:
        if key not in PARAMS:
            raise InvalidParameter(key, f"unknown parameter; known: {', '.join(PARAMS)}")
    if style not in STYLES:
        raise InvalidParameter("style", f"must be one of {', '.join(STYLES)}, got {style!r}")
    parsed = parse_dialect(dialect)
    if style == "declare" and parsed is not Dialect.BIGQUERY:
        raise InvalidParameter("dialect", "DECLARE scripts are BigQuery scripting: use --dialect bigquery")
    if dataset and (parsed is not Dialect.BIGQUERY or style == "params"):
        raise InvalidParameter("dataset", "qualifies tables for the BigQuery console: use it with --dialect bigquery and --inline or --declare")
    if name not in templates.names():
        # Only the public answers render: derived and lookup templates are the library's own.
        raise TemplateError(f"Unknown metric {name!r}. Known: {', '.join(templates.names())}")
    template = templates.load(name)
    # Every value given is checked, inlined or not: a bad one never yields SQL.
    if "granularity" in params and template.granularities == ("range",):
        raise InvalidParameter("granularity", f"{name} is one row for the whole range: it takes no granularity")
    grain = request.grain("granularity", params.get("granularity")) if template.granularities != ("range",) else "range"
    if params.get("outlet_id") and "outlet_id" not in {p.name for p in template.params}:
        raise InvalidParameter("outlet_id", f"{name} covers every outlet of the tenant: it takes no outlet_id")
    outlet = request.optional_uuid("outlet_id", params.get("outlet_id"))
    tenant = request.optional_uuid("tenant_id", params.get("tenant_id"))
    # The settings a query would use (prices, longest range): the environment's by default.
    settings = settings or Settings.from_env()
    period = request.period(
        request.date("start_date", params.get("start_date")),
        request.date("end_date", params.get("end_date")),
        request.timezone("tz", params.get("tz")) or "UTC",
        now=now or dt.datetime.now(dt.UTC),
        max_days=settings.max_range_days,
    )
    priced = settings.cost_model == "priced"
    shape = Shape(outlet=outlet is not None, granularity=grain, bounded=bool(settings.lookaround_days), priced=priced)
    query = compile_sql(name, parsed, shape)
    header = template.header()
    if style == "params":
        return f"{header}\n{query.sql}\n"
    if tenant is None:
        raise InvalidParameter("tenant_id", "is required to inline the parameters")

    used = {p.name for p in query.params}
    # The price tables of WHATSAPP_PRICES and LLM_PRICES where the statement reads them (§8).
    tables = prices.load(settings.whatsapp_prices, settings.llm_prices) if "whatsapp_lows" in used else None
    values = planning.values(tenant, outlet, period, settings, price_tables=tables)
    lines = [f"-- {p}: {values[p]}" for p in ("tenant_id", "outlet_id") if p in used]
    if "range_start" in used:
        lines.append(
            f"-- range: {period.start_date} .. {period.end_date} in {period.tz}, {'as one bucket' if grain == 'range' else 'by ' + grain}"
            f" = [{period.range_start:%Y-%m-%dT%H:%M:%SZ}, {period.range_end:%Y-%m-%dT%H:%M:%SZ})"
        )
    if "lookaround_start" in used:
        lines.append(
            f"-- look-around: LOOKAROUND_DAYS={settings.lookaround_days}, rows from"
            f" {values['lookaround_start']:%Y-%m-%dT%H:%M:%SZ} to {values['lookaround_end']:%Y-%m-%dT%H:%M:%SZ} only"
        )
    if tables is not None:
        lines.append(f"-- price tables: WHATSAPP_PRICES={settings.whatsapp_prices or '(none)'} ({len(tables.whatsapp)} rows), LLM_PRICES={settings.llm_prices or '(none)'} ({len(tables.llm)} rows)")
    if "llm_price_per_million_tokens" in used:
        lines.append(
            f"-- prices in USD: LLM {settings.llm_price_per_million_tokens} per million tokens,"
            f" WhatsApp {settings.whatsapp_price_per_message} per message"
        )
    target = None
    if parsed is Dialect.BIGQUERY:
        target = console_dataset(dataset, settings)
        lines.append(f"-- tables: {target}" if target else "-- tables: unqualified; pass --dataset PROJECT.DATASET for the console")
    body = declare(query, values, dataset=target) if style == "declare" else inline(query, values, dataset=target)
    return f"{header}\n" + "\n".join(lines) + f"\n{body};\n"


def console_dataset(dataset: str | None, settings: Settings) -> str | None:
    """`PROJECT.DATASET` (or `DATASET`) to qualify tables with: the one given, else the one the
    BigQuery settings name, else none."""
    if dataset:
        if not _DATASET.match(dataset):
            raise InvalidParameter("dataset", f"must look like PROJECT.DATASET or DATASET, got {dataset!r}")
        return dataset
    if urlsplit(settings.database_url).scheme.lower() != "bigquery":
        return None
    project, name = bigquery_target(settings.database_url, settings)
    return f"{project}.{name}"


def custom_console_sql(
    metric: custom.CustomMetric,
    dialect: str,
    params: Mapping[str, str] | None = None,
    *,
    style: str = "params",
    dataset: str | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> str:
    """A custom metric (crm_metrics/custom.py) compiled for `dialect` in a style, its header
    first: the request's parameters as for a built-in metric, and the metric's own."""
    params = dict(params or {})
    extras = {k: v for k, v in params.items() if k not in PARAMS}
    if style not in STYLES:
        raise InvalidParameter("style", f"must be one of {', '.join(STYLES)}, got {style!r}")
    parsed = parse_dialect(dialect)
    if style == "declare" and parsed is not Dialect.BIGQUERY:
        raise InvalidParameter("dialect", "DECLARE scripts are BigQuery scripting: use --dialect bigquery")
    if dataset and (parsed is not Dialect.BIGQUERY or style == "params"):
        raise InvalidParameter("dataset", "qualifies tables for the BigQuery console: use it with --dialect bigquery and --inline or --declare")
    assert metric.template is not None
    if "granularity" in params and not metric.series:
        raise InvalidParameter("granularity", f"{metric.name} is one set of rows for the whole range: it takes no granularity")
    grain = request.grain("granularity", params.get("granularity")) if metric.series else "range"
    if params.get("outlet_id") and not metric.outlet:
        raise InvalidParameter("outlet_id", f"{metric.name} does not declare outlet_id: it takes no outlet filter")
    outlet = request.optional_uuid("outlet_id", params.get("outlet_id"))
    tenant = request.optional_uuid("tenant_id", params.get("tenant_id"))
    settings = settings or Settings.from_env()
    period = request.period(
        request.date("start_date", params.get("start_date")),
        request.date("end_date", params.get("end_date")),
        request.timezone("tz", params.get("tz")) or "UTC",
        now=now or dt.datetime.now(dt.UTC),
        max_days=settings.max_range_days,
    )
    offsets = planning.utc_offsets(period)
    query = custom.compiled(metric, parsed, Shape("seed", outlet is not None, grain, offsets is not None))
    header = metric.template.header()
    if style == "params":
        return f"{header}\n{query.sql}\n"
    if tenant is None:
        raise InvalidParameter("tenant_id", "is required to inline the parameters")
    values = {**planning.values(tenant, outlet, period, settings, offsets), **custom.extra_values(metric, extras)}
    lines = [f"-- tenant_id: {tenant}", f"-- range: {period.start_date} .. {period.end_date} in {period.tz}"]
    target = None
    if parsed is Dialect.BIGQUERY:
        target = console_dataset(dataset, settings)
        lines.append(f"-- tables: {target}" if target else "-- tables: unqualified; pass --dataset PROJECT.DATASET for the console")
    body = declare(query, values, dataset=target) if style == "declare" else inline(query, values, dataset=target)
    return f"{header}\n" + "\n".join(lines) + f"\n{body};\n"
