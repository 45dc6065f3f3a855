"""Events on every engine that takes them (crm_metrics/events.py): shuffled, duplicated, late,
older versions after newer ones, deletes; the answers converge to the final rows' answers (the
reference, which `crm-metrics load` of those rows matches: test_rollup.py, test_metrics.py), and
the tables hold exactly the final rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import strategies as st

from crm_metrics import ConfigError, InvalidEvent, LoadError
from crm_metrics import events as ev
from tests.support import reference
from tests.support.compare import assert_same
from tests.support.engines import ENGINES, Engine
from tests.support.properties import on_engines
from tests.support.strategies import TENANT, Case, cases

FINAL, DELETED = 10, 20


#: The engines that take events: all but BigQuery (test_bigquery_refuses_events). Parametrized
#: here rather than skipped there.
writable = pytest.mark.parametrize("engine", [name for name in sorted(ENGINES) if name != "bigquery"], indirect=True, scope="session")


def _older(row: dict[str, Any], table: str, draw: st.DrawFn) -> dict[str, Any]:
    """An earlier, different version of a row."""
    if table == "messages":
        return {**row, "timestamp": row["timestamp"] - dt.timedelta(minutes=draw(st.sampled_from([1, 90]))),
                "sender_type": draw(st.sampled_from(["customer", "llm"])), "metadata": {"handoff_requested": True}}
    return {**row, "status": "active", "outlet_id": None, "started_at": row["started_at"] + dt.timedelta(hours=draw(st.sampled_from([-30, 2])))}


def _event(table: str, data: dict[str, Any], version: int | None, op: str = "upsert") -> dict[str, Any]:
    item: dict[str, Any] = {"type": table[:-1], "data": data if op == "upsert" else {"id": data["id"]}}
    if op != "upsert":
        item["op"] = op
    if version is not None:
        item["version"] = version
    return item


def history(case: Case, draw: st.DrawFn) -> list[dict[str, Any]]:
    """Every event that leads to `case.rows`, with older versions, rows created then deleted
    (a conversation with its messages, a message alone) and duplicates, shuffled."""
    items = []
    for table in ("conversations", "messages"):
        for row in case.rows[table]:
            items.append(_event(table, row, FINAL))
            if draw(st.integers(0, 2)) == 0:
                items.append(_event(table, _older(row, table, draw), draw(st.integers(0, FINAL - 1))))
    conversations = case.rows["conversations"]
    if conversations:
        gone = {**draw(st.sampled_from(conversations)), "id": "gone"}
        items += [_event("conversations", gone, 1), _event("conversations", gone, DELETED, "delete")]
        for n in range(draw(st.integers(0, 3))):
            message = {"id": f"gone-{n}", "conversation_id": "gone", "sender_type": "customer", "sender_id": None,
                       "content": "x", "timestamp": gone["started_at"], "metadata": None}
            items.append(_event("messages", message, 1))
        extra = {"id": "extra", "conversation_id": conversations[0]["id"], "sender_type": "llm", "sender_id": None,
                 "content": "x", "timestamp": conversations[0]["started_at"], "metadata": {"tokens_used": 9}}
        items += [_event("messages", extra, 1), _event("messages", extra, 2, "delete"), _event("messages", extra, 0)]
    items += draw(st.lists(st.sampled_from(items), max_size=5)) if items else []
    return draw(st.permutations(items))


def batches(items: list[dict[str, Any]], draw: st.DrawFn) -> list[list[dict[str, Any]]]:
    cuts = sorted(draw(st.lists(st.integers(0, len(items)), max_size=3)))
    return [items[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True) if items[a:b]]


def stored_ids(engine: Engine, table: str) -> set[str]:
    statement = f"SELECT id FROM {table}"
    if engine.name.startswith("duckdb"):
        rows = engine.executor._cursor().execute(statement).fetchall()  # type: ignore[attr-defined]
    else:
        rows = engine.executor._read(statement, ())  # type: ignore[attr-defined]
    return {row[0] for row in rows}


# Several batches per example, each with its refresh of the derived tables (the HTTP and stream tests converge too): a tenth of the budget.
@on_engines(share=0.1, case=cases(), data=st.data())
@writable
def test_events_in_any_order_converge_to_the_final_rows(engine: Engine, case: Case, data: st.DataObject) -> None:
    metrics = engine.fresh()
    for batch in batches(history(case, data.draw), data.draw):
        metrics.store.apply(ev.check(batch))
    got = metrics.dashboard(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity).to_dict()
    expected = reference.dashboard(
        case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz, granularity=case.granularity, outlet_id=case.outlet_id
    )
    for series in ("conversations", "messages", "handoffs", "costs"):
        assert_same(got[series], expected[series], series)
    for table in ("conversations", "messages"):
        assert stored_ids(engine, table) == {row["id"] for row in case.rows[table]}, table


CONVERSATION = {"id": "c1", "tenant_id": TENANT, "outlet_id": None, "customer_phone": "+1", "status": "active",
                "started_at": "2025-11-01T10:00:00Z", "ended_at": None, "last_message_at": None}
MESSAGE = {"id": "m1", "conversation_id": "c1", "sender_type": "customer", "sender_id": None, "content": "hi",
           "timestamp": "2025-11-01T10:00:00Z", "metadata": None}


@writable
def test_without_versions_the_last_write_wins(engine: Engine) -> None:
    metrics = engine.fresh()
    resolved = {**CONVERSATION, "status": "resolved"}
    metrics.store.apply(ev.check([_event("conversations", resolved, 5), _event("conversations", CONVERSATION, None)]))
    assert metrics.summary(TENANT, "2025-11-01", "2025-11-01", tz="UTC").resolution_rate == 0.0
    # A versioned event after an unversioned one applies whatever its version.
    metrics.store.apply(ev.check([_event("conversations", resolved, 1)]))
    assert metrics.summary(TENANT, "2025-11-01", "2025-11-01", tz="UTC").resolution_rate == 1.0
    # ... and then an older one does not.
    metrics.store.apply(ev.check([_event("conversations", CONVERSATION, 0)]))
    assert metrics.summary(TENANT, "2025-11-01", "2025-11-01", tz="UTC").resolution_rate == 1.0


@writable
def test_a_message_of_a_deleted_conversation_stays_deleted(engine: Engine) -> None:
    metrics = engine.fresh()
    metrics.store.apply(ev.check([_event("conversations", CONVERSATION, 1), _event("messages", MESSAGE, 1)]))
    applied = metrics.store.apply(ev.check([_event("conversations", CONVERSATION, 2, "delete")]))
    assert applied.tenants == {TENANT}
    # Late: the message again, and the conversation's older version.
    metrics.store.apply(ev.check([_event("messages", {**MESSAGE, "content": "again"}, 3), _event("conversations", CONVERSATION, 1)]))
    assert stored_ids(engine, "conversations") == stored_ids(engine, "messages") == set()
    assert metrics.summary(TENANT, "2025-11-01", "2025-11-01", tz="UTC").total_messages == 0
    # A newer version brings the conversation back; its messages come with their own events.
    metrics.store.apply(ev.check([_event("conversations", CONVERSATION, 4), _event("messages", MESSAGE, 4)]))
    assert metrics.summary(TENANT, "2025-11-01", "2025-11-01", tz="UTC").total_messages == 1


@writable
def test_a_refused_batch_writes_nothing(engine: Engine) -> None:
    metrics = engine.fresh()
    with pytest.raises(InvalidEvent) as raised:
        ev.check([_event("conversations", CONVERSATION, 1), _event("messages", {**MESSAGE, "timestamp": "yesterday"}, 1)])
    assert raised.value.field == "events[1].data.timestamp"
    if engine.name.startswith("postgres"):
        # Values the loader takes but PostgreSQL cannot store: the whole transaction goes.
        with pytest.raises(LoadError, match="nothing was written"):
            metrics.store.apply(ev.check([_event("conversations", CONVERSATION, 1), _event("messages", {**MESSAGE, "content": "a\x00b"}, 1)]))
        assert stored_ids(engine, "conversations") == set()


@pytest.mark.parametrize("engine", ["bigquery"], indirect=True, scope="session")
def test_bigquery_refuses_events(engine: Engine) -> None:
    metrics = engine.fresh()
    with pytest.raises(ConfigError, match="does not take events: BigQuery's copy is synced by the CRM's pipeline"):
        metrics.store.apply(ev.check([_event("conversations", CONVERSATION, 1)]))


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ("nope", "events[0]", "must be a JSON object"),
        ({"type": "chat", "data": {}}, "events[0].type", "must be one of tenant, conversation, message"),
        ({"type": "message", "op": "merge", "data": {}}, "events[0].op", "must be upsert or delete"),
        ({"type": "message", "version": -1, "data": {}}, "events[0].version", "whole number"),
        ({"type": "message", "version": True, "data": {}}, "events[0].version", "whole number"),
        ({"type": "message", "data": []}, "events[0].data", "must be a JSON object"),
        ({"type": "message", "extra": 1, "data": {}}, "events[0].extra", "unknown field"),
        ({"type": "message", "data": {**MESSAGE, "colour": "red"}}, "events[0].data.colour", "unknown column"),
        ({"type": "message", "op": "delete", "data": {"id": "m1", "content": "x"}}, "events[0].data.content", "only the row's id"),
        ({"type": "tenant", "op": "delete", "data": {"id": "acme"}}, "events[0].data.id", "must be a UUID"),
        ({"type": "message", "op": "delete", "data": {}}, "events[0].data.id", "is required"),
        ({"type": "conversation", "data": {**CONVERSATION, "tenant_id": None}}, "events[0].data.tenant_id", "is required"),
        ({"type": "message", "data": {**MESSAGE, "metadata": "{oops"}}, "events[0].data.metadata", "not valid JSON"),
    ],
)
def test_each_bad_event_names_its_index_and_field(item: Any, field: str, message: str) -> None:
    with pytest.raises(InvalidEvent) as raised:
        ev.check([item])
    assert raised.value.field == field and message in raised.value.message, raised.value


def test_decode() -> None:
    assert ev.decode(b'[{"a": 1}]', ndjson=False) == [{"a": 1}]
    assert ev.decode(b'{"a": 1}\n\n{"b": 2}\n', ndjson=True) == [{"a": 1}, {"b": 2}]
    for body, ndjson, field in [(b'{"a": 1}', False, "body"), (b"[NaN]", False, "body"), (b'{"a": 1}\n{oops', True, "events[1]"), (b"\xff", False, "body")]:
        with pytest.raises(InvalidEvent) as raised:
            ev.decode(body, ndjson=ndjson)
        assert raised.value.field == field
    with pytest.raises(InvalidEvent, match="at most 2"):
        ev.check([{}, {}, {}], max_events=2)
