"""The partitions of BigQuery's partitioned tables that a compiled query reads.

sql/schema/bigquery.sql partitions `conversations` by DATE(started_at) and `messages` by
DATE(`timestamp`): BigQuery reads (and bills) only the partitions a scan's filter on that
column leaves. Here a scan is bounded when its SELECT's WHERE compares the partitioning column
of that very table with a parameter from below (>=, >) and from above (<, <=), in conditions
every row must meet (top-level ANDs); any other scan reads every partition. The dry run shows
which partitions a request reads, the bench prices them, and a test holds every metric to
bounded scans within a look-around bound (LOOKAROUND_DAYS).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from crm_metrics.schema import ddl


@dataclass(frozen=True)
class Scan:
    """One read of a partitioned table in a query."""

    table: str
    alias: str
    #: The table's partitioning column.
    column: str
    #: The parameters bounding the partitioning column from below and from above (None: no
    #: such bound, every partition on that side is read).
    low: str | None
    high: str | None
    #: The table's columns the scan reads (what BigQuery bills, per partition read).
    columns: tuple[str, ...]

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None

    def days(self, values: Mapping[str, Any]) -> tuple[dt.date | None, dt.date | None]:
        """The UTC dates of the first and last partitions read, given the bound parameters'
        values (None: unbounded on that side)."""
        first = values[self.low].astimezone(dt.UTC).date() if self.low else None
        # The upper bound is exclusive: an instant at 00:00 reads nothing of that day.
        last = (values[self.high] - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date() if self.high else None
        return first, last


@functools.cache
def partitioning() -> dict[str, str]:
    """Each partitioned table's partitioning column, read from the BigQuery DDL."""
    found = {}
    for create in sqlglot.parse(ddl("bigquery"), read="bigquery"):
        partition = create.find(exp.PartitionedByProperty) if create else None
        if partition is not None:
            (column,) = {c.name for c in partition.find_all(exp.Column)}
            found[create.this.this.name] = column
    return found


def scans(sql: str) -> list[Scan]:
    """Every scan of a partitioned table in `sql` (BigQuery SQL), in the order written."""
    columns = partitioning()
    tree = sqlglot.parse_one(sql, read="bigquery")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    found = []
    for table in tree.find_all(exp.Table):
        column = columns.get(table.name)
        if column is None or table.name in ctes:
            continue
        select = table.find_ancestor(exp.Select)
        alias = table.alias_or_name
        own = [c for c in select.find_all(exp.Column) if c.table == alias and c.find_ancestor(exp.Select) is select]
        low = high = None
        for condition in _conjuncts(select.args.get("where")):
            bound = _bound(condition, alias, column)
            if bound is not None:
                side, parameter = bound
                low, high = (parameter, high) if side == "low" else (low, parameter)
        found.append(Scan(table.name, alias, column, low, high, tuple(sorted({c.name for c in own}))))
    return found


def _conjuncts(where: exp.Where | None) -> list[exp.Expression]:
    if where is None:
        return []
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


def _bound(condition: exp.Expression, alias: str, column: str) -> tuple[str, str] | None:
    """('low' or 'high', parameter name) when `condition` is `alias.column` compared with a
    parameter."""
    if not isinstance(condition, (exp.GTE, exp.GT, exp.LT, exp.LTE)):
        return None
    left, right = condition.this, condition.expression
    if not (isinstance(left, exp.Column) and left.name == column and left.table == alias and isinstance(right, exp.Parameter)):
        return None
    return ("low" if isinstance(condition, (exp.GTE, exp.GT)) else "high"), right.name
