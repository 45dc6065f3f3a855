"""server/ parses and serialises: it never reaches past crm_metrics' API into drivers,
sqlglot, the compiler or the executors (docs/architecture.md)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

SERVER = Path(__file__).parents[2] / "server"
#: The crm_metrics modules the server may use: the package API, the request rules and
#: granularities it validates with, the Setting type of its configuration table.
ALLOWED_CRM_METRICS = {"crm_metrics", "crm_metrics.request", "crm_metrics.templates", "crm_metrics.config", "crm_metrics.errors"}
THIRD_PARTY = {"starlette", "uvicorn", "jwt", "redis"}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from package import module` imports the module too.
            names.update(f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}"))
    return names


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package
        return False


@pytest.mark.parametrize("path", sorted(SERVER.glob("*.py")), ids=lambda p: p.name)
def test_server_imports(path: Path) -> None:
    for name in imports(path):
        top = name.split(".")[0]
        if top == "crm_metrics":
            assert name in ALLOWED_CRM_METRICS, name
        elif top != "server" and top != "__future__" and top not in sys.stdlib_module_names:
            assert top in THIRD_PARTY, name
