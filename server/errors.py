"""The one JSON error shape of every route, and the mapping of errors onto it:

    {"error": {"code": "invalid_parameter", "field": "start_date", "message": "..."}}

`code` is one of `CODES`; `field` names the query parameter or header at fault, as the caller
spells it, or is null. No traceback ever reaches a body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crm_metrics import BackendUnavailable, CostLimitExceeded, InvalidEvent, InvalidParameter, MetricsError, QueryTimeout, TenantNotFound, UnknownMetric
from crm_metrics.errors import shown

log = logging.getLogger("server.errors")

#: Every machine code, with its status.
CODES: dict[str, int] = {
    "invalid_parameter": 400,
    "unknown_parameter": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "tenant_not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "query_too_costly": 422,
    "invalid_event": 422,
    "internal_error": 500,
    "backend_unavailable": 503,
    "query_timeout": 504,
}


class ApiError(Exception):
    """An error answer: raise it from a handler, the app renders it."""

    def __init__(self, code: str, message: str, field: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        self.status = CODES[code]
        self.code = code
        # The message names the field the way the library's errors do: "field: what is wrong".
        self.message = f"{field}: {message}" if field else message
        self.field = field
        self.headers = dict(headers or {})
        super().__init__(message)


def error_response(error: ApiError) -> JSONResponse:
    body = {"error": {"code": error.code, "field": error.field, "message": error.message}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def invalid_parameter(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidParameter)
    return error_response(ApiError("invalid_parameter", exc.message, exc.field))


async def invalid_event(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidEvent)
    return error_response(ApiError("invalid_event", exc.message, exc.field))


async def metrics_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, BackendUnavailable):
        log.error("backend unavailable: %s", exc)
        return error_response(ApiError("backend_unavailable", "the database cannot be reached; try again later"))
    if isinstance(exc, QueryTimeout):
        log.warning("query timeout: %s", exc)
        return error_response(ApiError("query_timeout", "the query ran longer than the server's limit; try a shorter range"))
    if isinstance(exc, CostLimitExceeded):
        log.warning("query too costly: %s", exc)
        return error_response(ApiError("query_too_costly", "the query would scan more than the server's BigQuery limit; try a shorter range"))
    if isinstance(exc, UnknownMetric):
        return error_response(ApiError("not_found", exc.message))
    if isinstance(exc, TenantNotFound):
        return error_response(ApiError("tenant_not_found", f"tenant {exc.tenant_id} is not known to the tenant service", "X-Tenant-Id"))
    # Any other library error (a template or configuration fault) is ours, not the caller's.
    return await internal_error(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Routing raises these two; nothing else in the app raises HTTPException.
    if exc.status_code == 404:
        return error_response(ApiError("not_found", _no_route(request)))
    if exc.status_code == 405:
        return error_response(ApiError("method_not_allowed", f"{request.method} is not allowed on {request.url.path}", headers=exc.headers))
    return await internal_error(request, exc)


def _no_route(request: Request) -> str:
    """What a 404 says: the path (cut when long), and the route it nearly is. A path with a
    trailing slash is not redirected (Starlette's 307 has an empty body, and clients drop the
    headers they sent on some redirects): the message names the route without it."""
    path = request.url.path
    message = f"no route {shown(path)}"
    bare = path.rstrip("/")
    if bare != path and bare in {getattr(route, "path", None) for route in request.app.routes}:
        message += f"; did you mean {bare} (without the trailing slash)?"
    return message


async def internal_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    # Starlette answers unhandled errors outside the other middleware, so this response does
    # not pass the access log on its way out: it adds the request id itself.
    request_id = request.scope.get("state", {}).get("request_id")
    return error_response(ApiError("internal_error", "internal server error", headers={"X-Request-Id": request_id} if request_id else None))


EXCEPTION_HANDLERS = {
    ApiError: api_error,
    InvalidParameter: invalid_parameter,
    InvalidEvent: invalid_event,
    MetricsError: metrics_error,
    HTTPException: http_error,
    Exception: internal_error,
}
