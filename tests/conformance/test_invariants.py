"""The invariants of docs/metrics.md §5, on every engine, over generated data."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from crm_metrics import request
from tests.support.properties import on_engines
from tests.support.engines import Engine
from tests.support.strategies import OUTLETS, TENANT, Case, cases

COUNTS = {
    "conversations": ("total_conversations", "total_conversations"),
    "messages": ("total_messages", "total_messages"),
}


@on_engines(case=cases())
def test_series_sum_to_the_summary(engine: Engine, case: Case) -> None:
    metrics = engine.fresh(case.rows)
    dashboard = metrics.dashboard(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity)
    summary = metrics.summary(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz)
    data = dashboard.to_dict()
    for series, (field, total) in COUNTS.items():
        assert sum(row[field] for row in data[series]) == getattr(summary, total)
    # The dashboard's rates, recombined from its counts, agree with the summary's.
    resolved = sum(row["resolved_conversations"] for row in data["conversations"])
    handoffs = sum(row["total_handoffs"] for row in data["handoffs"])
    n = summary.total_conversations
    assert summary.resolution_rate == (None if n == 0 else _approx(resolved / n))
    assert summary.handoff_rate == (None if n == 0 else _approx(handoffs / n))
    assert summary.total_cost == _approx(sum(row["total_cost"] for row in data["costs"]))
    # §7.1, §7.2: the totals' counts are the series' counts summed (the totals are computed from
    # the raw rows of the whole range; tests/conformance/test_second_set_cases.py shows a
    # median that no bucket's figures give).
    for kind in ("responses", "outcomes"):
        answer = metrics.answer(kind, request.query(TENANT, case.start, case.end, case.outlet_id, case.tz, case.granularity)).to_dict()
        for field, total in answer["totals"].items():
            if isinstance(total, int):
                assert sum(row[field] for row in answer["series"]) == total, f"{kind}.{field}"
    assert answer["totals"]["total_conversations"] == n


@on_engines(case=cases())
def test_parts_never_exceed_totals(engine: Engine, case: Case) -> None:
    metrics = engine.fresh(case.rows)
    data = metrics.dashboard(TENANT, case.start, case.end, tz=case.tz, granularity=case.granularity).to_dict()
    for row in data["messages"]:
        assert row["customer_messages"] + row["llm_messages"] + row["agent_messages"] <= row["total_messages"]
    for row in data["handoffs"]:
        assert row["keyword_triggered"] + row["confidence_triggered"] <= row["total_handoffs"]
    for conv, hand in zip(data["conversations"], data["handoffs"], strict=True):
        assert hand["total_handoffs"] <= conv["total_conversations"]
        assert conv["active_conversations"] + conv["resolved_conversations"] + conv["handed_off_conversations"] <= conv["total_conversations"]


@on_engines(case=cases())
def test_other_tenants_rows_change_nothing(engine: Engine, case: Case) -> None:
    mine = {
        # Tenant ids match whatever their case (the strategies write some in upper case).
        "conversations": [c for c in case.rows["conversations"] if c["tenant_id"].lower() == TENANT],
    }
    ids = {c["id"] for c in mine["conversations"]}
    mine["messages"] = [m for m in case.rows["messages"] if m["conversation_id"] in ids]
    alone = engine.fresh(mine)
    expected = (
        alone.dashboard(TENANT, case.start, case.end, tz=case.tz, granularity=case.granularity).to_dict(),
        alone.summary(TENANT, case.start, case.end, tz=case.tz).to_dict(),
    )
    # The same rows plus the other tenant's conversations and their messages.
    crowded = engine.fresh(case.rows)
    got = (
        crowded.dashboard(TENANT, case.start, case.end, tz=case.tz, granularity=case.granularity).to_dict(),
        crowded.summary(TENANT, case.start, case.end, tz=case.tz).to_dict(),
    )
    assert got == expected


@on_engines(case=cases())
def test_outlets_and_no_outlet_add_up_to_the_tenant(engine: Engine, case: Case) -> None:
    metrics = engine.fresh(case.rows)
    whole = metrics.summary(TENANT, case.start, case.end, tz=case.tz)
    parts = [metrics.summary(TENANT, case.start, case.end, outlet_id=o, tz=case.tz) for o in OUTLETS]
    # What no outlet filter can ask for, counted straight from the rows.
    no_outlet = [c for c in case.rows["conversations"] if c["tenant_id"].lower() == TENANT and c["outlet_id"] is None]
    no_outlet_ids = {c["id"] for c in no_outlet}
    started = _in_range(case, [c["started_at"] for c in no_outlet])
    sent = _in_range(case, [m["timestamp"] for m in case.rows["messages"] if m["conversation_id"] in no_outlet_ids])
    assert whole.total_conversations == sum(p.total_conversations for p in parts) + started
    assert whole.total_messages == sum(p.total_messages for p in parts) + sent
    daily = metrics.dashboard(TENANT, case.start, case.end, tz=case.tz, granularity=case.granularity).to_dict()
    by_outlet = [
        metrics.dashboard(TENANT, case.start, case.end, outlet_id=o, tz=case.tz, granularity=case.granularity).to_dict() for o in OUTLETS
    ]
    for i, row in enumerate(daily["handoffs"]):
        assert row["total_handoffs"] >= sum(d["handoffs"][i]["total_handoffs"] for d in by_outlet)
    # §7.4: the breakdown's rows add up to the tenant, and each outlet's row is its summary.
    breakdown = metrics.outlets(TENANT, case.start, case.end, tz=case.tz).outlets
    assert sum(row.total_conversations for row in breakdown) == whole.total_conversations
    assert sum(row.total_messages for row in breakdown) == whole.total_messages
    assert sum(row.total_cost for row in breakdown) == _approx(whole.total_cost)
    for row in breakdown:
        if row.outlet_id in OUTLETS:
            part = parts[OUTLETS.index(row.outlet_id)]
            assert (row.total_conversations, row.total_messages) == (part.total_conversations, part.total_messages)
    no_outlet_row = [row for row in breakdown if row.outlet_id is None]
    assert [(r.total_conversations, r.total_messages) for r in no_outlet_row] == ([(started, sent)] if started or sent else [])


def _in_range(case: Case, instants: list[dt.datetime]) -> int:
    zone = ZoneInfo(case.tz)
    return sum(case.start <= t.astimezone(zone).date() <= case.end for t in instants)


def _approx(value: float) -> object:
    return pytest.approx(value, rel=1e-9, abs=1e-12)
