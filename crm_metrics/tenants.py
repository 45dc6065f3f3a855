"""Tenants' names and timezones, from the optional `tenants` table (sql/lookup/tenant.sql),
remembered for TENANT_CACHE_SECONDS and forgotten by every write."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from crm_metrics import request
from crm_metrics.errors import InvalidParameter

#: (name, timezone) of a tenant; either may be None.
Tenant = tuple[str | None, str | None]
#: At most this many tenants are remembered (a crawl of random ids must not grow memory).
MAX_REMEMBERED = 10_000


class Tenants:
    """Safe to share between threads: lookups may race, but the cache is changed under a lock
    and a lookup never sees a half-written entry."""

    def __init__(self, lookup: Callable[[str], Tenant | None], seconds: float) -> None:
        #: The stored (name, timezone) of a tenant, or None when it has no row.
        self._lookup = lookup
        self._seconds = seconds
        self._lock = threading.Lock()
        #: tenant id -> (expiry on the monotonic clock, name, timezone)
        self._remembered: dict[str, tuple[float, str | None, str | None]] = {}

    def get(self, tenant_id: str) -> Tenant:
        """The tenant's name and timezone; a timezone that is not a known IANA name is
        dropped (the request falls back to UTC)."""
        now = time.monotonic()
        with self._lock:
            remembered = self._remembered.get(tenant_id)
        if remembered and remembered[0] > now:
            return remembered[1], remembered[2]
        name, zone = self._lookup(tenant_id) or (None, None)
        try:
            zone = request.timezone("timezone", zone)
        except InvalidParameter:
            zone = None
        with self._lock:
            if len(self._remembered) >= MAX_REMEMBERED:
                self._remembered.clear()
            self._remembered[tenant_id] = (now + self._seconds, name, zone)
        return name, zone

    def forget(self) -> None:
        with self._lock:
            self._remembered.clear()
