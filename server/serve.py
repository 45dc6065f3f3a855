"""`crm-metrics serve`: open the database read-only and run the app under uvicorn until
SIGINT/SIGTERM, letting in-flight requests finish (up to SHUTDOWN_TIMEOUT_SECONDS)."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn

from crm_metrics import Metrics, Settings

from server import logs
from server.app import create_app
from server.config import ServerConfig


def _exit(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def serve(database_url: str | None = None, host: str | None = None, port: int | None = None) -> None:
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the handler it found:
    # this one unwinds (closing the database) instead of the default's immediate death.
    signal.signal(signal.SIGTERM, _exit)
    config = ServerConfig.from_env(host=host, port=port)
    logs.configure(config.log_level)
    settings = Settings.from_env(database_url=database_url)
    with Metrics.connect(settings=settings, read_only=True) as metrics:
        app = create_app(metrics, config)
        uvicorn.run(
            app,
            host=config.host,
            port=config.port,
            log_config=None,  # uvicorn's records go through our JSON handler
            access_log=False,  # server.access_log writes the one line per request
            server_header=False,
            timeout_graceful_shutdown=config.shutdown_timeout_seconds or None,
        )
