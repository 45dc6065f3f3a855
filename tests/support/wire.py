"""Loopback stand-ins on the wire, to see what the BigQuery client sends and to cut it off.

`Proxy` forwards TCP to a server (the emulator), records the HTTP requests that pass, and can
be closed to make the server unreachable. `FakeBigQuery` answers from a table of canned REST
responses, for what the emulator cannot show: a project that does not exist, a job stopped by
the cost limit.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


_REQUEST_LINE = re.compile(rb"^(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP/1\.1\r\n")


class Proxy:
    """127.0.0.1:<port> -> 127.0.0.1:<target>; every byte the client sends is kept."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._sent: dict[int, bytearray] = {}
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    server.close()
                    return
                stream = self._sent.setdefault(len(self._sent), bytearray())
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, stream), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bytearray | None) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if record is not None:
                    with self._lock:
                        record += data
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def requests(self) -> list[Request]:
        """The HTTP requests sent so far, in order per connection."""
        with self._lock:
            streams = [bytes(stream) for stream in self._sent.values()]
        found = []
        for stream in streams:
            while match := _REQUEST_LINE.match(stream):
                head_end = stream.index(b"\r\n\r\n") + 4
                length = re.search(rb"(?im)^content-length:\s*(\d+)\r$", stream[:head_end])
                body_end = head_end + (int(length.group(1)) if length else 0)
                found.append(Request(match.group(1).decode(), match.group(2).decode(), stream[head_end:body_end]))
                stream = stream[body_end:]
        return found

    def jobs(self) -> list[dict[str, Any]]:
        """The job resources posted to jobs.insert."""
        return [r.json() for r in self.requests() if r.method == "POST" and re.search(r"/projects/[^/]+/jobs\?", r.path)]

    def close(self) -> None:
        """Refuse new connections and cut the open ones: the server is unreachable now."""
        with self._lock:
            self._closed = True
            sockets, self._sockets = self._sockets, []
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class FakeBigQuery:
    """Answers BigQuery REST calls from a table of (method, path pattern) -> (status, JSON body),
    on a loopback port; anything else gets BigQuery's 404."""

    def __init__(self, routes: dict[tuple[str, str], tuple[int, dict[str, Any]]]) -> None:
        #: (method, path) of every request answered, in order.
        self.requests: list[tuple[str, str]] = []
        requests = self.requests

        def answer(method: str, path: str) -> tuple[int, bytes]:
            requests.append((method, path))
            for (want, pattern), (status, body) in routes.items():
                if want == method and re.search(pattern, path):
                    return status, json.dumps(body).encode()
            return 404, json.dumps(error(404, "notFound", f"Not found: {path}")).encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = answer(self.command, self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def error(code: int, reason: str, message: str) -> dict[str, Any]:
    """BigQuery's error body."""
    return {"error": {"code": code, "message": message, "errors": [{"reason": reason, "message": message}]}}
