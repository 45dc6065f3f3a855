"""Compile a template for one dialect: render, parse, rewrite, set the parameter style.

`compile_sql` is cached per (template, dialect, shape): sqlglot runs once per process for each,
never per request (transpiling a 40-line query costs milliseconds in pure Python).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from crm_metrics import templates
from crm_metrics.dialects import CAST_PARAMETERS, PARAMETER_STYLE, SQL_TYPE, Dialect, escape_text, rewrite
from crm_metrics.errors import TemplateError
from crm_metrics.query import CompiledQuery, Field
from crm_metrics.schema import TABLES

_MARKER = "__crm_param_{}__"


def parse_dialect(dialect: str | Dialect) -> Dialect:
    try:
        return Dialect(str(dialect).lower())
    except ValueError:
        known = ", ".join(d.value for d in Dialect)
        raise TemplateError(f"Unknown dialect {dialect!r}. Known: {known}") from None


def compile_sql(name: str, dialect: str | Dialect, shape: templates.Shape | None = None) -> CompiledQuery:
    """The template `name` for `dialect`, in `shape` (default: the seed layout, by day, no
    outlet filter); compiled once per process for each (template, dialect, shape)."""
    # One cache key per shape, however the caller spells the dialect (a str or a Dialect).
    return _compile(name, parse_dialect(dialect), shape or default_shape(name))


def default_shape(name: str) -> templates.Shape:
    """A template's plainest shape: the seed layout, its first granularity, no outlet filter."""
    return templates.Shape(granularity=templates.load(name).granularities[0])


@functools.lru_cache(maxsize=None)
def _compile(name: str, dialect: Dialect, shape: templates.Shape) -> CompiledQuery:
    return compile_text(templates.load(name), templates.render_template(name, shape), dialect)


def compile_text(template: templates.Template, text: str, dialect: Dialect, tree: exp.Expression | None = None) -> CompiledQuery:
    """A template's rendered BigQuery SQL for `dialect` (uncached: `compile_sql` caches the
    built-in templates, crm_metrics/custom.py the custom ones); `tree`: the text already
    parsed, a copy this may change."""
    if tree is None:
        try:
            tree = sqlglot.parse_one(text, read="bigquery")
        except ParseError as error:
            raise TemplateError(f"{template.path.name}: not valid BigQuery SQL: {error}") from error

    declared = {p.name: p for p in template.params}
    used = {node.name for node in tree.find_all(exp.Parameter)}
    if unknown := used - declared.keys():
        raise TemplateError(f"{template.path.name}: @{', @'.join(sorted(unknown))} not in the header's params")

    tree = rewrite(tree, dialect)
    if CAST_PARAMETERS[dialect]:
        tree = tree.transform(lambda node: _typed(node, declared), copy=False)
    return CompiledQuery(
        # The file's stem (`tenant` for lookup/tenant): it labels BigQuery jobs and errors.
        name=template.name,
        dialect=dialect.value,
        sql=_generate(tree, dialect),
        params=tuple(p for p in template.params if p.name in used),
        columns=template.columns,
        tree=tree,
    )


def _typed(node: exp.Expression, declared: Mapping[str, Field]) -> exp.Expression:
    if isinstance(node, exp.Parameter):
        cast = exp.Cast(this=node.copy(), to=SQL_TYPE[declared[node.name].type].copy())
        # PostgreSQL subscripts only a parenthesised cast: (CAST(p AS TEXT[]))[i].
        return exp.Paren(this=cast) if isinstance(node.parent, exp.Bracket) else cast
    return node


def _generate(tree: exp.Expression, dialect: Dialect) -> str:
    marked = tree.transform(
        lambda node: exp.var(_MARKER.format(node.name)) if isinstance(node, exp.Parameter) else node
    )
    sql = escape_text(marked.sql(dialect=dialect.value, pretty=True, comments=False), dialect)
    for node in tree.find_all(exp.Parameter):
        sql = sql.replace(_MARKER.format(node.name), PARAMETER_STYLE[dialect].format(name=node.name))
    return sql


def literal_text(value: Any) -> str:
    """A parameter value as the text of a typed SQL literal."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _literal(value: Any, sql_type: str) -> exp.Expression:
    """A typed literal: quoted and escaped by sqlglot, cast unless it is a string; an array
    (the price tables' columns) of such literals."""
    if isinstance(value, list | tuple):
        element = sql_type.removeprefix("ARRAY<").removesuffix(">")
        return exp.Array(expressions=[_literal(v, element) for v in value])
    text = exp.Literal.string(literal_text(value))
    return text if sql_type == "STRING" else exp.cast(text, SQL_TYPE[sql_type].copy())


def inline(query: CompiledQuery, values: Mapping[str, Any], *, dataset: str | None = None) -> str:
    """The query with each parameter replaced by a typed literal, to run as-is in a console;
    with `dataset` (`PROJECT.DATASET`), the seed's tables are qualified with it.

    Literals are syntax-tree nodes that sqlglot quotes and escapes; no value is pasted into text.
    """
    bound = query.bind(values)
    types = {p.name: p.type for p in query.params}

    def literal(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Parameter):
            return node
        if isinstance(bound[node.name], list | tuple):
            return _literal(bound[node.name], types[node.name])
        if isinstance(node.parent, exp.Cast):
            return exp.Literal.string(literal_text(bound[node.name]))
        return _literal(bound[node.name], types[node.name])

    return _qualified(query.tree, dataset).transform(literal).sql(dialect=query.dialect, pretty=True, comments=False)


#: Script variables get a prefix: in a BigQuery query a column wins over a variable of the same
#: name, so a variable called `tenant_id` would compare `c.tenant_id` with itself.
VARIABLE = "param_{}"


def declare(query: CompiledQuery, values: Mapping[str, Any], *, dataset: str | None = None) -> str:
    """A BigQuery script: `DECLARE param_x TYPE DEFAULT literal;` per parameter, then the query
    reading the variables. Change a DEFAULT in the console to ask another question."""
    if query.dialect != "bigquery":
        raise TemplateError(f"DECLARE scripts are BigQuery scripting; {query.name} is compiled for {query.dialect}")
    bound = query.bind(values)
    lines = [
        f"DECLARE {VARIABLE.format(p.name)} {p.type} DEFAULT {_literal(bound[p.name], p.type).sql(dialect='bigquery')};"
        for p in query.params
    ]
    body = _qualified(query.tree, dataset).transform(
        lambda node: exp.column(VARIABLE.format(node.name)) if isinstance(node, exp.Parameter) else node
    )
    return "\n".join(lines) + "\n" + body.sql(dialect="bigquery", pretty=True, comments=False)


def _qualified(tree: exp.Expression, dataset: str | None) -> exp.Expression:
    """`tree` with the seed's tables as `dataset.table` (a console has no default dataset)."""
    if not dataset:
        return tree
    project, _, name = dataset.rpartition(".")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}

    def qualify(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name in TABLES and node.name not in ctes and not node.args.get("db"):
            node = node.copy()
            node.set("db", exp.to_identifier(name))
            if project:
                node.set("catalog", exp.to_identifier(project))
        return node

    return tree.transform(qualify)


#: The cache behind compile_sql, for tests and diagnostics.
compile_sql.cache_info = _compile.cache_info  # type: ignore[attr-defined]
compile_sql.cache_clear = _compile.cache_clear  # type: ignore[attr-defined]
