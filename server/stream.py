"""The events stream: a Redis Streams consumer (`crm-metrics consume`, or EVENTS_STREAM inside
`crm-metrics serve`), docs/events.md.

Each stream entry holds one event in its field `event`, or a JSON array of events in `events`.
The consumer reads in a consumer group (several consumers share the entries), applies what it
read in one transaction and acknowledges the entries only after the commit: at least once, and
the upserts make a second delivery change nothing. On start it first takes back its own
entries left pending (a crash between commit and ack, or mid-batch), then claims the entries
other consumers left pending longer than `claim_idle` seconds (XAUTOCLAIM), and keeps claiming
those every `claim_idle` seconds. An entry that can never apply (not an event, a value the
database refuses, or delivered MAX_DELIVERIES times) goes to the dead-letter stream
`<stream>:dead` with the error, and is acknowledged: one poison entry never blocks the rest.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from crm_metrics import BackendUnavailable, ConfigError, InvalidEvent, LoadError, Metrics, Settings
from crm_metrics import events

from server import logs
from server.cache import generation_key
from server.config import ServerConfig

log = logging.getLogger("server.stream")

DEFAULT_STREAM = "crm:events"
#: An entry delivered this many times without being applied is dead-lettered (a crash on it).
MAX_DELIVERIES = 5
#: Seconds an entry may stay pending with another consumer before this one claims it.
CLAIM_IDLE = 60.0
#: Seconds to wait after a failure (Redis or the database down) before trying again.
RETRY_AFTER = 1.0


@dataclass
class _Entry:
    id: bytes
    events: list[events.Event]


class Consumer:
    """Reads `stream` in `group` as `name` and applies its events to `metrics`' store."""

    def __init__(
        self,
        metrics: Metrics,
        client: redis.Redis,
        stream: str = DEFAULT_STREAM,
        group: str = "crm-metrics",
        name: str | None = None,
        *,
        batch: int = 1000,
        block: float = 1.0,
        claim_idle: float = CLAIM_IDLE,
        on_applied: Callable[[Iterable[str]], None] = lambda tenants: None,
    ) -> None:
        metrics.store.check_events()
        self.metrics = metrics
        self.client = client
        self.stream = stream
        self.dead = f"{stream}:dead"
        self.group = group
        self.name = name or f"{socket.gethostname()}"
        self.batch = batch
        self.block = block
        self.claim_idle = claim_idle
        self.on_applied = on_applied
        self.state = "starting"
        self.applied = 0
        self._backlog = True  # own pending entries first
        self._claim_at = 0.0

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; failures are logged and retried."""
        while not stop.is_set():
            try:
                self.step()
            except (redis.RedisError, OSError, BackendUnavailable) as error:
                if self.state != "failing":
                    log.error("events consumer failing, retrying every %.0f s: %s", RETRY_AFTER, error)
                self.state = "failing"
                self._backlog = True
                stop.wait(RETRY_AFTER)
        self.state = "stopped"

    def step(self) -> int:
        """One read and its batch: the number of entries handled."""
        self._ensure_group()
        entries = self._read()
        if entries:
            self._handle(entries)
        self.state = "running"
        return len(entries)

    def drain(self) -> int:
        """Handle entries until none are waiting (tests, `--once`)."""
        total = 0
        while handled := self.step():
            total += handled
        return total

    def _ensure_group(self) -> None:
        if getattr(self, "_grouped", False):
            return
        try:
            # From the stream's first entry: events written before the group existed count too.
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._grouped = True

    def _read(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        if self._backlog:
            # Entries delivered to this name and never acknowledged: a crash, or a failed batch.
            found = self._first(self.client.xreadgroup(self.group, self.name, {self.stream: "0"}, count=self.batch))
            if found:
                return self._count_deliveries(found)
            self._backlog = False
        if time.monotonic() >= self._claim_at:
            self._claim_at = time.monotonic() + self.claim_idle
            _, claimed, *_ = self.client.xautoclaim(
                self.stream, self.group, self.name, min_idle_time=int(self.claim_idle * 1000), start_id="0-0", count=self.batch
            )
            claimed = [(entry_id, fields) for entry_id, fields in claimed if fields is not None]
            if claimed:
                log.warning("claimed %d events entries left pending by another consumer", len(claimed))
                self._claim_at = 0.0  # there may be more
                return self._count_deliveries(claimed)
        return self._first(self.client.xreadgroup(self.group, self.name, {self.stream: ">"}, count=self.batch, block=int(self.block * 1000)))

    @staticmethod
    def _first(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
        if not reply:
            return []
        _, entries = reply[0]
        # An entry trimmed from the stream while pending comes back without fields.
        return [(entry_id, fields) for entry_id, fields in entries if fields is not None]

    def _count_deliveries(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Entries delivered too often go to the dead letters; the others are returned."""
        first, last = entries[0][0], entries[-1][0]
        pending = self.client.xpending_range(self.stream, self.group, min=first, max=last, count=len(entries) * 2, consumername=self.name)
        delivered = {item["message_id"]: item["times_delivered"] for item in pending}
        kept = []
        for entry_id, fields in entries:
            if delivered.get(entry_id, 0) > MAX_DELIVERIES:
                self._dead(entry_id, fields, f"delivered {delivered[entry_id]} times without being applied")
            else:
                kept.append((entry_id, fields))
        return kept

    def _handle(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        good: list[_Entry] = []
        for entry_id, fields in entries:
            try:
                good.append(_Entry(entry_id, parse(fields)))
            except InvalidEvent as error:
                self._dead(entry_id, fields, str(error))
        if not good:
            return
        try:
            self._apply(good)
        except LoadError:
            # The database refused a value of the batch: apply entry by entry to find which.
            for entry in good:
                try:
                    self._apply([entry])
                except LoadError as error:
                    self._dead(entry.id, None, str(error))

    def _apply(self, entries: list[_Entry]) -> None:
        batch = [event for entry in entries for event in entry.events]
        applied = self.metrics.store.apply(batch)
        # Acknowledged only after the commit: a crash before this line delivers them again.
        self.client.xack(self.stream, self.group, *(entry.id for entry in entries))
        self.applied += len(batch)
        if applied.tenants:
            self.on_applied(applied.tenants)

    def _dead(self, entry_id: bytes, fields: dict[bytes, bytes] | None, error: str) -> None:
        if fields is None:
            fields = next((f for _, f in self.client.xrange(self.stream, min=entry_id, max=entry_id)), {}) or {}
        record = {b"entry": entry_id, b"error": error.encode(), b"group": self.group.encode(), **fields}
        pipe = self.client.pipeline()
        pipe.xadd(self.dead, record)
        pipe.xack(self.stream, self.group, entry_id)
        pipe.execute()
        log.warning("events entry %s dead-lettered to %s: %s", entry_id.decode(), self.dead, error)

    def health(self) -> dict[str, Any]:
        """What /health shows: state, lag (entries not yet delivered to the group), pending
        (delivered, not acknowledged) and dead-lettered entries."""
        body: dict[str, Any] = {"stream": self.stream, "group": self.group, "state": self.state, "applied": self.applied}
        try:
            groups = {g["name"].decode(): g for g in self.client.xinfo_groups(self.stream)}
            group = groups.get(self.group, {})
            body.update(lag=group.get("lag"), pending=group.get("pending", 0), dead_lettered=self.client.xlen(self.dead))
        except (redis.RedisError, OSError) as error:
            body.update(state="failing", error=str(error))
        return body


def parse(fields: dict[bytes, bytes]) -> list[events.Event]:
    """The events of one entry: the field `event` (one JSON object) or `events` (an array)."""
    if b"event" in fields:
        raw, many = fields[b"event"], False
    elif b"events" in fields:
        raw, many = fields[b"events"], True
    else:
        raise InvalidEvent("entry", "has neither an `event` nor an `events` field")
    items = events.loads(raw, "events") if many else [events.loads(raw, "event")]
    if not isinstance(items, list):
        raise InvalidEvent("events", "must be a JSON array of events")
    return events.check(items)


def bumper(client: redis.Redis, prefix: str) -> Callable[[Iterable[str]], None]:
    """Marks tenants' cached answers stale in the Redis cache (server/cache.py's generations)."""

    def bump(tenants: Iterable[str]) -> None:
        pipe = client.pipeline(transaction=False)
        for tenant in tenants:
            pipe.incr(generation_key(prefix, tenant))
        pipe.execute()

    return bump


def client(url: str) -> redis.Redis:
    if not url:
        raise ConfigError("the events stream needs REDIS_URL: the Redis that holds the stream (redis://host:port/db)")
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=30, health_check_interval=30)
    except ValueError as error:
        raise ConfigError(f"Config 'REDIS_URL' has value {url!r}: {error}.") from None


def consumer(metrics: Metrics, config: ServerConfig, stream: str | None = None, name: str | None = None) -> Consumer:
    """The consumer a configuration describes; cached answers are marked stale in Redis when
    the cache is there (REDIS_URL)."""
    redis_client = client(config.redis_url)
    bump = bumper(redis_client, config.cache_key_prefix) if config.cache_ttl_seconds else (lambda tenants: None)
    return Consumer(
        metrics, redis_client, stream or config.events_stream or DEFAULT_STREAM, config.events_group, name,
        batch=config.events_max_batch, on_applied=bump,
    )


def consume(database_url: str | None = None, stream: str | None = None, name: str | None = None, *, once: bool = False) -> None:
    """`crm-metrics consume`: apply the stream's events until SIGINT/SIGTERM (or, `once`,
    until none are waiting)."""
    import signal

    config = ServerConfig.from_env()
    logs.configure(config.log_level)
    settings = Settings.from_env(database_url=database_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        metrics = Metrics.connect(settings=settings, create=False)
    except BackendUnavailable as error:
        if "in use by another process" in str(error):
            raise ConfigError(
                f"{error}. DuckDB lets one process write a store: with `crm-metrics serve` running, consume events"
                " inside it (set EVENTS_STREAM there) instead of in a second process"
            ) from None
        raise
    with metrics:
        running = consumer(metrics, config, stream, name or f"{socket.gethostname()}")
        log.info("consuming %s in group %s as %s (pid %d)", running.stream, running.group, running.name, os.getpid())
        if once:
            running.drain()
            return
        try:
            running.run(stop)
        except KeyboardInterrupt:
            pass

