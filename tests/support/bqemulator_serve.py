"""Start bqemulator with two of its translation faults corrected. Run by the emulator's own
Python (tests/support/bigquery_emulator.py builds that environment), never imported by the test suite.

bqemulator runs BigQuery SQL on DuckDB by translating it with sqlglot. Two translations go
wrong for our templates, in ways BigQuery does not:

1. With a table's schema at hand it expands a GROUP BY alias into the aliased expression, and
   binds every occurrence of a named parameter (or script variable) as a separate positional
   `?`. DuckDB cannot tell that `DATE(ts, ?)` in the select list and `DATE(ts, ?)` in the
   GROUP BY are the same, and refuses the query ("column must appear in the GROUP BY clause"):
   every template that buckets by `DATE(ts, @tz)` fails. BigQuery binds parameters by name.
   The schema only feeds a type annotation that rewrites AVG over NUMERIC columns, which the
   seed's tables do not have: so, no schema.
2. Its DATE_TRUNC_WEEK rule truncates to the Sunday before a date. It is meant for BigQuery's
   plain `WEEK` (Sunday weeks), but it also catches `WEEK(MONDAY)` (after sqlglot has turned it
   into DuckDB's 'WEEK'), while on a bare column it leaves DuckDB's Monday weeks: the two sides
   of a join disagree. The templates use only `WEEK(MONDAY)` (ISO weeks), which is DuckDB's own
   DATE_TRUNC('WEEK', ...): so, no rule.

And two for speed, which change no answer: it parses each statement about a dozen times with
sqlglot (to classify it, to look for DDL, DML, views, routines, then to translate it), 30 ms a
parse for a metric query, and then translates it through a chain of passes (row access,
INFORMATION_SCHEMA, wildcard tables, materialized views), 0.1 to 0.3 s. The templates send the
same text again and again with other parameters, and use none of those features. So a parse is
kept per (text, options) and handed out as a copy (callers may change it), and a translation
per (text, project).
"""

import sys
from typing import Any

import sqlglot

_parse_one = sqlglot.parse_one
_parsed: dict[tuple[Any, ...], sqlglot.exp.Expression] = {}


def _parse_one_once(sql: str, read: Any = None, dialect: Any = None, into: Any = None, **opts: Any) -> Any:
    if into is not None or opts or not isinstance(sql, str):
        return _parse_one(sql, read=read, dialect=dialect, into=into, **opts)
    key = (sql, str(read), str(dialect))
    if key not in _parsed:
        _parsed[key] = _parse_one(sql, read=read, dialect=dialect)
    return _parsed[key].copy()


# Before bqemulator is imported: a module that imported the function itself keeps the original.
sqlglot.parse_one = _parse_one_once

import bqemulator.jobs.executor  # noqa: E402
import bqemulator.scripting.interpreter  # noqa: E402
import bqemulator.sql.inner_query  # noqa: E402
from bqemulator.cli import main  # noqa: E402
from bqemulator.sql.rules.iso_date_parts import DateTruncWeekRule  # noqa: E402

bqemulator.sql.inner_query.build_catalog_schema = lambda *args, **kwargs: {}
DateTruncWeekRule.applies_to = lambda self, node: False

_translate = bqemulator.sql.inner_query.rewrite_and_translate_statement
_translations: dict[tuple[str, str], str] = {}


async def _translate_once(bq_sql: str, *, project_id: str, **kwargs: Any) -> str:
    key = (bq_sql, project_id)
    if key not in _translations:
        _translations[key] = await _translate(bq_sql, project_id=project_id, **kwargs)
    return _translations[key]


bqemulator.jobs.executor.rewrite_and_translate_statement = _translate_once
bqemulator.scripting.interpreter.rewrite_and_translate_statement = _translate_once

if __name__ == "__main__":
    sys.exit(main())
