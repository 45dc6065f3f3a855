"""Render a template as SQL to read or to paste into a console (`crm-metrics render`).

Takes the request's own parameters (tenant_id, start_date, end_date, outlet_id, tz,
granularity), validated as a query would validate them. Without `inline` the SQL keeps its
bound parameters; with it, each parameter becomes a typed literal built by sqlglot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from crm_metrics import request, templates
from crm_metrics.compiler import compile_sql, inline, parse_dialect
from crm_metrics.config import Settings
from crm_metrics.errors import InvalidParameter

PARAMS = ("tenant_id", "start_date", "end_date", "outlet_id", "tz", "granularity")


def render_sql(
    name: str,
    dialect: str,
    params: Mapping[str, str] | None = None,
    *,
    inline_values: bool = False,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> str:
    """The template `name` compiled for `dialect`, its header comment first."""
    params = dict(params or {})
    for key in params:
        if key not in PARAMS:
            raise InvalidParameter(key, f"unknown parameter; known: {', '.join(PARAMS)}")
    template = templates.load(name)
    # Every value given is checked, inlined or not: a bad one never yields SQL.
    grain = request.granularity("granularity", params.get("granularity"))
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
    query = compile_sql(name, parse_dialect(dialect), outlet=outlet is not None, granularity=grain)
    header = template.header()
    if not inline_values:
        return f"{header}\n{query.sql}\n"
    if tenant is None:
        raise InvalidParameter("tenant_id", "is required to inline the parameters")

    values = request.values(tenant, outlet, period, settings)
    used = {p.name for p in query.params}
    lines = [f"-- {p}: {values[p]}" for p in ("tenant_id", "outlet_id") if p in used]
    if "range_start" in used:
        lines.append(
            f"-- range: {period.start_date} .. {period.end_date} in {period.tz}, by {grain}"
            f" = [{period.range_start:%Y-%m-%dT%H:%M:%SZ}, {period.range_end:%Y-%m-%dT%H:%M:%SZ})"
        )
    if "llm_price_per_million_tokens" in used:
        lines.append(
            f"-- prices in USD: LLM {settings.llm_price_per_million_tokens} per million tokens,"
            f" WhatsApp {settings.whatsapp_price_per_message} per message"
        )
    return f"{header}\n" + "\n".join(lines) + f"\n{inline(query, values)};\n"
