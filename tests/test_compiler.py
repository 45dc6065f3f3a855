"""The compiler: snapshots of the SQL it generates, its cache, and values kept out of SQL text."""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlglot
from jinja2 import meta

from crm_metrics import Metrics, templates
from crm_metrics.compiler import compile_sql, inline
from crm_metrics.dialects import Dialect
from crm_metrics.errors import InvalidParameter
from crm_metrics.models import SERIES, SUMMARY_TEMPLATE, Summary
from crm_metrics.query import CompiledQuery

SNAPSHOTS = Path(__file__).parent / "snapshots"
DIALECTS = [d.value for d in Dialect]
#: Every template in its default shape, and the other shapes of one series.
SHAPES = [(name, False, "day") for name in templates.names()] + [
    ("conversation_metrics", True, "week"),
    ("conversation_metrics", False, "month"),
]


def _snapshot_path(name: str, dialect: str, outlet: bool, granularity: str) -> Path:
    shape = "" if (outlet, granularity) == (False, "day") else f"-{'outlet-' if outlet else ''}{granularity}"
    return SNAPSHOTS / name / f"{dialect}{shape}.sql"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("name", "outlet", "granularity"), SHAPES)
def test_snapshot(request: pytest.FixtureRequest, name: str, outlet: bool, granularity: str, dialect: str) -> None:
    path = _snapshot_path(name, dialect, outlet, granularity)
    query = compile_sql(name, dialect, outlet=outlet, granularity=granularity)
    text = f"-- {name} for {dialect}, outlet filter {'on' if outlet else 'off'}, by {granularity}\n{query.sql}\n"
    if request.config.getoption("--snapshot-update"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path}; run pytest --snapshot-update and review the diff"
    stored = path.read_text()
    if stored != text:
        diff = "".join(difflib.unified_diff(stored.splitlines(True), text.splitlines(True), str(path), "compiled"))
        pytest.fail(f"compiled SQL changed (pytest --snapshot-update rewrites it):\n{diff}")


def test_no_stale_snapshots() -> None:
    expected = {_snapshot_path(n, d, o, g) for (n, o, g), d in itertools.product(SHAPES, DIALECTS)}
    assert set(SNAPSHOTS.rglob("*.sql")) == expected


def test_second_compile_does_no_sqlglot_work() -> None:
    compile_sql.cache_clear()
    first = compile_sql("message_metrics", "postgres", outlet=True, granularity="week")
    with mock.patch.object(sqlglot, "parse_one", side_effect=AssertionError("parsed again")), mock.patch(
        "sqlglot.expressions.Expression.sql", side_effect=AssertionError("generated again")
    ):
        again = compile_sql("message_metrics", "postgres", outlet=True, granularity="week")
    assert again is first


def test_each_shape_compiles_once_for_many_requests() -> None:
    compile_sql.cache_clear()
    metrics = Metrics.connect("duckdb:///:memory:")
    metrics.init_db()
    tenant = "123e4567-e89b-12d3-a456-426614174000"
    for day in range(1, 6):
        metrics.dashboard(tenant, f"2025-11-0{day}", "2025-11-09", granularity="week")
        metrics.summary(tenant, f"2025-11-0{day}", "2025-11-09")
    info = compile_sql.cache_info()
    # Four series, the summary and the tenant lookup: six compilations. Each round runs seven
    # queries (a lookup and four series, a lookup and the summary); every later one is a hit.
    assert info.misses == 6
    assert info.hits == 5 * 7 - 6


@pytest.mark.parametrize("name", templates.names())
def test_header_declares_what_the_sql_uses(name: str) -> None:
    template = templates.load(name)
    query = compile_sql(name, "bigquery", outlet=True, granularity="week")
    assert [p.name for p in query.params] == [p.name for p in template.params]
    assert query.columns == template.columns
    env = templates._environment()
    source = env.loader.get_source(env, f"{name}.sql")[0]
    macros = env.loader.get_source(env, "_macros.sql")[0]
    shaping = meta.find_undeclared_variables(env.parse(source)) | meta.find_undeclared_variables(env.parse(macros))
    assert shaping <= {"outlet", "granularity"}, "Jinja may only shape the query"


@pytest.mark.parametrize(("series", "spec"), sorted(SERIES.items()))
def test_result_types_mirror_the_header(series: str, spec: tuple[str, type]) -> None:
    template, row_type = spec
    assert [c.name for c in templates.load(template).columns] == list(row_type.field_names())


def test_summary_type_mirrors_the_header() -> None:
    columns = [c.name for c in templates.load(SUMMARY_TEMPLATE).columns]
    assert list(Summary.field_names())[-len(columns) :] == columns


class RecordingExecutor:
    """An executor that answers nothing and remembers every query and its values."""

    dialect = "duckdb"
    description = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        self.calls.append((query.sql, query.bind(values)))
        if query.name == SUMMARY_TEMPLATE:
            return [(0, 0, None, None, None, 0.0)]
        return []

    def has_table(self, name: str) -> bool:
        return True

    def run_script(self, sql: str) -> None: ...
    def replace_rows(self, table: str, rows: object) -> None: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


INJECTIONS = ["x'; DROP TABLE conversations; --", "' OR '1'='1", "$1", "%(tenant_id)s", "@tenant_id", "{{ 7*7 }}", "\\'; --"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_values_never_reach_sql_text(dialect: str) -> None:
    executor = RecordingExecutor()
    executor.dialect = dialect
    metrics = Metrics(executor)
    requests = [
        ("123e4567-e89b-12d3-a456-426614174000", "2025-11-01", "2025-11-04", "0b1e7000-0000-4000-8000-00000000000a", "UTC"),
        ("00000000-0000-0000-0000-000000000001", "2024-02-28", "2024-03-02", "0b1e7000-0000-4000-8000-00000000000b", "Asia/Kathmandu"),
    ]
    texts = []
    for tenant, start, end, outlet, tz in requests:
        executor.calls.clear()
        metrics.dashboard(tenant, start, end, outlet_id=outlet, tz=tz, granularity="month")
        metrics.summary(tenant, start, end, outlet_id=outlet, tz=tz)
        texts.append([sql for sql, _ in executor.calls])
        for sql, values in executor.calls:
            for value in values.values():
                assert str(value) not in sql
    assert texts[0] == texts[1]
    # Injection strings never get as far as SQL: each is refused, naming its field.
    for value in INJECTIONS:
        for field in ("tenant_id", "start_date", "end_date", "outlet_id", "tz", "granularity"):
            args = dict(tenant_id=requests[0][0], start_date="2025-11-01", end_date="2025-11-04", outlet_id=None, tz=None)
            args[field] = value
            with pytest.raises(InvalidParameter) as error:
                metrics.dashboard(**args)
            assert error.value.field == field


@pytest.mark.parametrize("dialect", DIALECTS)
def test_inlined_values_are_literals(dialect: str) -> None:
    query = compile_sql("tenant", dialect)
    for value in INJECTIONS:
        text = inline(query, {"tenant_id": value})
        statements = sqlglot.parse(text, read=dialect)
        assert len(statements) == 1
        literals = [lit.this for lit in statements[0].find_all(sqlglot.exp.Literal) if lit.is_string]
        assert value in literals
