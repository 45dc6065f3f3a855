"""What each metrics endpoint accepts, parsed: the one table the handlers and /openapi.json share.

Values are validated here, once, by `crm_metrics.request`'s rules (errors naming the field), so
an invalid request never reaches the cache or the database; the library takes the resulting
`Query` as it is. Checks that need the tenant (default dates, range order and length) stay in
`Metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers, QueryParams

from crm_metrics import request as rules
from crm_metrics.errors import cut, shown
from crm_metrics.request import DEFAULT_SPAN_DAYS, Query
from crm_metrics.templates import GRANULARITIES

from server.errors import ApiError
from server.formats import FORMATS

TENANT_HEADER = "X-Tenant-Id"
#: Unknown query parameters an error lists by name at most.
UNKNOWN_LISTED = 5


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str


PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("start_date", {"type": "string", "format": "date"}, f"First local date, inclusive, YYYY-MM-DD (default: end_date - {DEFAULT_SPAN_DAYS} days: {DEFAULT_SPAN_DAYS + 1} days, both ends included)"),
        Param("end_date", {"type": "string", "format": "date"}, "Last local date, inclusive, YYYY-MM-DD (default: today in the timezone)"),
        Param("outlet_id", {"type": "string", "format": "uuid"}, "Only this outlet's conversations and their messages"),
        Param("tz", {"type": "string", "examples": ["Asia/Jakarta"]}, "IANA timezone in which days are cut (default: the tenant's timezone, else UTC)"),
        Param("granularity", {"type": "string", "enum": list(GRANULARITIES), "default": "day"}, "Bucket size: day, week (ISO, from Monday) or month"),
        Param("compare", {"type": "string", "enum": list(rules.COMPARISONS)}, "previous: add the summary of the n days before the range (n = its length) and the relative change of each figure"),
        Param("group_by", {"type": "string", "enum": list(rules.GROUPINGS)}, "market: add `markets`, the WhatsApp figures per prefix of WHATSAPP_PRICES over the whole range (costs only)"),
        Param("metric", {"type": "string", "enum": list(rules.ANOMALY_METRICS)}, "Required: the metric whose anomalies are looked for, or (the forecast: total_cost, total_conversations or total_messages) the one the month is forecast for (docs/anomalies.md)"),
        Param("direction", {"type": "string", "enum": list(rules.DIRECTIONS), "default": "both"}, "Which anomalies: both (default), up (above the band) or down (below it)"),
        Param("format", {"type": "string", "enum": list(FORMATS), "default": "json"}, "json (default) or csv (RFC 4180: one header row of the JSON's field names); without it, the Accept header chooses (text/csv)"),
    )
}

#: The query parameters of each endpoint, by kind; anything else is rejected.
ACCEPTS: dict[str, tuple[str, ...]] = {
    "dashboard": ("start_date", "end_date", "outlet_id", "tz", "granularity", "format"),
    "summary": ("start_date", "end_date", "outlet_id", "tz", "compare", "format"),
    "overview": ("start_date", "end_date", "outlet_id", "tz", "granularity", "format"),
    "responses": ("start_date", "end_date", "outlet_id", "tz", "granularity", "format"),
    "outcomes": ("start_date", "end_date", "outlet_id", "tz", "granularity", "format"),
    "outlets": ("start_date", "end_date", "tz", "format"),
    "heatmap": ("start_date", "end_date", "outlet_id", "tz", "format"),
    "costs": ("start_date", "end_date", "outlet_id", "tz", "granularity", "group_by", "format"),
    "anomalies": ("metric", "start_date", "end_date", "outlet_id", "tz", "direction", "format"),
    "forecast": ("metric", "outlet_id", "tz", "format"),
}
#: The values `metric` takes, per endpoint that requires it.
METRICS = {"anomalies": rules.ANOMALY_METRICS, "forecast": rules.FORECAST_METRICS}


#: The kind of every custom metric's request (GET /api/v1/metrics/custom/{name}).
CUSTOM = "custom"


@dataclass(frozen=True)
class Ask:
    """One metrics request: the answer asked for and the library's validated query."""

    kind: str
    query: Query
    #: The format `?format=` asked for (json, csv), or None: the Accept header chooses.
    format: str | None = None
    #: A custom metric's name, the query parameters it accepts and its extra parameters' values
    #: as sent (the library types and checks them).
    name: str | None = None
    accepts: tuple[str, ...] = ()
    extras: tuple[tuple[str, str], ...] = ()
    #: The hash of the custom metric's file text (a cache key part: an edit answers afresh).
    digest: str = ""

    @property
    def granularity(self) -> str | None:
        """The granularity the request chose; None where the endpoint has none."""
        return self.query.granularity if "granularity" in (self.accepts or ACCEPTS[self.kind]) else None


def tenant(headers: Headers) -> str:
    values = headers.getlist(TENANT_HEADER)
    if not values:
        raise ApiError("invalid_parameter", "the header is required (the tenant's UUID)", TENANT_HEADER)
    if len(values) > 1:
        raise ApiError("invalid_parameter", f"give the header once, not {len(values)} times", TENANT_HEADER)
    return rules.uuid(TENANT_HEADER, as_sent(values[0]))


def as_sent(value: str) -> str:
    """A header value as the client wrote it. Starlette decodes header bytes as latin-1 (HTTP
    leaves non-ASCII octets opaque); clients send UTF-8, which latin-1 turns into mojibake
    ('cafÃ©'). Bytes that are not UTF-8 stay as latin-1 read them."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def ask(kind: str, tenant_id: str, params: QueryParams) -> Ask:
    values = given(ACCEPTS[kind], params)
    # Validated here, once: the handler hands the library this Query as it is.
    asked = query(tenant_id, values, METRICS.get(kind, ()))
    if kind in METRICS and asked.metric is None:
        raise ApiError("invalid_parameter", f"is required: one of {', '.join(METRICS[kind])}", "metric")
    return Ask(kind, asked, _format(values.get("format")))


def ask_custom(metric: Any, tenant_id: str, params: QueryParams) -> Ask:
    """A custom metric's request (`metric`: `Metrics.custom.get(name)`): the built-in answers'
    parameters that apply to it, then the extra parameters its header declares."""
    accepted = custom_accepts(metric)
    values = given(accepted, params)
    extras = tuple((p.name, value) for p in metric.extras if (value := values.get(p.name)) is not None)
    return Ask(CUSTOM, query(tenant_id, values), _format(values.get("format")), metric.name, accepted, extras, metric.digest)


def custom_accepts(metric: Any) -> tuple[str, ...]:
    """The query parameters of a custom metric's endpoint."""
    outlet = ("outlet_id",) if metric.outlet else ()
    grain = ("granularity",) if metric.series else ()
    return ("start_date", "end_date", *outlet, "tz", *grain, "format", *(p.name for p in metric.extras))


def query(tenant_id: str, values: dict[str, str | None], metrics: tuple[str, ...] = ()) -> Query:
    """The library's query from the parameters `given` found (those left out are defaults);
    `metrics`: the values `metric` may take."""
    return Query(
        tenant_id=tenant_id,
        start_date=rules.date("start_date", values.get("start_date")),
        end_date=rules.date("end_date", values.get("end_date")),
        outlet_id=rules.optional_uuid("outlet_id", values.get("outlet_id")),
        tz=rules.timezone("tz", values.get("tz")),
        granularity=rules.grain("granularity", values.get("granularity")),
        compare=rules.comparison("compare", values.get("compare")),
        group_by=rules.grouping("group_by", values.get("group_by")),
        metric=rules.metric_choice("metric", values.get("metric"), metrics),
        direction=rules.direction_choice("direction", values.get("direction")),
    )


def given(accepted: tuple[str, ...], params: QueryParams) -> dict[str, str | None]:
    """The value of each accepted parameter (None when left out); an unknown parameter or one
    given twice is a 400."""
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        # Names are input too: each is cut, and a few are listed (the first is `field`).
        names = ", ".join(shown(name) for name in unknown[:UNKNOWN_LISTED])
        more = f" and {len(unknown) - UNKNOWN_LISTED} more" if len(unknown) > UNKNOWN_LISTED else ""
        raise ApiError(
            "unknown_parameter",
            f"unknown query parameter {names}{more}; this endpoint accepts {', '.join(accepted)}",
            cut(unknown[0]),
        )
    values: dict[str, str | None] = {}
    for name in accepted:
        found = params.getlist(name)
        if len(found) > 1:
            raise ApiError("invalid_parameter", f"give it once, not {len(found)} times", name)
        values[name] = found[0] if found else None
    return values


def _format(value: str | None) -> str | None:
    if not value:
        return None
    if value not in FORMATS:
        raise ApiError("invalid_parameter", f"must be one of {', '.join(FORMATS)}, got {shown(value)}", "format")
    return value
