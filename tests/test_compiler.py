"""The compiler: snapshots of the SQL it generates, its cache, and values kept out of SQL text."""

from __future__ import annotations

import dataclasses

import difflib
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
from crm_metrics.errors import InvalidParameter, TemplateError
from crm_metrics.models import DASHBOARD_SUMS, SERIES, SERIES_TEMPLATES, Summary
from crm_metrics.templates import Shape
from crm_metrics.query import CompiledQuery

SNAPSHOTS = Path(__file__).parent / "snapshots"
DIALECTS = [d.value for d in Dialect]
#: Layouts each engine runs: BigQuery reads the seed's tables only; DuckDB and PostgreSQL also
#: their derived tables and rollup.
ENGINE_LAYOUTS = {"bigquery": ("seed",), "duckdb": ("seed", "facts", "rollup"), "postgres": ("seed", "facts", "rollup")}
#: The seed's tables read within a look-around bound (LOOKAROUND_DAYS; Shape.bounded), named
#: here as a layout of its own: every engine runs it when the bound is set.
BOUNDED = "bounded"


def _default(name: str) -> str:
    return templates.load(name).granularities[0]


#: (metric, outlet filter, granularity, layout, dialect): every metric template in its default
#: shape on every dialect, the other shapes of the dashboard, and the layouts with derived
#: tables on the engines that have them. Only shapes that run on their engine.
SHAPES = [(name, False, _default(name), "seed", dialect) for name in templates.names() for dialect in DIALECTS] + [
    ("dashboard", True, "week", "seed", "postgres"),
    ("dashboard", False, "month", "seed", "bigquery"),
    *[(name, False, _default(name), BOUNDED, "bigquery") for name in ("dashboard", "summary")],
    ("dashboard", True, "week", BOUNDED, "postgres"),
    *[
        shape
        for dialect in ("duckdb", "postgres")
        for layout in ("facts", "rollup")
        for shape in (("dashboard", False, "day", layout, dialect), ("dashboard", True, "week", layout, dialect), ("summary", False, "range", layout, dialect))
    ],
]
assert all(layout in (*ENGINE_LAYOUTS[dialect], BOUNDED) for _, _, _, layout, dialect in SHAPES)


def _shape(outlet: bool, granularity: str, layout: str) -> Shape:
    if layout == BOUNDED:
        return Shape("seed", outlet, granularity, bounded=True)
    return Shape(layout, outlet, granularity, offsets=layout != "seed")


def _snapshot_path(name: str, outlet: bool, granularity: str, layout: str, dialect: str) -> Path:
    shape = "".join(
        [f"-{layout}" if layout != "seed" else "", "-outlet" if outlet else "", f"-{granularity}" if granularity != _default(name) else ""]
    )
    return SNAPSHOTS / name / f"{dialect}{shape}.sql"


@pytest.mark.parametrize(("name", "outlet", "granularity", "layout", "dialect"), SHAPES)
def test_snapshot(request: pytest.FixtureRequest, name: str, outlet: bool, granularity: str, layout: str, dialect: str) -> None:
    path = _snapshot_path(name, outlet, granularity, layout, dialect)
    query = compile_sql(name, dialect, _shape(outlet, granularity, layout))
    described = "seed layout within a look-around bound" if layout == BOUNDED else f"{layout} layout"
    text = f"-- {name} for {dialect}, {described}, outlet filter {'on' if outlet else 'off'}, by {granularity}\n{query.sql}\n"
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
    expected = {_snapshot_path(*shape) for shape in SHAPES}
    assert set(SNAPSHOTS.rglob("*.sql")) == expected


def test_second_compile_does_no_sqlglot_work() -> None:
    compile_sql.cache_clear()
    first = compile_sql("message_metrics", "postgres", Shape(outlet=True, granularity="week"))
    with mock.patch.object(sqlglot, "parse_one", side_effect=AssertionError("parsed again")), mock.patch(
        "sqlglot.expressions.Expression.sql", side_effect=AssertionError("generated again")
    ):
        again = compile_sql("message_metrics", "postgres", Shape(outlet=True, granularity="week"))
    assert again is first


def test_each_shape_compiles_once_for_many_requests() -> None:
    metrics = Metrics.connect("duckdb:///:memory:")
    metrics.store.init_db()
    compile_sql.cache_clear()
    tenant = "123e4567-e89b-12d3-a456-426614174000"
    for day in range(1, 6):
        metrics.dashboard(tenant, f"2025-11-0{day}", "2025-11-09", granularity="week")
        metrics.summary(tenant, f"2025-11-0{day}", "2025-11-09")
    info = compile_sql.cache_info()
    # The dashboard, the summary and the tenant lookup (remembered after the first request):
    # three compilations; every later statement is a cache hit.
    assert info.misses == 3
    assert info.hits == 5 * 2 - 2


@pytest.mark.parametrize("name", templates.names())
def test_header_declares_what_the_sql_uses(name: str) -> None:
    template = templates.load(name)
    grain = "week" if "week" in template.granularities else template.granularities[0]
    shapes = [
        compile_sql(name, "bigquery", dataclasses.replace(_shape(True, grain, layout), priced=priced))
        for layout in ("seed", "facts", BOUNDED)
        for priced in (False, True)
    ]
    used = {p.name for query in shapes for p in query.params}
    assert used == {p.name for p in template.params}
    assert all(query.columns == template.columns for query in shapes)


def test_jinja_only_shapes_the_query() -> None:
    # Every template, source and macro file reads nothing but the shape and named constants.
    env = templates.environment()
    shaping: set[str] = set()
    for path in templates.sql_dir().rglob("*.sql"):
        if "schema" not in path.parts:
            source = env.loader.get_source(env, path.relative_to(templates.sql_dir()).as_posix())[0]
            shaping |= meta.find_undeclared_variables(env.parse(source))
    assert shaping - set(templates.CONSTANTS) <= {"outlet", "granularity", "layout", "offsets", "bounded", "priced", "stored_prices", "offset_changes"}, "Jinja may only shape the query"


def test_only_metric_templates_are_public() -> None:
    assert templates.names() == (
        "conversation_metrics", "cost_markets", "cost_metrics", "costs", "daily_values", "dashboard", "handoff_metrics", "heatmap",
        "message_metrics", "outcomes", "outlets", "priced_dashboard", "responses", "summary",
    )
    with pytest.raises(TemplateError, match="Unknown metric 'conversation_facts'"):
        templates.load("conversation_facts")
    assert templates.load("derived/conversation_facts").name == "conversation_facts"


def test_a_template_renders_only_for_its_granularities() -> None:
    with pytest.raises(TemplateError, match="summary.sql renders for range, not 'week'"):
        compile_sql("summary", "duckdb", Shape(granularity="week"))
    with pytest.raises(TemplateError, match="dashboard.sql renders for day, week, month, not 'range'"):
        compile_sql("dashboard", "duckdb", Shape(granularity="range"))


@pytest.mark.parametrize("series", sorted(SERIES))
def test_result_types_mirror_the_header(series: str) -> None:
    row_type = SERIES[series]
    assert [c.name for c in templates.load(SERIES_TEMPLATES[series]).columns] == list(row_type.field_names())


def test_the_dashboard_is_the_series_side_by_side() -> None:
    """The series' fields in order, the overview's sums (shown by no series) before the costs."""
    fields = ["date"] + [f for key, row_type in SERIES.items() if key != "costs" for f in row_type.field_names() if f != "date"]
    fields += [*DASHBOARD_SUMS, *[f for f in SERIES["costs"].field_names() if f != "date"]]
    assert [c.name for c in templates.load("dashboard").columns] == fields


def test_summary_type_mirrors_the_header() -> None:
    columns = [c.name for c in templates.load("summary").columns]
    assert list(Summary.field_names())[-len(columns) :] == columns


class RecordingExecutor:
    """An executor that answers nothing and remembers every query and its values."""

    dialect = "duckdb"
    description = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        self.calls.append((query.sql, query.bind(values)))
        if query.name == "summary":
            return [(0, 0, None, None, None, 0.0)]
        return []

    def has_table(self, name: str) -> bool:
        return name == "tenants"

    def run_script(self, sql: str) -> None: ...
    def upsert_rows(self, table: str, rows: object, derived: object = ()) -> None: ...
    def rebuild(self, derived: object, ddl: object = None) -> None: ...
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
    query = compile_sql("lookup/tenant", dialect)
    for value in INJECTIONS:
        text = inline(query, {"tenant_id": value})
        statements = sqlglot.parse(text, read=dialect)
        assert len(statements) == 1
        literals = [lit.this for lit in statements[0].find_all(sqlglot.exp.Literal) if lit.is_string]
        assert value in literals


def test_sql_shows_what_the_library_runs() -> None:
    metrics = Metrics.connect("duckdb:///:memory:")
    metrics.store.init_db()
    compile_sql.cache_clear()
    metrics.dashboard("123e4567-e89b-12d3-a456-426614174000", "2025-11-01", "2025-11-09")
    before = compile_sql.cache_info().misses
    metrics.sql("dashboard")
    assert compile_sql.cache_info().misses == before, "sql() compiled a shape the dashboard did not run"
