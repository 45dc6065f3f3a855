"""The local BigQuery emulator the BigQuery tests talk to through google-cloud-bigquery.

`bqemulator` serves BigQuery's REST API on loopback and runs the SQL on DuckDB. It lives in a
virtual environment of its own under `~/.cache/crm-metrics/` (never the project's: it pins
its own duckdb and sqlglot, and its pytest plugin breaks a shared environment), built on first
use and kept between runs. One emulator process serves the whole test session: started on a
free loopback port when a test first needs it, stopped by its PID when the session ends (and
by the kernel should pytest die first).

`python -m tests.support.bigquery_emulator` builds the environment ahead of time.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The environment lives in the user's cache, not the checkout: building it takes a minute, and
#: a fresh clone (CI's, a worktree's) reuses the one built for the same requirements.
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crm-metrics"
SERVE = Path(__file__).resolve().parent / "bqemulator_serve.py"
#: What the environment holds; a change rebuilds it. The spatial extension ships as a wheel
#: because the emulator installs it at start and cannot download it here.
REQUIREMENTS = ("bqemulator==1.4.0", "duckdb==1.5.5", "duckdb-extension-spatial==1.5.5", "numpy==2.4.6")
#: One environment per Python and requirements, so checkouts pinning different ones never
#: rebuild each other's.
WANTED = "\n".join((sys.version.split()[0], *REQUIREMENTS))
VENV = CACHE / f"bqemulator-{hashlib.sha256(WANTED.encode()).hexdigest()[:12]}"
PROJECT = "test"
READY_TIMEOUT = 30.0

# google-auth must never probe a cloud metadata server: every request of the tests stays on
# loopback.
os.environ.setdefault("NO_GCE_CHECK", "true")


class EmulatorUnavailable(Exception):
    """The emulator could not be built or started; the message says why."""


def python() -> Path:
    return VENV / "bin" / "python"


def build() -> None:
    """Create the emulator's environment unless the one in the cache is current. It is built
    in a scratch directory and renamed into place, so a build cut short leaves nothing; a lock
    keeps two test runs of one checkout from building at once."""
    wanted = WANTED
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "bqemulator.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = VENV / ".requirements"
        if marker.is_file() and marker.read_text() == wanted and python().exists():
            return
        scratch = Path(tempfile.mkdtemp(prefix="bqemulator-venv-", dir=VENV.parent))
        try:
            _run([sys.executable, "-m", "venv", str(scratch)], "create the emulator's virtual environment")
            _run(
                [str(scratch / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS],
                "install the emulator (pip install " + " ".join(REQUIREMENTS) + ")",
            )
            # DuckDB installs extensions under $HOME; the emulator runs with HOME inside its
            # environment, so the extension lives there too.
            install = (
                "import duckdb, pathlib, duckdb_extension_spatial as s; "
                "[duckdb.connect().execute(f\"INSTALL '{p}'\") for p in pathlib.Path(s.__file__).parent.rglob('*.duckdb_extension')]"
            )
            _run([str(scratch / "bin" / "python"), "-c", install], "install DuckDB's spatial extension", home=scratch / "home")
            (scratch / ".requirements").write_text(wanted)
            if VENV.exists():
                shutil.rmtree(VENV)
            scratch.rename(VENV)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch)


def _run(command: list[str], what: str, home: Path | None = None) -> None:
    env = dict(os.environ, HOME=str(home)) if home else None
    if home:
        home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise EmulatorUnavailable(f"could not {what}: {(done.stderr or done.stdout).strip()[-2000:]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    # Linux: the emulator gets SIGTERM when the process that started it dies, so a test run
    # that is killed leaves no emulator behind.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Emulator:
    """One emulator process on loopback."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self._log = tempfile.NamedTemporaryFile(prefix="bqemulator-", suffix=".log", delete=False)

    def start(self) -> None:
        build()
        rest, grpc = free_port(), free_port()
        env = dict(os.environ, HOME=str(VENV / "home"), BQEMU_ENABLE_FORMAT_EXTENSIONS="false")
        command = [str(python()), str(SERVE), "start", "--rest-host", "127.0.0.1", "--rest-port", str(rest),
                   "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc), "--project", PROJECT, "--log-level", "warning"]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
        self.endpoint = f"http://127.0.0.1:{rest}"
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorUnavailable(f"the emulator exited with status {self.process.returncode}: {self.log_tail()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.endpoint}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            time.sleep(0.1)
        self.stop()
        raise EmulatorUnavailable(f"the emulator did not answer {self.endpoint}/healthz within {READY_TIMEOUT:.0f} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def log_tail(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-2000:]

    def client(self):  # -> google.cloud.bigquery.Client
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": self.endpoint})

    def create_dataset(self) -> str:
        """A new, empty dataset (a random name: tests never share one by accident)."""
        name = f"crm_test_{secrets.token_hex(4)}"
        client = self.client()
        try:
            client.create_dataset(name)
        finally:
            client.close()
        return name


_shared: Emulator | None = None
_failure: str | None = None


def shared() -> Emulator:
    """The session's emulator, started on first use; `EmulatorUnavailable` if it cannot be."""
    global _shared, _failure
    if _failure:
        raise EmulatorUnavailable(_failure)
    if _shared is None:
        emulator = Emulator()
        try:
            emulator.start()
        except (EmulatorUnavailable, OSError, subprocess.SubprocessError) as error:
            emulator.stop()
            _failure = f"BigQuery emulator unavailable: {error}"
            raise EmulatorUnavailable(_failure) from error
        _shared = emulator
    return _shared


def stop_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None


if __name__ == "__main__":
    build()
    print(f"emulator environment ready in {VENV}")
