"""Compile a template for one dialect: render, parse, rewrite, set the parameter style.

`compile_sql` is cached per (template, dialect, shape): sqlglot runs once per process for each,
never per request (transpiling costs milliseconds; see dialect-traps.md).
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

_MARKER = "__crm_param_{}__"


def parse_dialect(dialect: str | Dialect) -> Dialect:
    try:
        return Dialect(str(dialect).lower())
    except ValueError:
        known = ", ".join(d.value for d in Dialect)
        raise TemplateError(f"Unknown dialect {dialect!r}. Known: {known}") from None


@functools.lru_cache(maxsize=None)
def compile_sql(
    name: str,
    dialect: str | Dialect,
    *,
    outlet: bool = False,
    granularity: str = "day",
    layout: str = "seed",
    offsets: bool = False,
) -> CompiledQuery:
    """The template `name` for `dialect`, in the shape (outlet filter, granularity, layout,
    local dates by known UTC offsets) given."""
    dialect = parse_dialect(dialect)
    template = templates.load(name)
    text = templates.render(name, outlet=outlet, granularity=granularity, layout=layout, offsets=offsets)
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
        name=name,
        dialect=dialect.value,
        sql=_generate(tree, dialect),
        params=tuple(p for p in template.params if p.name in used),
        columns=template.columns,
        tree=tree,
    )


def _typed(node: exp.Expression, declared: Mapping[str, Field]) -> exp.Expression:
    if isinstance(node, exp.Parameter):
        return exp.Cast(this=node, to=SQL_TYPE[declared[node.name].type].copy())
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


def inline(query: CompiledQuery, values: Mapping[str, Any]) -> str:
    """The query with each parameter replaced by a typed literal, to run as-is in a console.

    Literals are syntax-tree nodes that sqlglot quotes and escapes; no value is pasted into text.
    """
    bound = query.bind(values)
    types = {p.name: p.type for p in query.params}

    def literal(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Parameter):
            return node
        text = exp.Literal.string(literal_text(bound[node.name]))
        if isinstance(node.parent, exp.Cast) or types[node.name] == "STRING":
            return text
        return exp.cast(text, SQL_TYPE[types[node.name]].copy())

    return query.tree.transform(literal).sql(dialect=query.dialect, pretty=True, comments=False)
