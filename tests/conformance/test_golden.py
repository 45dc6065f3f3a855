"""The golden worked example (docs/metrics.md §6), exact on every engine.

2025-11-01 (UTC): 25 conversations (5 active, 18 resolved, 2 handed off, mean duration 12.5
min, rate 0.72); 250 messages (100 customer, 115 llm, 35 agent, mean response 25.3 s);
3 handoffs (2 keyword, 1 confidence, mean 8.5 min, rate 0.12); 115 LLM calls, 57,500 tokens,
LLM $0.008625, WhatsApp $2.50, total $2.508625, $0.100345 per conversation.
"""

from __future__ import annotations


from tests.support.compare import assert_same
from tests.support.engines import Engine
from tests.support.golden import ROWS, TENANT


EXPECTED = {
    "conversations": {
        "date": "2025-11-01", "total_conversations": 25, "active_conversations": 5, "resolved_conversations": 18,
        "handed_off_conversations": 2, "average_duration_minutes": 12.5, "resolution_rate": 0.72,
    },
    "messages": {
        "date": "2025-11-01", "total_messages": 250, "customer_messages": 100, "llm_messages": 115,
        "agent_messages": 35, "average_response_time_seconds": 25.3,
    },
    "handoffs": {
        "date": "2025-11-01", "total_handoffs": 3, "keyword_triggered": 2, "confidence_triggered": 1,
        "average_time_to_handoff_minutes": 8.5, "handoff_rate": 0.12,
    },
    "costs": {
        "date": "2025-11-01", "total_llm_calls": 115, "total_tokens_used": 57500, "total_llm_cost": 0.008625,
        "total_whatsapp_cost": 2.5, "total_cost": 2.508625, "cost_per_conversation": 0.100345,
    },
}


def test_seed_example_day(engine: Engine) -> None:
    metrics = engine.fresh(ROWS)
    data = metrics.dashboard(TENANT, "2025-11-01", "2025-11-01").to_dict()
    for series, row in EXPECTED.items():
        assert_same(data[series], [row], series)


def test_seed_example_summary(engine: Engine) -> None:
    metrics = engine.fresh(ROWS)
    data = metrics.summary(TENANT, "2025-11-01", "2025-11-01").to_dict()
    assert_same(
        data,
        {
            "tenant_id": TENANT, "tenant_name": "Acme Corp", "period_start": "2025-11-01", "period_end": "2025-11-01",
            "outlet_id": None, "timezone": "UTC", "total_conversations": 25, "total_messages": 250,
            "average_response_time_seconds": 25.3, "resolution_rate": 0.72, "handoff_rate": 0.12,
            "total_cost": 2.508625,
        },
    )


def test_seed_example_inside_a_longer_range(engine: Engine) -> None:
    """The day keeps its numbers among empty and busy neighbours; the series stay dense."""
    metrics = engine.fresh(ROWS)
    data = metrics.dashboard(TENANT, "2025-10-31", "2025-11-02").to_dict()
    assert [row["date"] for row in data["messages"]] == ["2025-10-31", "2025-11-01", "2025-11-02"]
    assert data["conversations"][0]["total_conversations"] == 1
    assert data["conversations"][2] == {
        "date": "2025-11-02", "total_conversations": 0, "active_conversations": 0, "resolved_conversations": 0,
        "handed_off_conversations": 0, "average_duration_minutes": None, "resolution_rate": None,
    }
    for series, row in EXPECTED.items():
        assert_same(data[series][1], row, series)
