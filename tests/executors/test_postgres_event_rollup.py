"""Event batches on PostgreSQL's rollup layout keep metric_slots and cost_slots by difference
(crm_metrics/derived.py `events`): after any batches, the rollup tables hold exactly the rows
a full rebuild makes; a batch queues nothing for the live rollup; and where another client's
write to a touched conversation is still queued, the batch recomputes the touched slots instead."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from crm_metrics import Metrics, derived
from crm_metrics import events as ev
from crm_metrics.executors.postgres import _EVENTS_LOCK
from tests.support.engines import PostgresEngine, rollup_metrics

TENANTS = ["7a1e3c1e-0000-4000-8000-0000000000b1", "7a1e3c1e-0000-4000-8000-0000000000b2"]
OUTLETS = [None, "0b1e7000-0000-4000-8000-00000000001a", "0b1e7000-0000-4000-8000-00000000001b"]
FIRST = dt.datetime(2025, 10, 1, 9, tzinfo=dt.UTC)
ROLLUP = ("metric_slots", "cost_slots")
EXAMPLES = Path(__file__).parent.parent.parent / "examples" / "prices"


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    with rollup_metrics() as opened:
        yield opened


def _connect(metrics: Metrics) -> psycopg.Connection[Any]:
    return psycopg.connect(**metrics.executor._params)  # type: ignore[attr-defined]


def _rows(conn: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    # Sums compare as numbers (a rebuild's numeric may carry another scale); the priced
    # columns' costs are sums of the same figures, perhaps added in another order.
    def normal(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 12)
        return Decimal(v) if isinstance(v, int | Decimal) and not isinstance(v, bool) else v

    return sorted((tuple(normal(v) for v in row) for row in rows), key=repr)


def _assert_rollup_is_rebuilt(metrics: Metrics) -> None:
    with _connect(metrics) as conn:
        kept = {table: _rows(conn, table) for table in ROLLUP}
    metrics.store.refresh()
    with _connect(metrics) as conn:
        for table in ROLLUP:
            assert kept[table] == _rows(conn, table), table


class History:
    """Random events of conversations and their messages: new ones, changes of status, outlet
    and metadata (pricing, model, tokens), messages moved and deleted, conversations deleted."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.conversations: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}

    def metadata(self) -> Any:
        r = self.random
        return r.choice([
            None,
            {"tokens_used": r.randint(1, 400), "model": r.choice(["gpt-4o", "gpt-4o-mini"]), "input_tokens": r.randint(0, 200), "output_tokens": r.randint(0, 90)},
            {"pricing": {"type": r.choice(["regular", "free_entry_point"]), "category": r.choice(["marketing", "utility", "service"])}},
            {"handoff_requested": True, "trigger": r.choice(["keyword", "confidence"])},
        ])

    def at(self) -> str:
        return (FIRST + dt.timedelta(minutes=self.random.randint(0, 600))).isoformat()

    def event(self) -> dict[str, Any]:
        r = self.random
        kind = r.choice(["conversation", "message", "message", "message", "change", "move", "delete"]) if self.conversations else "conversation"
        if kind == "conversation" or (kind == "change" and r.random() < 0.5):
            cid = f"c{len(self.conversations)}" if kind == "conversation" else r.choice(sorted(self.conversations))
            row = {"id": cid, "tenant_id": r.choice(TENANTS), "outlet_id": r.choice(OUTLETS), "customer_phone": r.choice(["+6281234", "+1555", "+44207"]),
                   "status": r.choice(["active", "resolved", "handed_off"]), "started_at": self.at()}
            self.conversations[cid] = row
            return {"type": "conversation", "data": row}
        if kind in ("message", "change"):
            mid = f"m{len(self.messages)}" if kind == "message" or not self.messages else r.choice(sorted(self.messages))
            row = {"id": mid, "conversation_id": r.choice(sorted(self.conversations)), "sender_type": r.choice(["customer", "llm", "agent", "system"]),
                   "content": "hi", "timestamp": self.at(), "metadata": self.metadata()}
            self.messages[mid] = row
            return {"type": "message", "data": row}
        if kind == "move" and self.messages:
            row = {**self.messages[r.choice(sorted(self.messages))], "conversation_id": r.choice(sorted(self.conversations))}
            self.messages[row["id"]] = row
            return {"type": "message", "data": row}
        if r.random() < 0.7 and self.messages:
            return {"type": "message", "op": "delete", "data": {"id": self.messages.pop(r.choice(sorted(self.messages)))["id"]}}
        return {"type": "conversation", "op": "delete", "data": {"id": self.conversations.pop(r.choice(sorted(self.conversations)))["id"]}}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_event_batches_leave_the_rollup_a_rebuild_would_make(metrics: Metrics, seed: int) -> None:
    # The example rate card installed: the rollup's priced columns follow the batches too.
    prices = dataclasses.replace(metrics.settings, cost_model="priced", whatsapp_prices=str(EXAMPLES / "whatsapp.csv"), llm_prices=str(EXAMPLES / "llm.csv"))
    assert Metrics(metrics.executor, prices).install_prices()
    history = History(seed)
    for _ in range(12):
        metrics.store.apply(ev.check([history.event() for _ in range(history.random.randint(1, 25))]))
    _assert_rollup_is_rebuilt(metrics)
    with _connect(metrics) as conn:
        # The batches refreshed what they wrote: nothing is queued for the live rollup.
        assert conn.execute("SELECT count(*) FROM crm_metrics_changes").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM cost_slots").fetchone()[0] > 0
        # The difference names every column of the rollup tables but the priced ones, which
        # the batch sets from the groups it changed (derived.reprice).
        metric_columns = (*derived.SLOT_KEY, *derived.SLOT_MEASURES, *derived.SLOT_PRICES)
        for table, columns in (("metric_slots", metric_columns), ("cost_slots", (*derived.COST_KEY, *derived.COST_MEASURES))):
            stored = conn.execute(f"SELECT * FROM {table} LIMIT 0").description
            assert tuple(c.name for c in stored) == columns, table


def test_a_batch_over_another_clients_queued_write_recomputes_its_slots(metrics: Metrics) -> None:
    history = History(7)
    metrics.store.apply(ev.check([history.event() for _ in range(60)]))
    charged = {"pricing": {"type": "regular", "category": "marketing"}}
    message = next(
        m for m in history.messages.values()
        if m["conversation_id"] in history.conversations and m["sender_type"] in ("agent", "system") and m["metadata"] != charged
    )
    with _connect(metrics) as conn:
        # The CRM changes a message's pricing with plain SQL; no applier runs.
        conn.execute("UPDATE messages SET metadata = %s WHERE id = %s", (json.dumps(charged), message["id"]))
        conn.commit()
    # An event on the same conversation while that write is queued: the rollup cannot be
    # changed by difference (its "before" would read the new pricing), so the batch recomputes
    # the conversation's slots, and takes the CRM's write in with it.
    late = {"id": "late", "conversation_id": message["conversation_id"], "sender_type": "llm", "content": "x",
            "timestamp": message["timestamp"], "metadata": {"tokens_used": 5}}
    metrics.store.apply(ev.check([{"type": "message", "data": late}]))
    _assert_rollup_is_rebuilt(metrics)


def test_event_batches_of_two_stores_in_one_database_do_not_wait_for_each_other(metrics: Metrics) -> None:
    other = PostgresEngine()
    other.start()
    try:
        with metrics.executor.session() as held:  # type: ignore[attr-defined]
            held.rows("SELECT 1")
            started = time.monotonic()
            with other.executor.session() as session:  # type: ignore[attr-defined]
                session.rows("SELECT 1")
            assert time.monotonic() - started < 2.0
            # The same store's writers take turns: a second batch waits for the first.
            with _connect(metrics) as conn:
                conn.execute("SET lock_timeout = '200ms'")
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(COALESCE(current_schema(), ''), %s))", (_EVENTS_LOCK,))
    finally:
        other.stop()
