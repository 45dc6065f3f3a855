"""Cached answers: Redis when `REDIS_URL` is set, else an in-process TTL cache; identical
concurrent requests run the query once either way (single flight, per process).

Keys follow the seed's format, extended with the timezone, the granularity, a version and the
tenant's generation:

    analytics:dashboard:v0.1.0-{settings}:{tenant_id}:{start_date}:{end_date}:{outlet_id}:{tz}:{granularity}:g{generation}

A value the request left out is `-` (the default is resolved by the query, so a key without
dates means "the default window": it moves at midnight, and an entry is at most
`CACHE_TTL_SECONDS` old). The version is the package's, so a deploy never reads shapes an older
release wrote, followed by `Metrics.fingerprint` (a digest of the prices and the look-around
bound), so a restart with other settings never reads answers computed under the old ones. Values are the exact JSON bodies.

An accepted event makes its tenants' cached answers stale at once: it raises each tenant's
generation (`forget`; in Redis the key `{prefix}:generation:{tenant_id}`, which a consumer in
another process raises too), so later requests miss and compute afresh, while other tenants'
entries stay. The old entries expire with their TTL.

A cache that fails never fails a request: the answer is computed and served uncached, one
warning is logged per outage, and the cache is tried again a second later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol
from urllib.parse import quote

from crm_metrics import ConfigError, __version__

from server.config import ServerConfig
from server.params import Ask

log = logging.getLogger("server.cache")

CACHE_VERSION = __version__
#: Entries the in-process cache holds at most (the least recently used go first).
MEMORY_MAX_ENTRIES = 1024
#: Redis must answer within these (seconds): a slow cache is worse than none.
REDIS_CONNECT_TIMEOUT = 0.5
REDIS_COMMAND_TIMEOUT = 1.0
#: After a failure, requests skip Redis this long (seconds) before it is tried again.
REDIS_RETRY_AFTER = 1.0


def cache_key(prefix: str, ask: Ask, generation: int = 0, settings: str = "") -> str:
    """The key of an answer; `settings` is `Metrics.fingerprint` (prices, look-around bound)."""
    query = ask.query
    segments = (
        query.tenant_id,
        query.start_date.isoformat() if query.start_date else None,
        query.end_date.isoformat() if query.end_date else None,
        query.outlet_id,
        query.tz,
        ask.granularity,
    )
    # A comparison (summary?compare=previous) is another answer; keys without one stay as they were.
    compared = (query.compare,) if query.compare else ()
    grouped = (f"by-{query.group_by}",) if query.group_by else ()
    # Anomalies and the forecast: the metric and direction make another answer.
    watched = (query.metric, query.direction) if query.metric else ()
    version = f"v{CACHE_VERSION}" + (f"-{settings}" if settings else "")
    # A custom metric: its name and the hash of its file's text (an edited file answers
    # afresh), and its extra parameters by name (values as sent, quoted so that no value can
    # spell another key).
    kind = f"{ask.kind}/{ask.name}@{ask.digest}" if ask.name else ask.kind
    extras = tuple(f"{name}={quote(value, safe='')}" for name, value in sorted(ask.extras))
    return ":".join([prefix, kind, version, *(s or "-" for s in segments), *compared, *grouped, *watched, *extras, f"g{generation}"])


def generation_key(prefix: str, tenant_id: str) -> str:
    """The Redis key of a tenant's generation (an integer raised by every accepted event)."""
    return f"{prefix}:generation:{tenant_id}"


class Store(Protocol):
    #: False while the store is failing (the request then counts as served uncached).
    available: bool

    async def status(self) -> str:
        """What /health reports: connected, unavailable or in_process."""
        ...

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes) -> None: ...

    async def generation(self, tenant_id: str) -> int:
        """The tenant's generation, part of its cache keys (0 until an event raises it)."""
        ...

    async def forget(self, tenants: Iterable[str]) -> None:
        """Raise the tenants' generations: their cached answers are not read again."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """A TTL cache in this process's memory, bounded by `max_entries`."""

    available = True

    def __init__(self, ttl: float, max_entries: int = MEMORY_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._generations: dict[str, int] = {}

    async def status(self) -> str:
        return "in_process"

    async def generation(self, tenant_id: str) -> int:
        return self._generations.get(tenant_id, 0)

    async def forget(self, tenants: Iterable[str]) -> None:
        for tenant in tenants:
            self._generations[tenant] = self._generations.get(tenant, 0) + 1

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self.clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes) -> None:
        self._entries[key] = (self.clock() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


class RedisStore:
    """Redis with short timeouts and no retries; while it fails, requests skip it."""

    def __init__(self, url: str, ttl: int, retry_after: float = REDIS_RETRY_AFTER, prefix: str = "analytics") -> None:
        try:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
            from redis.exceptions import RedisError
        except ImportError:
            raise ConfigError("Config 'REDIS_URL' is set but the redis package is missing: pip install 'crm-metrics[redis]'.") from None
        try:
            self._client = redis.asyncio.Redis.from_url(
                url,
                socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
                socket_timeout=REDIS_COMMAND_TIMEOUT,
                # The default retries would multiply the wait for a Redis that is down.
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as error:
            raise ConfigError(f"Config 'REDIS_URL' has value {url!r}: {error}.") from None
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self.ttl = ttl
        self.prefix = prefix
        self.retry_after = retry_after
        self.available = True
        self._retry_at = 0.0

    async def status(self) -> str:
        try:
            await self._client.ping()
        except self._errors as error:
            self._failed(error)
            return "unavailable"
        self._answered()
        return "connected"

    async def get(self, key: str) -> bytes | None:
        if not self.available and time.monotonic() < self._retry_at:
            return None
        try:
            value: bytes | None = await self._client.get(key)  # type: ignore[assignment]  # bytes: decode_responses is off
        except self._errors as error:
            self._failed(error)
            return None
        self._answered()
        return value

    async def set(self, key: str, value: bytes) -> None:
        if not self.available:
            return
        try:
            await self._client.set(key, value, ex=self.ttl)
        except self._errors as error:
            self._failed(error)

    async def generation(self, tenant_id: str) -> int:
        if not self.available and time.monotonic() < self._retry_at:
            return 0
        try:
            value = await self._client.get(generation_key(self.prefix, tenant_id))
        except self._errors as error:
            self._failed(error)
            return 0
        return int(value or 0)

    async def forget(self, tenants: Iterable[str]) -> None:
        keys = [generation_key(self.prefix, tenant) for tenant in tenants]
        if not keys:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incr(key)
                await pipe.execute()
        except self._errors as error:
            # Entries cached before the event may be served until their TTL ends.
            log.warning("cannot mark cached answers stale in Redis (served until CACHE_TTL_SECONDS passes): %s", error)
            self._failed(error)

    async def close(self) -> None:
        await self._client.aclose()

    def _failed(self, error: BaseException) -> None:
        if self.available:
            log.warning("Redis cache unavailable, serving uncached until it answers: %s", error)
        self.available = False
        self._retry_at = time.monotonic() + self.retry_after

    def _answered(self) -> None:
        if not self.available:
            log.warning("Redis cache answers again, caching resumes")
        self.available = True


class Results:
    """Get a body from the store or compute it, running one computation per key at a time."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._running: dict[str, asyncio.Future[bytes]] = {}

    async def status(self) -> str:
        return "disabled" if self.store is None else await self.store.status()

    async def generation(self, tenant_id: str) -> int:
        return 0 if self.store is None else await self.store.generation(tenant_id)

    async def forget(self, tenants: Iterable[str]) -> None:
        if self.store is not None:
            await self.store.forget(tenants)

    async def get(self, key: str, compute: Callable[[], Awaitable[bytes]]) -> tuple[bytes, str]:
        """The body and how it was served: hit, miss, shared (joined a running computation),
        uncached (the store failed) or off (caching disabled)."""
        if key in self._running:
            return await asyncio.shield(self._running[key]), "shared"
        if self.store is not None:
            cached = await self.store.get(key)
            if cached is not None:
                return cached, "hit"
            # Another request may have started the same computation while we asked the store.
            if key in self._running:
                return await asyncio.shield(self._running[key]), "shared"
        outcome = "off" if self.store is None else "miss" if self.store.available else "uncached"
        task = asyncio.ensure_future(self._fill(key, compute))
        self._running[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        # Shielded: a client that disconnects does not cancel the query others wait for.
        return await asyncio.shield(task), outcome

    async def _fill(self, key: str, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        body = await compute()
        if self.store is not None:
            await self.store.set(key, body)
        return body

    def _finished(self, key: str, task: asyncio.Future[bytes]) -> None:
        self._running.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody waits for is not reported twice

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()


def results(config: ServerConfig) -> Results:
    if config.cache_ttl_seconds == 0:
        return Results(None)
    if config.redis_url:
        return Results(RedisStore(config.redis_url, config.cache_ttl_seconds, prefix=config.cache_key_prefix))
    return Results(MemoryStore(config.cache_ttl_seconds))

