"""The user's alternative: read a tenant's rows with a simple SQL filter, compute in pandas.

What a careful analyst would write without crm-metrics: two plain SELECTs (the tenant's
conversations that overlap the range, and all their messages: a turn's history and a
handoff's earliest request may lie before the range), then vectorised pandas for the
contract's fields, with `json.loads` on the metadata text. It relies on `last_message_at`
being the time of a conversation's last message, which holds for the generated data.

`compare` holds its numbers against the library's, field by field: the comparison is part of
the benchmark's report, so the ratio is between two programs that give the same answers.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

LLM_PRICE_PER_MILLION = 0.15
WHATSAPP_PRICE = 0.01
_WHOLE = re.compile(r"[+-]?[0-9]{1,18}")

CONVERSATIONS_SQL = """
SELECT id, outlet_id, status, started_at, ended_at
FROM conversations
WHERE tenant_id = {tenant} AND started_at < {range_end}
  AND COALESCE(last_message_at, started_at) >= {range_start}
"""
MESSAGES_SQL = """
SELECT m.id, m.conversation_id, m.sender_type, m."timestamp", m.metadata
FROM messages AS m
JOIN conversations AS c ON c.id = m.conversation_id
WHERE c.tenant_id = {tenant} AND c.started_at < {range_end}
  AND COALESCE(c.last_message_at, c.started_at) >= {range_start}
"""
#: Placeholders of each driver.
PLACEHOLDERS = {
    "duckdb": {"tenant": "$tenant", "range_start": "$range_start", "range_end": "$range_end"},
    "postgres": {"tenant": "%(tenant)s", "range_start": "%(range_start)s", "range_end": "%(range_end)s"},
}

Reader = Callable[[str, Mapping[str, Any]], pd.DataFrame]


def duckdb_reader(connection: Any) -> Reader:
    def read(sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
        return connection.execute(sql.format(**PLACEHOLDERS["duckdb"]), params).df()

    return read


def postgres_reader(connection: Any) -> Reader:
    def read(sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
        cursor = connection.execute(sql.format(**PLACEHOLDERS["postgres"]), params)
        return pd.DataFrame(cursor.fetchall(), columns=[d.name for d in cursor.description])

    return read


def _metadata(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _tokens(meta: dict[str, Any]) -> int:
    value = meta.get("tokens_used")
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value if len(str(abs(value))) <= 18 else 0
    if isinstance(value, str) and _WHOLE.fullmatch(value):
        return int(value)
    return 0


def _local_day(instants: pd.Series, tz: str) -> pd.Series:
    return instants.dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()


def _ratio(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a / b.where(b != 0)).astype("float64")


def compute(read: Reader, tenant_id: str, start: dt.date, end: dt.date, tz: str) -> dict[str, Any]:
    """The day dashboard and the summary, as plain dicts shaped like the library's."""
    zone_start = pd.Timestamp(start).tz_localize(tz)
    zone_end = pd.Timestamp(end + dt.timedelta(days=1)).tz_localize(tz)
    params = {"tenant": tenant_id, "range_start": zone_start.to_pydatetime(), "range_end": zone_end.to_pydatetime()}
    conv = read(CONVERSATIONS_SQL, params)
    msg = read(MESSAGES_SQL, params)
    for frame, columns in ((conv, ("started_at", "ended_at")), (msg, ("timestamp",))):
        for column in columns:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")

    conv["day"] = _local_day(conv["started_at"], tz)
    started = conv[conv["day"].between(days[0], days[-1])].copy()
    started["minutes"] = (started["ended_at"] - started["started_at"]) / pd.Timedelta(microseconds=1) / 60e6
    by_day = started.groupby("day")
    conversations = pd.DataFrame(
        {
            "total_conversations": by_day.size(),
            "active_conversations": by_day["status"].agg(lambda s: (s == "active").sum()),
            "resolved_conversations": by_day["status"].agg(lambda s: (s == "resolved").sum()),
            "handed_off_conversations": by_day["status"].agg(lambda s: (s == "handed_off").sum()),
            "average_duration_minutes": by_day["minutes"].mean(),
        }
    ).reindex(days)
    counts = ["total_conversations", "active_conversations", "resolved_conversations", "handed_off_conversations"]
    conversations[counts] = conversations[counts].fillna(0).astype("int64")
    conversations["resolution_rate"] = _ratio(conversations["resolved_conversations"], conversations["total_conversations"])

    meta = msg["metadata"].map(_metadata, na_action="ignore")
    msg["tokens"] = meta.map(_tokens, na_action="ignore").fillna(0).astype("int64")
    msg["handoff"] = meta.map(lambda m: m.get("handoff_requested") in (True, "true"), na_action="ignore").fillna(False).astype(bool)
    msg["trigger"] = meta.map(lambda m: m.get("trigger"), na_action="ignore")
    msg["day"] = _local_day(msg["timestamp"], tz)
    in_range = msg[msg["day"].between(days[0], days[-1])]
    sender = in_range["sender_type"]
    by_day = in_range.assign(
        customer=sender == "customer", llm=sender == "llm", agent=sender == "agent", llm_tokens=in_range["tokens"].where(sender == "llm", 0)
    ).groupby("day")
    traffic = pd.DataFrame(
        {
            "total_messages": by_day.size(),
            "customer_messages": by_day["customer"].sum(),
            "llm_messages": by_day["llm"].sum(),
            "agent_messages": by_day["agent"].sum(),
            "total_tokens_used": by_day["llm_tokens"].sum(),
        }
    ).reindex(days).fillna(0).astype("int64")

    # Customer turns: ordered by (timestamp, id) within a conversation, system messages skipped.
    visible = msg[msg["sender_type"] != "system"].sort_values(["conversation_id", "timestamp", "id"])
    group = visible["conversation_id"]
    previous = visible.groupby(group)["sender_type"].shift(1)
    reply_at = visible["timestamp"].where(visible["sender_type"].isin(["llm", "agent"]))
    next_reply = reply_at.groupby(group).shift(-1).groupby(group).bfill()
    is_turn = (visible["sender_type"] == "customer") & (previous != "customer")
    turns = pd.DataFrame({"day": visible["day"], "seconds": (next_reply - visible["timestamp"]) / pd.Timedelta(microseconds=1)})
    turns = turns[is_turn & turns["day"].between(days[0], days[-1]) & next_reply.notna()]
    traffic["average_response_time_seconds"] = (turns.groupby("day")["seconds"].mean() / 1e6).reindex(days)

    # Handoffs: the earliest request of each conversation started in the range.
    requests = msg[msg["handoff"] & msg["conversation_id"].isin(started["id"])].sort_values(["timestamp", "id"])
    first = requests.drop_duplicates("conversation_id").merge(
        started[["id", "day", "started_at"]], left_on="conversation_id", right_on="id", suffixes=("", "_conversation")
    )
    first["minutes"] = (first["timestamp"] - first["started_at"]) / pd.Timedelta(microseconds=1) / 60e6
    by_day = first.groupby("day_conversation")
    handoffs = pd.DataFrame(
        {
            "total_handoffs": by_day.size(),
            "keyword_triggered": by_day["trigger"].agg(lambda s: (s == "keyword").sum()),
            "confidence_triggered": by_day["trigger"].agg(lambda s: (s == "confidence").sum()),
            "average_time_to_handoff_minutes": by_day["minutes"].mean(),
        }
    ).reindex(days)
    counts = ["total_handoffs", "keyword_triggered", "confidence_triggered"]
    handoffs[counts] = handoffs[counts].fillna(0).astype("int64")
    handoffs["handoff_rate"] = _ratio(handoffs["total_handoffs"], conversations["total_conversations"])

    costs = pd.DataFrame(
        {
            "total_llm_calls": traffic["llm_messages"],
            "total_tokens_used": traffic["total_tokens_used"],
            "total_llm_cost": traffic["total_tokens_used"] * LLM_PRICE_PER_MILLION / 1e6,
            "total_whatsapp_cost": traffic["total_messages"] * WHATSAPP_PRICE,
        }
    )
    costs["total_cost"] = costs["total_llm_cost"] + costs["total_whatsapp_cost"]
    costs["cost_per_conversation"] = _ratio(costs["total_cost"], conversations["total_conversations"])

    total_conversations = int(conversations["total_conversations"].sum())
    total_messages = int(traffic["total_messages"].sum())
    summary = {
        "total_conversations": total_conversations,
        "total_messages": total_messages,
        "average_response_time_seconds": turns["seconds"].mean() / 1e6 if len(turns) else None,
        "resolution_rate": int(conversations["resolved_conversations"].sum()) / total_conversations if total_conversations else None,
        "handoff_rate": int(handoffs["total_handoffs"].sum()) / total_conversations if total_conversations else None,
        "total_cost": int(traffic["total_tokens_used"].sum()) * LLM_PRICE_PER_MILLION / 1e6 + total_messages * WHATSAPP_PRICE,
    }
    return {
        "conversations": _rows(conversations),
        "messages": _rows(traffic.drop(columns="total_tokens_used")),
        "handoffs": _rows(handoffs),
        "costs": _rows(costs),
        "summary": summary,
    }


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    whole = {key for key in frame.columns if pd.api.types.is_integer_dtype(frame[key])}
    return [
        {"date": day.date().isoformat()}
        | {key: None if pd.isna(value) else int(value) if key in whole else float(value) for key, value in row.items()}
        for day, row in frame.iterrows()
    ]


def compare(library: Mapping[str, Any], ours: Mapping[str, Any], rel: float = 1e-9) -> list[str]:
    """Differences between the library's answer (dashboard series + summary, as dicts) and
    ours: counts exactly, floats to `rel` relative, nulls alike. Empty when they agree."""
    problems = []
    for series in ("conversations", "messages", "handoffs", "costs"):
        theirs, mine = library[series], ours[series]
        if len(theirs) != len(mine):
            problems.append(f"{series}: {len(theirs)} rows vs {len(mine)}")
            continue
        for a, b in zip(theirs, mine, strict=True):
            problems += _differences(f"{series}[{a['date']}]", a, b, rel)
    problems += _differences("summary", library["summary"], ours["summary"], rel)
    return problems


def _differences(where: str, theirs: Mapping[str, Any], mine: Mapping[str, Any], rel: float) -> list[str]:
    out = []
    for key, value in mine.items():
        other = theirs.get(key)
        if value is None or other is None or isinstance(value, str):
            same = value == other
        elif isinstance(other, int) and not isinstance(other, bool) and isinstance(value, int):
            same = other == value
        else:
            same = math.isclose(float(other), float(value), rel_tol=rel, abs_tol=1e-12)
        if not same:
            out.append(f"{where}.{key}: library {other!r}, pandas {value!r}")
    return out
