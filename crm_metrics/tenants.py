"""Tenants' names and timezones: from the tenant service when TENANT_SERVICE_URL is set, else
(or while it does not answer) from the optional `tenants` table (sql/lookup/tenant.sql);
remembered for TENANT_CACHE_SECONDS and forgotten by every write."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from crm_metrics import request
from crm_metrics.errors import InvalidParameter

#: (name, timezone) of a tenant; either may be None.
Tenant = tuple[str | None, str | None]
#: At most this many tenants are remembered (a crawl of random ids must not grow memory).
MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class Found:
    """What a lookup found: name and timezone (either may be None), and `unknown` when the
    tenant service said the tenant does not exist (404)."""

    name: str | None = None
    timezone: str | None = None
    unknown: bool = False


@dataclass
class _Pending:
    """A lookup under way, which concurrent requests for the same tenant wait for."""

    done: threading.Event
    found: Found | None = None


class Tenants:
    """Safe to share between threads. Concurrent requests for a tenant that is not remembered
    share one lookup (a tenant service is asked once per tenant per TENANT_CACHE_SECONDS)."""

    def __init__(self, lookup: Callable[[str], Found], seconds: float) -> None:
        self._lookup = lookup
        self._seconds = seconds
        self._lock = threading.Lock()
        #: tenant id -> (expiry on the monotonic clock, what was found)
        self._remembered: dict[str, tuple[float, Found]] = {}
        self._pending: dict[str, _Pending] = {}
        #: Bumped by `forget`: a lookup that began before a write does not store its answer.
        self._generation = 0

    def get(self, tenant_id: str) -> Tenant:
        found = self.find(tenant_id)
        return found.name, found.timezone

    def find(self, tenant_id: str) -> Found:
        """The tenant's record; a timezone that is not a known IANA name is dropped (the
        request falls back to UTC)."""
        with self._lock:
            remembered = self._remembered.get(tenant_id)
            if remembered and remembered[0] > time.monotonic():
                return remembered[1]
            pending = self._pending.get(tenant_id)
            leader = pending is None
            if pending is None:
                pending = self._pending[tenant_id] = _Pending(threading.Event())
            generation = self._generation
        if not leader:
            pending.done.wait()
            if pending.found is not None:
                return pending.found
            return self.find(tenant_id)  # the leader's lookup failed: try for ourselves
        try:
            found = self._lookup(tenant_id)
            try:
                zone = request.timezone("timezone", found.timezone)
            except InvalidParameter:
                zone = None
            found = Found(found.name, zone, found.unknown)
            pending.found = found
            with self._lock:
                if generation == self._generation and self._seconds > 0:
                    if len(self._remembered) >= MAX_REMEMBERED:
                        self._remembered.clear()
                    self._remembered[tenant_id] = (time.monotonic() + self._seconds, found)
            return found
        finally:
            with self._lock:
                self._pending.pop(tenant_id, None)
            pending.done.set()

    def forget(self) -> None:
        with self._lock:
            self._remembered.clear()
            self._generation += 1
