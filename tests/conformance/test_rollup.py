"""The embedded store's rollup (metric_slots): which requests it answers, and that loads keep
it exact, late and corrected rows included (crm_metrics/derived.py states the rule)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import strategies as st

from crm_metrics import Metrics, request
from tests.support import reference
from tests.support.compare import assert_same
from tests.support.properties import on_engines
from tests.support.engines import FIXED_NOW, DuckDBEngine, Engine
from tests.support.strategies import TENANT, Case, cases, datasets


@pytest.mark.parametrize(
    ("tz", "start", "layout"),
    [
        ("UTC", "2025-11-01", "rollup"),
        ("America/New_York", "2025-10-20", "rollup"),  # a DST change in the range
        ("Asia/Kathmandu", "2025-11-01", "rollup"),  # +05:45
        ("Pacific/Chatham", "2025-03-20", "rollup"),  # +13:45 / +12:45
        ("Europe/Amsterdam", "1935-06-01", "facts"),  # +00:19:32: midnight is inside a slot
        ("Africa/Monrovia", "1960-06-01", "facts"),  # -00:44:30 until 1972
        ("America/New_York", "1900-01-01", "rollup"),  # local mean time ended in 1883
    ],
)
def test_the_rollup_answers_where_local_days_are_whole_slots(tz: str, start: str, layout: str) -> None:
    engine = DuckDBEngine()
    engine.start()
    try:
        metrics = engine.fresh()
        first = dt.date.fromisoformat(start)
        period = request.period(first, first + dt.timedelta(days=29), tz, now=FIXED_NOW, max_days=366)
        assert metrics.plan(period).shape.layout == layout
    finally:
        engine.stop()


@st.composite
def old_cases(draw: st.DrawFn) -> Case:
    """Rows and ranges in 1935 and 1960, when Amsterdam's and Monrovia's offsets were not whole
    quarter hours (the rollup cannot cut those days; the derived tables answer)."""
    window = draw(st.sampled_from([dt.date(1935, 6, 3), dt.date(1960, 3, 10)]))
    first = draw(st.integers(0, 6))
    start, end = window + dt.timedelta(days=first), window + dt.timedelta(days=first + draw(st.integers(0, 6)))
    return Case(
        rows=draw(datasets(window, start, end)),
        start=start,
        end=end,
        tz=draw(st.sampled_from(["Europe/Amsterdam", "Africa/Monrovia", "UTC"])),
        granularity=draw(st.sampled_from(["day", "week"])),
        outlet_id=None,
    )


@on_engines(case=old_cases())
def test_ranges_off_the_slots_match_the_reference(engine: Engine, case: Case) -> None:
    metrics = engine.fresh(case.rows)
    got = metrics.dashboard(TENANT, case.start, case.end, tz=case.tz, granularity=case.granularity).to_dict()
    expected = reference.dashboard(
        case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz, granularity=case.granularity, outlet_id=None
    )
    for series in ("conversations", "messages", "handoffs", "costs"):
        assert_same(got[series], expected[series], series)
    summary = metrics.summary(TENANT, case.start, case.end, tz=case.tz).to_dict()
    want = reference.summary(case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz, outlet_id=None)
    assert_same({k: summary[k] for k in want}, want, "summary")


def _stale(row: dict, table: str, draw: st.DrawFn) -> dict:
    """An earlier, wrong version of a row: another time, conversation, tenant or outlet."""
    if table == "messages":
        return {
            **row,
            "conversation_id": draw(st.sampled_from([row["conversation_id"], "c0", "c1", "nowhere"])),
            "timestamp": row["timestamp"] + dt.timedelta(minutes=draw(st.sampled_from([-90, -1, 7, 600]))),
            "sender_type": draw(st.sampled_from(["customer", "llm", row["sender_type"]])),
            "metadata": draw(st.sampled_from([None, {"handoff_requested": True, "trigger": "keyword"}, row["metadata"]])),
        }
    return {
        **row,
        "tenant_id": draw(st.sampled_from([row["tenant_id"], TENANT])),
        "outlet_id": draw(st.sampled_from([None, row["outlet_id"], "0b1e7000-0000-4000-8000-00000000000b"])),
        "started_at": row["started_at"] + dt.timedelta(hours=draw(st.sampled_from([-30, -1, 2]))),
        "status": draw(st.sampled_from(["active", row["status"]])),
    }


# Several loads per example, each with its refresh of the derived tables: half the budget.
@on_engines(share=0.5, case=cases(), data=st.data())
def test_rows_loaded_late_in_pieces_and_corrected_match_the_reference(engine: Engine, case: Case, data: st.DataObject) -> None:
    """Loads in any order and any pieces, some rows first in a wrong version that a later load
    replaces (same id): the answer is the final rows' answer."""
    metrics = engine.fresh()
    loads: list[tuple[str, list[dict]]] = []
    for table in ("conversations", "messages"):
        rows = case.rows[table]
        stale = [_stale(row, table, data.draw) for row in rows if data.draw(st.integers(0, 3)) == 0]
        if stale:
            loads.append((table, stale))
        cut = sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=2)))
        loads += [(table, part) for part in (rows[a:b] for a, b in zip([0, *cut], [*cut, len(rows)], strict=True)) if part]
    # In any order: messages before their conversations, a correction before its first version.
    last: dict[tuple[str, str], dict] = {}
    for index in data.draw(st.permutations(range(len(loads)))):
        table, rows = loads[index]
        metrics.store.load_rows(table, rows)
        last |= {(table, row["id"]): row for row in rows}
    # Where a wrong version landed last, a final load corrects it.
    for table in ("conversations", "messages"):
        if fixes := [row for row in case.rows[table] if last[(table, row["id"])] != row]:
            metrics.store.load_rows(table, fixes)
    got = metrics.dashboard(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity).to_dict()
    expected = reference.dashboard(
        case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz, granularity=case.granularity, outlet_id=case.outlet_id
    )
    for series in ("conversations", "messages", "handoffs", "costs"):
        assert_same(got[series], expected[series], series)


def test_init_db_adds_the_rollup_to_a_store_made_before_it(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'old.duckdb'}"
    rows = {
        "conversations": [{"id": "c1", "tenant_id": TENANT, "outlet_id": None, "customer_phone": "+1", "status": "resolved",
                           "started_at": "2025-11-01T10:00:00Z", "ended_at": "2025-11-01T10:30:00Z", "last_message_at": None}],
        "messages": [{"id": "m1", "conversation_id": "c1", "sender_type": "customer", "sender_id": None, "content": "hi",
                      "timestamp": "2025-11-01T10:00:00Z", "metadata": None},
                     {"id": "m2", "conversation_id": "c1", "sender_type": "llm", "sender_id": None, "content": "hello",
                      "timestamp": "2025-11-01T10:00:04Z", "metadata": {"tokens_used": 40}}],
    }
    with Metrics.connect(url) as metrics:
        metrics.store.init_db()
        metrics.executor.run_script("DROP TABLE metric_slots")
    with Metrics.connect(url) as metrics:
        assert metrics.layout == "facts"
        for table, table_rows in rows.items():
            metrics.store.load_rows(table, table_rows)
        before = metrics.summary(TENANT, "2025-11-01", "2025-11-01").to_dict()
        metrics.store.init_db()
        assert metrics.layout == "rollup"
        assert metrics.summary(TENANT, "2025-11-01", "2025-11-01").to_dict() == before
        assert before["total_messages"] == 2 and before["average_response_time_seconds"] == 4.0
