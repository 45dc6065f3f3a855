"""The golden worked example (docs/metrics.md §6), exact on every engine.

2025-11-01 (UTC): 25 conversations (5 active, 18 resolved, 2 handed off, mean duration 12.5
min, rate 0.72); 250 messages (100 customer, 115 llm, 35 agent, mean response 25.3 s);
3 handoffs (2 keyword, 1 confidence, mean 8.5 min, rate 0.12); 115 LLM calls, 57,500 tokens,
LLM $0.008625, WhatsApp $2.50, total $2.508625, $0.100345 per conversation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.compare import assert_same
from tests.engines import Engine

TENANT = "123e4567-e89b-12d3-a456-426614174000"
OTHER = "123e4567-e89b-12d3-a456-426614174999"
DAY = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)


def _conversations_and_messages() -> dict[str, list[dict[str, Any]]]:
    conversations, messages = [], []
    for i in range(25):
        start = DAY + dt.timedelta(hours=8, minutes=20 * i)
        status = "active" if i < 5 else "resolved" if i < 23 else "handed_off"
        # 20 finished conversations, half of 10 minutes and half of 15: mean 12.5.
        ended = None if status == "active" else start + dt.timedelta(minutes=10 if i % 2 else 15)
        conversations.append(
            {"id": f"conv-{i:02d}", "tenant_id": TENANT, "outlet_id": None, "customer_phone": f"+62812{i:06d}",
             "status": status, "started_at": start, "ended_at": ended, "last_message_at": None}
        )
        # Ten messages each: four customer turns, each answered, then two more replies.
        # Conversations 0-9 have two agent replies, 10-24 one: 35 agent, 115 llm.
        agents = {3, 9} if i < 10 else {9}
        # Response times: 20 s for even turns, 30.6 s for odd ones; 100 turns, mean 25.3 s.
        offsets = []
        for turn in range(4):
            response = dt.timedelta(seconds=20 if turn % 2 == 0 else 30.6)
            offsets += [dt.timedelta(minutes=2 * turn), dt.timedelta(minutes=2 * turn) + response]
        # The last two replies at 8 and 9 minutes (8.5 and 9 in conversation 2).
        offsets += [dt.timedelta(minutes=8.5 if i == 2 else 8), dt.timedelta(minutes=9)]
        for k, offset in enumerate(offsets):
            sender = "customer" if k < 8 and k % 2 == 0 else ("agent" if k in agents else "llm")
            meta: dict[str, Any] | None = {"tokens_used": 500} if sender == "llm" else None
            if (i, k) in {(0, 8), (1, 9), (2, 8)}:
                meta = dict(meta or {}, handoff_requested=True, trigger="confidence" if i == 2 else "keyword")
            if (i, k) == (0, 9):  # a repeated request: only the earliest counts
                meta = dict(meta or {}, handoff_requested="true", trigger="confidence")
            messages.append(
                {"id": f"msg-{i:02d}-{k}", "conversation_id": f"conv-{i:02d}", "sender_type": sender, "sender_id": None,
                 "content": "...", "timestamp": start + offset, "metadata": meta}
            )
    # Another tenant's busy day, and this tenant's history the day before: neither may leak in.
    for i in range(5):
        conversations.append(
            {"id": f"other-{i}", "tenant_id": OTHER, "outlet_id": None, "customer_phone": "+1", "status": "resolved",
             "started_at": DAY + dt.timedelta(hours=9), "ended_at": DAY + dt.timedelta(hours=10), "last_message_at": None}
        )
        messages.append(
            {"id": f"other-msg-{i}", "conversation_id": f"other-{i}", "sender_type": "llm", "sender_id": None,
             "content": "x", "timestamp": DAY + dt.timedelta(hours=9), "metadata": {"tokens_used": 9999, "handoff_requested": True}}
        )
    conversations.append(
        {"id": "yesterday", "tenant_id": TENANT, "outlet_id": None, "customer_phone": "+2", "status": "resolved",
         "started_at": DAY - dt.timedelta(hours=2), "ended_at": DAY - dt.timedelta(hours=1), "last_message_at": None}
    )
    messages.append(
        {"id": "yesterday-msg", "conversation_id": "yesterday", "sender_type": "customer", "sender_id": None,
         "content": "x", "timestamp": DAY - dt.timedelta(hours=2), "metadata": None}
    )
    return {
        "tenants": [{"id": TENANT, "name": "Acme Corp", "timezone": "UTC"}],
        "conversations": conversations,
        "messages": messages,
    }


ROWS = _conversations_and_messages()

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
