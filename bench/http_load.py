"""HTTP under load: `crm-metrics serve` in its own process, wrk in another, on loopback.

wrk (one thread, 32 connections, keep-alive) cycles through dashboard requests of one tenant.
Uncached, every request is a different 30-day window (so that the server's single flight,
which merges identical requests in flight, never hides a query) and the server's cache is off
(CACHE_TTL_SECONDS=0). Cached, the server keeps its default in-process cache, and the few
windows it is asked for are answered once before the clock starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).with_name("crm-metrics"))
WRK_SCRIPT = Path(__file__).with_name("wrk.lua")
CONNECTIONS = 32
#: Seconds of load per run; uncached runs get longer, for queries of seconds to finish at all.
SECONDS = 10
UNCACHED_SECONDS = 20
DASHBOARD = "/api/v1/metrics/dashboard"


def unavailable() -> str | None:
    """Why HTTP cannot be measured, or None."""
    if subprocess.run([CLI, "serve", "--help"], capture_output=True).returncode != 0:
        return "not in main yet (`crm-metrics serve` does not exist)"
    if shutil.which("wrk") is None:
        return "wrk is not installed (Debian/Ubuntu: apt-get install wrk)"
    return None


def windows(last_day: dt.date, count: int, days: int = 30) -> list[str]:
    """Dashboard paths of `count` different `days`-day windows ending on the last days."""
    paths = []
    for back in range(count):
        end = last_day - dt.timedelta(days=back)
        start = end - dt.timedelta(days=days - 1)
        paths.append(f"{DASHBOARD}?start_date={start}&end_date={end}")
    return paths


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, tenant: str | None = None, timeout: float = 120) -> int:
    request = urllib.request.Request(url, headers={"X-Tenant-Id": tenant} if tenant else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@contextlib.contextmanager
def server(database_url: str, cache_ttl_seconds: int, log: Path) -> Iterator[str]:
    """A `crm-metrics serve` process on a free loopback port; its base URL."""
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "CACHE_TTL_SECONDS": str(cache_ttl_seconds),
        "REDIS_URL": "",
        "SHUTDOWN_TIMEOUT_SECONDS": "1",
    }
    with log.open("ab") as log_file:
        process = subprocess.Popen([CLI, "serve"], env=env, stdout=log_file, stderr=log_file)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"crm-metrics serve exited with {process.returncode}; see {log}")
            try:
                if _get(f"{base}/health", timeout=2) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"crm-metrics serve did not answer /health within 60 s; see {log}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrk(base: str, tenant: str, paths: Sequence[str], seconds: int = SECONDS, connections: int = CONNECTIONS) -> dict[str, Any]:
    """Run wrk against `base`; requests/s, latency percentiles in ms, errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(paths) + "\n")
        listing.flush()
        result = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s", "-s", str(WRK_SCRIPT), base],
            env=os.environ | {"WRK_PATHS": listing.name, "WRK_TENANT": tenant},
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 120,
        )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    duration = outcome["duration_us"] / 1e6
    done = outcome["requests"] > 0

    def ms(key: str) -> float | None:
        # With no request finished, wrk's percentiles are zeros, not latencies.
        return round(outcome[key] / 1000, 2) if done else None

    return {
        "connections": connections,
        "seconds": round(duration, 2),
        "requests": outcome["requests"],
        "requests_per_second": round(outcome["requests"] / duration, 1),
        "p50_ms": ms("p50_us"),
        "p90_ms": ms("p90_us"),
        "p99_ms": ms("p99_us"),
        "max_ms": ms("max_us"),
        "errors": {key: value for key, value in outcome["errors"].items() if value},
    }


def cached(database_url: str, tenant: str, last_day: dt.date, log: Path) -> dict[str, Any]:
    paths = windows(last_day, 4)
    with server(database_url, cache_ttl_seconds=300, log=log) as base:
        for path in paths:
            status = _get(base + path, tenant)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}; see {log}")
        return wrk(base, tenant, paths)


def uncached(database_url: str, tenant: str, last_day: dt.date, log: Path, connections: int = CONNECTIONS) -> dict[str, Any]:
    with server(database_url, cache_ttl_seconds=0, log=log) as base:
        return wrk(base, tenant, windows(last_day, 64), seconds=UNCACHED_SECONDS, connections=connections)
