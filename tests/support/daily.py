"""Rows whose daily counts are given: a tenant's conversations per UTC day with a weekly rhythm,
one spike and one drop (tests/test_anomalies.py, the conformance suite's anomalies)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.support.api import TENANT_A

FIRST = dt.date(2025, 9, 15)  # a Monday; seven weeks before the range below
LAST = dt.date(2025, 11, 3)  # the day before FIXED_NOW's
RANGE = (dt.date(2025, 10, 20), LAST)
SPIKE, DROP = dt.date(2025, 10, 29), dt.date(2025, 10, 20)
#: Conversations per weekday, Monday first.
RHYTHM = (12, 13, 12, 12, 11, 6, 4)


def counts() -> dict[dt.date, int]:
    """Conversations per day: the rhythm, a little variation, 40 on SPIKE and none on DROP."""
    days = {}
    day = FIRST
    while day <= LAST:
        i = (day - FIRST).days
        days[day] = RHYTHM[day.weekday()] + (i * 7) % 3 - 1
        day += dt.timedelta(days=1)
    days[SPIKE], days[DROP] = 40, 0
    return days


def rows(tenant: str = TENANT_A) -> dict[str, list[dict[str, Any]]]:
    """Each conversation: a customer message at its start and an llm reply 10 to 14 s later
    (500 tokens); every third is handed off (the request on the reply), the others resolved."""
    conversations, messages = [], []
    n = 0
    for day, count in counts().items():
        for k in range(count):
            n += 1
            started = dt.datetime.combine(day, dt.time(8 + k % 12, (7 * k) % 60), tzinfo=dt.UTC)
            handed_off = n % 3 == 0
            conversations.append({
                "id": f"d-{n:05d}", "tenant_id": tenant, "outlet_id": None, "customer_phone": f"+62811{n:06d}",
                "status": "handed_off" if handed_off else "resolved", "started_at": started.isoformat(),
                "ended_at": None, "last_message_at": None,
            })
            metadata: dict[str, Any] = {"tokens_used": 500}
            if handed_off:
                metadata |= {"handoff_requested": True, "trigger": "keyword"}
            messages += [
                {"id": f"m-{n:05d}-1", "conversation_id": f"d-{n:05d}", "sender_type": "customer", "sender_id": None, "content": "hi",
                 "timestamp": started.isoformat(), "metadata": None},
                {"id": f"m-{n:05d}-2", "conversation_id": f"d-{n:05d}", "sender_type": "llm", "sender_id": None, "content": "hello",
                 "timestamp": (started + dt.timedelta(seconds=10 + n % 5)).isoformat(), "metadata": metadata},
            ]
    return {"conversations": conversations, "messages": messages}
