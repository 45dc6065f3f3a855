"""One structured access-log line per request, and the request id.

The caller's `X-Request-Id` is kept when it is a plain token, else a new one is made; either
way the response echoes it. Handlers add the tenant and the cache outcome to `request.state`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("server.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500  # what the client gets if the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            fields = {
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                # The matched route's path (these routes have no parameters); null if none matched.
                "route": scope["path"] if "endpoint" in scope else None,
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                "tenant_id": state.get("tenant_id"),
                "cache": state.get("cache"),
            }
            log.info("%s %s %s", scope["method"], scope["path"], status, extra={"fields": fields})
