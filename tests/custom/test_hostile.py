"""Hostile custom metrics are refused when loaded, with a message naming the file and line
(crm_metrics/custom.py, crm_metrics/isolation.py). No database: the checks are static."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm_metrics import custom
from crm_metrics.service import BUILTIN_NAMES

HEADER = """-- name: {name}
-- table: a test metric
-- grain: one row per code
-- granularities: range
-- params:
--   tenant_id     STRING     the tenant
--   range_start   TIMESTAMP  start
--   range_end     TIMESTAMP  end
{extra}-- columns:
--   code     STRING   a code
--   total    INT64    a count
{{% import 'macros/custom.sql' as crm with context -%}}
"""


def load(tmp_path: Path, body: str, *, name: str = "hostile", extra: str = "") -> custom.CustomMetric:
    path = tmp_path / f"{name}.sql"
    path.write_text(HEADER.format(name=name, extra=extra) + body, encoding="utf-8")
    return custom.load_file(path, BUILTIN_NAMES)


SAFE = """SELECT c.status AS code, COUNT(*) AS total
FROM conversations AS c
WHERE c.tenant_id = @tenant_id AND {{ crm.in_range('c.started_at') }}
GROUP BY c.status
"""

HOSTILE = {
    "missing tenant filter": (
        """SELECT c.status AS code, COUNT(*) AS total
FROM conversations AS c
WHERE {{ crm.in_range('c.started_at') }}
GROUP BY c.status
""",
        r"hostile.sql:14: scan of conversations AS c is not restricted to the request's tenant",
    ),
    "tenant filter only in a bypassed CTE": (
        """WITH mine AS (SELECT * FROM conversations AS c WHERE c.tenant_id = @tenant_id)
SELECT x.status AS code, COUNT(*) AS total
FROM conversations AS x
WHERE {{ crm.in_range('x.started_at') }}
GROUP BY x.status
""",
        r"hostile.sql:15: scan of conversations AS x is not restricted",
    ),
    "UNION with an unscoped branch": (
        """SELECT c.status AS code, COUNT(*) AS total FROM conversations AS c WHERE c.tenant_id = @tenant_id GROUP BY c.status
UNION ALL
SELECT o.status, COUNT(*) FROM conversations AS o WHERE {{ crm.in_range('o.started_at') }} GROUP BY o.status
""",
        r"hostile.sql:15: scan of conversations AS o is not restricted",
    ),
    "cross join to another tenant": (
        """SELECT o.tenant_id AS code, COUNT(*) AS total
FROM conversations AS c
CROSS JOIN conversations AS o
WHERE c.tenant_id = @tenant_id
GROUP BY o.tenant_id
""",
        r"hostile.sql:15: scan of conversations AS o is not restricted",
    ),
    "tenant filter in an OR": (
        """SELECT c.status AS code, COUNT(*) AS total
FROM conversations AS c
WHERE c.tenant_id = @tenant_id OR c.status = 'active'
GROUP BY c.status
""",
        r"scan of conversations AS c is not restricted",
    ),
    "messages without their conversations": (
        """SELECT m.sender_type AS code, COUNT(*) AS total
FROM messages AS m
WHERE {{ crm.in_range('m.timestamp') }}
GROUP BY m.sender_type
""",
        r"hostile.sql:14: scan of messages AS m is not restricted to the request's tenant: messages carry no tenant",
    ),
    "messages on the preserved side of a LEFT JOIN": (
        """SELECT m.sender_type AS code, COUNT(*) AS total
FROM messages AS m
LEFT JOIN conversations AS c ON c.id = m.conversation_id AND c.tenant_id = @tenant_id
GROUP BY m.sender_type
""",
        r"scan of messages AS m is not restricted",
    ),
    "literal tenant instead of the parameter": (
        """SELECT c.status AS code, COUNT(*) AS total
FROM conversations AS c
WHERE c.tenant_id = '123e4567-e89b-12d3-a456-426614174000'
GROUP BY c.status
""",
        r"hostile.sql:15: compares c.tenant_id with '123e4567-e89b-12d3-a456-426614174000': a value belongs in a parameter \(@tenant_id\)",
    ),
    "literal date instead of the range": (
        """SELECT c.status AS code, COUNT(*) AS total
FROM conversations AS c
WHERE c.tenant_id = @tenant_id AND c.started_at >= TIMESTAMP '2025-01-01 00:00:00+00'
GROUP BY c.status
""",
        r"hostile.sql:15: compares with the literal .*dates and instants come from the request",
    ),
    "DDL": (
        "DROP TABLE conversations\n",
        r"hostile.sql:13: DROP is not allowed",
    ),
    "DML after a query": (
        SAFE + ";\nDELETE FROM messages WHERE TRUE\n",
        r"a custom metric is one SELECT statement, not 2",
    ),
    "undeclared parameter": (
        """SELECT c.status AS code, COUNT(*) AS total
FROM conversations AS c
WHERE c.tenant_id = @tenant_id AND c.status = @status
GROUP BY c.status
""",
        r"hostile.sql: uses @status \(line 15\) but the header does not declare it",
    ),
    "column type mismatch": (
        """SELECT c.status AS code, MAX(c.started_at) AS total
FROM conversations AS c
WHERE c.tenant_id = @tenant_id
GROUP BY c.status
""",
        r"hostile.sql:11: column total is declared INT64 but its expression is TIMESTAMP",
    ),
    "columns other than the header's": (
        """SELECT c.status AS code, COUNT(*) AS how_many
FROM conversations AS c
WHERE c.tenant_id = @tenant_id
GROUP BY c.status
""",
        r"the final SELECT gives the columns code, how_many; the header's columns: are code, total",
    ),
    "another table": (
        """SELECT s.tenant_id AS code, COUNT(*) AS total FROM metric_slots AS s GROUP BY s.tenant_id
""",
        r"hostile.sql:13: reads table 'metric_slots': a custom metric reads only the tables conversations, messages, tenants",
    ),
    "a CTE hiding a table": (
        """WITH conversations AS (SELECT 'x' AS status)
SELECT c.status AS code, COUNT(*) AS total FROM conversations AS c GROUP BY c.status
""",
        r"a CTE may not be named 'conversations'",
    ),
    "a function reading a file": (
        """SELECT pg_read_file('/etc/passwd') AS code, COUNT(*) AS total
FROM conversations AS c WHERE c.tenant_id = @tenant_id
""",
        r"hostile.sql:13: calls pg_read_file\(\), a function sqlglot does not know",
    ),
    "a table function": (
        """SELECT x.code, COUNT(*) AS total FROM read_csv('/tmp/other.csv') AS x GROUP BY x.code
""",
        r"hostile.sql:13: reads .*read_csv.*: a custom metric reads only the tables",
    ),
    "the tenants table of every tenant": (
        """SELECT t.name AS code, COUNT(*) AS total FROM tenants AS t GROUP BY t.name
""",
        r"scan of tenants AS t is not restricted to the request's tenant: add `t.id = @tenant_id`",
    ),
    "an unqualified id that binds to the inner query": (
        """SELECT c.status AS code, COUNT(*) AS total
FROM conversations AS c
WHERE c.tenant_id = @tenant_id
  AND EXISTS (SELECT 1 FROM messages AS m JOIN messages AS n ON n.id = m.id WHERE m.conversation_id = id)
GROUP BY c.status
""",
        r"scan of messages AS m is not restricted",
    ),
    "Jinja reaching Python internals": (
        """SELECT '{{ ''.__class__.__mro__[1].__subclasses__() }}' AS code, COUNT(*) AS total FROM conversations AS c WHERE c.tenant_id = @tenant_id
""",
        r"hostile.sql: cannot render: .*unsafe",
    ),
    "a Jinja syntax error": (
        "SELECT {{ crm.scope('c' }}\n",
        r"hostile.sql:13: ",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_metrics_are_refused(tmp_path: Path, case: str) -> None:
    body, message = HOSTILE[case]
    metric = load(tmp_path, body)
    assert not metric.ok, case
    assert metric.error is not None
    assert re.search(message, metric.error), metric.error


def test_the_safe_one_loads(tmp_path: Path) -> None:
    metric = load(tmp_path, SAFE)
    assert metric.ok, metric.error


SCOPED_WAYS = {
    "through a CTE of the tenant's conversation ids": """WITH mine AS (SELECT c.id FROM conversations AS c WHERE LOWER(c.tenant_id) = @tenant_id)
SELECT m.sender_type AS code, COUNT(*) AS total
FROM messages AS m
WHERE m.conversation_id IN (SELECT v.id FROM mine AS v)
GROUP BY m.sender_type
""",
    "joined to a scoped conversations scan": """SELECT m.sender_type AS code, COUNT(*) AS total
FROM messages AS m
JOIN conversations AS c ON c.id = m.conversation_id
WHERE {{ crm.scope('c') }}
GROUP BY m.sender_type
""",
    "a UNION whose branches are all scoped": """WITH ids AS (
  SELECT c.id AS conversation_id FROM conversations AS c WHERE c.tenant_id = @tenant_id
  UNION DISTINCT
  SELECT d.id FROM conversations AS d WHERE d.tenant_id = @tenant_id
)
SELECT m.sender_type AS code, COUNT(*) AS total
FROM messages AS m JOIN ids AS i ON i.conversation_id = m.conversation_id
GROUP BY m.sender_type
""",
    "correlated with a scoped scan around it": """SELECT c.status AS code, COUNT(*) AS total
FROM conversations AS c
WHERE c.tenant_id = @tenant_id
  AND EXISTS (SELECT 1 FROM messages AS m WHERE m.conversation_id = c.id AND m.sender_type = 'agent')
GROUP BY c.status
""",
    "the library's row sources": """SELECT m.sender_type AS code, COUNT(*) AS total FROM ({{ crm.messages() }}) AS m GROUP BY m.sender_type
""",
}


@pytest.mark.parametrize("case", sorted(SCOPED_WAYS))
def test_scoped_reads_load(tmp_path: Path, case: str) -> None:
    metric = load(tmp_path, SCOPED_WAYS[case])
    assert metric.ok, metric.error


def test_a_union_branch_scoped_through_the_other_is_refused(tmp_path: Path) -> None:
    body = """WITH ids AS (
  SELECT c.id AS conversation_id FROM conversations AS c WHERE c.tenant_id = @tenant_id
  UNION ALL
  SELECT d.id FROM conversations AS d
)
SELECT m.sender_type AS code, COUNT(*) AS total
FROM messages AS m JOIN ids AS i ON i.conversation_id = m.conversation_id
GROUP BY m.sender_type
"""
    metric = load(tmp_path, body)
    assert metric.error and "scan of conversations AS d is not restricted" in metric.error


def test_a_builtin_name_cannot_be_shadowed(tmp_path: Path) -> None:
    metric = load(tmp_path, SAFE, name="summary")
    assert metric.error == "summary.sql: 'summary' is a built-in answer's name: a custom metric cannot shadow it"


def test_library_values_keep_their_types(tmp_path: Path) -> None:
    metric = load(tmp_path, SAFE, extra="--   start_date    STRING     wrong\n")
    assert metric.error == "hostile.sql:9: start_date is the library's DATE, declared STRING"


def test_a_bad_file_leaves_the_others_working(tmp_path: Path) -> None:
    (tmp_path / "good.sql").write_text(HEADER.format(name="good", extra="") + SAFE, encoding="utf-8")
    (tmp_path / "bad.sql").write_text(HEADER.format(name="bad", extra="") + "DROP TABLE messages\n", encoding="utf-8")
    catalogue = custom.CustomMetrics(tmp_path, BUILTIN_NAMES)
    assert catalogue.get("good").ok
    assert [m.name for m in catalogue.all() if not m.ok] == ["bad"]
    with pytest.raises(custom.UnknownMetric, match="'bad' was refused when loaded"):
        catalogue.get("bad")


def test_extra_parameters_are_typed_and_required(tmp_path: Path) -> None:
    body = """SELECT c.status AS code, COUNT(*) AS total
FROM conversations AS c
WHERE c.tenant_id = @tenant_id AND c.status = @status AND {{ crm.in_range('c.started_at') }}
GROUP BY c.status
HAVING COUNT(*) >= @at_least
"""
    metric = load(tmp_path, body, extra="--   status        STRING     a status\n--   at_least      INT64      fewest\n")
    assert metric.ok, metric.error
    assert custom.extra_values(metric, {"status": "active", "at_least": "2"}) == {"status": "active", "at_least": 2}
    with pytest.raises(custom.InvalidParameter, match="^at_least: must be a whole number, got 'two'"):
        custom.extra_values(metric, {"status": "active", "at_least": "two"})
    with pytest.raises(custom.InvalidParameter, match="^at_least: is required"):
        custom.extra_values(metric, {"status": "active"})
    with pytest.raises(custom.InvalidParameter, match="^colour: unknown parameter of hostile; it declares: status, at_least"):
        custom.extra_values(metric, {"status": "active", "at_least": 1, "colour": "red"})


def test_the_examples_load() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "metrics"
    catalogue = custom.CustomMetrics(examples, BUILTIN_NAMES)
    assert [(m.name, m.error) for m in catalogue.all()] == [
        ("agent_replies", None), ("conversations_by_calling_code", None), ("conversations_with_status", None),
        ("handoffs_by_trigger", None), ("llm_tokens_by_weekday", None), ("messages_by_local_hour", None),
    ]


@pytest.mark.parametrize("dialect", ["bigquery", "duckdb", "postgres"])
def test_custom_values_never_reach_sql_text(dialect: str) -> None:
    """A custom metric's extra parameters are bound like the request's: hostile strings change
    no query text (docs/architecture.md, things that must stay true)."""
    from crm_metrics import Metrics, Settings
    from tests.test_compiler import INJECTIONS, RecordingExecutor

    executor = RecordingExecutor()
    executor.dialect = dialect
    examples = Path(__file__).resolve().parents[2] / "examples" / "metrics"
    metrics = Metrics(executor, Settings(metrics_path=str(examples)))
    texts = set()
    for value in INJECTIONS:
        executor.calls.clear()
        answer = metrics.query("conversations_with_status", "123e4567-e89b-12d3-a456-426614174000", "2025-11-01", "2025-11-04",
                               outlet_id="0b1e7000-0000-4000-8000-00000000000a", tz="Asia/Kathmandu", granularity="month", params={"status": value})
        assert answer.params == {"status": value}
        sql, values = executor.calls[-1]
        assert values["status"] == value
        texts.add(sql)
    # One text whatever the value (values that spell a parameter marker are in it anyway).
    assert len(texts) == 1
    assert not any(value in sql for value in INJECTIONS if not value.startswith(("@", "%(", "$")))


def test_every_metric_declares_the_tenant(tmp_path: Path) -> None:
    path = tmp_path / "untenanted.sql"
    path.write_text(HEADER.format(name="untenanted", extra="").replace("--   tenant_id     STRING     the tenant\n", "") + SAFE, encoding="utf-8")
    metric = custom.load_file(path, BUILTIN_NAMES)
    assert metric.error == "untenanted.sql:5: declare tenant_id STRING: every custom metric reads one tenant"
