"""BigQuery bills the partitions a query reads: every scan of `conversations` and `messages` in
the compiled BigQuery SQL of every metric must filter on the table's partitioning column
(sql/schema/bigquery.sql), so that a request reads about its window's partitions however long
the history. Checked on the syntax tree (crm_metrics/partitions.py, sqlglot) in every shape
BigQuery runs within a look-around bound (LOOKAROUND_DAYS); without one, the contract's
unbounded look-back and look-ahead leave the scans docs/metrics.md names unfiltered.
"""

from __future__ import annotations

import datetime as dt

import pytest

from crm_metrics import templates
from crm_metrics.compiler import compile_sql
from crm_metrics.partitions import partitioning, scans
from crm_metrics.templates import Shape

#: Every metric, with and without the outlet filter (granularity changes buckets, not scans).
SHAPES = [(name, outlet, templates.load(name).granularities[0]) for name in templates.names() for outlet in (False, True)]


def unfiltered(sql: str) -> list[str]:
    return [f"{scan.table} AS {scan.alias}" for scan in scans(sql) if not scan.bounded]


def test_the_ddl_partitions_both_tables() -> None:
    assert partitioning() == {"conversations": "started_at", "messages": "timestamp"}


@pytest.mark.parametrize(("name", "outlet", "granularity"), SHAPES)
def test_every_scan_filters_on_the_partitioning_column_within_a_bound(name: str, outlet: bool, granularity: str) -> None:
    query = compile_sql(name, "bigquery", Shape(outlet=outlet, granularity=granularity, bounded=True))
    found = scans(query.sql)
    assert {scan.table for scan in found} == {"conversations", "messages"}
    assert unfiltered(query.sql) == []
    # Each reads the range or the look-around window, nothing wider.
    assert {(scan.low, scan.high) for scan in found} <= {("range_start", "range_end"), ("lookaround_start", "lookaround_end")}


def test_the_check_finds_an_unfiltered_scan() -> None:
    joined = "SELECT COUNT(*) FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id WHERE m.timestamp >= @a AND m.timestamp < @b"
    assert unfiltered(joined) == ["conversations AS c"]
    # A bound on one side only, under an OR, or on another table's column reads every partition.
    assert unfiltered("SELECT 1 FROM messages AS m WHERE m.timestamp >= @a") == ["messages AS m"]
    assert unfiltered("SELECT 1 FROM messages AS m WHERE m.timestamp >= @a OR m.timestamp < @b") == ["messages AS m"]
    assert unfiltered("SELECT 1 FROM messages AS m, messages AS n WHERE n.timestamp >= @a AND n.timestamp < @b") == ["messages AS m"]


def test_a_scan_knows_its_days_and_columns() -> None:
    (scan,) = scans("SELECT m.id, m.metadata FROM messages AS m WHERE m.timestamp >= @a AND m.timestamp < @b")
    assert scan.columns == ("id", "metadata", "timestamp")
    values = {"a": dt.datetime(2025, 11, 1, 5, tzinfo=dt.UTC), "b": dt.datetime(2025, 12, 1, tzinfo=dt.UTC)}
    assert scan.days(values) == (dt.date(2025, 11, 1), dt.date(2025, 11, 30))


def test_unbounded_the_contracts_look_around_scans_are_the_only_unfiltered_ones() -> None:
    # docs/metrics.md: without LOOKAROUND_DAYS a request reads the conversations that own a
    # message in the range whenever they started, and every message of the window's
    # conversations (history, replies and handoff requests anywhere in time). Everything else
    # reads the range's partitions.
    query = compile_sql("dashboard", "bigquery", Shape())
    assert sorted(unfiltered(query.sql)) == ["conversations AS c", "messages AS m"]
    assert "@lookaround" not in query.sql
