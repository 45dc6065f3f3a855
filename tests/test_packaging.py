"""The wheel: it holds the library and its SQL, and works installed in a fresh environment
outside the repository."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

from crm_metrics import demo
from crm_metrics.console import console_sql
from tests.support.engines import unavailable

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    #: A working directory outside the repository.
    home: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DATABASE_URL", "VIRTUAL_ENV", "CRM_METRICS_DEBUG"}}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(args, cwd=self.home, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel, then install it (and its dependencies) into a new virtual environment."""
    if importlib.util.find_spec("build") is None:
        unavailable("the `build` package (dev extra) is not installed")
    root = tmp_path_factory.mktemp("packaging")
    assert not root.is_relative_to(REPO)
    dist, venv, home = root / "dist", root / "venv", root / "home"
    home.mkdir()

    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("crm_metrics-*.whl")

    # A venv without pip of its own, filled by this interpreter's pip (`--python`): the same
    # install a user gets, without the seconds ensurepip takes. pip's cache is reused.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return Installed(wheel, venv, home)


def test_the_wheel_holds_the_package_its_sql_and_the_command(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        (info,) = {name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA")}
        metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()

    python = {f"crm_metrics/{p.relative_to(REPO / 'crm_metrics').as_posix()}" for p in (REPO / "crm_metrics").rglob("*.py")}
    sql = {f"crm_metrics/sql/{p.relative_to(REPO / 'sql').as_posix()}" for p in (REPO / "sql").rglob("*.sql")}
    server = {p.relative_to(REPO).as_posix() for p in (REPO / "server").rglob("*.py")}
    assert {"crm_metrics/sql/macros/request.sql", "crm_metrics/sql/schema/duckdb.sql", "crm_metrics/sql/metrics/conversation_metrics.sql"} <= sql
    assert "server/app.py" in server
    assert python | sql | server | {"crm_metrics/py.typed"} <= names
    assert not [name for name in names if name.startswith("tests/") or "__pycache__" in name]

    assert metadata["Name"] == "crm-metrics"
    assert metadata["Requires-Python"] == ">=3.11"
    assert {"server", "postgres", "bigquery", "redis", "dev"} <= set(metadata.get_all("Provides-Extra"))
    # The library alone needs no web framework, no JWT and no other database's driver.
    required = {line.split(";")[0].split(">")[0].split("[")[0].strip() for line in metadata.get_all("Requires-Dist") if "extra ==" not in line}
    assert required == {"sqlglot", "jinja2", "duckdb", "pyarrow", "tzdata"}
    assert "crm-metrics = crm_metrics.cli:main" in entry_points


def test_the_installed_package_is_the_one_that_runs(installed: Installed) -> None:
    done = installed.run("python", "-c", "import crm_metrics.templates as t; print(t.__file__); print(t.sql_dir())")

    assert done.returncode == 0, done.stderr
    module, sql_dir = done.stdout.splitlines()
    site = installed.venv / "lib"
    assert Path(module).is_relative_to(site) and Path(sql_dir).is_relative_to(site)
    assert Path(sql_dir).name == "sql" and Path(sql_dir).parent.name == "crm_metrics"


def test_the_library_answers_without_extras(installed: Installed) -> None:
    code = (
        "from crm_metrics import Metrics, demo\n"
        "with Metrics.connect('duckdb:///:memory:') as metrics:\n"
        "    demo.write(metrics, days=2)\n"
        "    dashboard = metrics.dashboard(demo.TENANTS[0].id)\n"
        "    print(sum(row.total_conversations for row in dashboard.conversations))\n"
    )
    done = installed.run("python", "-c", code)

    assert (done.returncode, done.stderr) == (0, "")
    assert int(done.stdout) > 0


def test_serve_without_the_server_extra_says_which_extra(installed: Installed) -> None:
    done = installed.run("crm-metrics", "serve", "--database-url", "duckdb:///:memory:")

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "crm-metrics: error: crm-metrics serve needs the server extra: pip install 'crm-metrics[server]' (module starlette is missing)\n"


def test_installed_render(installed: Installed) -> None:
    done = installed.run("crm-metrics", "render", "conversation_metrics", "--dialect", "duckdb")

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == console_sql("conversation_metrics", "duckdb")
    assert done.stdout.startswith("-- name: conversation_metrics\n")


def test_installed_demo_and_query(installed: Installed) -> None:
    url = f"duckdb:///{installed.home / 'demo.duckdb'}"
    tenant = demo.TENANTS[0]

    written = installed.run("crm-metrics", "demo", "--days", "2", "--database-url", url)
    assert written.returncode == 0, written.stderr
    assert written.stdout.startswith(f"demo data written to {url}: {len(demo.TENANTS)} tenants, ")

    done = installed.run("crm-metrics", "query", "summary", "--tenant-id", tenant.id, "--database-url", url)
    assert (done.returncode, done.stderr) == (0, "")
    summary = json.loads(done.stdout)
    assert (summary["tenant_id"], summary["tenant_name"], summary["timezone"]) == (tenant.id, tenant.name, tenant.timezone)
    assert summary["total_conversations"] > 0 and summary["total_messages"] > summary["total_conversations"]

    bad = installed.run("crm-metrics", "query", "summary", "--tenant-id", "acme", "--database-url", url)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("crm-metrics: error: tenant_id: must be a UUID") and bad.stderr.count("\n") == 1
