"""The code passes pyflakes' checks (ruff's F rules: unused imports and variables, undefined
names, redefinitions), as configured in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.engines import unavailable

REPO = Path(__file__).resolve().parents[1]


def test_pyflakes_finds_nothing() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        unavailable("ruff (dev extra) is not installed")
        pytest.fail("unreachable")
    done = subprocess.run([ruff, "check", "crm_metrics", "server", "tests", "bench"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
