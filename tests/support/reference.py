"""The metrics contract in plain Python, written from docs/metrics.md (§1–§4, §7) alone.

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


# -- §7: responses, outcomes, previous period, outlets, heat map ---------------------------------


def quantile(values: Sequence[float], p: float) -> float | None:
    """PERCENTILE_CONT: sort, h = (n - 1)·p, interpolate between x[⌊h⌋] and x[⌊h⌋ + 1]."""
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    low = int(h)
    if low == h:
        return ordered[low]
    return ordered[low] + (h - low) * (ordered[low + 1] - ordered[low])


def _first_agent_after(thread: Sequence[Mapping[str, Any]], handoff: Mapping[str, Any]) -> Mapping[str, Any] | None:
    position = next(i for i, m in enumerate(thread) if m is handoff)
    return next((m for m in thread[position + 1 :] if m["sender_type"] == "agent"), None)


def _response_figures(ref: Reference, turns: Sequence[tuple[dt.datetime, dt.datetime | None]], cohort: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    answered = [_seconds(reply - turn) for turn, reply in turns if reply is not None]
    first, human, unanswered = [], [], 0
    for c in cohort:
        thread = ref.threads.get(c["id"], [])
        reply = next((m for m in thread if m["sender_type"] in ("llm", "agent")), None)
        if reply is not None:
            first.append(_seconds(reply["timestamp"] - c["started_at"]))
        handoff = ref.first_handoff(c["id"])
        if handoff is not None:
            agent = _first_agent_after(thread, handoff)
            if agent is None:
                unanswered += 1
            else:
                human.append(_seconds(agent["timestamp"] - handoff["timestamp"]))
    return {
        "customer_turns": len(turns),
        "answered_turns": len(answered),
        "median_response_time_seconds": quantile(answered, 0.5),
        "p90_response_time_seconds": quantile(answered, 0.9),
        "first_responses": len(first),
        "average_first_response_seconds": _mean(first),
        "median_first_response_seconds": quantile(first, 0.5),
        "answered_handoffs": len(human),
        "unanswered_handoffs": unanswered,
        "average_human_response_seconds": _mean(human),
        "median_human_response_seconds": quantile(human, 0.5),
    }


def _outcome_figures(ref: Reference, cohort: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    contained = agent_involved = messages = tokens = 0
    for c in cohort:
        thread = ref.threads.get(c["id"], [])
        has_agent = any(m["sender_type"] == "agent" for m in thread)
        agent_involved += has_agent
        contained += c["status"] == "resolved" and ref.first_handoff(c["id"]) is None and not has_agent
        messages += len(thread)
        tokens += sum(tokens_used(m.get("metadata")) for m in thread if m["sender_type"] == "llm")
    cost = tokens * LLM_PRICE_PER_MILLION / 1_000_000 + messages * WHATSAPP_PRICE
    resolved = sum(c["status"] == "resolved" for c in cohort)
    return {
        "total_conversations": len(cohort),
        "contained_conversations": contained,
        "containment_rate": _ratio(contained, len(cohort)),
        "agent_involved_conversations": agent_involved,
        "cohort_messages": messages,
        "cohort_cost": cost,
        "cost_per_resolved_conversation": _ratio(cost, resolved),
        "messages_per_conversation": _ratio(messages, len(cohort)),
    }


def _series_and_totals(rows, tenant_id, start, end, tz, granularity, outlet_id, figures) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ref = Reference(rows, tenant_id, outlet_id)

    def where(instant: dt.datetime) -> dt.date | None:
        day = local_date(instant, tz)
        return bucket_of(day, start, granularity) if start <= day <= end else None

    turns = [(turn, reply, where(turn)) for turn, reply in ref.turns()]
    cohort = [(c, where(c["started_at"])) for c in ref.conversations]
    series = []
    for b in buckets(start, end, granularity):
        bucket_turns = [(t, r) for t, r, w in turns if w == b]
        series.append({"date": b.isoformat(), **figures(ref, bucket_turns, [c for c, w in cohort if w == b])})
    totals = figures(ref, [(t, r) for t, r, w in turns if w is not None], [c for c, w in cohort if w is not None])
    return {"series": series, "totals": totals}


def responses(rows, *, tenant_id, start, end, tz, granularity="day", outlet_id=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """§7.1: per bucket and over the range."""
    return _series_and_totals(rows, tenant_id, start, end, tz, granularity, outlet_id, _response_figures)


def outcomes(rows, *, tenant_id, start, end, tz, granularity="day", outlet_id=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """§7.2: per bucket of the conversations' start and over the range."""
    return _series_and_totals(rows, tenant_id, start, end, tz, granularity, outlet_id, lambda ref, turns, cohort: _outcome_figures(ref, cohort))


SUMMARY_FIGURES = ("total_conversations", "total_messages", "average_response_time_seconds", "resolution_rate", "handoff_rate", "total_cost")


def compared_summary(rows, *, tenant_id, start, end, tz, outlet_id=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """§7.3: the summary, the n days before it and the change."""
    current = summary(rows, tenant_id=tenant_id, start=start, end=end, tz=tz, outlet_id=outlet_id)
    n = dt.timedelta(days=(end - start).days + 1)
    before_start, before_end = start - n, start - dt.timedelta(days=1)
    before = summary(rows, tenant_id=tenant_id, start=before_start, end=before_end, tz=tz, outlet_id=outlet_id)
    change = {
        k: None if current[k] is None or before[k] is None or before[k] == 0 else (current[k] - before[k]) / before[k]
        for k in SUMMARY_FIGURES
    }
    return {
        **current,
        "previous": {"period_start": before_start.isoformat(), "period_end": before_end.isoformat(), **before},
        "change": change,
    }


def outlets(rows, *, tenant_id, start, end, tz) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """§7.4: the summary per outlet value (lowercase) carried by conversations started in the
    range or owning a message in it; ordered by id bytes, null last."""
    ref = Reference(rows, tenant_id, None)

    def inside(instant: dt.datetime) -> bool:
        return start <= local_date(instant, tz) <= end

    by_id = {c["id"]: c for c in ref.conversations}
    values = {c["outlet_id"].lower() if c.get("outlet_id") else None for c in ref.conversations if inside(c["started_at"])}
    values |= {
        (by_id[m["conversation_id"]].get("outlet_id") or "").lower() or None for m in ref.messages if inside(m["timestamp"])
    }
    ordered = sorted((v for v in values if v is not None), key=str.encode) + ([None] if None in values else [])
    out = []
    for value in ordered:
        if value is None:
            # The conversations without an outlet: the tenant's rows minus every outlet's.
            picked = {
                "conversations": [c for c in rows["conversations"] if c["id"] in by_id and not c.get("outlet_id")],
                "messages": [m for m in ref.messages if not by_id[m["conversation_id"]].get("outlet_id")],
            }
            figures = summary(picked, tenant_id=tenant_id, start=start, end=end, tz=tz)
        else:
            figures = summary(rows, tenant_id=tenant_id, start=start, end=end, tz=tz, outlet_id=value)
        out.append({"outlet_id": value, **figures})
    return out


def heatmap(rows, *, tenant_id, start, end, tz, outlet_id=None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """§7.5: 168 cells by the local wall clock's ISO weekday and hour."""
    ref = Reference(rows, tenant_id, outlet_id)
    zone = ZoneInfo(tz)

    def cell(instant: dt.datetime) -> tuple[int, int] | None:
        local = instant.astimezone(zone)
        return (local.isoweekday(), local.hour) if start <= local.date() <= end else None

    customer: dict[tuple[int, int], int] = defaultdict(int)
    started: dict[tuple[int, int], int] = defaultdict(int)
    times: dict[tuple[int, int], list[float]] = defaultdict(list)
    for m in ref.messages:
        if m["sender_type"] == "customer" and (k := cell(m["timestamp"])):
            customer[k] += 1
    for c in ref.conversations:
        if k := cell(c["started_at"]):
            started[k] += 1
    for turn, reply in ref.turns():
        if reply is not None and (k := cell(turn)):
            times[k].append(_seconds(reply - turn))
    return [
        {
            "weekday": day,
            "hour": hour,
            "customer_messages": customer[(day, hour)],
            "conversations_started": started[(day, hour)],
            "average_response_time_seconds": _mean(times[(day, hour)]),
        }
        for day in range(1, 8)
        for hour in range(24)
    ]


# -- §8: priced costs (COST_MODEL=priced) ------------------------------------------------------

PRICED_SENDERS = ("llm", "agent", "system")
WHATSAPP_CATEGORIES = ("marketing", "utility", "authentication")


def whole_number(meta: Any, key: str) -> int | None:
    """A metadata key read by the tokens_used rule; None where it is not a readable whole number."""
    value = metadata(meta).get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if len(str(abs(value))) <= 18 else None
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    return None


def market(phone: str | None, prefixes: set[str]) -> str | None:
    """The prefix of the table a number belongs to: one leading '+' dropped, the longest prefix
    it starts with, '*' only where none does."""
    number = phone or ""
    if number.startswith("+"):
        number = number[1:]
    matched = [p for p in prefixes if p != "*" and number.startswith(p)]
    if matched:
        return max(matched, key=len)
    return "*" if "*" in prefixes else None


def _valid(rows: Sequence[Any], day: dt.date) -> Any | None:
    """The row with the latest valid_from on or before `day`."""
    valid = [row for row in rows if row.valid_from <= day]
    return max(valid, key=lambda row: row.valid_from) if valid else None


def whatsapp_charge(message: Mapping[str, Any], phone: str | None, whatsapp: Sequence[Any]) -> dict[str, Any] | None:
    """How WhatsApp bills one message: None for customer (and unknown) senders; else charged or
    not, its category, its market and its price (None: charged without a price row)."""
    if message["sender_type"] not in PRICED_SENDERS:
        return None
    pricing = metadata(message.get("metadata")).get("pricing")
    charged = isinstance(pricing, dict) and pricing.get("type") == "regular"
    category = pricing.get("category") if charged else None
    prefix = market(phone, {row.prefix for row in whatsapp})
    price = None
    if charged and isinstance(category, str) and prefix is not None:
        row = _valid([r for r in whatsapp if r.prefix == prefix and r.category == category], message["timestamp"].astimezone(dt.UTC).date())
        price = row.price if row is not None else None
    return {"charged": charged, "category": category if isinstance(category, str) else None, "prefix": prefix, "price": price}


def llm_charge(message: Mapping[str, Any], llm: Sequence[Any]) -> tuple[int, int, float]:
    """An llm message's (input tokens, output tokens, cost)."""
    meta = message.get("metadata")
    given_input, given_output = whole_number(meta, "input_tokens"), whole_number(meta, "output_tokens")
    if given_input is None and given_output is None:
        return 0, 0, tokens_used(meta) * LLM_PRICE_PER_MILLION / 1_000_000
    tokens_in, tokens_out = given_input or 0, given_output or 0
    model = metadata(meta).get("model")
    named = isinstance(model, str) and any(row.model == model for row in llm)
    rows = [row for row in llm if row.model == (model if named else "*")]
    row = _valid(rows, message["timestamp"].astimezone(dt.UTC).date())
    if row is None:
        return tokens_in, tokens_out, 0.0
    return tokens_in, tokens_out, (tokens_in * row.input_per_million + tokens_out * row.output_per_million) / 1_000_000


def whatsapp_figures(charges: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    charged = [c for c in charges if c["charged"]]
    priced = [c for c in charged if c["price"] is not None]
    return {
        "whatsapp_charged_messages": len(charged),
        "whatsapp_free_messages": len(charges) - len(charged),
        "whatsapp_unpriced_messages": len(charged) - len(priced),
        **{f"whatsapp_{name}_cost": float(sum(c["price"] for c in priced if c["category"] == name)) for name in WHATSAPP_CATEGORIES},
        "total_whatsapp_cost": float(sum(c["price"] for c in priced)),
    }


def priced_figures(messages: Sequence[tuple[Mapping[str, Any], str | None]], conversations: int, tables: Any) -> dict[str, Any]:
    """The §8 fields of (message, its conversation's customer_phone) pairs."""
    charges = [c for m, phone in messages if (c := whatsapp_charge(m, phone, tables.whatsapp)) is not None]
    llm = [m for m, _ in messages if m["sender_type"] == "llm"]
    priced_llm = [llm_charge(m, tables.llm) for m in llm]
    llm_cost = float(sum(cost for _, _, cost in priced_llm))
    whatsapp = whatsapp_figures(charges)
    total = llm_cost + whatsapp["total_whatsapp_cost"]
    return {
        "total_llm_calls": len(llm),
        "total_tokens_used": sum(tokens_used(m.get("metadata")) for m in llm),
        "llm_input_tokens": sum(i for i, _, _ in priced_llm),
        "llm_output_tokens": sum(o for _, o, _ in priced_llm),
        "total_llm_cost": llm_cost,
        **whatsapp,
        "total_cost": total,
        "cost_per_conversation": _ratio(total, conversations),
    }


def costs(rows, tables, *, tenant_id, start, end, tz, granularity="day", outlet_id=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """§8: the priced cost series, its totals and the per-market rows."""
    ref = Reference(rows, tenant_id, outlet_id)
    phones = {c["id"]: c.get("customer_phone") for c in ref.conversations}

    def where(instant: dt.datetime) -> dt.date | None:
        day = local_date(instant, tz)
        return bucket_of(day, start, granularity) if start <= day <= end else None

    messages = [(m, phones[m["conversation_id"]], where(m["timestamp"])) for m in ref.messages]
    started = [where(c["started_at"]) for c in ref.conversations]
    series = []
    for b in buckets(start, end, granularity):
        series.append({"date": b.isoformat(), **priced_figures([(m, p) for m, p, w in messages if w == b], sum(w == b for w in started), tables)})
    in_range = [(m, p) for m, p, w in messages if w is not None]
    totals = priced_figures(in_range, sum(w is not None for w in started), tables)
    by_market: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for m, phone in in_range:
        charge = whatsapp_charge(m, phone, tables.whatsapp)
        if charge is not None and charge["prefix"] is not None:
            by_market[charge["prefix"]].append(charge)
    markets = [{"prefix": prefix, **whatsapp_figures(by_market[prefix])} for prefix in sorted(by_market, key=str.encode)]
    return {"series": series, "totals": totals, "markets": markets}


def priced_summary_cost(rows, tables, *, tenant_id, start, end, tz, outlet_id=None) -> float:  # type: ignore[no-untyped-def]
    """The summary's total_cost under §8."""
    return costs(rows, tables, tenant_id=tenant_id, start=start, end=end, tz=tz, outlet_id=outlet_id)["totals"]["total_cost"]


def priced_cohort_costs(rows, tables, *, tenant_id, start, end, tz, granularity="day", outlet_id=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """§7.2's cohort_cost under §8: every message of the conversations started in each bucket
    (and in the range: key None), priced on its own UTC date."""
    ref = Reference(rows, tenant_id, outlet_id)

    def where(instant: dt.datetime) -> dt.date | None:
        day = local_date(instant, tz)
        return bucket_of(day, start, granularity) if start <= day <= end else None

    out: dict[Any, float] = {b: 0.0 for b in buckets(start, end, granularity)}
    out[None] = 0.0
    for c in ref.conversations:
        b = where(c["started_at"])
        if b is None:
            continue
        pairs = [(m, c.get("customer_phone")) for m in ref.threads.get(c["id"], [])]
        cost = priced_figures(pairs, 1, tables)["total_cost"]
        out[b] += cost
        out[None] += cost
    return out
def daily_values(rows, *, tenant_id, start, end, tz, outlet_id=None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """sql/metrics/daily_values.sql (docs/anomalies.md): each day's watched metrics, taken from
    the dashboard's series (§3), the outcomes' containment (§7.2) and the responses' answered
    turns (§7.1) of the same day."""
    asked = dict(tenant_id=tenant_id, start=start, end=end, tz=tz, granularity="day", outlet_id=outlet_id)
    board = dashboard(rows, **asked)
    outcome = outcomes(rows, **asked)["series"]
    response = responses(rows, **asked)["series"]
    days = []
    for c, m, h, k, o, r in zip(board["conversations"], board["messages"], board["handoffs"], board["costs"], outcome, response, strict=True):
        days.append({
            "date": c["date"],
            "total_conversations": c["total_conversations"],
            "resolved_conversations": c["resolved_conversations"],
            "resolution_rate": c["resolution_rate"],
            "total_handoffs": h["total_handoffs"],
            "handoff_rate": h["handoff_rate"],
            "contained_conversations": o["contained_conversations"],
            "containment_rate": o["containment_rate"],
            "total_messages": m["total_messages"],
            "answered_turns": r["answered_turns"],
            "average_response_time_seconds": m["average_response_time_seconds"],
            "total_cost": k["total_cost"],
        })
    return days
