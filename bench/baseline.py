"""The hand-written baseline: one PostgreSQL query over the seed's tables (a join and JSON, no
derived tables), what an analyst writes for the day dashboard and the summary.

It reads the tenant's conversations that overlap the range (started before its end, last
message at or after its start: it relies on `last_message_at` being the time of a
conversation's last message, which holds for the generated data) and all their messages, derives
turns and first handoffs with window functions and DISTINCT ON, and returns per local day the
counts and the sums behind every average; the averages and the summary are divided out in
Python from those sums (exact: the summary is never an average of daily averages). Its numbers
are checked against the library's field by field (bench/pandas_metrics.compare).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bench import pandas_metrics

SQL = """
WITH conv AS (
  SELECT id, status, started_at, ended_at
  FROM conversations
  WHERE lower(tenant_id) = %(tenant)s AND started_at < %(range_end)s
    AND COALESCE(last_message_at, started_at) >= %(range_start)s
), msg AS (
  SELECT m.id, m.conversation_id, m.sender_type, m."timestamp" AS ts, m.metadata
  FROM messages AS m JOIN conv AS c ON c.id = m.conversation_id
), turns AS (
  SELECT ts,
    sender_type = 'customer' AND COALESCE(LAG(sender_type) OVER w <> 'customer', TRUE) AS turn_start,
    MIN(ts) FILTER (WHERE sender_type IN ('llm', 'agent')) OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS reply_at
  FROM msg
  WHERE sender_type <> 'system'
  WINDOW w AS (PARTITION BY conversation_id ORDER BY ts, id COLLATE "C")
), handoffs AS (
  SELECT DISTINCT ON (conversation_id) conversation_id, ts, metadata ->> 'trigger' AS trigger
  FROM msg
  WHERE metadata ->> 'handoff_requested' = 'true'
  ORDER BY conversation_id, ts, id COLLATE "C"
), conversation_days AS (
  SELECT (c.started_at AT TIME ZONE %(tz)s)::date AS day,
    count(*) AS conversations,
    count(*) FILTER (WHERE c.status = 'active') AS active,
    count(*) FILTER (WHERE c.status = 'resolved') AS resolved,
    count(*) FILTER (WHERE c.status = 'handed_off') AS handed_off,
    sum(extract(epoch FROM c.ended_at - c.started_at)) AS duration_seconds,
    count(c.ended_at) AS ended,
    count(h.conversation_id) AS handoffs,
    count(*) FILTER (WHERE h.trigger = 'keyword') AS keyword,
    count(*) FILTER (WHERE h.trigger = 'confidence') AS confidence,
    sum(extract(epoch FROM h.ts - c.started_at)) AS handoff_seconds
  FROM conv AS c LEFT JOIN handoffs AS h ON h.conversation_id = c.id
  WHERE c.started_at >= %(range_start)s
  GROUP BY 1
), message_days AS (
  SELECT (ts AT TIME ZONE %(tz)s)::date AS day,
    count(*) AS messages,
    count(*) FILTER (WHERE sender_type = 'customer') AS customer,
    count(*) FILTER (WHERE sender_type = 'llm') AS llm,
    count(*) FILTER (WHERE sender_type = 'agent') AS agent,
    sum(CASE WHEN sender_type = 'llm' AND metadata ->> 'tokens_used' ~ '^[+-]?[0-9]{1,18}$'
        THEN (metadata ->> 'tokens_used')::bigint ELSE 0 END) AS tokens
  FROM msg
  WHERE ts >= %(range_start)s AND ts < %(range_end)s
  GROUP BY 1
), turn_days AS (
  SELECT (ts AT TIME ZONE %(tz)s)::date AS day, sum(extract(epoch FROM reply_at - ts)) AS response_seconds, count(*) AS answered
  FROM turns
  WHERE turn_start AND reply_at IS NOT NULL AND ts >= %(range_start)s AND ts < %(range_end)s
  GROUP BY 1
)
SELECT d.day::date, c.conversations, c.active, c.resolved, c.handed_off, c.duration_seconds, c.ended,
  c.handoffs, c.keyword, c.confidence, c.handoff_seconds,
  n.messages, n.customer, n.llm, n.agent, n.tokens, t.response_seconds, t.answered
FROM generate_series(%(start_date)s::date, %(end_date)s::date, interval '1 day') AS d(day)
LEFT JOIN conversation_days AS c ON c.day = d.day::date
LEFT JOIN message_days AS n ON n.day = d.day::date
LEFT JOIN turn_days AS t ON t.day = d.day::date
ORDER BY 1
"""

COLUMNS = (
    "day", "conversations", "active", "resolved", "handed_off", "duration_seconds", "ended",
    "handoffs", "keyword", "confidence", "handoff_seconds",
    "messages", "customer", "llm", "agent", "tokens", "response_seconds", "answered",
)


#: The columns that are sums of seconds (numeric); the others are counts.
SUMS = ("duration_seconds", "handoff_seconds", "response_seconds")


def rows(connection: Any, tenant_id: str, start: dt.date, end: dt.date, range_start: dt.datetime, range_end: dt.datetime, tz: str) -> list[dict[str, Any]]:
    """The query's day rows (counts and sums), on a psycopg connection."""
    params = {"tenant": tenant_id, "start_date": start, "end_date": end, "range_start": range_start, "range_end": range_end, "tz": tz}
    return [dict(zip(COLUMNS, row, strict=True)) for row in connection.execute(SQL, params).fetchall()]


def _mean(total: Any, count: Any, unit: float) -> float | None:
    return float(total) / count / unit if count else None


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def answer(day_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The day dashboard and the summary from the day rows, shaped like the library's JSON."""
    out: dict[str, Any] = {"conversations": [], "messages": [], "handoffs": [], "costs": []}
    sums: dict[str, Any] = {}
    for row in day_rows:
        # Counts arrive as int, sums as Decimal (numeric): sums of seconds stay exact until divided.
        r = {key: value if key == "day" else int(value or 0) if key not in SUMS else (value or 0) for key, value in row.items()}
        for key, value in r.items():
            if key != "day":
                sums[key] = sums.get(key, 0) + value
        date = r["day"].isoformat()
        llm_cost = r["tokens"] * pandas_metrics.LLM_PRICE_PER_MILLION / 1e6
        whatsapp_cost = r["messages"] * pandas_metrics.WHATSAPP_PRICE
        out["conversations"].append({
            "date": date, "total_conversations": r["conversations"], "active_conversations": r["active"],
            "resolved_conversations": r["resolved"], "handed_off_conversations": r["handed_off"],
            "average_duration_minutes": _mean(r["duration_seconds"], r["ended"], 60),
            "resolution_rate": _ratio(r["resolved"], r["conversations"]),
        })
        out["messages"].append({
            "date": date, "total_messages": r["messages"], "customer_messages": r["customer"], "llm_messages": r["llm"],
            "agent_messages": r["agent"], "average_response_time_seconds": _mean(r["response_seconds"], r["answered"], 1),
        })
        out["handoffs"].append({
            "date": date, "total_handoffs": r["handoffs"], "keyword_triggered": r["keyword"], "confidence_triggered": r["confidence"],
            "average_time_to_handoff_minutes": _mean(r["handoff_seconds"], r["handoffs"], 60),
            "handoff_rate": _ratio(r["handoffs"], r["conversations"]),
        })
        out["costs"].append({
            "date": date, "total_llm_calls": r["llm"], "total_tokens_used": r["tokens"], "total_llm_cost": llm_cost,
            "total_whatsapp_cost": whatsapp_cost, "total_cost": llm_cost + whatsapp_cost,
            "cost_per_conversation": _ratio(llm_cost + whatsapp_cost, r["conversations"]),
        })
    out["summary"] = {
        "total_conversations": sums["conversations"],
        "total_messages": sums["messages"],
        "average_response_time_seconds": _mean(sums["response_seconds"], sums["answered"], 1),
        "resolution_rate": _ratio(sums["resolved"], sums["conversations"]),
        "handoff_rate": _ratio(sums["handoffs"], sums["conversations"]),
        "total_cost": sums["tokens"] * pandas_metrics.LLM_PRICE_PER_MILLION / 1e6 + sums["messages"] * pandas_metrics.WHATSAPP_PRICE,
    }
    return out
