"""`crm-metrics serve` as a real process on a free loopback port, over a DuckDB file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from crm_metrics import Metrics, Settings

from tests.support.api import TENANT_A, free_port, load

QUERY = "start_date=2025-10-20&end_date=2025-11-04"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "metrics"


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"duckdb:///{tmp_path / 'crm.duckdb'}"
    with Metrics.connect(settings=Settings(database_url=url)) as metrics:
        load(metrics)
    return url


@pytest.fixture
def server(database: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    log = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "JWT_", "CACHE_", "CORS_"))}
    # One custom metric (docs/custom-metrics.md), to read again on SIGHUP.
    custom = tmp_path / "metrics"
    custom.mkdir()
    shutil.copy(EXAMPLES / "messages_by_local_hour.sql", custom)
    env.update(ENVIRONMENT="test", LOG_LEVEL="INFO", CRM_METRICS_PATH=str(custom))
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "crm_metrics", "serve", "--database-url", database, "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx2.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not start: " + log.read_text()
        time.sleep(0.1)
    yield base, process, log
    if process.poll() is None:
        process.kill()
        process.wait(10)


def test_serves_over_http(server: tuple[str, subprocess.Popen[bytes], Path], database: str) -> None:
    base, process, log = server
    health = httpx2.get(f"{base}/health").json()
    assert (health["status"], health["database"], health["environment"], health["cache"]) == ("healthy", "connected", "test", "in_process")

    response = httpx2.get(f"{base}/api/v1/metrics/dashboard?{QUERY}", headers={"X-Tenant-Id": TENANT_A, "X-Request-Id": "real-1"})
    assert response.status_code == 200
    assert "server" not in response.headers
    cli = subprocess.run(
        [sys.executable, "-m", "crm_metrics", "query", "dashboard", "--tenant-id", TENANT_A, "--start-date", "2025-10-20", "--end-date", "2025-11-04", "--database-url", database],
        capture_output=True,
        check=True,
    )
    assert response.content == cli.stdout
    conditional = httpx2.get(f"{base}/api/v1/metrics/dashboard?{QUERY}", headers={"X-Tenant-Id": TENANT_A, "If-None-Match": response.headers["etag"]})
    assert conditional.status_code == 304

    missing = httpx2.get(f"{base}/nope")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")

    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0  # graceful: lifespan shutdown ran, exit status 0
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "server.access"]
    assert any(line["request_id"] == "real-1" and line["status"] == 200 and line["cache"] == "miss" for line in access)
    assert any(line["status"] == 304 and line["cache"] == "hit" for line in access)
    assert any("shutdown" in line["message"].lower() for line in lines)


def test_custom_metrics_are_served_and_read_again_on_sighup(server: tuple[str, subprocess.Popen[bytes], Path], database: str, tmp_path: Path) -> None:
    base, process, log = server
    path = "/api/v1/metrics/custom/messages_by_local_hour?start_date=2025-11-01&end_date=2025-11-03"
    response = httpx2.get(f"{base}{path}", headers={"X-Tenant-Id": TENANT_A})
    assert response.status_code == 200, response.text
    cli = subprocess.run(
        [sys.executable, "-m", "crm_metrics", "query", "messages_by_local_hour", "--tenant-id", TENANT_A, "--start-date", "2025-11-01", "--end-date", "2025-11-03", "--database-url", database],
        capture_output=True, check=True, env={**os.environ, "CRM_METRICS_PATH": str(tmp_path / "metrics")},
    )
    assert response.content == cli.stdout

    def reloads() -> int:
        return sum('"custom metrics from' in line for line in log.read_text().splitlines())

    before = reloads()
    process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while reloads() == before:
        assert time.monotonic() < deadline, "no reload after SIGHUP: " + log.read_text()[-2000:]
        time.sleep(0.05)
    assert process.poll() is None


def test_refuses_a_missing_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crm_metrics", "serve", "--database-url", f"duckdb:///{tmp_path / 'none.duckdb'}", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "crm-metrics demo" in result.stderr


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "crm_metrics", "serve", *args], capture_output=True, text=True, timeout=60, env={**clean, **(env or {})}
    )


def test_a_port_in_use_is_one_plain_line_and_status_2(database: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve("--database-url", database, "--port", str(port))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"crm-metrics: error: cannot listen on 127.0.0.1:{port}: address already in use\n"


def test_a_host_it_cannot_listen_on_is_one_plain_line_and_status_2(database: str) -> None:
    port = free_port()
    # 192.0.2.1 (TEST-NET-1) is no interface of this machine; an address, so no DNS is asked.
    result = _serve("--database-url", database, "--host", "192.0.2.1", "--port", str(port))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"crm-metrics: error: cannot listen on 192.0.2.1:{port}: cannot assign requested address\n"


@pytest.mark.parametrize("setting", ["WHATSAPP_PRICE_PER_MESSAGE=inf", "LLM_PRICE_PER_MILLION_TOKENS=1e308", "PORT=80000"])
def test_a_setting_that_would_fail_every_request_stops_the_start(database: str, setting: str) -> None:
    env, value = setting.split("=")
    result = _serve("--database-url", database, env={env: value})
    assert result.returncode == 2
    assert result.stderr.startswith(f"crm-metrics: error: Config '{env}' has value '{value}': ")
    assert result.stderr.count("\n") == 1, result.stderr


def test_a_bare_path_names_the_option_and_the_url_to_write() -> None:
    result = _serve("--database-url", "data.duckdb")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "crm-metrics: error: --database-url 'data.duckdb' is a path, not a URL: for a DuckDB file use --database-url duckdb:///data.duckdb\n"
