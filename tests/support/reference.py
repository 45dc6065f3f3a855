"""The metrics contract in plain Python, written from docs/metrics.md (§1–§4) alone.

Independent of the SQL on purpose: no templates, no sqlglot, no engine. The conformance suite
compares every field the library returns with what this module computes from the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

LLM_PRICE_PER_MILLION = 0.15
WHATSAPP_PRICE = 0.01
_WHOLE = re.compile(r"[+-]?[0-9]{1,18}")


def metadata(value: Any) -> dict[str, Any]:
    """null, {}, non-objects and unparseable text all read as no keys."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def handoff_requested(meta: Any) -> bool:
    value = metadata(meta).get("handoff_requested")
    return value is True or value == "true"


def tokens_used(meta: Any) -> int:
    value = metadata(meta).get("tokens_used")
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if len(str(abs(value))) <= 18 else 0
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    return 0


def trigger(meta: Any) -> Any:
    return metadata(meta).get("trigger")


def local_date(instant: dt.datetime, tz: str) -> dt.date:
    return instant.astimezone(ZoneInfo(tz)).date()


def bucket_of(day: dt.date, start: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        first = day - dt.timedelta(days=day.weekday())
    elif granularity == "month":
        first = day.replace(day=1)
    else:
        first = day
    return max(first, start)


def buckets(start: dt.date, end: dt.date, granularity: str) -> list[dt.date]:
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return sorted({bucket_of(d, start, granularity) for d in days})


def _mean(values: Sequence[float]) -> float | None:
    return fmean(values) if values else None


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _minutes(delta: dt.timedelta) -> float:
    return delta / dt.timedelta(microseconds=1) / 60_000_000


def _seconds(delta: dt.timedelta) -> float:
    return delta / dt.timedelta(microseconds=1) / 1_000_000


def first_instant(day: dt.date, tz: str) -> dt.datetime:
    """The first instant whose local date in `tz` is `day` (local midnight, or the clock
    change where one skips it), found by bisection on local dates."""
    # UTC offsets lie within ±14 hours: the day starts within 15 hours of its UTC midnight.
    utc_midnight = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    low, high = utc_midnight - dt.timedelta(hours=15), utc_midnight + dt.timedelta(hours=15)
    while high - low > dt.timedelta(microseconds=1):
        middle = low + (high - low) // 2
        if local_date(middle, tz) >= day:
            high = middle
        else:
            low = middle
    return high


def within_lookaround(
    rows: Mapping[str, Sequence[Mapping[str, Any]]], start: dt.date, end: dt.date, tz: str, lookaround_days: int
) -> Mapping[str, Sequence[Mapping[str, Any]]]:
    """The rows a look-around bound of `lookaround_days` lets a request read (docs/metrics.md,
    the look-around bound): conversations started, and messages sent, from `lookaround_days`
    days before the range's first instant to as many days after its end; 0 is no bound.
    The bounded answer is the contract's answer over these rows alone."""
    if not lookaround_days:
        return rows
    margin = dt.timedelta(days=lookaround_days)
    low, high = first_instant(start, tz) - margin, first_instant(end + dt.timedelta(days=1), tz) + margin
    return {
        **rows,
        "conversations": [c for c in rows.get("conversations", ()) if low <= c["started_at"] < high],
        "messages": [m for m in rows.get("messages", ()) if low <= m["timestamp"] < high],
    }


class Reference:
    """One tenant's (and optionally one outlet's) view of the rows."""

    def __init__(self, rows: Mapping[str, Sequence[Mapping[str, Any]]], tenant_id: str, outlet_id: str | None) -> None:
        # Tenant and outlet ids are UUIDs, matched whatever their case (docs: ids that requests name).
        self.conversations = [
            c
            for c in rows.get("conversations", ())
            if c["tenant_id"].lower() == tenant_id.lower() and (outlet_id is None or (c.get("outlet_id") or "").lower() == outlet_id.lower())
        ]
        ids = {c["id"] for c in self.conversations}
        self.messages = [m for m in rows.get("messages", ()) if m["conversation_id"] in ids]
        by_conversation: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for m in self.messages:
            by_conversation[m["conversation_id"]].append(m)
        for thread in by_conversation.values():
            thread.sort(key=lambda m: (m["timestamp"], m["id"].encode()))
        self.threads = by_conversation

    def turns(self) -> list[tuple[dt.datetime, dt.datetime | None]]:
        """(turn start, first reply or None) for every customer turn of every conversation."""
        found = []
        for thread in self.threads.values():
            visible = [m for m in thread if m["sender_type"] != "system"]
            for i, m in enumerate(visible):
                if m["sender_type"] != "customer":
                    continue
                if i > 0 and visible[i - 1]["sender_type"] == "customer":
                    continue
                reply = next((r["timestamp"] for r in visible[i + 1 :] if r["sender_type"] in ("llm", "agent")), None)
                found.append((m["timestamp"], reply))
        return found

    def first_handoff(self, conversation_id: str) -> Mapping[str, Any] | None:
        return next((m for m in self.threads.get(conversation_id, ()) if handoff_requested(m.get("metadata"))), None)


def dashboard(
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    tenant_id: str,
    start: dt.date,
    end: dt.date,
    tz: str,
    granularity: str = "day",
    outlet_id: str | None = None,
    lookaround_days: int = 0,
) -> dict[str, list[dict[str, Any]]]:
    ref = Reference(within_lookaround(rows, start, end, tz, lookaround_days), tenant_id, outlet_id)
    keys = buckets(start, end, granularity)

    def where(instant: dt.datetime) -> dt.date | None:
        day = local_date(instant, tz)
        return bucket_of(day, start, granularity) if start <= day <= end else None

    convs: dict[dt.date, list[Mapping[str, Any]]] = defaultdict(list)
    for c in ref.conversations:
        if (b := where(c["started_at"])) is not None:
            convs[b].append(c)
    msgs: dict[dt.date, list[Mapping[str, Any]]] = defaultdict(list)
    for m in ref.messages:
        if (b := where(m["timestamp"])) is not None:
            msgs[b].append(m)
    responses: dict[dt.date, list[float]] = defaultdict(list)
    for turn, reply in ref.turns():
        if reply is not None and (b := where(turn)) is not None:
            responses[b].append(_seconds(reply - turn))

    out: dict[str, list[dict[str, Any]]] = {"conversations": [], "messages": [], "handoffs": [], "costs": []}
    for b in keys:
        cs, ms = convs[b], msgs[b]
        total = len(cs)
        resolved = sum(c["status"] == "resolved" for c in cs)
        durations = [_minutes(c["ended_at"] - c["started_at"]) for c in cs if c.get("ended_at") is not None]
        out["conversations"].append(
            {
                "date": b.isoformat(),
                "total_conversations": total,
                "active_conversations": sum(c["status"] == "active" for c in cs),
                "resolved_conversations": resolved,
                "handed_off_conversations": sum(c["status"] == "handed_off" for c in cs),
                "average_duration_minutes": _mean(durations),
                "resolution_rate": _ratio(resolved, total),
            }
        )
        out["messages"].append(
            {
                "date": b.isoformat(),
                "total_messages": len(ms),
                "customer_messages": sum(m["sender_type"] == "customer" for m in ms),
                "llm_messages": sum(m["sender_type"] == "llm" for m in ms),
                "agent_messages": sum(m["sender_type"] == "agent" for m in ms),
                "average_response_time_seconds": _mean(responses[b]),
            }
        )
        handoffs = [(c, h) for c in cs if (h := ref.first_handoff(c["id"])) is not None]
        out["handoffs"].append(
            {
                "date": b.isoformat(),
                "total_handoffs": len(handoffs),
                "keyword_triggered": sum(trigger(h.get("metadata")) == "keyword" for _, h in handoffs),
                "confidence_triggered": sum(trigger(h.get("metadata")) == "confidence" for _, h in handoffs),
                "average_time_to_handoff_minutes": _mean([_minutes(h["timestamp"] - c["started_at"]) for c, h in handoffs]),
                "handoff_rate": _ratio(len(handoffs), total),
            }
        )
        llm = [m for m in ms if m["sender_type"] == "llm"]
        tokens = sum(tokens_used(m.get("metadata")) for m in llm)
        llm_cost = tokens * LLM_PRICE_PER_MILLION / 1_000_000
        whatsapp_cost = len(ms) * WHATSAPP_PRICE
        out["costs"].append(
            {
                "date": b.isoformat(),
                "total_llm_calls": len(llm),
                "total_tokens_used": tokens,
                "total_llm_cost": llm_cost,
                "total_whatsapp_cost": whatsapp_cost,
                "total_cost": llm_cost + whatsapp_cost,
                "cost_per_conversation": _ratio(llm_cost + whatsapp_cost, total),
            }
        )
    return out


def summary(
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    tenant_id: str,
    start: dt.date,
    end: dt.date,
    tz: str,
    outlet_id: str | None = None,
    lookaround_days: int = 0,
) -> dict[str, Any]:
    ref = Reference(within_lookaround(rows, start, end, tz, lookaround_days), tenant_id, outlet_id)

    def inside(instant: dt.datetime) -> bool:
        return start <= local_date(instant, tz) <= end

    cs = [c for c in ref.conversations if inside(c["started_at"])]
    ms = [m for m in ref.messages if inside(m["timestamp"])]
    tokens = sum(tokens_used(m.get("metadata")) for m in ms if m["sender_type"] == "llm")
    handed_off = sum(ref.first_handoff(c["id"]) is not None for c in cs)
    responses = [_seconds(reply - turn) for turn, reply in ref.turns() if reply is not None and inside(turn)]
    return {
        "total_conversations": len(cs),
        "total_messages": len(ms),
        "average_response_time_seconds": _mean(responses),
        "resolution_rate": _ratio(sum(c["status"] == "resolved" for c in cs), len(cs)),
        "handoff_rate": _ratio(handed_off, len(cs)),
        "total_cost": tokens * LLM_PRICE_PER_MILLION / 1_000_000 + len(ms) * WHATSAPP_PRICE,
    }
