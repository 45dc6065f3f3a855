"""docs/metrics.md §7 on hand-made rows, on every engine: the quantile's interpolation edges
(n = 1, n = 2, ties, negative durations), totals that no bucket's figures give (a median of
the range is never a median of medians), the human response's ties in message order, the
previous period, and the heat map's DST hours (Lord Howe's half hour). One load per engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.support.engines import Engine

TENANT = "5e7e0000-0000-4000-8000-000000000001"
OUTLET = "0b1e7000-0000-4000-8000-0000000000aa"
UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0, second: float = 0) -> dt.datetime:
    """An instant of June 2025 (UTC), fractional seconds allowed."""
    whole = int(second)
    return dt.datetime(2025, 6, day, hour, minute, whole, round((second - whole) * 1_000_000), tzinfo=UTC)


def rows() -> dict[str, list[dict[str, Any]]]:
    conversations: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []

    def conversation(name: str, started: dt.datetime, status: str, thread: list[tuple[str, str, dt.datetime, dict | None]], outlet: str | None = None) -> None:
        conversations.append({
            "id": name, "tenant_id": TENANT, "outlet_id": outlet, "customer_phone": "+15550000000", "status": status,
            "started_at": started, "ended_at": None, "last_message_at": None,
        })
        for message_id, sender, timestamp, meta in thread:
            messages.append({
                "id": message_id, "conversation_id": name, "sender_type": sender, "sender_id": None,
                "content": "x", "timestamp": timestamp, "metadata": meta,
            })

    handoff = {"handoff_requested": True, "trigger": "keyword"}
    # 2025-06-02 (Monday): one answered turn (n = 1): 12 s; the bot closes it alone.
    conversation("a", at(2, 10), "resolved", [
        ("a1", "customer", at(2, 10), None), ("a2", "llm", at(2, 10, 0, 12), {"tokens_used": 100}),
    ])
    # 2025-06-03: two turns (n = 2): 10 s and 20 s; an unanswered third turn.
    conversation("b", at(3, 10), "active", [
        ("b1", "customer", at(3, 10), None), ("b2", "llm", at(3, 10, 0, 10), None),
        ("b3", "customer", at(3, 11), None), ("b4", "agent", at(3, 11, 0, 20), None),
        ("b5", "customer", at(3, 12), None),
    ])
    # 2025-06-04: ties: 5, 5, 5, 9 s over two conversations; one answered before its start
    # (first response -10 s: data as it is), and a handoff answered at the same instant by a
    # later id (0 s; the request itself and an agent message with a lower id never count).
    conversation("c", at(4, 10), "resolved", [
        ("c0", "llm", at(4, 9, 59, 50), None),
        ("c1", "customer", at(4, 10), None), ("c2", "llm", at(4, 10, 0, 5), {"tokens_used": "7"}),
        ("c3", "customer", at(4, 11), None), ("c4", "llm", at(4, 11, 0, 5), None),
    ])
    conversation("d", at(4, 12), "handed_off", [
        ("d1", "customer", at(4, 12), None), ("d2", "llm", at(4, 12, 0, 5), None),
        ("d3", "customer", at(4, 13), None),
        ("d5", "agent", at(4, 13, 0, 9), handoff),
        ("d4", "agent", at(4, 13, 0, 9), None),
        ("d6", "agent", at(4, 13, 0, 9), None),
    ], outlet=OUTLET)
    # 2025-06-05: a handoff answered 60 s later (the agent message at the request's instant has
    # a lower id), and one never answered.
    conversation("e", at(5, 14), "handed_off", [
        ("e1", "customer", at(5, 14), None),
        ("e5", "system", at(5, 14, 1), handoff),
        ("e4", "agent", at(5, 14, 1), None),
        ("e6", "agent", at(5, 14, 2), None),
    ], outlet=OUTLET)
    conversation("f", at(5, 15), "handed_off", [("f1", "customer", at(5, 15), handoff), ("f2", "llm", at(5, 15, 0, 30), None)])
    # Lord Howe's 30-minute DST changes: 2025-04-06 02:00 (+11) back to 01:30 (+10:30), so
    # 01:30-01:59 happens twice; 2025-10-05 02:00 (+10:30) on to 02:30 (+11), so 02:00-02:29
    # never happens.
    def utc(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)

    conversation("g", utc("2025-04-05T14:45:00"), "active", [
        ("g1", "customer", utc("2025-04-05T14:45:00"), None),  # 01:45 (+11)
        ("g2", "customer", utc("2025-04-05T15:15:00"), None),  # 01:45 again (+10:30)
        ("g3", "customer", utc("2025-04-05T15:30:00"), None),  # 02:00 (+10:30)
    ])
    conversation("h", utc("2025-10-04T15:29:59"), "active", [
        ("h1", "customer", utc("2025-10-04T15:29:59"), None),  # 01:59:59 (+10:30)
        ("h2", "customer", utc("2025-10-04T15:30:00"), None),  # 02:30 (+11)
        ("h3", "customer", utc("2025-10-04T15:59:59"), None),  # 02:59:59
        ("h4", "customer", utc("2025-10-04T16:00:00"), None),  # 03:00
    ])
    # The week before (2025-05-26 .. 2025-06-01) for compare=previous: one conversation.
    conversation("p", at(1, 10), "resolved", [("p1", "customer", at(1, 10), None), ("p2", "llm", at(1, 10, 0, 30), None)])
    return {"conversations": conversations, "messages": messages}


@pytest.fixture(scope="module")
def loaded(engine: Engine) -> Engine:
    engine.metrics = engine.fresh(rows())  # type: ignore[attr-defined]
    return engine


def test_quantiles_at_the_interpolation_edges(loaded: Engine) -> None:
    metrics = loaded.metrics  # type: ignore[attr-defined]
    series = metrics.responses(TENANT, "2025-06-02", "2025-06-05", tz="UTC").to_dict()["series"]
    one, two, ties, handoffs = series
    # n = 1: the value itself, for every quantile.
    assert (one["customer_turns"], one["median_response_time_seconds"], one["p90_response_time_seconds"]) == (1, 12.0, 12.0)
    # n = 2: h = 0.5 and 0.9 between the two values; an unanswered turn counts, without a time.
    assert (two["customer_turns"], two["answered_turns"]) == (3, 2)
    assert two["median_response_time_seconds"] == 15.0 and two["p90_response_time_seconds"] == pytest.approx(19.0)
    # Ties 5, 5, 5, 9: h = 1.5 lands between equal values; h = 2.7 between 5 and 9.
    assert ties["median_response_time_seconds"] == 5.0 and ties["p90_response_time_seconds"] == pytest.approx(7.8)
    # A negative first response (c: -10 s, answered before its start) and d's 5 s: median -2.5.
    assert ties["first_responses"] == 2 and ties["median_first_response_seconds"] == -2.5
    assert ties["average_first_response_seconds"] == -2.5
    # Human response: d 0 s (a later id at the request's instant; neither the request nor a lower
    # id counts); e 60 s, f unanswered.
    assert (ties["answered_handoffs"], ties["unanswered_handoffs"], ties["median_human_response_seconds"]) == (1, 0, 0.0)
    assert (handoffs["answered_handoffs"], handoffs["unanswered_handoffs"], handoffs["median_human_response_seconds"]) == (1, 1, 60.0)


def test_totals_are_computed_from_the_raw_rows(loaded: Engine) -> None:
    metrics = loaded.metrics  # type: ignore[attr-defined]
    answer = metrics.responses(TENANT, "2025-06-02", "2025-06-05", tz="UTC").to_dict()
    # The answered turns: 12 | 10, 20 | 5, 5, 5, 9 | 60, 30. The buckets' medians are 12, 15, 5
    # and 45 (their median 13.5); the range's is 10: x[4] of the nine.
    totals = answer["totals"]
    assert (totals["customer_turns"], totals["answered_turns"]) == (10, 9)
    assert totals["median_response_time_seconds"] == 10.0
    assert totals["p90_response_time_seconds"] == pytest.approx(30 + 0.2 * 30)
    outcomes = metrics.outcomes(TENANT, "2025-06-02", "2025-06-05", tz="UTC", granularity="week").to_dict()
    # a and c are resolved without handoff or agent; c's llm message before its start counts.
    assert outcomes["totals"]["contained_conversations"] == 2 and outcomes["totals"]["agent_involved_conversations"] == 3
    assert outcomes["totals"]["cohort_messages"] == 2 + 5 + 5 + 6 + 4 + 2
    assert outcomes["totals"]["cohort_cost"] == pytest.approx(107 * 0.15 / 1e6 + 24 * 0.01)


def test_previous_period_and_change(loaded: Engine) -> None:
    metrics = loaded.metrics  # type: ignore[attr-defined]
    data = metrics.summary(TENANT, "2025-06-02", "2025-06-08", tz="UTC", compare="previous").to_dict()
    assert data["previous"]["period_start"] == "2025-05-26" and data["previous"]["period_end"] == "2025-06-01"
    assert (data["previous"]["total_conversations"], data["total_conversations"]) == (1, 6)
    assert data["change"]["total_conversations"] == 5.0
    assert data["change"]["handoff_rate"] is None  # previous is 0
    assert list(data)[-2:] == ["previous", "change"]


def test_outlet_rows_and_heatmap_cells(loaded: Engine) -> None:
    metrics = loaded.metrics  # type: ignore[attr-defined]
    rows_ = metrics.outlets(TENANT, "2025-06-02", "2025-06-05", tz="UTC").to_dict()["outlets"]
    assert [(r["outlet_id"], r["total_conversations"]) for r in rows_] == [(OUTLET, 2), (None, 4)]
    cells = metrics.heatmap(TENANT, "2025-06-02", "2025-06-05", tz="Australia/Lord_Howe").to_dict()["cells"]
    assert len(cells) == 168 and [(c["weekday"], c["hour"]) for c in cells[:2]] == [(1, 0), (1, 1)]
    # Lord Howe is UTC+10:30 in June: a's 10:00 UTC start is Monday 20:30 local.
    monday_20 = cells[20]
    assert (monday_20["conversations_started"], monday_20["customer_messages"], monday_20["average_response_time_seconds"]) == (1, 1, 12.0)
    # e and f start on 2025-06-06 local (00:30 and 01:30): outside the range.
    assert sum(c["conversations_started"] for c in cells) == 4


@pytest.mark.parametrize(("day", "hours"), [("2025-04-06", {1: 2, 2: 1}), ("2025-10-05", {1: 1, 2: 2, 3: 1})])
def test_heatmap_on_lord_howe_dst_days(loaded: Engine, day: str, hours: dict[int, int]) -> None:
    """A repeated half hour counts both instants in its hour; a skipped one leaves the hour's
    other half (hour 2 of 2025-10-05 holds 02:30-02:59)."""
    metrics = loaded.metrics  # type: ignore[attr-defined]
    cells = metrics.heatmap(TENANT, day, day, tz="Australia/Lord_Howe").to_dict()["cells"]
    sunday = {c["hour"]: c["customer_messages"] for c in cells if c["weekday"] == 7 and c["customer_messages"]}
    assert sunday == hours
    assert sum(c["customer_messages"] for c in cells) == sum(hours.values())
