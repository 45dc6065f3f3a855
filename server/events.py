"""POST /api/v1/events: the CRM's services push events (docs/events.md).

The body is a JSON array of events, or NDJSON (`Content-Type: application/x-ndjson`), at most
EVENTS_MAX_BATCH of them. The whole batch is checked first (422 naming the event's index and
field: nothing is written), then applied in one transaction; `202 {"accepted": N}` comes only
after the commit, and the tenants it touched have their cached answers marked stale.

Producers are services, not tenants: the credential is the EVENTS_TOKEN bearer token, not a
tenant's JWT. Without EVENTS_TOKEN the endpoint answers 404 in production and is open elsewhere.
"""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crm_metrics import ConfigError, LoadError
from crm_metrics import events

from server.errors import ApiError

#: The largest body taken, per event a batch may hold (a message's content and metadata).
BYTES_PER_EVENT = 64 * 1024


async def post(request: Request) -> Response:
    state = request.app.state
    _authorize(request)
    if state.metrics.store.read_only:
        raise ApiError("not_found", "this server opened the store read-only: set EVENTS_TOKEN (or EVENTS_STREAM) and restart it to take events")
    try:
        state.metrics.store.check_events()
    except ConfigError as error:
        raise ApiError("not_found", f"this server takes no events: {error}") from None
    ndjson = request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/x-ndjson"
    limit = state.config.events_max_batch * BYTES_PER_EVENT
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError("payload_too_large", f"the body is over {limit:,} bytes; send fewer events per request", "body")
    # Checking thousands of rows takes a while: off the event loop, as the write is.
    batch = await run_in_threadpool(_checked, bytes(body), ndjson, state.config.events_max_batch)
    try:
        applied = await run_in_threadpool(state.metrics.store.apply, batch)
    except LoadError as error:
        # A value the checks take but the database cannot store (PostgreSQL and a NUL character).
        raise ApiError("invalid_event", str(error), "events") from None
    await state.results.forget(applied.tenants)
    return JSONResponse({"accepted": applied.accepted}, status_code=202)


def _checked(body: bytes, ndjson: bool, max_events: int) -> list[events.Event]:
    return events.check(events.decode(body, ndjson=ndjson), max_events=max_events)


def _authorize(request: Request) -> None:
    config = request.app.state.config
    if not config.events_token:
        if config.environment == "production":
            raise ApiError("not_found", "no route '/api/v1/events' (set EVENTS_TOKEN to take events in production)")
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("unauthorized", "the Authorization header must be: Bearer <EVENTS_TOKEN>", "Authorization",
                       headers={"WWW-Authenticate": 'Bearer realm="crm-metrics-events"'})
    # Constant time: the comparison must not tell how much of a guess was right.
    if not hmac.compare_digest(token.strip().encode(), config.events_token.encode()):
        raise ApiError("unauthorized", "the token is not the events token", "Authorization",
                       headers={"WWW-Authenticate": 'Bearer realm="crm-metrics-events", error="invalid_token"'})
