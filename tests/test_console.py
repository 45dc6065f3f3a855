"""`crm_metrics.console.console_sql` (`crm-metrics render`): the header, inlined values, no injection."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from sqlglot import exp

from crm_metrics import InvalidParameter, Settings, TemplateError, templates
from crm_metrics.templates import Shape
from crm_metrics.compiler import compile_sql
from crm_metrics.console import PARAMS, console_sql
from crm_metrics.errors import shown

TENANT = "7a1e3c1e-0000-4000-8000-00000000000a"
OUTLET = "0b1e7000-0000-4000-8000-00000000000b"
NOW = dt.datetime(2025, 3, 20, 12, 0, tzinfo=dt.UTC)
DIALECTS = ("bigquery", "postgres", "duckdb")
#: Request parameters that are valid together (a range crossing New York's DST start).
VALID = {
    "tenant_id": TENANT,
    "start_date": "2025-03-08",
    "end_date": "2025-03-10",
    "outlet_id": OUTLET,
    "tz": "America/New_York",
    "granularity": "day",
}
#: The templates that read a range of a tenant's data.
RANGED = [name for name in templates.names() if {"tenant_id", "range_start"} <= {p.name for p in templates.load(name).params}]


def valid_for(name: str, params: dict[str, str] = VALID) -> dict[str, str]:
    """`params` as the template takes them: a summary (one bucket) takes no granularity."""
    template = templates.load(name)
    ranged = template.granularities == ("range",)
    outlets = "outlet_id" in {p.name for p in template.params}
    return {key: value for key, value in params.items() if not (ranged and key == "granularity") and (outlets or key != "outlet_id")}


def literals(sql: str, dialect: str) -> list[str]:
    """The values of the string literals in `sql`, as sqlglot parses them back."""
    return [node.this for node in sqlglot.parse_one(sql, read=dialect).find_all(exp.Literal) if node.is_string]


def without_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.startswith("--"))


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", templates.names())
def test_the_header_comment_comes_first(name: str, dialect: str) -> None:
    template = templates.load(name)

    sql = console_sql(name, dialect)

    assert sql.startswith(f"-- name: {name}\n-- table: ")
    assert sql == f"{template.header()}\n{compile_sql(name, dialect).sql}\n"
    header = sql[: len(template.header())]
    assert "\n-- columns:\n" in header
    assert ("\n-- params:\n" in header) == bool(template.params)
    for field in (*template.params, *template.columns):
        assert f"--   {field.name} " in header


@pytest.mark.parametrize("name", RANGED)
def test_inline_header_names_tenant_outlet_and_range_with_its_timezone(name: str) -> None:
    sql = console_sql(name, "duckdb", valid_for(name), style="inline", now=NOW)

    header = sql.split("\n", len(templates.load(name).header().splitlines()))[-1]
    buckets = "as one bucket" if templates.load(name).granularities == ("range",) else "by day"
    outlet = f"-- outlet_id: {OUTLET}\n" if "outlet_id" in valid_for(name) else ""
    assert header.startswith(
        f"-- tenant_id: {TENANT}\n"
        f"{outlet}"
        # New York is UTC-5 on the 8th and UTC-4 from the 9th (DST starts at 02:00 that day).
        f"-- range: 2025-03-08 .. 2025-03-10 in America/New_York, {buckets}"
        " = [2025-03-08T05:00:00Z, 2025-03-11T04:00:00Z)\n"
    )


def test_inline_defaults_dates_to_the_30_days_before_today_in_utc() -> None:
    sql = console_sql("message_metrics", "postgres", {"tenant_id": TENANT.upper(), "granularity": "week"}, style="inline", now=NOW)

    assert f"-- tenant_id: {TENANT}\n" in sql
    assert "-- outlet_id" not in sql
    assert "-- range: 2025-02-18 .. 2025-03-20 in UTC, by week = [2025-02-18T00:00:00Z, 2025-03-21T00:00:00Z)\n" in sql


@pytest.mark.parametrize("name", ["lookup/tenant", "derived/metric_slots", "tenant", "../metrics/dashboard"])
def test_only_metrics_render(name: str) -> None:
    with pytest.raises(TemplateError, match=f"Unknown metric {name!r}"):
        console_sql(name, "duckdb", {"tenant_id": TENANT}, style="inline", now=NOW)


def test_a_summary_takes_no_granularity() -> None:
    with pytest.raises(InvalidParameter, match="granularity: summary is one row for the whole range: it takes no granularity"):
        console_sql("summary", "duckdb", VALID, style="inline", now=NOW)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_inline_prices_come_from_the_settings(dialect: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLM_PRICE_PER_MILLION_TOKENS", "WHATSAPP_PRICE_PER_MESSAGE"):
        monkeypatch.delenv(name, raising=False)
    given = console_sql("cost_metrics", dialect, VALID, style="inline", now=NOW, settings=Settings(llm_price_per_million_tokens=0.6))
    monkeypatch.setenv("WHATSAPP_PRICE_PER_MESSAGE", "0.0125")
    from_env = console_sql("cost_metrics", dialect, VALID, style="inline", now=NOW)

    assert "0.6" in literals(given, dialect) and "0.01" in literals(given, dialect)
    assert "-- prices in USD: LLM 0.6 per million tokens, WhatsApp 0.01 per message\n" in given
    assert "0.15" in literals(from_env, dialect) and "0.0125" in literals(from_env, dialect)
    assert "-- prices" not in console_sql("conversation_metrics", dialect, VALID, style="inline", now=NOW)


def test_a_lookaround_bound_renders_the_bounded_query_and_says_so() -> None:
    bounded = console_sql("message_metrics", "bigquery", VALID, style="inline", now=NOW, settings=Settings(lookaround_days=7))
    assert "-- look-around: LOOKAROUND_DAYS=7, rows from " in bounded
    plain = console_sql("message_metrics", "bigquery", VALID, style="inline", now=NOW, settings=Settings())
    assert "-- look-around:" not in plain
    # The bounded query filters by the window widened 7 days: two more timestamps per scan.
    assert bounded.count("AS TIMESTAMP)") > plain.count("AS TIMESTAMP)")


# -- values only ever as quoted literals ------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", templates.names())
@pytest.mark.parametrize("tz", ["America/Port-au-Prince", "Etc/GMT+5"])
def test_inlined_values_are_literals_equal_to_the_input(name: str, dialect: str, tz: str) -> None:
    params = valid_for(name, {**VALID, "tz": tz})

    sql = console_sql(name, dialect, params, style="inline", now=NOW)

    values = literals(sql, dialect)
    used = {p.name for p in compile_sql(name, dialect, Shape(outlet=True, granularity=templates.load(name).granularities[0])).params}
    for key in ("tenant_id", "outlet_id", "start_date", "end_date", "tz"):
        if key in used:
            assert params[key] in values, key
            # Every occurrence in the SQL text is inside a string literal.
            assert without_comments(sql).count(params[key]) == sum(value.count(params[key]) for value in values), key
    assert not [node for node in sqlglot.parse_one(sql, read=dialect).find_all(exp.Parameter, exp.Placeholder)]


INJECTIONS = [
    "'; DROP TABLE conversations; --",
    "x' OR '1'='1",
    '" OR ""="',
    "1); DELETE FROM messages; --",
    "$tenant_id",
    "%(tenant_id)s",
    "@tenant_id",
    "{{ 7 * 7 }}",
    "{% if true %}x{% endif %}",
    "\\'",
    "UTC' --",
    "day; SELECT 1",
    "\x00",
    "x\n-- comment\nSELECT 1",
]


def plausible(key: str, injection: str) -> str:
    """The injection after a valid prefix, so that only a strict check can refuse it."""
    return VALID[key] + injection


@pytest.mark.parametrize("style", ["params", "inline"])
@pytest.mark.parametrize("key", PARAMS)
@pytest.mark.parametrize("injection", INJECTIONS)
def test_injection_in_every_parameter_is_refused_naming_it(key: str, injection: str, style: str) -> None:
    for value in (injection, plausible(key, injection)):
        with pytest.raises(InvalidParameter) as caught:
            console_sql("conversation_metrics", "duckdb", {**VALID, key: value}, style=style, now=NOW)
        assert caught.value.field == key
        assert shown(value) in caught.value.message  # the value's repr, cut past 64 characters


@pytest.mark.parametrize("key", PARAMS)
def test_a_valid_value_with_a_trailing_newline_is_refused(key: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        console_sql("conversation_metrics", "duckdb", {**VALID, key: VALID[key] + "\n"}, style="inline", now=NOW)

    assert caught.value.field == key


@pytest.mark.parametrize("style", ["params", "inline"])
def test_an_unknown_parameter_is_refused_naming_it(style: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        console_sql("summary", "postgres", {**valid_for("summary"), "tenant_id; DROP TABLE tenants": "x"}, style=style, now=NOW)

    assert caught.value.field == "tenant_id; DROP TABLE tenants"
    assert caught.value.message == f"unknown parameter; known: {', '.join(PARAMS)}"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({**VALID, "start_date": "2025-03-11"}, "start_date"),
        ({**VALID, "start_date": "2024-01-01"}, "end_date"),
        ({**VALID, "end_date": "2025-02-29"}, "end_date"),
    ],
)
@pytest.mark.parametrize("style", ["params", "inline"])
def test_the_range_is_checked_as_a_query_checks_it(params: dict[str, str], field: str, style: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        console_sql("conversation_metrics", "duckdb", params, style=style, now=NOW)

    assert caught.value.field == field


def test_inline_needs_a_tenant() -> None:
    with pytest.raises(InvalidParameter) as caught:
        console_sql("conversation_metrics", "duckdb", {"start_date": "2025-03-01"}, style="inline", now=NOW)

    assert caught.value.field == "tenant_id"


def test_unknown_template_or_dialect() -> None:
    with pytest.raises(TemplateError, match="Unknown metric 'conversation'. Known: conversation_metrics"):
        console_sql("conversation", "duckdb")
    with pytest.raises(TemplateError, match="Unknown dialect 'mysql'. Known: bigquery, postgres, duckdb"):
        console_sql("conversation_metrics", "mysql")
