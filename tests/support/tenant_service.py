"""A tenant service on loopback for tests: a real HTTP server in a thread whose behaviour the
test switches (answer, slow, error, gone) and which counts the lookups of each tenant."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/api/v1/tenants/"


class FakeTenantService:
    def __init__(self, tenants: dict[str, dict[str, Any]], *, wrapped: bool = False) -> None:
        #: tenant id -> the object answered (inside {"data": ...} when `wrapped`).
        self.tenants = tenants
        self.wrapped = wrapped
        #: "answer", "slow" (sleeps `delay` seconds first), "error" (500) or "garbage" (200, not JSON).
        self.mode = "answer"
        self.delay = 0.0
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """The service disappears: its port refuses connections from now on."""
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path == "/health":
                    return self._send(200, {"status": "healthy"})
                if not self.path.startswith(PREFIX):
                    return self._send(404, {"error": "no route"})
                tenant_id = self.path[len(PREFIX):]
                with service._lock:
                    service.calls[tenant_id] += 1
                if service.mode == "slow":
                    time.sleep(service.delay)
                if service.mode == "error":
                    return self._send(500, {"error": "boom"})
                if service.mode == "garbage":
                    return self._raw(200, b"<html>maintenance</html>")
                tenant = service.tenants.get(tenant_id)
                if tenant is None:
                    return self._send(404, {"error": "tenant not found"})
                return self._send(200, {"data": tenant} if service.wrapped else tenant)

            def _send(self, status: int, body: Any) -> None:
                self._raw(status, json.dumps(body).encode())

            def _raw(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (its timeout): nothing to answer
                    pass

        return Handler
