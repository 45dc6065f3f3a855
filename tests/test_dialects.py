"""Per-dialect rewrites, as tables: this BigQuery input, these outputs per dialect.

Each row is a dialect trap (tests/conformance/test_dialect_traps.py) whose plain sqlglot output is wrong;
the numbers behind them are checked on real engines by the conformance suite.
"""

from __future__ import annotations

import pytest
import sqlglot

from crm_metrics.dialects import Dialect, rewrite

CASES = {
    "exact quantile (BigQuery's PERCENTILE_CONT is analytic only)": (
        "SELECT PERCENTILE_CONT(us, 0.9) FROM ranked GROUP BY g",
        {
            "duckdb": "SELECT QUANTILE_CONT(us, 0.9) FROM ranked GROUP BY g",
            "postgres": "SELECT PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY us) FROM ranked GROUP BY g",
            "bigquery": "SELECT (MAX(IF(rank = DIV((n - 1) * 9, 10), us, NULL)) + CAST(COALESCE(MAX(IF(rank = DIV((n - 1) * 9, 10) + 1, us, NULL))"
            " - MAX(IF(rank = DIV((n - 1) * 9, 10), us, NULL)), 0) AS FLOAT64) * MAX(IF(rank = DIV((n - 1) * 9, 10) AND NOT us IS NULL, MOD((n - 1) * 9, 10), NULL)) / 10)"
            " FROM ranked GROUP BY g",
        },
    ),
    "exact quantile of a column by ROLLUP (BigQuery: its ranks added, read at each level; the others never bind them)": (
        'SELECT b, PERCENTILE_CONT(x, 0.5) FROM (SELECT b, x FROM t) AS m GROUP BY ROLLUP (b)',
        {
            "duckdb": 'SELECT b, QUANTILE_CONT(x, 0.5) FROM (SELECT b, x FROM t) AS m GROUP BY ROLLUP (b)',
            "postgres": 'SELECT b, PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x) FROM (SELECT b, x FROM t) AS m GROUP BY ROLLUP (b)',
            "bigquery": (
            'SELECT b, IF(GROUPING(b) = 0, (MAX(IF(x_rank = DIV((x_n - 1) * 1, 2), x, NULL)) + CAST(COALESCE(MAX(IF(x_rank = DIV((x_n - 1) * 1, 2) + 1, x'
            ', NULL)) - MAX(IF(x_rank = DIV((x_n - 1) * 1, 2), x, NULL)), 0) AS FLOAT64) * MAX(IF(x_rank = DIV((x_n - 1) * 1, 2) AND NOT x IS NULL, MOD(('
            'x_n - 1) * 1, 2), NULL)) / 2), (MAX(IF(x_rank_all = DIV((x_n_all - 1) * 1, 2), x, NULL)) + CAST(COALESCE(MAX(IF(x_rank_all = DIV((x_n_all - '
            '1) * 1, 2) + 1, x, NULL)) - MAX(IF(x_rank_all = DIV((x_n_all - 1) * 1, 2), x, NULL)), 0) AS FLOAT64) * MAX(IF(x_rank_all = DIV((x_n_all - 1)'
            ' * 1, 2) AND NOT x IS NULL, MOD((x_n_all - 1) * 1, 2), NULL)) / 2)) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY b, x IS NULL ORDER BY x)'
            ' - 1 AS x_rank, COUNT(x) OVER (PARTITION BY b) AS x_n, ROW_NUMBER() OVER (PARTITION BY x IS NULL ORDER BY x) - 1 AS x_rank_all, COUNT(x) OVE'
            'R () AS x_n_all FROM (SELECT b, x FROM t) AS m) AS ranked GROUP BY ROLLUP (b)'
            ),
        },
    ),
    "local date": (
        "SELECT DATE(ts, tz)",
        {
            "duckdb": "SELECT CAST(CAST(ts AS TIMESTAMPTZ) AT TIME ZONE tz AS DATE)",
            "postgres": "SELECT CAST(CAST(ts AS TIMESTAMPTZ) AT TIME ZONE tz AS DATE)",
            "bigquery": "SELECT DATE(ts, tz)",
        },
    ),
    "microseconds between": (
        "SELECT TIMESTAMP_DIFF(a, b, MICROSECOND)",
        {
            "duckdb": "SELECT DATE_DIFF('MICROSECOND', b, a)",
            "postgres": "SELECT CAST(EXTRACT(EPOCH FROM a - b) * 1000000 AS BIGINT)",
            "bigquery": "SELECT TIMESTAMP_DIFF(a, b, MICROSECOND)",
        },
    ),
    "json text": (
        "SELECT JSON_VALUE(metadata, '$.tokens_used')",
        {
            "duckdb": "SELECT metadata ->> '$.tokens_used'",
            "postgres": "SELECT metadata #>> '{tokens_used}'",
            "bigquery": "SELECT JSON_VALUE(metadata, '$.tokens_used')",
        },
    ),
    "byte order of ids": (
        "SELECT ROW_NUMBER() OVER (ORDER BY ts, CAST(id AS BYTES))",
        {
            "duckdb": "SELECT ROW_NUMBER() OVER (ORDER BY ts NULLS FIRST, id NULLS FIRST)",
            "postgres": 'SELECT ROW_NUMBER() OVER (ORDER BY ts NULLS FIRST, id COLLATE "C" NULLS FIRST)',
            "bigquery": "SELECT ROW_NUMBER() OVER (ORDER BY ts, CAST(id AS BYTES))",
        },
    ),
    "count if, zero on no rows": (
        "SELECT COUNTIF(x = 1) FROM t",
        {
            "duckdb": "SELECT COUNT(CASE WHEN x = 1 THEN 1 END) FROM t",
            "postgres": "SELECT COUNT(CASE WHEN x = 1 THEN 1 END) FROM t",
            "bigquery": "SELECT COUNTIF(x = 1) FROM t",
        },
    ),
    "ISO week of a date stays a date": (
        "SELECT DATE_TRUNC(d, WEEK(MONDAY))",
        {
            "duckdb": "SELECT CAST(DATE_TRUNC('WEEK', d) AS DATE)",
            "postgres": "SELECT CAST(DATE_TRUNC('WEEK', CAST(d AS TIMESTAMP)) AS DATE)",
            "bigquery": "SELECT DATE_TRUNC(d, WEEK(MONDAY))",
        },
    ),
    "days of a range counted without a zone": (
        "SELECT d FROM UNNEST(GENERATE_DATE_ARRAY(s, e)) AS d",
        {
            "duckdb": "SELECT d FROM UNNEST(CAST(GENERATE_SERIES(s, e, INTERVAL '1' DAY) AS DATE[])) AS _t0(d)",
            "postgres": (
                "SELECT d FROM (SELECT CAST(value AS DATE) FROM GENERATE_SERIES(CAST(s AS TIMESTAMP),"
                " CAST(e AS TIMESTAMP), INTERVAL '1 DAY') AS _t(value)) AS _t0(d)"
            ),
            "bigquery": "SELECT d FROM UNNEST(GENERATE_DATE_ARRAY(s, e, INTERVAL '1' DAY)) AS d",
        },
    ),
    "integer division keeps its operands": (
        "SELECT DIV(a + b, c)",
        {
            "duckdb": "SELECT (a + b) // c",
            "postgres": "SELECT CAST(a + b AS BIGINT) / CAST(c AS BIGINT)",
            "bigquery": "SELECT DIV(a + b, c)",
        },
    ),
    "days added to a date stay a date": (
        "SELECT DATE_ADD(d, INTERVAL n DAY)",
        {
            "duckdb": "SELECT d + CAST(n AS INT)",
            "postgres": "SELECT d + CAST(n AS INT)",
            "bigquery": "SELECT DATE_ADD(d, INTERVAL n DAY)",
        },
    ),
    "epoch microseconds of an instant": (
        "SELECT UNIX_MICROS(ts)",
        {
            "duckdb": "SELECT EPOCH_US(ts)",
            "postgres": "SELECT CAST(EXTRACT(EPOCH FROM ts) * 1000000 AS BIGINT)",
            "bigquery": "SELECT UNIX_MICROS(ts)",
        },
    ),
    "epoch microseconds compared with a bound value: the instant is compared instead": (
        "SELECT UNIX_MICROS(ts) < @change",
        {
            "duckdb": "SELECT EPOCH_US(ts) < $change",
            "postgres": (
                "SELECT ts < TO_TIMESTAMP(CAST($change AS BIGINT) / 1000000) + (CAST($change AS BIGINT) % 1000000) * INTERVAL '1 MICROSECOND'"
            ),
            "bigquery": "SELECT UNIX_MICROS(ts) < @change",
        },
    ),
    "local date by known offsets: timestamp arithmetic on Postgres, not numeric epochs": (
        "SELECT DATE_ADD(DATE '1900-01-01', INTERVAL DIV(UNIX_MICROS(ts) + CASE WHEN UNIX_MICROS(ts) < @change THEN @before ELSE @after END"
        " + 2208988800000000, 86400000000) DAY)",
        {
            "duckdb": (
                "SELECT CAST('1900-01-01' AS DATE) + CAST((EPOCH_US(ts) + CASE WHEN EPOCH_US(ts) < $change THEN $before ELSE $after END"
                " + 2208988800000000) // 86400000000 AS INT)"
            ),
            "postgres": (
                "SELECT CAST((CAST(ts AS TIMESTAMPTZ) AT TIME ZONE 'UTC' + CASE WHEN ts < TO_TIMESTAMP(CAST($change AS BIGINT) / 1000000)"
                " + (CAST($change AS BIGINT) % 1000000) * INTERVAL '1 MICROSECOND' THEN $before * INTERVAL '1 MICROSECOND'"
                " ELSE $after * INTERVAL '1 MICROSECOND' END) AS DATE)"
            ),
            "bigquery": (
                "SELECT DATE_ADD(CAST('1900-01-01' AS DATE), INTERVAL (DIV(UNIX_MICROS(ts) + CASE WHEN UNIX_MICROS(ts) < @change"
                " THEN @before ELSE @after END + 2208988800000000, 86400000000)) DAY)"
            ),
        },
    ),
    "messages of a distinct common table's rows: probed by their key on Postgres, however wrong its estimates": (
        "WITH w AS (SELECT a AS c FROM x UNION DISTINCT SELECT b FROM y) SELECT m.id, m.`timestamp` FROM t AS m WHERE m.k IN (SELECT v.c FROM w AS v) AND m.ts < @e",
        {
            "duckdb": "WITH w AS (SELECT a AS c FROM x UNION SELECT b FROM y) SELECT m.id, m.\"timestamp\" FROM t AS m WHERE m.k IN (SELECT v.c FROM w AS v) AND m.ts < $e",
            "postgres": (
                "WITH w AS (SELECT a AS c FROM x UNION SELECT b FROM y) SELECT m.id, m.\"timestamp\" FROM w AS v CROSS JOIN LATERAL"
                " (SELECT m.id, m.\"timestamp\" FROM t AS m WHERE m.k = v.c AND m.ts < $e OFFSET 0) AS m"
            ),
            "bigquery": "WITH w AS (SELECT a AS c FROM x UNION DISTINCT SELECT b FROM y) SELECT m.id, m.`timestamp` FROM t AS m WHERE m.k IN (SELECT v.c FROM w AS v) AND m.ts < @e",
        },
    ),
    "rows of a common table that may repeat: the semi-join stays": (
        "WITH w AS (SELECT a AS c FROM x UNION ALL SELECT b FROM y) SELECT m.id FROM t AS m WHERE m.k IN (SELECT v.c FROM w AS v)",
        {
            "duckdb": "WITH w AS (SELECT a AS c FROM x UNION ALL SELECT b FROM y) SELECT m.id FROM t AS m WHERE m.k IN (SELECT v.c FROM w AS v)",
            "postgres": "WITH w AS (SELECT a AS c FROM x UNION ALL SELECT b FROM y) SELECT m.id FROM t AS m WHERE m.k IN (SELECT v.c FROM w AS v)",
            "bigquery": "WITH w AS (SELECT a AS c FROM x UNION ALL SELECT b FROM y) SELECT m.id FROM t AS m WHERE m.k IN (SELECT v.c FROM w AS v)",
        },
    ),
    "an instant from epoch microseconds, exact": (
        "SELECT TIMESTAMP_MICROS(x)",
        {
            "duckdb": "SELECT MAKE_TIMESTAMPTZ(x)",
            "postgres": (
                "SELECT TO_TIMESTAMP(CAST(x AS BIGINT) / 1000000) + (CAST(x AS BIGINT) % 1000000) * INTERVAL '1 MICROSECOND'"
            ),
            "bigquery": "SELECT TIMESTAMP_MICROS(x)",
        },
    ),
}


@pytest.mark.parametrize("dialect", [d.value for d in Dialect])
@pytest.mark.parametrize("case", sorted(CASES))
def test_rewrite(case: str, dialect: str) -> None:
    source, expected = CASES[case]
    tree = rewrite(sqlglot.parse_one(source, read="bigquery"), Dialect(dialect))
    assert tree.sql(dialect=dialect) == expected[dialect]
