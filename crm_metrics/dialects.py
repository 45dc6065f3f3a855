"""Per-dialect behaviour, in one place.

The templates are BigQuery SQL. sqlglot transpiles them to DuckDB and PostgreSQL, and the
rewrites below, applied on the syntax tree first, fix the cases where its output is wrong or
fails at run time (each rewrite says which trap; tests/conformance/test_dialect_traps.py runs each on the engines).
A rewrite keys on BigQuery semantics, so the generated SQL means what the template means.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from fractions import Fraction

import sqlglot
from sqlglot import exp


class Dialect(str, enum.Enum):
    BIGQUERY = "bigquery"
    POSTGRES = "postgres"
    DUCKDB = "duckdb"

    def __str__(self) -> str:
        return self.value


#: How a named parameter is written for each driver.
#: BigQuery: `@name` (google-cloud-bigquery query parameters); DuckDB: `$name` (named
#: parameters of duckdb's Python API); psycopg: `%(name)s` (pyformat, so a literal `%` in the
#: SQL text must be doubled).
PARAMETER_STYLE: dict[Dialect, str] = {
    Dialect.BIGQUERY: "@{name}",
    Dialect.DUCKDB: "${name}",
    Dialect.POSTGRES: "%({name})s",
}

#: The header's BigQuery type names as sqlglot data types (for CASTs around parameters).
SQL_TYPE = {
    "STRING": exp.DataType.build("STRING", dialect="bigquery"),
    "DATE": exp.DataType.build("DATE", dialect="bigquery"),
    "TIMESTAMP": exp.DataType.build("TIMESTAMP", dialect="bigquery"),
    "INT64": exp.DataType.build("INT64", dialect="bigquery"),
    "FLOAT64": exp.DataType.build("FLOAT64", dialect="bigquery"),
    "BOOL": exp.DataType.build("BOOL", dialect="bigquery"),
    # The price tables' columns (crm_metrics/prices.py), bound as arrays.
    "ARRAY<STRING>": exp.DataType.build("ARRAY<STRING>", dialect="bigquery"),
    "ARRAY<FLOAT64>": exp.DataType.build("ARRAY<FLOAT64>", dialect="bigquery"),
    "ARRAY<DATE>": exp.DataType.build("ARRAY<DATE>", dialect="bigquery"),
}


def _local_date(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Trap: BigQuery `DATE(ts, tz)` becomes `DATE(ts, tz)` on Postgres, which does not exist.
    # `AT TIME ZONE` on a timestamptz gives the local wall-clock time on both engines, whatever
    # the session's TimeZone; the inner cast reads a naive column as UTC (sessions are pinned
    # to UTC by every executor), as the contract says.
    if isinstance(node, exp.Date) and node.args.get("zone") is not None:
        instant = exp.cast(node.this, exp.DataType.build("TIMESTAMPTZ"))
        local = exp.AtTimeZone(this=instant, zone=node.args["zone"])
        return exp.cast(local, exp.DataType.build("DATE"))
    return node


_MICROS_PER_DAY = dt.timedelta(days=1) // dt.timedelta(microseconds=1)


def _micros_to_epoch(date: str) -> int | None:
    """Microseconds from a date's midnight to 1970-01-01, None if it is not a date."""
    try:
        return (dt.datetime(1970, 1, 1) - dt.datetime.fromisoformat(date)) // dt.timedelta(microseconds=1)
    except ValueError:
        return None


def _local_date_by_offsets(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Postgres: the local date by known UTC offsets (sql/macros/request.sql local_date),
    # DATE_ADD(DATE '1900-01-01', INTERVAL DIV(UNIX_MICROS(ts) + offset + 1900-to-epoch, day) DAY),
    # would do numeric arithmetic per row (its only exact UNIX_MICROS is a numeric EXTRACT,
    # about 1 µs a row: bench, a third of the largest tenant's responses). The same date is
    # the UTC wall-clock time shifted by the offset, cast to a date: integer timestamp
    # arithmetic, and each CASE branch's interval a constant the planner folds. (From 1900 on,
    # where the template's truncating division is a floor, the two agree.)
    if not (dialect is Dialect.POSTGRES and isinstance(node, exp.DateAdd) and node.unit and node.unit.name.upper() == "DAY"):
        return node
    origin, days = node.this, node.expression
    if not (isinstance(origin, exp.Cast) and origin.to.this == exp.DataType.Type.DATE and origin.this.is_string):
        return node
    if not (isinstance(days, exp.IntDiv) and days.expression.is_int and int(days.expression.name) == _MICROS_PER_DAY):
        return node
    micros, shifted = days.this, days.this.this if isinstance(days.this, exp.Add) else None
    if not (
        isinstance(shifted, exp.Add)
        and isinstance(shifted.this, exp.UnixMicros)
        and micros.expression.is_int
        and int(micros.expression.name) == _micros_to_epoch(origin.this.name)
    ):
        return node
    one = exp.Interval(this=exp.Literal.string("1"), unit=exp.var("MICROSECOND"))
    offset = shifted.expression.copy()
    if isinstance(offset, exp.Case):
        for branch in offset.args.get("ifs") or []:
            branch.set("true", exp.Mul(this=branch.args["true"], expression=one.copy()))
        if offset.args.get("default") is not None:
            offset.set("default", exp.Mul(this=offset.args["default"], expression=one.copy()))
    else:
        offset = exp.Mul(this=exp.Paren(this=offset), expression=one)
    utc = exp.AtTimeZone(this=exp.cast(shifted.this.this.copy(), exp.DataType.build("TIMESTAMPTZ")), zone=exp.Literal.string("UTC"))
    return exp.cast(exp.Paren(this=exp.Add(this=utc, expression=offset)), exp.DataType.build("DATE"))


def _microseconds_between(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Trap: `TIMESTAMP_DIFF(a, b, unit)` becomes `TIMESTAMPDIFF(a, b, unit)` on Postgres
    # ("column microsecond does not exist"). EXTRACT(EPOCH FROM interval) is exact (numeric)
    # since Postgres 14; BigQuery's result is an INT64, and a numeric of scale 6 summed into
    # the rollup would keep six zero decimals per value. DuckDB's DATE_DIFF counts unit
    # boundaries, which is exact for microseconds, so sqlglot's own DuckDB output is kept.
    if (
        dialect is Dialect.POSTGRES
        and isinstance(node, exp.TimestampDiff)
        and node.unit
        and node.unit.name.upper() == "MICROSECOND"
    ):
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=exp.Sub(this=node.this, expression=node.expression))
        return exp.cast(exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000)), exp.DataType.build("BIGINT"))
    return node


def _json_text(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Trap: `JSON_VALUE(metadata, '$.a')` becomes `JSON_EXTRACT_PATH_TEXT(...)` on Postgres,
    # which fails on jsonb; DuckDB gets an extra `->> '$'`. Use each engine's text operator.
    # Non-object metadata and missing keys give NULL on all three.
    if not isinstance(node, exp.JSONExtractScalar):
        return node
    keys = [part.name for part in node.expression.expressions if isinstance(part, exp.JSONPathKey)]
    if dialect is Dialect.POSTGRES:
        path = exp.Literal.string("{" + ",".join(keys) + "}")
        return exp.JSONBExtractScalar(this=node.this, expression=path)
    return exp.JSONExtractScalar(this=node.this, expression=node.expression)


def _json_type(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # BigQuery `JSON_TYPE(JSON_QUERY(metadata, '$.a.b'))` names a JSON value's type ('string',
    # 'number', ...; NULL when missing). sqlglot keeps JSON_TYPE, which DuckDB spells with its
    # own names ('VARCHAR' for a string) and Postgres lacks (jsonb_typeof, and JSON_EXTRACT_PATH
    # fails on jsonb). Templates compare it with 'string' only (sql/macros/rows.sql json_string).
    if not (isinstance(node, exp.JSONType) and isinstance(node.this, exp.JSONExtract)):
        return node
    value, path = node.this.this, node.this.expression
    if dialect is Dialect.BIGQUERY:
        # The BigQuery emulator (tests) runs JSON_TYPE on DuckDB and answers 'VARCHAR'; a JSON
        # string's text starts with a quote on both, and nothing else's does.
        text = exp.Anonymous(this="TO_JSON_STRING", expressions=[node.this])
        starts = exp.Anonymous(this="STARTS_WITH", expressions=[text, exp.Literal.string('"')])
        return exp.If(this=starts, true=exp.Literal.string("string"), false=exp.Null())
    if dialect is Dialect.POSTGRES:
        keys = [part.name for part in path.expressions if isinstance(part, exp.JSONPathKey)]
        located = exp.JSONBExtract(this=value, expression=exp.Literal.string("{" + ",".join(keys) + "}"))
        # A seed database may keep metadata as json, which jsonb_typeof does not take.
        return exp.Anonymous(this="JSONB_TYPEOF", expressions=[exp.cast(located, exp.DataType.build("JSONB"))])
    duck = exp.Anonymous(this="JSON_TYPE", expressions=[value, exp.Literal.string(path.sql(dialect="bigquery").strip("'"))])
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=duck, expression=exp.Literal.string("VARCHAR")), true=exp.Literal.string("string"))])


def _series_table(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Trap: BigQuery `UNNEST(GENERATE_ARRAY(a, b)) AS i` becomes `UNNEST(GENERATE_SERIES(a, b))`
    # on Postgres, where generate_series returns rows, not an array ("function unnest(integer)
    # does not exist"). The series is the table itself there.
    if (
        dialect is Dialect.POSTGRES
        and isinstance(node, exp.Unnest)
        and len(node.expressions) == 1
        and isinstance(node.expressions[0], exp.GenerateSeries)
    ):
        return exp.Table(this=node.expressions[0], alias=node.args.get("alias"))
    return node


def _byte_order(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # The contract orders message ids byte by byte. BigQuery compares BYTES that way; casting
    # text to bytea (Postgres) or BLOB (DuckDB) would parse backslash escapes and can fail, so:
    # Postgres compares under the "C" collation, DuckDB's default collation is already binary.
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.BINARY:
        if dialect is Dialect.POSTGRES:
            return exp.Collate(this=node.this, expression=exp.Identifier(this="C", quoted=True))
        return node.this
    return node


#: The common table expressions of the price tables (sql/macros/costs.sql price_tables).
PRICE_TABLES = frozenset({"whatsapp_price_rows", "llm_price_rows"})


def _materialized_prices(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # PostgreSQL inlines a common table expression read once: each price row's column is then
    # `array[i]`, evaluated again in every comparison of the joins that read it (thousands of
    # groups by dozens of rows). Materialized, the rows are made once.
    if isinstance(node, exp.CTE) and node.alias in PRICE_TABLES:
        node.set("materialized", True)
    return node


def _in_array(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # `x IN UNNEST(array)` becomes a CASE of four branches on DuckDB (BigQuery's NULL rules
    # spelled out), each costing planning time, and a hashed subquery evaluated per row on
    # PostgreSQL. ARRAY_CONTAINS and `= ANY` differ only where x is NULL (NULL or FALSE for
    # BigQuery's NULL), which the templates read alike (IF, WHERE).
    unnest = node.args.get("unnest") if isinstance(node, exp.In) else None
    if unnest is not None and len(unnest.expressions) == 1 and not unnest.args.get("offset"):
        array = unnest.expressions[0]
        if dialect is Dialect.POSTGRES:
            return exp.EQ(this=node.this, expression=exp.Any(this=exp.Paren(this=array)))
        return exp.ArrayContains(this=array, expression=node.this)
    return node


def _count_if(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Trap: COUNTIF becomes SUM(CASE ...) on Postgres and COUNT_IF on DuckDB, both NULL over no
    # rows where BigQuery gives 0. COUNT(CASE WHEN ... THEN 1 END) is 0 everywhere.
    if isinstance(node, exp.CountIf):
        return exp.Count(this=exp.Case(ifs=[exp.If(this=node.this, true=exp.Literal.number(1))]))
    return node


def _date_trunc(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # DATE_TRUNC of a DATE returns a timestamp on Postgres and DuckDB; BigQuery returns a DATE.
    # WEEK(MONDAY) becomes 'WEEK', which is the ISO (Monday) week on both engines.
    if isinstance(node, exp.DateTrunc) and not isinstance(node.parent, exp.Cast):
        return exp.cast(node, exp.DataType.build("DATE"))
    return node


def _zoneless_dates(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Trap: Postgres has no DATE variants of generate_series and date_trunc; a DATE argument
    # becomes a timestamptz at local midnight of the session TimeZone, so the buckets depend
    # on the session (America/Santiago has no midnight on its DST day: a day goes missing).
    # Executors pin sessions to UTC, but SQL printed by `render --inline` may run in any
    # session: count days in `timestamp` (without time zone), which has no zone at all.
    timestamp = exp.DataType.build("TIMESTAMP")
    if dialect is Dialect.POSTGRES and isinstance(node, exp.GenerateDateArray):
        node.set("start", exp.cast(node.args["start"], timestamp))
        node.set("end", exp.cast(node.args["end"], timestamp))
    elif dialect is Dialect.POSTGRES and isinstance(node, exp.DateTrunc) and not node.this.is_type(timestamp):
        node.set("this", exp.cast(node.this, timestamp))
    return node


def _integer_division(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Trap (sqlglot 30.30): DIV(a + b, c) becomes `a + b // c` for DuckDB, dropping the
    # parentheses that `//`'s higher precedence needs. Parenthesise compound operands.
    # Postgres keeps DIV, which is numeric's (an INT64 result would arrive as a Decimal, and
    # numeric arithmetic per row is slow); BigQuery's DIV of INT64s truncates toward zero,
    # as bigint `/` does.
    if not isinstance(node, exp.IntDiv):
        return node
    if dialect is Dialect.POSTGRES:
        bigint = exp.DataType.build("BIGINT")
        operands = [o if isinstance(o, exp.Literal) else exp.cast(o, bigint) for o in (node.this, node.expression)]
        return exp.Div(this=operands[0], expression=operands[1], typed=True)
    for key in ("this", "expression"):
        operand = node.args[key]
        if isinstance(operand, exp.Binary):
            node.set(key, exp.Paren(this=operand))
    return node


def _add_days(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # BigQuery DATE_ADD(date, INTERVAL n DAY) is a DATE; DuckDB's `date + INTERVAL` and
    # Postgres' `date + INTERVAL '1 DAY' * n` are TIMESTAMPs (and slower). On both,
    # date + integer is a date.
    if isinstance(node, exp.DateAdd) and node.unit and node.unit.name.upper() == "DAY":
        return exp.Add(this=node.this, expression=exp.cast(node.expression, exp.DataType.build("INT")))
    return node


def _instant_from_micros(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # BigQuery TIMESTAMP_MICROS is an instant; sqlglot's DuckDB MAKE_TIMESTAMP is a naive
    # TIMESTAMP, which becomes an instant only by way of the session TimeZone. Its Postgres
    # TO_TIMESTAMP(x / 1e6) divides in double precision, exact near 1970 only: 9999-12-31
    # 23:59:59.999999 becomes year 10000. Whole seconds and the rest apart are exact.
    if not (isinstance(node, exp.UnixToTime) and node.args.get("scale") == exp.UnixToTime.MICROS):
        return node
    if dialect is Dialect.DUCKDB:
        return exp.Anonymous(this="MAKE_TIMESTAMPTZ", expressions=[node.this])
    if dialect is Dialect.POSTGRES:
        micros = exp.cast(node.this, exp.DataType.build("BIGINT"))
        million = exp.Literal.number(1_000_000)
        seconds = exp.UnixToTime(this=exp.Div(this=micros.copy(), expression=million.copy(), typed=True))
        rest = exp.Mul(
            this=exp.Paren(this=exp.Mod(this=micros, expression=million)),
            expression=exp.Interval(this=exp.Literal.string("1"), unit=exp.var("MICROSECOND")),
        )
        return exp.Add(this=seconds, expression=rest)
    return node


def _instant_comparison(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Postgres' only exact UNIX_MICROS (below) is a numeric EXTRACT, about 1 µs a row: the
    # local-date CASE of sql/macros/request.sql compares it with up to four UTC-offset changes
    # per row (bench: 48 ms of a 49k-turn responses statement). `UNIX_MICROS(ts) < @micros`
    # says `ts < TIMESTAMP_MICROS(@micros)`, whose right side the planner folds into one
    # timestamptz for the statement's bound values.
    if dialect is Dialect.POSTGRES and isinstance(node, exp.LT) and isinstance(node.this, exp.UnixMicros):
        if isinstance(node.expression, (exp.Parameter, exp.Placeholder, exp.Literal)):
            instant = exp.UnixToTime(this=node.expression.copy(), scale=exp.UnixToTime.MICROS)
            return exp.LT(this=node.this.this.copy(), expression=instant)
    return node


def _epoch_micros(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Trap: BigQuery UNIX_MICROS(ts) stays UNIX_MICROS on Postgres, which has no such
    # function. EXTRACT(EPOCH FROM timestamptz) is exact (numeric) since Postgres 14.
    if dialect is Dialect.POSTGRES and isinstance(node, exp.UnixMicros):
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=node.this)
        return exp.cast(exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000)), exp.DataType.build("BIGINT"))
    return node


def _exact_quantile(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Trap: BigQuery's PERCENTILE_CONT is analytic only (an OVER clause is required), where
    # PostgreSQL's is an ordered-set aggregate (no window form) and DuckDB has both; sqlglot
    # spells the aggregate `PERCENTILE_CONT(x, p)` of a template as each engine's (DuckDB
    # QUANTILE_CONT, PostgreSQL WITHIN GROUP), and APPROX_QUANTILES is not exact. For BigQuery
    # the aggregate becomes PERCENTILE_CONT's interpolation read from ranks, which the grouped
    # rows carry (sql/macros/quantiles.sql): for h = (n - 1)·p = (n - 1)·num/den,
    # x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋ + 1] - x[⌊h⌋]), ⌊h⌋ and the fraction in integer arithmetic.
    # The ranks of `us` (or of IF(condition, us, NULL)) are the template's columns `rank` and `n`;
    # those of another column `x`, under GROUP BY ROLLUP (key), are added by _rollup_ranks.
    if dialect is not Dialect.BIGQUERY or not isinstance(node, exp.PercentileCont) or isinstance(node.parent, exp.Window):
        return node
    p = Fraction(node.expression.name)
    value = node.this.sql(dialect="bigquery")
    named = isinstance(node.this, exp.Column) and node.this.name != "us"
    rank, n = (f"{node.this.name}_rank", f"{node.this.name}_n") if named else ("rank", "n")
    quantile = _quantile_from_ranks(value, p, rank, n)
    group = node.find_ancestor(exp.Select).args.get("group") if node.find_ancestor(exp.Select) else None
    rollups = [e for e in group.expressions if isinstance(e, exp.Rollup)] if group else []
    if rollups and named:
        (key,) = rollups[0].expressions
        overall = _quantile_from_ranks(value, p, f"{rank}_all", f"{n}_all")
        quantile = f"IF(GROUPING({key.sql(dialect='bigquery')}) = 0, {quantile}, {overall})"
    return sqlglot.parse_one(quantile, read="bigquery")


def _rollup_ranks(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # BigQuery: a grouping by ROLLUP (key) whose quantiles read columns `x` (sql/metrics/
    # responses.sql) reads each from ranks within key's groups (`x_rank`, `x_n`) and over all
    # rows (`x_rank_all`, `x_n_all`; GROUPING(key) = 1): its rows get those four columns per
    # column here, not in the template, so that DuckDB and PostgreSQL never bind them.
    if dialect is not Dialect.BIGQUERY or not isinstance(node, exp.Select) or not node.args.get("group"):
        return node
    rollups = [e for e in node.args["group"].expressions if isinstance(e, exp.Rollup)]
    columns = dict.fromkeys(
        q.this.name for e in node.expressions for q in e.find_all(exp.PercentileCont)
        if isinstance(q.this, exp.Column) and q.this.name != "us"
    )
    source = node.args["from_"].this if node.args.get("from_") else None
    if not rollups or not columns or not isinstance(source, exp.Subquery):
        return node
    (key,) = rollups[0].expressions
    k = key.sql(dialect="bigquery")
    windows = [
        f"ROW_NUMBER() OVER (PARTITION BY {k}, {x} IS NULL ORDER BY {x}) - 1 AS {x}_rank, COUNT({x}) OVER (PARTITION BY {k}) AS {x}_n, "
        f"ROW_NUMBER() OVER (PARTITION BY {x} IS NULL ORDER BY {x}) - 1 AS {x}_rank_all, COUNT({x}) OVER () AS {x}_n_all"
        for x in columns
    ]
    ranked = sqlglot.parse_one(f"SELECT *, {', '.join(windows)} FROM t", read="bigquery")
    ranked.set("from_", exp.From(this=source.copy()))
    node.set("from_", exp.From(this=exp.Subquery(this=ranked, alias=exp.TableAlias(this=exp.to_identifier("ranked")))))
    return node


def _distinct_common_table(select: exp.Select, source: exp.Table) -> bool:
    """`select` reads one column of `source`, a common table expression of the statement whose
    rows are distinct (a UNION DISTINCT, or a SELECT DISTINCT of one column)."""
    if source.db or len(select.expressions) != 1 or not isinstance(select.expressions[0], exp.Column):
        return False
    if any(select.args.get(key) for key in ("joins", "where", "group", "having", "qualify", "limit", "offset", "distinct", "laterals")):
        return False
    body = next((cte.this for cte in select.root().find_all(exp.CTE) if cte.alias_or_name == source.name), None)
    if isinstance(body, exp.Union):
        return bool(body.args.get("distinct"))
    distinct = body.args.get("distinct") if isinstance(body, exp.Select) else None
    return isinstance(distinct, exp.Distinct) and not distinct.args.get("on") and len(body.expressions) == 1


def _probe_by_common_table(node: exp.Expression, dialect: Dialect) -> exp.Expression:
    # Postgres plans `SELECT ... FROM t AS m WHERE m.k IN (SELECT v.c FROM cte AS v)` as a
    # semi-join whose inner side is a common table expression's rows, of which it has no
    # statistics: it takes their estimated count for their distinct values. The seed layout's
    # window (sql/sources/seed/window.sql: `window_conversations`, a UNION whose message branch
    # yields a row per message) is estimated at ~10x its conversations and their messages at
    # ~30x (bench's largest tenant, 30 days: 3.1M against 108k), so that a fresh ANALYZE
    # (another sample, another n_distinct of messages.conversation_id) can turn the plan into
    # a sequential scan of all 10M messages and a hash join (4-8 s instead of under one:
    # docs/postgres.md, seed-layout reads). When the CTE's rows are distinct (a UNION DISTINCT
    # or SELECT DISTINCT), the semi-join is the join `FROM cte AS v CROSS JOIN LATERAL (SELECT
    # m.a, ... FROM t AS m WHERE m.k = v.c AND ... OFFSET 0) AS m`: the same rows, and the OFFSET keeps
    # the subquery from being flattened, so `t` is always probed by `k` through its index, one
    # probe per row of the CTE, whatever the estimates. (`k = ANY(ARRAY(SELECT ...))` pins the
    # probe too, but the planner then guesses 10 elements: the estimate falls to ~270 messages
    # for every tenant, and later joins become nested loops, 1.2-1.6x slower in bench.)
    if not (dialect is Dialect.POSTGRES and isinstance(node, exp.Select) and isinstance(node.args.get("where"), exp.Where)):
        return node
    source = node.args["from_"].this if node.args.get("from_") else None
    if not isinstance(source, exp.Table) or not source.alias or any(
        node.args.get(key) for key in ("joins", "laterals", "group", "having", "qualify", "distinct", "limit", "offset", "windows")
    ):
        return node
    conjuncts = list(node.args["where"].this.flatten()) if isinstance(node.args["where"].this, exp.And) else [node.args["where"].this]
    for i, condition in enumerate(conjuncts):
        query = condition.args.get("query") if isinstance(condition, exp.In) else None
        if not (isinstance(query, exp.Subquery) and isinstance(query.this, exp.Select) and isinstance(condition.this, exp.Column)):
            continue
        inner = query.this
        common = inner.args["from_"].this if inner.args.get("from_") else None
        if not (isinstance(common, exp.Table) and common.alias and condition.this.table == source.alias and _distinct_common_table(inner, common)):
            continue
        if common.alias == source.alias:
            continue
        # The subquery returns the columns of `t` that the select reads (each qualified by
        # its alias; anything else, such as a `*`, and the rewrite is not made).
        read = [column for e in node.expressions for column in e.find_all(exp.Column)]
        if any(e.find(exp.Star) for e in node.expressions) or any(column.table != source.alias for column in read):
            return node
        names = {column.name: column.this for column in read}
        probe = exp.EQ(this=condition.this.copy(), expression=inner.expressions[0].copy())
        rest = [c.copy() for j, c in enumerate(conjuncts) if j != i]
        probed = exp.select(*(exp.column(name.copy(), table=source.alias) for name in names.values())).from_(source.copy()).where(exp.and_(probe, *rest) if rest else probe).offset(0)
        lateral = exp.Lateral(this=exp.Subquery(this=probed), alias=exp.TableAlias(this=exp.to_identifier(source.alias)))
        node.set("from_", exp.From(this=common.copy()))
        node.set("joins", [exp.Join(this=lateral, kind="CROSS")])
        node.set("where", None)
        return node
    return node


def _quantile_from_ranks(value: str, p: Fraction, rank: str, n: str) -> str:
    """PERCENTILE_CONT(value, p) over a group whose rows carry `rank` (the 0-based position of
    their value, NULLs ranked apart) and `n` (the group's count of non-NULL values)."""
    num, den = p.numerator, p.denominator
    lower = f"DIV(({n} - 1) * {num}, {den})"
    low = f"MAX(IF({rank} = {lower}, {value}, NULL))"
    high = f"MAX(IF({rank} = {lower} + 1, {value}, NULL))"
    # The value may be conditional (IF(condition, us, NULL): one measure of several in the
    # group, each ranked in its own partition): the fraction is read from the value's rows.
    fraction = f"MAX(IF({rank} = {lower} AND {value} IS NOT NULL, MOD(({n} - 1) * {num}, {den}), NULL)) / {den}"
    return f"({low} + CAST(COALESCE({high} - {low}, 0) AS FLOAT64) * {fraction})"


REWRITES: dict[Dialect, tuple[Callable[[exp.Expression, Dialect], exp.Expression], ...]] = {
    Dialect.BIGQUERY: (_rollup_ranks, _exact_quantile, _json_type),
    Dialect.DUCKDB: (_local_date, _json_text, _json_type, _byte_order, _in_array, _count_if, _date_trunc, _integer_division, _add_days, _instant_from_micros),
    Dialect.POSTGRES: (
        _local_date, _local_date_by_offsets, _microseconds_between, _json_text, _json_type, _series_table, _byte_order, _in_array, _count_if, _date_trunc, _zoneless_dates, _materialized_prices,
        _instant_comparison, _epoch_micros, _integer_division, _add_days, _instant_from_micros, _probe_by_common_table,
    ),
}

#: Wrap every parameter in CAST(@p AS type) so DuckDB can pick overloads and Postgres
#: infers no wrong type. BigQuery gets typed query parameters, so its SQL stays as written.
CAST_PARAMETERS = {Dialect.BIGQUERY: False, Dialect.DUCKDB: True, Dialect.POSTGRES: True}


def rewrite(tree: exp.Expression, dialect: Dialect) -> exp.Expression:
    """Apply the dialect's rewrites to a parsed BigQuery tree (returns a new tree)."""
    tree = tree.copy()
    for fix in REWRITES[dialect]:
        tree = tree.transform(lambda node, fix=fix: fix(node, dialect), copy=False)
    return tree


def escape_text(sql: str, dialect: Dialect) -> str:
    """Escape what the driver would read as markup in generated SQL text."""
    # psycopg reads `%` as the start of a placeholder in pyformat SQL.
    return sql.replace("%", "%%") if dialect is Dialect.POSTGRES else sql
