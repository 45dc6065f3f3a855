"""Which part of the code may import which (docs/architecture.md, "Parts and their imports").

Every module belongs to one part; its imports (at any depth of the module, except those under
`if TYPE_CHECKING:`, which only type checkers run) may name only the parts and third-party
packages its row allows. A module that belongs to no part fails the test too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: part -> its modules (dotted names).
PARTS: dict[str, set[str]] = {
    "core": {"crm_metrics.errors", "crm_metrics.config", "crm_metrics.query", "crm_metrics.dialects", "crm_metrics.models", "crm_metrics.output", "crm_metrics.charts", "crm_metrics.anomalies", "crm_metrics.prices"},
    "compiler": {"crm_metrics.templates", "crm_metrics.compiler", "crm_metrics.schema", "crm_metrics.partitions", "crm_metrics.custom", "crm_metrics.isolation"},
    "executors": {"crm_metrics.executors", "crm_metrics.executors.base", "crm_metrics.executors.duckdb", "crm_metrics.executors.postgres", "crm_metrics.executors.bigquery"},
    "facade": {"crm_metrics.request", "crm_metrics.planning", "crm_metrics.answers", "crm_metrics.tenants", "crm_metrics.tenant_service", "crm_metrics.service", "crm_metrics.console"},
    "store": {"crm_metrics.store", "crm_metrics.loader", "crm_metrics.derived", "crm_metrics.demo", "crm_metrics.changes", "crm_metrics.events"},
    "reports": {"crm_metrics.report", "crm_metrics.schedule", "crm_metrics.deliveries", "crm_metrics.scheduler"},
    "cli": {"crm_metrics", "crm_metrics.__main__", "crm_metrics.cli"},
    "server": {f"server.{path.stem}" for path in (REPO / "server").glob("*.py") if path.stem != "__init__"} | {"server"},
}

#: part -> (parts it may import, third-party packages it may import).
RULES: dict[str, tuple[set[str], set[str]]] = {
    "core": ({"core"}, {"sqlglot"}),
    "compiler": ({"core", "compiler"}, {"sqlglot", "jinja2"}),
    # An engine's module imports its own driver; the protocol module imports none.
    "executors": ({"core", "executors"}, {"duckdb", "psycopg", "psycopg_pool", "google", "requests", "pyarrow"}),
    "facade": ({"core", "compiler", "facade", "store", "executors"}, set()),
    "store": ({"core", "compiler", "facade", "store", "executors"}, {"pyarrow"}),
    # Reports read answers through the facade and keep the scheduler's table in the store;
    # vl-convert draws the charts and WeasyPrint lays out the PDF.
    "reports": ({"core", "compiler", "facade", "store", "executors", "reports"}, {"jinja2", "vl_convert", "weasyprint"}),
    "cli": ({"core", "compiler", "facade", "store", "executors", "reports", "cli", "server"}, set()),
    # The server parses and serialises: the library's public API and its request rules, never
    # a driver, sqlglot, the compiler or the executors.
    "server": ({"server"}, {"starlette", "uvicorn", "jwt", "redis", "prometheus_client"}),
}
#: The crm_metrics modules the server may import: the package's API, the request rules it
#: validates with (and the granularities they accept), settings and errors, the page's chart
#: definitions, the report, the scheduler's record of deliveries (for /health), the live
#: rollup's applier (which `serve` runs), and the event format that POST /api/v1/events and the
#: stream consumer check.
SERVER_MAY_USE = {"crm_metrics", "crm_metrics.request", "crm_metrics.config", "crm_metrics.errors", "crm_metrics.templates", "crm_metrics.charts", "crm_metrics.report", "crm_metrics.deliveries", "crm_metrics.scheduler", "crm_metrics.changes", "crm_metrics.events"}
#: Drivers the executors may use only inside the engine's own module.
DRIVERS = {"crm_metrics.executors.duckdb": "duckdb", "crm_metrics.executors.postgres": "psycopg", "crm_metrics.executors.bigquery": "google"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file, but under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for child in ast.walk(statement)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` imports the module; `from module import name` the module.
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & ALL_MODULES
            names.update(submodules or {node.module})
    return names


def part_of(name: str) -> str | None:
    return next((part for part, modules in PARTS.items() if name in modules), None)


SOURCES = sorted([*(REPO / "crm_metrics").rglob("*.py"), *(REPO / "server").glob("*.py")])
ALL_MODULES = {module_name(path) for path in SOURCES}


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: module_name(path))
def test_imports_follow_the_parts(path: Path) -> None:
    name = module_name(path)
    part = part_of(name)
    assert part, f"{name} belongs to no part: add it to PARTS here and to docs/architecture.md"
    parts, third_party = RULES[part]
    for imported in imports(path):
        top = imported.split(".")[0]
        if top == "__future__" or top in sys.stdlib_module_names:
            continue
        if top in ("crm_metrics", "server"):
            if part == "server" and top == "crm_metrics":
                assert imported in SERVER_MAY_USE, f"{name} imports {imported}"
                continue
            assert part_of(imported) in parts, f"{name} ({part}) imports {imported} ({part_of(imported)})"
        else:
            assert top in third_party, f"{name} ({part}) imports {imported}"
            if part == "executors" and top in DRIVERS.values():
                assert DRIVERS.get(name) == top, f"{name} imports the driver {top}"


def test_the_cli_imports_the_server_only_when_it_serves() -> None:
    # The server is the `server` extra's: `crm-metrics query` must work without starlette.
    tree = ast.parse((REPO / "crm_metrics" / "cli.py").read_text(encoding="utf-8"))
    top_level = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top_level |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in top_level if name.split(".")[0] == "server"}


def test_the_document_lists_every_part() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    for part, modules in PARTS.items():
        assert f"| {part} |" in text, part
        for module in modules - {"server"}:
            short = module.removeprefix("crm_metrics.").removeprefix("server.")
            assert f"`{short}`" in text or module == "crm_metrics", f"docs/architecture.md does not name {module}"
