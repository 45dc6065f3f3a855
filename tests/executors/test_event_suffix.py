"""An event batch recomputes each touched conversation's facts only from the first message that
may change on (crm_metrics/derived.py `events`, sql/derived/suffix_starts.sql): the earliest
old or new timestamp of a message it writes or deletes, moved back to the conversation's last
llm or agent message before it, since the turns after that message may get a new reply. These
histories aim at that boundary: late messages before existing turns, replies deleted, turned
into customer or system messages or moved away (in time and to other conversations), system
messages and equal timestamps at the boundary, messages before their conversation, and
conversations changed or deleted. After every batch the facts and the rollup must be exactly
what a full rebuild makes, on DuckDB and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_metrics import Metrics, Settings
from crm_metrics import events as ev
from tests.support.engines import rollup_metrics

TENANTS = ["7a1e3c1e-0000-4000-8000-0000000000c1", "7a1e3c1e-0000-4000-8000-0000000000c2"]
OUTLETS = [None, "0b1e7000-0000-4000-8000-00000000002a", "0b1e7000-0000-4000-8000-00000000002b"]
FIRST = dt.datetime(2025, 10, 1, 9, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).parent.parent.parent / "examples" / "prices"
TABLES = ("message_facts", "conversation_facts", "metric_slots", "cost_slots")
SENDERS = ["customer", "customer", "llm", "agent", "system", "bot"]


class Turns:
    """Conversations with many messages on a coarse clock (equal timestamps are common; ids
    compare byte by byte, 'M' before 'm'), then batches that change them near their turns."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.conversations: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.count = 0

    def at(self, minute: int) -> str:
        return (FIRST + dt.timedelta(minutes=minute)).isoformat()

    def metadata(self) -> Any:
        r = self.random
        return r.choice([
            None, None,
            {"tokens_used": r.randint(1, 400), "model": "gpt-4o", "input_tokens": r.randint(0, 200)},
            {"pricing": {"type": "regular", "category": r.choice(["service", "utility", "marketing"])}},
            {"handoff_requested": True, "trigger": r.choice(["keyword", "confidence"])},
        ])

    def conversation(self, cid: str) -> dict[str, Any]:
        r = self.random
        row = {"id": cid, "tenant_id": r.choice(TENANTS), "outlet_id": r.choice(OUTLETS), "customer_phone": r.choice(["+6281234", "+1555"]),
               "status": r.choice(["active", "resolved", "handed_off"]), "started_at": self.at(r.randint(-30, 0))}
        self.conversations[cid] = row
        return {"type": "conversation", "data": row}

    def message(self, cid: str, minute: int, sender: str | None = None, mid: str | None = None) -> dict[str, Any]:
        self.count += 1
        mid = mid or self.random.choice(["m", "M", "m0"]) + str(self.count)
        row = {"id": mid, "conversation_id": cid, "sender_type": sender or self.random.choice(SENDERS), "content": "hi",
               "timestamp": self.at(minute), "metadata": self.metadata()}
        self.messages[mid] = row
        return {"type": "message", "data": row}

    def start(self) -> list[dict[str, Any]]:
        items = [self.conversation(f"c{n}") for n in range(3)]
        for cid in ("c0", "c1", "c2"):
            items += [self.message(cid, minute) for minute in sorted(self.random.randint(0, 60) for _ in range(25))]
        return items

    def _in(self, cid: str) -> list[dict[str, Any]]:
        return sorted((m for m in self.messages.values() if m["conversation_id"] == cid), key=lambda m: (m["timestamp"], m["id"].encode()))

    def event(self) -> dict[str, Any]:
        r = self.random
        cid = r.choice(sorted(self.conversations) or ["c0"])
        present = self._in(cid)
        replies = [m for m in present if m["sender_type"] in ("llm", "agent")]
        kind = r.choice(["late", "late", "append", "tie", "delete_reply", "reply_changes", "move_time", "move_conversation",
                         "system", "conversation", "conversation_delete", "orphan"])
        minute = r.randint(0, 60)
        if kind == "late":
            return self.message(cid, r.randint(0, 30))
        if kind == "append":
            return self.message(cid, 61 + r.randint(0, 5))
        if kind == "tie" and present:
            # A new message at an existing message's timestamp: its id decides the order.
            return self.message(cid, int((dt.datetime.fromisoformat(r.choice(present)["timestamp"]) - FIRST).total_seconds() // 60))
        if kind == "delete_reply" and replies:
            return {"type": "message", "op": "delete", "data": {"id": self.messages.pop(r.choice(replies)["id"])["id"]}}
        if kind == "reply_changes" and replies:
            row = {**r.choice(replies), "sender_type": r.choice(["customer", "system", "bot"])}
            self.messages[row["id"]] = row
            return {"type": "message", "data": row}
        if kind == "move_time" and present:
            row = {**r.choice(present), "timestamp": self.at(minute)}
            self.messages[row["id"]] = row
            return {"type": "message", "data": row}
        if kind == "move_conversation" and present:
            row = {**r.choice(present), "conversation_id": r.choice(sorted({*self.conversations, "c9"}))}
            self.messages[row["id"]] = row
            return {"type": "message", "data": row}
        if kind == "system":
            return self.message(cid, minute, "system")
        if kind == "conversation":
            return self.conversation(r.choice(["c0", "c1", "c2", "c9"]))
        if kind == "conversation_delete" and len(self.conversations) > 1 and r.random() < 0.3:
            gone = self.conversations.pop(cid)
            for mid in [m["id"] for m in present]:
                del self.messages[mid]
            return {"type": "conversation", "op": "delete", "data": {"id": gone["id"]}}
        if kind == "orphan":
            # A message before its conversation (c9 arrives with a "conversation" event).
            return self.message("c9", minute)
        return self.message(cid, minute, r.choice(["llm", "agent"]))


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        # The rollup's priced columns: sums of the same costs, added in another order.
        return round(value, 12)
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return str(value)


def _snapshot(read: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted((tuple(_normal(v) for v in row) for row in read(f"SELECT * FROM {table}")), key=repr) for table in TABLES}


def _check(metrics: Metrics, read: Any, seed: int, batches: int) -> None:
    # The example rate card installed: the rollup's priced columns (docs/costs.md, "The priced
    # rollup") follow every batch too.
    prices = dataclasses.replace(metrics.settings, cost_model="priced", whatsapp_prices=str(EXAMPLES / "whatsapp.csv"), llm_prices=str(EXAMPLES / "llm.csv"))
    assert Metrics(metrics.executor, prices).install_prices()
    turns = Turns(seed)
    metrics.store.apply(ev.check(turns.start()))
    for n in range(batches):
        batch = [turns.event() for _ in range(turns.random.randint(1, 6))]
        metrics.store.apply(ev.check(batch))
        kept = _snapshot(read)
        metrics.store.refresh()
        rebuilt = _snapshot(read)
        for table in TABLES:
            assert kept[table] == rebuilt[table], (table, n, batch)


def _duckdb() -> tuple[Metrics, Any]:
    metrics = Metrics.connect(settings=Settings(database_url="duckdb:///:memory:"))
    metrics.store.init_db()
    assert metrics.store.layout == "rollup"
    return metrics, lambda q: metrics.executor._cursor().execute(q).fetchall()  # type: ignore[attr-defined]


# Ten random histories of eight batches (each batch checked against a rebuild): the fixed
# histories below run 25 batches each; together a minute of the suite's ten.
@settings(max_examples=10)
@given(seed=st.integers(0, 2**32))
def test_duckdb_event_batches_leave_the_facts_and_rollup_a_rebuild_makes(seed: int) -> None:
    metrics, read = _duckdb()
    with metrics:
        _check(metrics, read, seed, batches=8)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duckdb_event_batches_fixed_histories(seed: int) -> None:
    metrics, read = _duckdb()
    with metrics:
        _check(metrics, read, seed, batches=25)


@pytest.fixture
def postgres() -> Iterator[Metrics]:
    with rollup_metrics() as opened:
        yield opened


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_postgres_event_batches_leave_the_facts_and_rollup_a_rebuild_makes(postgres: Metrics, seed: int) -> None:
    def read(query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(**postgres.executor._params) as conn:  # type: ignore[attr-defined]
            return conn.execute(query).fetchall()

    _check(postgres, read, seed, batches=25)
