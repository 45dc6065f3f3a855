"""The seed's worked example as rows (docs/metrics.md §6): 2025-11-01 (UTC) of one tenant,
with another tenant's busy day and this tenant's day before around it. The golden tests
(tests/conformance/test_golden.py) hold every engine to its figures; other tests load it as a
realistic small data set."""

from __future__ import annotations

import datetime as dt
from typing import Any

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
