"""The edges of the rows a request reads, on every engine: conversations and messages outside
the range that still decide its answers (docs/metrics.md §3), and the look-around bound
(LOOKAROUND_DAYS) that stops reading them, applied the same on every engine.

The seed layout reads only the conversations the window involves (started in it, or owning a
message in it); these cases are the ones that narrowing must keep.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from crm_metrics import Metrics
from tests.support import reference
from tests.support.compare import assert_same
from tests.support.engines import FIXED_NOW, Engine
from tests.support.properties import on_engines
from tests.support.strategies import TENANT, Case, cases


def conversation(id_: str, started: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "tenant_id": TENANT, "customer_phone": "+1", "status": "resolved", "started_at": started, **extra}


def message(id_: str, conversation_id: str, at: str, sender: str = "customer", **extra: Any) -> dict[str, Any]:
    return {"id": id_, "conversation_id": conversation_id, "sender_type": sender, "content": "hi", "timestamp": at, **extra}


HANDOFF = {"metadata": {"handoff_requested": True, "trigger": "keyword"}}

#: The range is 2025-11-10 .. 2025-11-16 (UTC). Each conversation holds one edge.
EDGES = {
    "conversations": [
        # Started 40 days before the range, a customer message in it: its messages count, and
        # its turn there starts no turn (the previous message, in October, is a customer's).
        conversation("old", "2025-10-01T09:00:00Z"),
        # Started in the range, its customer turn answered two days after the range's end.
        conversation("late-reply", "2025-11-16T20:00:00Z"),
        # Started in the range, handed off 19 days after its end.
        conversation("late-handoff", "2025-11-12T08:00:00Z"),
    ],
    "messages": [
        message("o1", "old", "2025-10-01T09:00:00Z"),
        message("o2", "old", "2025-11-11T09:00:00Z"),
        message("o3", "old", "2025-11-11T09:00:30Z", "llm"),
        message("r1", "late-reply", "2025-11-16T20:00:00Z"),
        message("r2", "late-reply", "2025-11-18T20:00:00Z", "agent"),
        message("h1", "late-handoff", "2025-11-12T08:00:00Z"),
        message("h2", "late-handoff", "2025-11-12T08:00:10Z", "llm"),
        message("h3", "late-handoff", "2025-12-06T08:00:00Z", "customer", **HANDOFF),
    ],
}
START, END = "2025-11-10", "2025-11-16"


def bounded(engine: Engine, metrics: Metrics, days: int) -> Metrics:
    """`metrics`' store, read with LOOKAROUND_DAYS = `days`."""
    return Metrics(metrics.executor, dataclasses.replace(engine.settings, lookaround_days=days), clock=lambda: FIXED_NOW)


def test_rows_outside_the_range_still_decide_its_answers(engine: Engine) -> None:
    summary = engine.fresh(EDGES).summary(TENANT, START, END, tz="UTC")
    # Messages in the range: o2, o3 (of a conversation started in October), r1, h1, h2.
    assert summary.total_messages == 5
    # Turns starting in the range: r1 (answered 2 days later) and h1 (10 s); o2 follows a
    # customer message of October, so it starts no turn.
    assert summary.average_response_time_seconds == (2 * 86_400 + 10) / 2
    # late-handoff's request, 19 days after the range, makes it handed off.
    assert summary.handoff_rate == 0.5
    dashboard = engine.fresh(EDGES).dashboard(TENANT, START, END, tz="UTC")
    handoffs = {row.date.isoformat(): (row.total_handoffs, row.average_time_to_handoff_minutes) for row in dashboard.handoffs}
    assert handoffs["2025-11-12"] == (1, 24 * 24 * 60.0)


def test_a_lookaround_bound_drops_what_lies_beyond_it(engine: Engine) -> None:
    metrics = engine.fresh(EDGES)
    # One day: the October conversation, the reply two days late and the handoff 19 days late
    # are all beyond it.
    one_day = bounded(engine, metrics, 1).summary(TENANT, START, END, tz="UTC")
    assert (one_day.total_messages, one_day.average_response_time_seconds, one_day.handoff_rate) == (3, 10.0, 0.0)
    # Three days: the reply is within it; the handoff and the October conversation are not.
    three_days = bounded(engine, metrics, 3).summary(TENANT, START, END, tz="UTC")
    assert (three_days.total_messages, three_days.average_response_time_seconds, three_days.handoff_rate) == (3, (2 * 86_400 + 10) / 2, 0.0)
    # Sixty days: everything, as unbounded.
    wide = bounded(engine, metrics, 60).dashboard(TENANT, START, END, tz="UTC").to_dict()
    unbounded = metrics.dashboard(TENANT, START, END, tz="UTC").to_dict()
    for series in ("conversations", "messages", "handoffs", "costs"):
        assert_same(wide[series], unbounded[series], series)


@on_engines(share=0.5, case=cases(), days=st.sampled_from([1, 2, 5]))
def test_bounded_answers_are_the_contract_over_the_rows_within_the_bound(engine: Engine, case: Case, days: int) -> None:
    metrics = bounded(engine, engine.fresh(case.rows), days)
    got = metrics.dashboard(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity).to_dict()
    expected = reference.dashboard(
        case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz,
        granularity=case.granularity, outlet_id=case.outlet_id, lookaround_days=days,
    )
    for series in ("conversations", "messages", "handoffs", "costs"):
        assert_same(got[series], expected[series], series)
    summary = metrics.summary(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz).to_dict()
    expected_summary = reference.summary(
        case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz, outlet_id=case.outlet_id, lookaround_days=days
    )
    assert_same({k: summary[k] for k in expected_summary}, expected_summary, "summary")
