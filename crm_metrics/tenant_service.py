"""The tenant service's answer for one tenant: `GET {TENANT_SERVICE_URL}/api/v1/tenants/{id}`.

It answers `{"id", "name", "timezone"}`, or the same inside a `data` object; 404 means the
tenant does not exist. Anything else (a timeout, a refused connection, a 5xx, a body that is not
such an object) raises `Unavailable`: the caller then answers from the `tenants` table.
The standard library's client: one short request per tenant per TENANT_CACHE_SECONDS.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from typing import Any

from crm_metrics.errors import MetricsError

log = logging.getLogger("crm_metrics.tenant_service")

PATH = "/api/v1/tenants/{id}"


class Unavailable(MetricsError):
    """The tenant service did not give a usable answer in time."""


class TenantService:
    """Safe to share between threads."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._lock = threading.Lock()
        #: Monotonic times of the latest good and failed exchange (None: none yet).
        self._answered_at: float | None = None
        self._failed_at: float | None = None
        #: Lookups since start by outcome (found, unknown, unavailable), for /metrics.
        self.counts: Counter[str] = Counter()

    def fetch(self, tenant_id: str) -> tuple[str | None, str | None] | None:
        """The tenant's (name, timezone) as the service has them, or None when it answers 404."""
        url = self.url + PATH.format(id=urllib.parse.quote(tenant_id, safe=""))
        try:
            status, body = self._get(url)
            if status == 404:
                found = None
            elif status == 200:
                found = _tenant(body)
            else:
                raise Unavailable(f"{url} answered {status}")
        except Unavailable as error:
            self._mark("unavailable", reason=str(error))
            raise
        self._mark("found" if found is not None else "unknown")
        return found

    def status(self) -> str:
        """For /health: `available`, or `unavailable` when the latest lookup failed or the
        service does not answer (any answer below 500 to `GET {url}/health` counts)."""
        with self._lock:
            failed = self._failed_at is not None and (self._answered_at is None or self._failed_at > self._answered_at)
        if failed:
            return "unavailable"
        try:
            status, _ = self._get(self.url + "/health")
        except Unavailable:
            return "unavailable"
        return "available" if status < 500 else "unavailable"

    def _get(self, url: str) -> tuple[int, bytes]:
        asked = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(asked, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            error.close()
            return error.code, b""
        except (OSError, ValueError) as error:  # URLError, timeouts, resets; a malformed URL
            raise Unavailable(f"{url}: {getattr(error, 'reason', error)}") from None

    def _mark(self, outcome: str, reason: str = "") -> None:
        ok = outcome != "unavailable"
        now = time.monotonic()
        with self._lock:
            self.counts[outcome] += 1
            was_failing = self._failed_at is not None and (self._answered_at is None or self._failed_at > self._answered_at)
            if ok:
                self._answered_at = now
            else:
                self._failed_at = now
        if not ok and not was_failing:
            log.warning("tenant service unavailable, answering from the tenants table: %s", reason)
        elif ok and was_failing:
            log.warning("tenant service answers again")


def _tenant(body: bytes) -> tuple[str | None, str | None]:
    try:
        document: Any = json.loads(body)
    except ValueError:
        raise Unavailable("the tenant service answered with a body that is not JSON") from None
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        document = document["data"]
    if not isinstance(document, dict):
        raise Unavailable("the tenant service answered with JSON that is not an object")
    name, zone = document.get("name"), document.get("timezone")
    return (name if isinstance(name, str) and name else None, zone if isinstance(zone, str) and zone else None)
