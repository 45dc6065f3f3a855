"""`crm-metrics serve`: open the database read-only (read-write when it takes events or runs the
report scheduler) and run the app under uvicorn until SIGINT/SIGTERM, letting in-flight
requests finish (up to SHUTDOWN_TIMEOUT_SECONDS)."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Any

import uvicorn
from prometheus_client import start_http_server

from crm_metrics import ConfigError, Metrics, MetricsError, Settings, changes, scheduler
from crm_metrics.config import url_scheme

from server import logs
from server.app import create_app
from server.config import ServerConfig

log = logging.getLogger("server.serve")


def _exit(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port, or a ConfigError saying why not ("cannot listen on
    127.0.0.1:3007: address already in use"). Bound here rather than by uvicorn, which logs a
    bind failure as a JSON line and exits 3: the CLI promises one plain line and status 2."""
    where = _address(host, port)
    sock = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        # As uvicorn and asyncio do: a restarted server may bind while old connections linger
        # in TIME_WAIT (a port another process listens on stays refused).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        if sock is not None:
            sock.close()
        reason = (error.strerror or str(error)).lower()
        raise ConfigError(f"cannot listen on {where}: {reason}") from None
    return sock


def _metrics_listener(config: ServerConfig, registry: Any) -> Any:
    """With METRICS_PORT, /metrics on that port alone (prometheus-client's server in a thread);
    else it is a route of the app, or off in production (server/telemetry.py)."""
    if config.metrics_port is None:
        if not config.metrics_on_public_port:
            log.info("/metrics is off: ENVIRONMENT=production serves it only on METRICS_PORT")
        return None
    if config.metrics_port == config.port:
        raise ConfigError(f"Config 'METRICS_PORT' has value '{config.metrics_port}': it must differ from PORT, which serves the public API.")
    try:
        exporter, _ = start_http_server(config.metrics_port, addr=config.host, registry=registry)
    except OSError as error:
        raise ConfigError(f"cannot listen on {_address(config.host, config.metrics_port)} (METRICS_PORT): {(error.strerror or str(error)).lower()}") from None
    log.info("metrics on http://%s/metrics", _address(config.host, config.metrics_port))
    return exporter


def _install_prices(settings: Settings) -> None:
    """COST_MODEL=priced: price the rollup by this server's tables before serving (docs/costs.md,
    "The priced rollup"), over a connection of its own that may write. A store that cannot
    take it (no priced rollup, locked by another process, a role that may not write) answers
    by pricing cost_slots per request: as exact, slower."""
    if settings.cost_model != "priced":
        return
    try:
        with Metrics.connect(settings=settings, create=False) as writer:
            if writer.store.card_tables and writer.install_prices():
                log.info("rollup priced by this server's rate card %s", writer.rate_card)
    except Exception as error:  # noqa: BLE001 -- a speed-up only: whatever stops it (a driver's own error too), the server serves
        log.warning("rollup not priced by this server's rate card (%s): priced answers price cost_slots per request", error)


def serve(database_url: str | None = None, host: str | None = None, port: int | None = None, schedule: str | None = None) -> None:
    """Serve until SIGINT/SIGTERM; with `schedule` (a schedule file), run the report scheduler
    in a thread beside the server, on the same store, which is then opened read-write (on
    DuckDB that is how both can share one file: one process holds it). On PostgreSQL, apply
    the live rollup's queued writes in another thread (crm_metrics/changes.py)."""
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the handler it found:
    # this one unwinds (closing the database) instead of the default's immediate death.
    signal.signal(signal.SIGTERM, _exit)
    config = ServerConfig.from_env(host=host, port=port)
    logs.configure(config.log_level)
    settings = Settings.from_env(database_url=database_url)
    reports = scheduler.load(schedule) if schedule else None
    stop = threading.Event()
    # Events (EVENTS_TOKEN, EVENTS_STREAM) are written by this process: on DuckDB the one
    # process that may write the store (docs/events.md).
    ingests = bool(config.events_token or config.events_stream)
    if url_scheme(settings.database_url) == "duckdb":
        # Before the store is opened: a DuckDB file takes one configuration per process, and
        # this server's may be read-only.
        _install_prices(settings)
    with Metrics.connect(settings=settings, read_only=reports is None and not ingests, create=False) as metrics:
        app = create_app(metrics, config)
        if hasattr(signal, "SIGHUP"):
            # SIGHUP reads CRM_METRICS_PATH again (a changed file is also picked up by itself).
            signal.signal(signal.SIGHUP, lambda signum, frame: metrics.custom.reload())
        if ingests:
            metrics.store.check_events()
        if config.events_stream:
            from server import stream

            consumer = stream.consumer(metrics, config)
            app.state.consumer = consumer
            consuming = threading.Thread(target=consumer.run, args=(stop,), name="events-consumer", daemon=True)
            consuming.start()
        if reports is not None:
            running = scheduler.Scheduler(metrics, reports)
            running.start()
            app.state.scheduler = running
            threading.Thread(target=running.run, args=(stop,), name="report-scheduler", daemon=True).start()
        if metrics.executor.dialect == "postgres":
            # Repricing a large rollup takes a while (docs/costs.md): answers are priced per
            # request meanwhile, as exact.
            threading.Thread(target=_install_prices, args=(settings,), name="rate-card", daemon=True).start()
        if metrics.executor.dialect == "postgres" and settings.rollup_poll_seconds:
            # PostgreSQL's live rollup, where installed (it looks at every poll).
            threading.Thread(target=changes.follow, args=(settings, stop), name="rollup", daemon=True).start()
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=config.host,
                port=config.port,
                log_config=None,  # uvicorn's records go through our JSON handler
                access_log=False,  # server.access_log writes the one line per request
                server_header=False,
                timeout_graceful_shutdown=config.shutdown_timeout_seconds or None,
            )
        )
        with listen(config.host, config.port) as sock:
            # uvicorn logs where it listens only when it binds the socket itself.
            log.info("listening on http://%s (Ctrl-C to stop)", _address(*sock.getsockname()[:2]))
            exporter = _metrics_listener(config, app.state.telemetry.registry)
            try:
                server.run(sockets=[sock])
            finally:
                stop.set()
                if exporter is not None:
                    exporter.shutdown()
                if config.events_stream:
                    # Its batch ends (committed and acknowledged, or rolled back) before the store closes.
                    consuming.join(timeout=config.shutdown_timeout_seconds or None)
        if not server.started:
            raise MetricsError("the HTTP server did not start (its log says why)")
