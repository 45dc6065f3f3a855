"""BigQuery bills the partitions a query reads: every scan of `conversations` and `messages` in
the compiled BigQuery SQL of every metric must filter on the table's partitioning column
(sql/schema/bigquery.sql), so that a request reads about its window's partitions however long
the history. Checked on the syntax tree (sqlglot), in every shape BigQuery runs with a
look-around bound; without one, the contract's unbounded look-back and look-ahead leave the
scans docs/metrics.md names unfiltered, and this test says which.
"""

from __future__ import annotations

import functools

import pytest
import sqlglot
from sqlglot import exp

from crm_metrics import templates
from crm_metrics.compiler import compile_sql
from crm_metrics.schema import ddl
from crm_metrics.templates import Shape

#: Every metric, with and without the outlet filter (granularity changes buckets, not scans).
SHAPES = [(name, outlet, templates.load(name).granularities[0]) for name in templates.names() for outlet in (False, True)]


@functools.cache
def partitioning() -> dict[str, str]:
    """Each partitioned table's partitioning column, read from the BigQuery DDL."""
    found = {}
    for create in sqlglot.parse(ddl("bigquery"), read="bigquery"):
        partition = create.find(exp.PartitionedByProperty)
        if partition is not None:
            (column,) = {c.name for c in partition.find_all(exp.Column)}
            found[create.this.this.name] = column
    return found


def unfiltered_scans(sql: str) -> list[str]:
    """The scans of partitioned tables whose SELECT does not bound the partitioning column
    from both sides with conditions that every row must meet (top-level ANDs of WHERE)."""
    columns = partitioning()
    tree = sqlglot.parse_one(sql, read="bigquery")
    missing = []
    for table in tree.find_all(exp.Table):
        column = columns.get(table.name)
        if column is None:
            continue
        select = table.find_ancestor(exp.Select)
        alias = table.alias_or_name
        where = select.args.get("where")
        conjuncts = list(where.this.flatten()) if where is not None and isinstance(where.this, exp.And) else [where.this] if where else []
        bounds = {
            type(c)
            for c in conjuncts
            if isinstance(c, (exp.GTE, exp.GT, exp.LT, exp.LTE))
            and isinstance(c.this, exp.Column)
            and c.this.name == column
            and c.this.table == alias
            and isinstance(c.expression, exp.Parameter)
        }
        if not ({exp.GTE, exp.GT} & bounds and {exp.LT, exp.LTE} & bounds):
            missing.append(f"{table.name} AS {alias}")
    return missing


def test_the_ddl_partitions_both_tables() -> None:
    assert partitioning() == {"conversations": "started_at", "messages": "timestamp"}


@pytest.mark.parametrize(("name", "outlet", "granularity"), SHAPES)
def test_every_scan_filters_on_the_partitioning_column_within_a_bound(name: str, outlet: bool, granularity: str) -> None:
    query = compile_sql(name, "bigquery", Shape(outlet=outlet, granularity=granularity, bounded=True))
    assert unfiltered_scans(query.sql) == []


def test_the_check_finds_an_unfiltered_scan() -> None:
    assert unfiltered_scans("SELECT COUNT(*) FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id "
                            "WHERE m.timestamp >= @a AND m.timestamp < @b") == ["conversations AS c"]
    # A bound on one side only, or under an OR, reads every partition on the other side.
    assert unfiltered_scans("SELECT 1 FROM messages AS m WHERE m.timestamp >= @a") == ["messages AS m"]
    assert unfiltered_scans("SELECT 1 FROM messages AS m WHERE m.timestamp >= @a OR m.timestamp < @b") == ["messages AS m"]


def test_unbounded_the_contracts_look_around_scans_are_the_only_unfiltered_ones() -> None:
    # docs/metrics.md: without LOOKAROUND_DAYS a request reads the conversations that own a
    # message in the range whenever they started, and every message of the window's
    # conversations (history, replies and handoff requests anywhere in time). Everything else
    # reads the range's partitions.
    query = compile_sql("dashboard", "bigquery", Shape())
    assert sorted(unfiltered_scans(query.sql)) == ["conversations AS c", "messages AS m"]
    assert "@lookaround" not in query.sql
