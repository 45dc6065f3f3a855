"""GET /openapi.json: OpenAPI 3.1, built from the same tables the server runs on (the result
dataclasses, the parameter table, the error codes), so the description cannot drift."""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crm_metrics import (
    Anomalies,
    Change,
    ComparedSummary,
    CostFigures,
    Costs,
    MarketCosts,
    PricedCostMetrics,
    Dashboard,
    Overview,
    Forecast,
    HeatmapCell,
    Heatmap,
    OutcomeFigures,
    OutcomeMetrics,
    Outcomes,
    OutletBreakdown,
    OutletFigures,
    Outlets,
    PeriodFigures,
    ResponseMetrics,
    Responses,
    ResponseTimes,
    Summary,
    __version__,
    events,
    templates,
)

from server import lookups, params, reports
from server.errors import CODES

HEALTH_VALUES = {
    "status": ["healthy", "degraded", "unhealthy"],
    "database": ["connected", "disconnected"],
    "bigquery": ["configured", "not_configured", "unreachable"],
    "cache": ["connected", "unavailable", "in_process", "disabled"],
    "reports": ["ok", "failing"],
    "tenant_service": ["not_configured", "available", "unavailable"],
}
ERROR_DESCRIPTIONS = {
    400: "Invalid request: a parameter or header is malformed, unknown or out of range; `field` names it",
    401: "Missing, malformed or expired bearer token",
    403: "The token is not for this tenant",
    404: "REQUIRE_KNOWN_TENANT only: the tenant service does not know X-Tenant-Id (code tenant_not_found)",
    422: "BigQuery only: the query would bill more bytes than BIGQUERY_MAXIMUM_BYTES_BILLED; ask for a shorter range",
    500: "Internal error (a bug; never caused by input)",
    503: "The database cannot be reached",
    504: "The query ran longer than QUERY_TIMEOUT_SECONDS",
}


def _type_schema(hint: Any, components: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        choices = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(choices) > 1:  # the dashboard's costs: flat or priced (COST_MODEL)
            return {"oneOf": [_type_schema(choice, components) for choice in choices]}
        (inner,) = choices
        schema = _type_schema(inner, components)
        return {**schema, "type": [schema["type"], "null"]}
    if origin is list:
        return {"type": "array", "items": _type_schema(typing.get_args(hint)[0], components)}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return {"$ref": _component(hint, components)}
    simple = {int: {"type": "integer"}, float: {"type": "number"}, str: {"type": "string"}, dt.date: {"type": "string", "format": "date"}}
    return dict(simple[hint])


#: The template whose header says what each figure of a result type means (default: the
#: dashboard, which holds every series' figures side by side).
DOCUMENTED_BY = {
    Summary: "summary",
    ComparedSummary: "summary",
    PeriodFigures: "summary",
    ResponseMetrics: "responses",
    ResponseTimes: "responses",
    OutcomeMetrics: "outcomes",
    OutcomeFigures: "outcomes",
    OutletFigures: "outlets",
    HeatmapCell: "heatmap",
    PricedCostMetrics: "costs",
    CostFigures: "costs",
    MarketCosts: "cost_markets",
}
#: Answers whose top level carries no figures of a template.
UNDOCUMENTED = (Dashboard, Overview, Responses, Outcomes, OutletBreakdown, Heatmap, Change, Costs)


def _column_docs(cls: type) -> dict[str, str]:
    """What each figure of an answer means, in the words of the SQL headers."""
    return {column.name: column.doc for column in templates.load(DOCUMENTED_BY.get(cls, "dashboard")).columns}


def _component(cls: type, components: dict[str, Any]) -> str:
    if cls.__name__ not in components:
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        docs = {} if cls in UNDOCUMENTED else _column_docs(cls)
        properties = {name: _type_schema(hints[name], components) for name in names}
        for name, doc in docs.items():
            if name in properties:
                properties[name]["description"] = doc
        components[cls.__name__] = {
            "type": "object",
            "properties": properties,
            "required": names,
            "additionalProperties": False,
        }
    return f"#/components/schemas/{cls.__name__}"


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": list(CODES)},
                    "field": {"type": ["string", "null"], "description": "The query parameter or header at fault, as the caller spells it"},
                    "message": {"type": "string"},
                },
                "required": ["code", "field", "message"],
                "additionalProperties": False,
            }
        },
        "required": ["error"],
        "additionalProperties": False,
    }


def _health_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {name: {"type": "string"} for name in ("status", "service", "version", "environment", "database", "bigquery", "cache", "reports", "tenant_service")}
    for name, values in HEALTH_VALUES.items():
        properties[name]["enum"] = values
    required = list(properties)
    failure = {name: {"type": "string"} for name in ("report", "period_start", "period_end", "status")}
    failure |= {"attempts": {"type": "integer"}, "error": {"type": ["string", "null"]}}
    properties["failing_reports"] = {
        "type": "array",
        "description": "Scheduled reports whose latest delivery failed (only when reports is failing)",
        "items": {"type": "object", "properties": failure, "required": list(failure), "additionalProperties": False},
    }
    count = {"type": ["integer", "null"]}
    properties["events"] = {
        "type": "object",
        "description": "The events stream's consumer (only where this server consumes one: EVENTS_STREAM)",
        "properties": {
            "stream": {"type": "string"},
            "group": {"type": "string"},
            "state": {"type": "string", "enum": ["starting", "running", "failing", "stopped"]},
            "applied": {"type": "integer", "description": "Events applied since the server started"},
            "lag": {**count, "description": "Entries of the stream not yet delivered to the group"},
            "pending": {**count, "description": "Entries delivered and not yet acknowledged"},
            "dead_lettered": {**count, "description": "Entries in the dead-letter stream <stream>:dead"},
            "error": {"type": "string"},
        },
        "required": ["stream", "group", "state", "applied"],
    }
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _events_operation(error: str, request_id: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """POST /api/v1/events (server/events.py, docs/events.md)."""
    components["Event"] = {
        "type": "object",
        "description": "One change of one row; docs/events.md",
        "properties": {
            "type": {"type": "string", "enum": list(events.TYPES)},
            "op": {"type": "string", "enum": list(events.OPS), "default": "upsert"},
            "version": {"type": "integer", "minimum": 0, "maximum": events.MAX_VERSION, "description": "Orders the events of one row (higher wins); without it the last write wins"},
            "data": {"type": "object", "description": "The row, with the columns `crm-metrics load` takes for the table; for a delete only {\"id\": ...}"},
        },
        "required": ["type", "data"],
        "additionalProperties": False,
    }
    descriptions = {
        401: "EVENTS_TOKEN is set and the request does not carry it as a bearer token",
        404: "This server takes no events: production without EVENTS_TOKEN, a store opened read-only, or BigQuery",
        413: "The body is larger than EVENTS_MAX_BATCH events may be",
        422: "An event is invalid (`field` names it by index: events[3].data.started_at), or the batch is larger than EVENTS_MAX_BATCH; nothing was written",
        500: ERROR_DESCRIPTIONS[500],
        503: ERROR_DESCRIPTIONS[503],
    }
    return {
        "operationId": "events",
        "summary": "Apply a batch of events (a JSON array, or NDJSON) in one transaction; 202 once committed",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}},
                "application/x-ndjson": {"schema": {"type": "string", "description": "One event (a JSON object) per line"}},
            },
        },
        "responses": {
            "202": {
                "description": "Committed: every event of the batch is applied (or was older than the stored version)",
                "headers": request_id,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"accepted": {"type": "integer"}}, "required": ["accepted"], "additionalProperties": False}
                    }
                },
            },
            **{str(status): _json(error, text, request_id) for status, text in descriptions.items()},
        },
        "security": [{"eventsToken": []}, {}],
    }


def _json(ref: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}
    if headers:
        response["headers"] = headers
    return response


def _query_parameter(p: params.Param) -> dict[str, Any]:
    return {
        "name": p.name,
        "in": "query",
        "required": False,
        "description": p.description + ". An empty value is the same as leaving the parameter out.",
        # The library reads "" as "not given", on every face (CLI, library, HTTP).
        "schema": {"anyOf": [p.schema, {"type": "string", "maxLength": 0}]},
    }


@dataclasses.dataclass(frozen=True)
class ListedTenant:
    """A tenant of /api/v1/tenants: listed ones as stored (`StoredTenant`); the token's or the
    header's may have no row (no name; its timezone is then null too)."""

    id: str
    name: str | None
    timezone: str | None


@dataclasses.dataclass(frozen=True)
class TenantListing:
    """The body of /api/v1/tenants: `all` (development) or `one`."""

    listing: str
    tenants: list[ListedTenant]


def _answer(ref: str, kind: str, headers: dict[str, Any], compared: str | None = None) -> dict[str, Any]:
    """The 200 of a metrics endpoint: JSON, or CSV for `?format=csv` / `Accept: text/csv`
    (`compared`: the schema of the answer with compare=previous)."""
    response = _json(ref, f"The answer, exactly as `crm-metrics query {kind} --format json` (or `--format csv`) prints it", headers)
    if compared:
        response["content"]["application/json"]["schema"] = {"oneOf": [{"$ref": ref}, {"$ref": compared}]}
    csv_headers = {**headers, "Content-Disposition": {"description": "CSV only: attachment; filename=...", "schema": {"type": "string"}}}
    response["headers"] = csv_headers
    response["content"]["text/csv"] = {"schema": {"type": "string", "description": "RFC 4180: a header row of the JSON's field names, then the rows"}}
    return response


#: JSON Schema of a custom metric's parameter and column types.
SQL_SCHEMAS: dict[str, dict[str, Any]] = {
    "STRING": {"type": "string"},
    "INT64": {"type": "integer"},
    "FLOAT64": {"type": "number"},
    "DATE": {"type": "string", "format": "date"},
    "TIMESTAMP": {"type": "string", "format": "date-time"},
    "BOOL": {"type": "boolean"},
}


def _custom_paths(custom: Sequence[Any], base: dict[str, Any], auth: bool) -> dict[str, Any]:
    """The catalogue, the custom metrics' endpoint, and one path per loaded custom metric with
    its own parameters and columns (`base`: the summary's operation, for headers and errors)."""
    headers = base["parameters"][:2]
    errors = {status: response for status, response in base["responses"].items() if status not in ("200", "304")}
    security = {"security": base["security"]} if auth else {}
    answer_schema = {
        "type": "object",
        "required": ["metric", "tenant_id", "outlet_id", "period_start", "period_end", "timezone", "granularity", "params", "columns", "rows"],
        "properties": {
            "metric": {"type": "string"},
            "tenant_id": {"type": "string", "format": "uuid"},
            "outlet_id": {"type": ["string", "null"]},
            "period_start": {"type": "string", "format": "date"},
            "period_end": {"type": "string", "format": "date"},
            "timezone": {"type": "string"},
            "granularity": {"type": "string", "enum": ["day", "week", "month", "range"]},
            "params": {"type": "object", "description": "The declared extra parameters' values"},
            "columns": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "object"}},
        },
    }

    def operation(operation_id: str, summary: str, parameters: list[dict[str, Any]], rows: dict[str, Any] | None = None) -> dict[str, Any]:
        schema = answer_schema if rows is None else {**answer_schema, "properties": {**answer_schema["properties"], "rows": {"type": "array", "items": rows}}}
        ok = {
            "description": "The answer, exactly as `crm-metrics query NAME --format json` (or `--format csv`) prints it",
            "headers": base["responses"]["200"]["headers"],
            "content": {"application/json": {"schema": schema}, "text/csv": base["responses"]["200"]["content"]["text/csv"]},
        }
        return {"get": {"operationId": operation_id, "summary": summary, "parameters": parameters, "responses": {"200": ok, "304": base["responses"]["304"], **errors}, **security}}

    names = [metric.name for metric in custom]
    name_parameter = {"name": "name", "in": "path", "required": True, "description": "A custom metric of CRM_METRICS_PATH (GET /api/v1/metrics lists them)", "schema": {"type": "string", **({"enum": names} if names else {})}}
    generic = [name_parameter, *headers, *(_query_parameter(params.PARAMS[n]) for n in ("start_date", "end_date", "outlet_id", "tz", "granularity", "format"))]
    paths = {
        "/api/v1/metrics": {"get": {
            "operationId": "catalogue",
            "summary": "Every metric: the built-in answers and the custom metrics of CRM_METRICS_PATH (a refused file with its error)",
            "parameters": headers[:1],
            "responses": {"200": {"description": "The catalogue", "content": {"application/json": {"schema": {"type": "object", "properties": {"metrics": {"type": "array", "items": {"type": "object"}}}}}}}, **errors},
            **security,
        }},
        "/api/v1/metrics/custom/{name}": operation(
            "custom", "A custom metric (docs/custom-metrics.md); it also takes the extra parameters its file declares, each required", generic
        ),
    }
    for metric in custom:
        template = metric.template
        query = [_query_parameter(params.PARAMS[n]) for n in params.custom_accepts(metric) if n in params.PARAMS]
        query += [
            {"name": p.name, "in": "query", "required": True, "description": p.doc, "schema": SQL_SCHEMAS[p.type]}
            for p in metric.extras
        ]
        rows = {
            "type": "object",
            "required": [c.name for c in template.columns],
            "properties": {c.name: {**SQL_SCHEMAS[c.type], "type": [SQL_SCHEMAS[c.type]["type"], "null"], "description": c.doc} for c in template.columns},
        }
        paths[f"/api/v1/metrics/custom/{metric.name}"] = operation(f"custom_{metric.name}", template.table, [*headers, *query], rows)
    return paths


def build(*, auth: bool, custom: Sequence[Any] = ()) -> dict[str, Any]:
    """The document; `auth` says whether this server requires bearer tokens; `custom`: the
    custom metrics loaded (`Metrics.custom.all()`, the refused ones left out)."""
    components: dict[str, Any] = {"Error": _error_schema(), "Health": _health_schema()}
    error = "#/components/schemas/Error"
    request_id = {"X-Request-Id": {"description": "The request's id (the caller's X-Request-Id, or a new one)", "schema": {"type": "string"}}}
    tag_headers = {
        "ETag": {"description": "Tag of the body; send it back in If-None-Match to get 304", "required": True, "schema": {"type": "string"}},
        **request_id,
    }
    statuses = [400, *([401, 403] if auth else []), 404, 422, 500, 503, 504]
    paths: dict[str, Any] = {}
    for kind, model, summary in (
        ("dashboard", Dashboard, "Dense series per day, ISO week or month: conversations, messages, handoffs, costs"),
        ("summary", Summary, "The whole range in one row, computed from raw rows; with compare=previous, also the n days before and the change"),
        ("overview", Overview, "The dashboard and the summary of the same request from one statement: the dashboard's fields, then `summary` (its figures added up from the buckets' counts and sums)"),
        ("responses", Responses, "Response times per bucket and over the range: customer turns, exact median and p90, first response, human response after a handoff"),
        ("outcomes", Outcomes, "Outcomes of the conversations started per bucket and over the range: containment, agent involvement, messages and cost of the cohort"),
        ("outlets", OutletBreakdown, "The summary's figures per outlet (conversations without an outlet last); the rows add up to the tenant"),
        ("heatmap", Heatmap, "168 cells by ISO weekday and local hour: customer messages, conversations started, mean response time"),
        ("costs", Costs, "COST_MODEL=priced only (else 400): priced costs per bucket and over the range, WhatsApp by market and category, LLM by model and input/output tokens; group_by=market adds the rows per prefix"),
        ("anomalies", Anomalies, "The days of the range whose metric departs from the tenant's own expected value (the same weekday of the previous weeks): value, expected, band, direction, score"),
        ("forecast", Forecast, "The current calendar month in the tenant's timezone: actual so far, the remaining days projected with a range, the previous month's actual"),
    ):
        parameters = [
            {
                "name": params.TENANT_HEADER,
                "in": "header",
                "required": True,
                "description": "The tenant whose data is read" + (" (must equal the token's tenant claim)" if auth else ""),
                "schema": {"type": "string", "format": "uuid"},
            },
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "An ETag of an earlier answer: 304 without a body if it still matches",
                "schema": {"type": "string"},
            },
        ]
        for name in params.ACCEPTS[kind]:
            parameter = _query_parameter(params.PARAMS[name])
            if name == "metric":  # required; the values depend on the endpoint
                schema = {"type": "string", "enum": list(params.METRICS[kind])}
                parameter.update(required=True, description=params.PARAMS[name].description, schema=schema)
            parameters.append(parameter)
        operation: dict[str, Any] = {
            "operationId": kind,
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": _answer(_component(model, components), kind, tag_headers, compared=_component(ComparedSummary, components) if kind == "summary" else None),
                "304": {"description": "Not modified: If-None-Match matched the current ETag", "headers": tag_headers},
                **{str(status): _json(error, ERROR_DESCRIPTIONS[status], request_id) for status in statuses},
            },
        }
        if auth:
            operation["security"] = [{"bearer": []}]
        paths[f"/api/v1/metrics/{kind}"] = {"get": operation}
    tenant_header = paths["/api/v1/metrics/summary"]["get"]["parameters"][0]
    lookups_ = {
        "/api/v1/tenants": (
            "tenants",
            "The tenants the dashboard may show: every tenant of the store by name in development (auth off, ENVIRONMENT not production); else the token's tenant, or the X-Tenant-Id one behind a gateway",
            [{**tenant_header, "required": False}],
            _json(_component(TenantListing, components), "The tenants", request_id),
        ),
        "/api/v1/outlets": (
            "outlets",
            "The outlets of the tenant with conversations started in the range (ids)",
            [tenant_header, *(_query_parameter(params.PARAMS[name]) for name in lookups.OUTLETS_ACCEPTS)],
            _json(_component(Outlets, components), "The outlets", request_id),
        ),
        "/api/v1/reports/summary.pdf": (
            "summary_report",
            "The summary report as PDF: the tenant's name, the period, headline figures with the previous period's change, response times and outcomes, charts and the heat map, the outlet table",
            [tenant_header, *(_query_parameter(params.PARAMS[name]) for name in reports.ACCEPTS)],
            {
                "description": "A PDF document (Content-Disposition names the file)",
                "headers": tag_headers,
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            },
        ),
    }
    for path, (operation_id, summary, parameters, ok) in lookups_.items():
        operation = {
            "operationId": operation_id,
            "summary": summary,
            "parameters": parameters,
            "responses": {"200": ok, **{str(status): _json(error, ERROR_DESCRIPTIONS[status], request_id) for status in statuses}},
        }
        if path.endswith(".pdf"):
            operation["responses"]["304"] = {"description": "Not modified: If-None-Match matched the current ETag", "headers": tag_headers}
        if auth:
            operation["security"] = [{"bearer": []}]
        paths[path] = {"get": operation}
    paths.update(_custom_paths([m for m in custom if m.ok], paths["/api/v1/metrics/summary"]["get"], auth))
    paths["/api/v1/events"] = {"post": _events_operation(error, request_id, components)}
    paths["/health"] = {
        "get": {
            "operationId": "health",
            "summary": "Liveness and readiness: database, cache, BigQuery configuration",
            "responses": {
                "200": _json("#/components/schemas/Health", "Healthy, or degraded (the cache fails; answers are still served)"),
                "503": _json("#/components/schemas/Health", "Unhealthy: the database does not answer"),
            },
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "crm-metrics",
            "version": __version__,
            "description": "Metrics of WhatsApp customer conversations, per tenant. Every error has one shape: "
            '{"error": {"code": ..., "field": ..., "message": ...}}; codes: ' + ", ".join(f"{c} ({s})" for c, s in CODES.items()) + ".",
        },
        "paths": paths,
        "components": {"schemas": components},
    }
    schemes = {"eventsToken": {"type": "http", "scheme": "bearer", "description": "EVENTS_TOKEN, for POST /api/v1/events (the CRM's services)"}}
    if auth:
        schemes["bearer"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    document["components"]["securitySchemes"] = schemes
    return document


async def openapi(request: Request) -> Response:
    state = request.app.state
    loaded = await run_in_threadpool(state.metrics.custom.all)
    if not loaded:
        return JSONResponse(state.openapi)
    # Custom metrics come and go with their files: their paths are the catalogue's of now.
    return JSONResponse(build(auth=state.auth is not None, custom=loaded))
