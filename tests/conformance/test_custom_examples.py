"""The example custom metrics (examples/metrics/) against plain-Python computations, on DuckDB,
PostgreSQL and BigQuery (the emulator): the same rows, the same JSON (docs/custom-metrics.md).

Custom metrics read the seed's tables on every store, so the engines that differ only by their
derived tables (duckdb-facts, duckdb-seed, the PostgreSQL rollups) would run the same SQL again.
"""

from __future__ import annotations

import dataclasses
import functools
import datetime as dt
import math
import re
import zoneinfo
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from crm_metrics.custom import CustomMetrics
from crm_metrics.service import BUILTIN_NAMES
from tests.support import reference
from tests.support.engines import Engine
from tests.support.properties import on_engines
from tests.support.strategies import TENANT, Case, cases

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "metrics"
#: One engine per SQL dialect.
DIALECT_ENGINES = ("duckdb", "postgres", "bigquery")
#: Numbers of every shape the calling-code example sorts: one- two- and three-digit codes,
#: too short, no +, a leading 0, a space inside, empty.
PHONES = (
    "+6281234567", "+628", "+44 20 7946", "+12025550123", "+79161234567", "+380501234567",
    "6281234", "+0123456", "", "+35312345678", "+2712345", "+8613812345678", "+4420794600",
)
SENDER_IDS = ("agent-1", "Agent-1", None, "agent-2", "agent_1")
TWO_DIGIT_CODES = {
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49", "51", "52",
    "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92",
    "93", "94", "95", "98",
}


def _varied(case: Case) -> Case:
    """The case's rows with varied phone numbers and agent ids (the strategies give one kind)."""
    conversations = [{**c, "customer_phone": PHONES[i % len(PHONES)]} for i, c in enumerate(case.rows["conversations"])]
    messages = [{**m, "sender_id": SENDER_IDS[i % len(SENDER_IDS)]} for i, m in enumerate(case.rows["messages"])]
    return dataclasses.replace(case, rows={**case.rows, "conversations": conversations, "messages": messages})


@functools.cache
def _examples() -> CustomMetrics:
    """The examples' catalogue, loaded and checked once (a compiled query is cached by it)."""
    return CustomMetrics(EXAMPLES, BUILTIN_NAMES)


#: Custom metrics read the seed's tables, which every layout of an engine has alike: one engine
#: per dialect runs them (parametrized, not skipped on the others).
per_dialect = pytest.mark.parametrize("engine", DIALECT_ENGINES, indirect=True, scope="session")


def _range(case: Case) -> tuple[dt.datetime, dt.datetime]:
    return reference.first_instant(case.start, case.tz), reference.first_instant(case.end + dt.timedelta(days=1), case.tz)


def _calling_code(phone: str) -> str:
    if not re.match(r"^\+[1-9][0-9]{2}", phone):
        return "unknown"
    digits = phone[1:]
    if digits[0] in "17":
        return digits[0]
    return digits[:2] if digits[:2] in TWO_DIGIT_CODES else digits[:3]


def expected_calling_codes(case: Case) -> list[dict[str, Any]]:
    low, high = _range(case)
    view = reference.Reference(case.rows, TENANT, case.outlet_id)
    counts = Counter(_calling_code(c["customer_phone"]) for c in view.conversations if low <= c["started_at"] < high)
    return [{"calling_code": code, "conversations": n} for code, n in sorted(counts.items(), key=lambda item: item[0].encode())]


def expected_agent_replies(case: Case) -> list[dict[str, Any]]:
    low, high = _range(case)
    view = reference.Reference(case.rows, TENANT, case.outlet_id)
    waits: dict[str | None, list[float]] = defaultdict(list)
    for thread in view.threads.values():
        visible = [m for m in thread if m["sender_type"] != "system"]
        for i, m in enumerate(visible):
            if m["sender_type"] != "customer" or (i > 0 and visible[i - 1]["sender_type"] == "customer"):
                continue
            if not low <= m["timestamp"] < high:
                continue
            reply = next((r for r in visible[i + 1 :] if r["sender_type"] in ("llm", "agent")), None)
            if reply is not None and reply["sender_type"] == "agent":
                waits[reply["sender_id"]].append((reply["timestamp"] - m["timestamp"]) / dt.timedelta(seconds=1))
    order = sorted(waits, key=lambda sender: (sender is None, (sender or "").encode()))
    return [{"sender_id": s, "replies": len(waits[s]), "median_response_seconds": reference.quantile(waits[s], 0.5)} for s in order]


def expected_local_hours(case: Case) -> list[dict[str, Any]]:
    low, high = _range(case)
    zone = zoneinfo.ZoneInfo(case.tz)
    view = reference.Reference(case.rows, TENANT, case.outlet_id)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for m in view.messages:
        if low <= m["timestamp"] < high:
            hour = m["timestamp"].astimezone(zone).hour
            counts[hour]["messages"] += 1
            counts[hour][m["sender_type"]] += 1
    return [
        {"hour": h, "messages": counts[h]["messages"], "customer_messages": counts[h]["customer"], "agent_messages": counts[h]["agent"]}
        for h in range(24)
    ]


def expected_with_status(case: Case) -> list[dict[str, Any]]:
    low, high = _range(case)
    view = reference.Reference(case.rows, TENANT, case.outlet_id)
    counts = Counter(
        reference.bucket_of(reference.local_date(c["started_at"], case.tz), case.start, case.granularity)
        for c in view.conversations
        if low <= c["started_at"] < high and c["status"] == "resolved"
    )
    return [{"date": bucket.isoformat(), "conversations": counts[bucket]} for bucket in reference.buckets(case.start, case.end, case.granularity)]


def expected_handoffs(case: Case) -> list[dict[str, Any]]:
    low, high = _range(case)
    view = reference.Reference(case.rows, TENANT, case.outlet_id)
    minutes: dict[str, list[float]] = defaultdict(list)
    for c in view.conversations:
        first = view.first_handoff(c["id"])
        if first is None or not low <= c["started_at"] < high:
            continue
        trigger = reference.trigger(first.get("metadata"))
        key = trigger if trigger in ("keyword", "confidence") else "other"
        minutes[key].append((first["timestamp"] - c["started_at"]) / dt.timedelta(minutes=1))
    return [{"handoff_trigger": k, "handoffs": len(v), "median_minutes_to_handoff": reference.quantile(v, 0.5)} for k, v in sorted(minutes.items())]


def expected_weekdays(case: Case) -> list[dict[str, Any]]:
    low, high = _range(case)
    view = reference.Reference(case.rows, TENANT, case.outlet_id)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for m in view.messages:
        if low <= m["timestamp"] < high:
            day = reference.local_date(m["timestamp"], case.tz).isoweekday()
            if m["sender_type"] == "llm":
                counts[day]["llm"] += 1
                counts[day]["tokens"] += reference.tokens_used(m.get("metadata"))
            counts[day]["handoffs"] += reference.handoff_requested(m.get("metadata"))
    return [
        {"weekday": d, "llm_messages": counts[d]["llm"], "tokens_used": counts[d]["tokens"], "handoff_requests": counts[d]["handoffs"]}
        for d in range(1, 8)
    ]


EXPECTED = {
    "conversations_by_calling_code": expected_calling_codes,
    "agent_replies": expected_agent_replies,
    "messages_by_local_hour": expected_local_hours,
    "conversations_with_status": expected_with_status,
    "handoffs_by_trigger": expected_handoffs,
    "llm_tokens_by_weekday": expected_weekdays,
}
#: The extra parameters each example declares, and whether it is a series.
PARAMS: dict[str, dict[str, str]] = {"conversations_with_status": {"status": "resolved"}}


def assert_rows(got: list[dict[str, Any]], expected: list[dict[str, Any]], name: str) -> None:
    assert [list(row) for row in got] == [list(row) for row in expected], name
    for got_row, expected_row in zip(got, expected, strict=True):
        for key, value in expected_row.items():
            if isinstance(value, float) and got_row[key] is not None:
                assert type(got_row[key]) is float and math.isclose(got_row[key], value, rel_tol=1e-9, abs_tol=1e-9), (name, key, got_row, expected_row)
            else:
                # Counts are ints on every engine (JSON integers), codes and ids strings.
                assert got_row[key] == value and type(got_row[key]) is type(value), (name, key, got_row, expected_row)


@per_dialect
@on_engines(case=cases())
def test_examples_match_plain_python(engine: Engine, case: Case) -> None:
    case = _varied(case)
    metrics = engine.fresh(case.rows)
    metrics.custom = _examples()
    for name, expected in EXPECTED.items():
        series = name in PARAMS
        grain = case.granularity if series else None
        answer = metrics.query(name, TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=grain, params=PARAMS.get(name)).to_dict()
        assert (answer["metric"], answer["timezone"], answer["granularity"]) == (name, case.tz, grain or "range")
        assert_rows(answer["rows"], expected(case), name)
