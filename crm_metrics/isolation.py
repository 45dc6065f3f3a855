"""Tenant isolation of a custom metric, enforced on its syntax tree (docs/custom-metrics.md).

A custom metric is SQL that someone other than this project wrote, run with the request's
tenant bound as `@tenant_id`. Its rendered SQL is parsed by sqlglot and refused unless it is
one read-only query whose every read of a tenant's table is restricted to that tenant:

- every scan of `conversations` has the predicate `<alias>.tenant_id = @tenant_id` (or
  `LOWER(<alias>.tenant_id) = @tenant_id`), or its `id` restricted to a tenant's set of
  conversation ids (below);
- every scan of `messages` has its `conversation_id` restricted to a tenant's set of
  conversation ids: equal to `c.id` of a scan of `conversations` restricted by the tenant
  predicate, or to a column of a CTE or subquery that projects such ids, or `IN (...)` a
  query projecting them (every UNION branch of it);
- every scan of `tenants` has `<alias>.id = @tenant_id`;
- no other table is read.

"Restricted" means the predicate filters the scan's rows: a conjunct of the WHERE clause, of
an inner join's ON, or of the ON of the LEFT JOIN that brings the scan in. A predicate in an
OR, or in the ON of a LEFT JOIN whose scan is the preserved side, restricts nothing. Each scan
is checked where it is, so a tenant filter in a CTE that the final query bypasses, or in one
UNION branch only, covers nothing else.

Values belong in parameters: a comparison of a column named tenant_id, outlet_id, id,
conversation_id or sender_id with anything but a column or that column's parameter, and a
comparison with a DATE or TIMESTAMP literal, are refused. So are functions sqlglot does not
know (they reach every engine verbatim: file readers, other databases).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlglot import exp

#: The tables a custom metric may read: the seed's (crm_metrics/schema.py).
READABLE = ("conversations", "messages", "tenants")
#: Columns whose values identify rows of one tenant: compared only with columns or parameters.
IDENTIFYING = frozenset({"tenant_id", "outlet_id", "id", "conversation_id", "sender_id"})
#: The parameter each identifying column may be compared with.
PARAMETER_FOR = {"tenant_id": "tenant_id", "outlet_id": "outlet_id"}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.In, exp.Between, exp.Like, exp.ILike)
_WRITES = (exp.DDL, exp.DML, exp.Command, exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.TruncateTable)
_WRAPPERS = (exp.Lower, exp.Upper, exp.Cast, exp.Trim, exp.Paren)
_TIME_TYPES = {exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.DATETIME}


@dataclass(frozen=True)
class Problem:
    message: str
    #: The node it is about (its line in the rendered SQL, where sqlglot kept one).
    node: exp.Expression | None = None

    def line(self) -> int | None:
        if self.node is None:
            return None
        for identifier in [self.node, *self.node.find_all(exp.Identifier, exp.Literal, exp.Parameter)]:
            line = identifier.meta.get("line") if identifier.meta else None
            if line:
                return line
            if isinstance(identifier, (exp.Parameter,)) and identifier.this is not None and identifier.this.meta:
                return identifier.this.meta.get("line")
        return None


def problems(statements: list[exp.Expression | None]) -> list[Problem]:
    """What makes the parsed statements of a rendered custom metric unsafe to run (none: safe)."""
    if len(statements) != 1 or statements[0] is None:
        return [Problem(f"a custom metric is one SELECT statement, not {len([s for s in statements if s is not None])}")]
    tree = statements[0]
    found = [Problem(f"{_kind(node)} is not allowed: a custom metric only reads", node) for node in tree.walk() if isinstance(node, _WRITES)]
    if found or not isinstance(tree, exp.Query):
        return found or [Problem(f"{_kind(tree)} is not allowed: a custom metric is one SELECT statement", tree)]
    found += _ctes(tree)
    for table in tree.find_all(exp.Table):
        found += _scan(table)
    found += _literals(tree)
    # A function sqlglot does not know is passed to every engine verbatim: it would not run on
    # all three, and it is how engines read files and other databases (pg_read_file, dblink,
    # DuckDB's read_csv, BigQuery's EXTERNAL_QUERY).
    found += [Problem(f"calls {node.name}(), a function sqlglot does not know: a custom metric uses functions that run on every engine", node) for node in tree.find_all(exp.Anonymous)]
    return found


def _kind(node: exp.Expression) -> str:
    return node.key.upper()


def _ctes(tree: exp.Expression) -> list[Problem]:
    found = []
    for with_ in tree.find_all(exp.With):
        if with_.args.get("recursive"):
            found.append(Problem("WITH RECURSIVE is not allowed", with_))
    for cte in tree.find_all(exp.CTE):
        if cte.alias_or_name.lower() in READABLE:
            found.append(Problem(f"a CTE may not be named {cte.alias_or_name!r}: it would hide the table of that name", cte))
    return found


def _cte_names(node: exp.Expression) -> dict[str, exp.CTE]:
    """The CTEs visible where `node` is: those of every enclosing WITH."""
    names: dict[str, exp.CTE] = {}
    parent = node.parent
    while parent is not None:
        with_ = parent.args.get("with_") or parent.args.get("with")
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                names.setdefault(cte.alias_or_name.lower(), cte)
        parent = parent.parent
    return names


def _select_of(table: exp.Table) -> exp.Select | None:
    """The SELECT whose FROM or JOIN `table` is."""
    parent = table.parent
    if isinstance(parent, exp.Join):
        parent = parent.parent
    elif isinstance(parent, exp.From):
        parent = parent.parent
    else:
        return None
    return parent if isinstance(parent, exp.Select) else None


def _scan(table: exp.Table) -> list[Problem]:
    name = table.name.lower()
    if not isinstance(table.this, exp.Identifier):
        return [Problem(f"reads {table.sql(dialect='bigquery')}: a custom metric reads only the tables {', '.join(READABLE)}", table)]
    if not table.args.get("db") and name in _cte_names(table):
        return []
    if table.args.get("db") or table.args.get("catalog"):
        return [Problem(f"reads {table.sql(dialect='bigquery')}: name the tables unqualified ({', '.join(READABLE)}); the database decides where they are", table)]
    if name not in READABLE:
        return [Problem(f"reads table {table.name!r}: a custom metric reads only the tables {', '.join(READABLE)}", table)]
    select = _select_of(table)
    alias = table.alias_or_name.lower()
    if select is None:
        return [Problem(f"reads {name} outside a FROM or JOIN clause", table)]
    if name == "conversations" and not _restricted_conversations(select, alias, set()):
        return [Problem(
            f"scan of conversations AS {alias} is not restricted to the request's tenant: add"
            f" `{alias}.tenant_id = @tenant_id` (or {{{{ crm.scope('{alias}') }}}}) to its WHERE clause",
            table,
        )]
    if name == "messages" and not _restricted_messages(select, alias, set()):
        return [Problem(
            f"scan of messages AS {alias} is not restricted to the request's tenant: messages carry no tenant, so"
            f" join them through the tenant's conversations (`JOIN conversations AS c ON c.id = {alias}.conversation_id`"
            f" with `c.tenant_id = @tenant_id`) or filter `{alias}.conversation_id IN (...)` a tenant's conversation ids",
            table,
        )]
    if name == "tenants" and not any(_tenant_predicate(p, select, alias, "id") for p in _filters(select, alias)):
        return [Problem(f"scan of tenants AS {alias} is not restricted to the request's tenant: add `{alias}.id = @tenant_id`", table)]
    return []


# -- what restricts a scan ------------------------------------------------------------------


def _conjuncts(condition: exp.Expression | None) -> Iterator[exp.Expression]:
    if condition is None:
        return
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        yield from _conjuncts(condition.this)
        yield from _conjuncts(condition.expression)
    else:
        yield condition


def _filters(select: exp.Select, alias: str) -> list[exp.Expression]:
    """The conjuncts that filter the rows of the source `alias` of `select`."""
    where = select.args.get("where")
    found = list(_conjuncts(where.this if where else None))
    for join in select.args.get("joins") or []:
        side, kind = (join.side or "").upper(), (join.kind or "").upper()
        joined = join.this.alias_or_name.lower()
        inner = not side and kind in ("", "INNER")
        if inner or (side == "LEFT" and joined == alias):
            found += list(_conjuncts(join.args.get("on")))
    return found


def _strip(node: exp.Expression) -> exp.Expression:
    while isinstance(node, _WRAPPERS):
        node = node.this
    return node


def _column_of(node: exp.Expression, select: exp.Select, alias: str, name: str) -> bool:
    """Whether `node` is the column `name` of the source `alias` (qualified, or unqualified in
    a SELECT with one source)."""
    if not isinstance(node, exp.Column) or node.name.lower() != name:
        return False
    qualifier = node.table.lower()
    return qualifier == alias if qualifier else len(_sources(select)) == 1


def _tenant_predicate(predicate: exp.Expression, select: exp.Select, alias: str, column: str = "tenant_id") -> bool:
    if not isinstance(predicate, exp.EQ):
        return False
    for side, other in ((predicate.this, predicate.expression), (predicate.expression, predicate.this)):
        inner = side.this if isinstance(side, exp.Lower) else side
        if _column_of(inner, select, alias, column) and isinstance(other, exp.Parameter) and other.name == "tenant_id":
            return True
    return False


def _restricted_conversations(select: exp.Select, alias: str, visiting: set[tuple[int, str]]) -> bool:
    filters = _filters(select, alias)
    if any(_tenant_predicate(p, select, alias) for p in filters):
        return True
    return any(_id_set_predicate(p, select, alias, "id", visiting) for p in filters)


def _restricted_messages(select: exp.Select, alias: str, visiting: set[tuple[int, str]]) -> bool:
    return any(_id_set_predicate(p, select, alias, "conversation_id", visiting) for p in _filters(select, alias))


def _id_set_predicate(predicate: exp.Expression, select: exp.Select, alias: str, column: str, visiting: set[tuple[int, str]]) -> bool:
    """`alias.column = <a tenant's conversation id>` or `alias.column IN (<a query of them>)`."""
    key = (id(select), alias)
    if key in visiting:
        return False
    visiting = visiting | {key}
    if isinstance(predicate, exp.EQ):
        for side, other in ((predicate.this, predicate.expression), (predicate.expression, predicate.this)):
            if _column_of(side, select, alias, column) and _tenant_id_value(other, select, visiting):
                return True
        return False
    if isinstance(predicate, exp.In) and _column_of(predicate.this, select, alias, column):
        query = predicate.args.get("query")
        query = query.this if isinstance(query, exp.Subquery) else query
        return query is not None and _projects_tenant_ids(query, 0, visiting)
    return False


def _sources(select: exp.Select) -> dict[str, exp.Expression]:
    """The sources of a SELECT by alias: tables (CTE references included) and subqueries."""
    found: dict[str, exp.Expression] = {}
    from_ = select.args.get("from_") or select.args.get("from")
    items = [from_.this] if from_ else []
    items += [join.this for join in select.args.get("joins") or []]
    for item in items:
        found[item.alias_or_name.lower()] = item
    return found


def _tenant_id_value(node: exp.Expression, select: exp.Select, visiting: set[tuple[int, str]]) -> bool:
    """Whether `node`, a column seen from `select`, holds only conversation ids of the tenant."""
    if not isinstance(node, exp.Column):
        return False
    qualifier, name = node.table.lower(), node.name.lower()
    if not qualifier:
        # Unqualified: the one source of its own SELECT, or nothing we can be sure of.
        sources = _sources(select)
        if len(sources) != 1:
            return False
        alias, source = next(iter(sources.items()))
        return _source_column(source, alias, name, select, visiting)
    scope: exp.Expression | None = select
    while scope is not None:
        if isinstance(scope, exp.Select) and qualifier in (sources := _sources(scope)):
            return _source_column(sources[qualifier], qualifier, name, scope, visiting)
        # Correlated subqueries see the sources of the queries around them.
        scope = scope.parent
    return False


def _source_column(source: exp.Expression, alias: str, name: str, select: exp.Select, visiting: set[tuple[int, str]]) -> bool:
    if isinstance(source, exp.Subquery):
        return _projects_tenant_ids(source.this, name, visiting)
    if not isinstance(source, exp.Table):
        return False
    table = source.name.lower()
    if not source.args.get("db") and table in (ctes := _cte_names(source)):
        return _projects_tenant_ids(ctes[table].this, name, visiting)
    if table == "conversations" and name == "id":
        return _restricted_conversations(select, alias, visiting)
    if table == "messages" and name == "conversation_id":
        return _restricted_messages(select, alias, visiting)
    return False


def _projects_tenant_ids(query: exp.Expression, column: str | int, visiting: set[tuple[int, str]]) -> bool:
    """Whether the output `column` (a name, or a position) of `query` holds only the tenant's
    conversation ids: in every branch of a UNION."""
    if isinstance(query, exp.Subquery):
        return _projects_tenant_ids(query.this, column, visiting)
    if isinstance(query, exp.SetOperation):
        position = _position(query, column)
        if position is None:
            return False
        return _projects_tenant_ids(query.this, position, visiting) and _projects_tenant_ids(query.expression, position, visiting)
    if not isinstance(query, exp.Select):
        return False
    projections = query.expressions
    if isinstance(column, int):
        if column >= len(projections):
            return False
        projection = projections[column]
    else:
        named = [p for p in projections if p.alias_or_name.lower() == column]
        if named:
            projection = named[0]
        elif any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star)) for p in projections):
            # `SELECT *` (or `t.*`) passes the column through from its source.
            star = next(p for p in projections if isinstance(p, exp.Star) or isinstance(p.this, exp.Star))
            qualifier = star.table.lower() if isinstance(star, exp.Column) else ""
            projection = exp.column(column, table=qualifier or None)
            projection.parent = query
        else:
            return False
    value = projection.this if isinstance(projection, exp.Alias) else projection
    return _tenant_id_value(value, query, visiting)


def _position(query: exp.Expression, column: str | int) -> int | None:
    if isinstance(column, int):
        return column
    first = query
    while isinstance(first, exp.SetOperation):
        first = first.this
    first = first.this if isinstance(first, exp.Subquery) else first
    if not isinstance(first, exp.Select):
        return None
    names = [p.alias_or_name.lower() for p in first.expressions]
    return names.index(column) if column in names else None


# -- values where parameters belong ---------------------------------------------------------


def _literals(tree: exp.Expression) -> list[Problem]:
    found = []
    for comparison in tree.find_all(*_COMPARISONS):
        sides = [comparison.this, *(comparison.expressions or []), *[comparison.args[k] for k in ("expression", "low", "high") if comparison.args.get(k) is not None]]
        columns = [s for s in map(_strip, sides) if isinstance(s, exp.Column) and s.name.lower() in IDENTIFYING]
        for column in columns:
            expected = PARAMETER_FOR.get(column.name.lower())
            for side in sides:
                bare = _strip(side)
                if bare is column or isinstance(bare, exp.Column):
                    continue
                if isinstance(bare, exp.Parameter) and (bare.name == expected or expected is None):
                    continue
                if isinstance(bare, (exp.Subquery, exp.Select)):
                    continue
                wanted = f"@{expected}" if expected else "a column or a declared parameter"
                if any(isinstance(n, exp.Literal) for n in bare.walk()) or isinstance(bare, exp.Parameter):
                    found.append(Problem(f"compares {column.sql(dialect='bigquery')} with {bare.sql(dialect='bigquery')}: a value belongs in a parameter ({wanted})", comparison))
        for side in sides:
            bare = side.this if isinstance(side, exp.Paren) else side
            if isinstance(bare, exp.Cast) and isinstance(bare.this, exp.Literal) and bare.to.this in _TIME_TYPES:
                found.append(Problem(
                    f"compares with the literal {bare.sql(dialect='bigquery')}: dates and instants come from the request"
                    " (@start_date, @end_date, @range_start, @range_end, or {{ crm.in_range(...) }})",
                    comparison,
                ))
    return found
