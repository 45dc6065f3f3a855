"""Priced costs (docs/metrics.md §8, COST_MODEL=priced) on every engine and layout, against the
plain-Python reference: the costs answer with its markets, the dashboard's cost series, the
summary's total_cost and §7.2's cohort cost, all from one load."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from crm_metrics import Metrics
from crm_metrics.prices import LLMPrice, PriceTables, WhatsAppPrice
from tests.support import reference
from tests.support.compare import assert_same
from tests.support.engines import FIXED_NOW, Engine
from tests.support.properties import on_engines
from tests.support.strategies import TENANT, PricedCase, priced_cases


def priced(engine: Engine, tables: object, rows: dict) -> Metrics:
    """A Metrics under COST_MODEL=priced with `tables` over exactly `rows`."""
    engine.fresh(rows)
    settings = dataclasses.replace(engine.settings, cost_model="priced")
    return Metrics(engine.executor, settings, clock=lambda: FIXED_NOW, prices=tables)  # type: ignore[arg-type]


@on_engines(share=0.5, given=priced_cases())
def test_priced_costs_match_reference(engine: Engine, given: PricedCase) -> None:
    case, tables = given.case, given.tables
    metrics = priced(engine, tables, case.rows)
    asked = dict(tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz)
    want = reference.costs(case.rows, tables, **asked, granularity=case.granularity, outlet_id=case.outlet_id)

    got = metrics.costs(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity, group_by="market").to_dict()
    assert_same({"series": got["series"], "totals": got["totals"], "markets": got["markets"]}, want, "costs")

    dashboard = metrics.dashboard(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity).to_dict()
    assert_same(dashboard["costs"], want["series"], "dashboard.costs")
    summary = metrics.summary(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz).to_dict()
    assert_same(summary["total_cost"], want["totals"]["total_cost"], "summary.total_cost")
    if metrics.store.card_tables:
        # The priced rollup (docs/costs.md): these tables installed as the store's rate card,
        # the dashboard, the summary and the costs read the rollup's priced columns; the
        # reference's answers still. (The card stays for the next example: its load keeps the columns by
        # it, or another example's tables find it is not theirs and price cost_slots.)
        metrics.install_prices()
        stored = metrics.dashboard(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity).to_dict()
        assert_same(stored["costs"], want["series"], "dashboard.costs (priced rollup)")
        stored_summary = metrics.summary(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz).to_dict()
        assert_same(stored_summary, summary, "summary (priced rollup)")
        stored_costs = metrics.costs(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity, group_by="market").to_dict()
        assert_same({"series": stored_costs["series"], "totals": stored_costs["totals"], "markets": stored_costs["markets"]}, want, "costs (priced rollup)")

    # The overview: the priced dashboard, and the summary's priced total_cost added up from its buckets.
    overview = metrics.overview(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity)
    assert overview.dashboard.to_dict() == dashboard
    assert_same(overview.summary.to_dict(), summary, "overview.summary")

    outcomes = metrics.outcomes(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity).to_dict()
    cohort = reference.priced_cohort_costs(case.rows, tables, **asked, granularity=case.granularity, outlet_id=case.outlet_id)
    assert_same([row["cohort_cost"] for row in outcomes["series"]], [cohort[b] for b in cohort if b is not None], "outcomes.cohort_cost")
    assert_same(outcomes["totals"]["cohort_cost"], cohort[None], "outcomes.totals.cohort_cost")


def test_a_new_price_table_changes_answers_without_a_reload(engine: Engine) -> None:
    """One load, two rate cards: the second adds a row with an earlier valid_from and a longer
    prefix; every layout answers each table's reference at once (nothing about prices is stored)."""
    import datetime as dt

    from crm_metrics.prices import LLMPrice, PriceTables, WhatsAppPrice

    day = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC)
    rows = {
        "conversations": [
            {"id": "c1", "tenant_id": TENANT, "outlet_id": None, "customer_phone": "+12425550000", "status": "resolved",
             "started_at": day, "ended_at": None, "last_message_at": None},
        ],
        "messages": [
            {"id": "m1", "conversation_id": "c1", "sender_type": "system", "sender_id": None, "content": "x", "timestamp": day,
             "metadata": {"pricing": {"type": "regular", "category": "utility"}}},
            {"id": "m2", "conversation_id": "c1", "sender_type": "llm", "sender_id": None, "content": "x", "timestamp": day,
             "metadata": {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 10}},
        ],
    }
    first = PriceTables((WhatsAppPrice("1", "utility", 0.004, dt.date(2025, 1, 1)),), (LLMPrice("*", 1.0, 2.0, dt.date(2025, 1, 1)),))
    second = PriceTables(
        (*first.whatsapp, WhatsAppPrice("1242", "utility", 0.02, dt.date(2024, 1, 1))),
        (*first.llm, LLMPrice("gpt-4o", 2.5, 10.0, dt.date(2024, 1, 1))),
    )
    engine.fresh(rows)
    asked = dict(tenant_id=TENANT, start=dt.date(2025, 3, 10), end=dt.date(2025, 3, 10), tz="UTC")
    answers = []
    for tables in (first, second):
        metrics = Metrics(engine.executor, dataclasses.replace(engine.settings, cost_model="priced"), clock=lambda: FIXED_NOW, prices=tables)
        got = metrics.costs(TENANT, "2025-03-10", "2025-03-10", tz="UTC", group_by="market").to_dict()
        want = reference.costs(rows, tables, **asked)
        assert_same({"series": got["series"], "totals": got["totals"], "markets": got["markets"]}, want, "costs")
        answers.append(got["totals"]["total_cost"])
    assert answers[0] != answers[1]


#: The outlet of the priced rollup's conversations.
OUTLET = "123e4567-e89b-12d3-a456-426614174000"


class Statements:
    """Stands in for an executor and keeps the SQL of every statement it runs."""

    def __init__(self, executor: Any) -> None:
        self._executor, self.sql = executor, []

    def fetch(self, query: Any, values: Any) -> Any:
        self.sql.append(query.sql)
        return self._executor.fetch(query, values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._executor, name)


@pytest.mark.parametrize("engine", ["duckdb", "postgres-rollup", "postgres-live"], indirect=True, scope="session")
def test_the_priced_rollup_answers_for_its_own_rate_card_only(engine: Engine) -> None:
    """docs/costs.md, "The priced rollup": with a rate card installed, the dashboard, summary and
    costs of a process with those tables read the rollup's priced columns (no cost_slots); a process
    with other tables prices cost_slots, and installing its card turns the first one back.
    Writes after the install keep the columns by the card. Every answer is its tables' reference."""
    day = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC)
    conversation = {"tenant_id": TENANT, "outlet_id": OUTLET, "status": "resolved", "started_at": day, "ended_at": None, "last_message_at": None}
    rows: dict[str, list[dict[str, Any]]] = {
        "conversations": [{**conversation, "id": "c1", "customer_phone": "+12425550000"}, {**conversation, "id": "c2", "customer_phone": "+4477000"}],
        "messages": [
            {"id": "m1", "conversation_id": "c1", "sender_type": "system", "sender_id": None, "content": "x", "timestamp": day,
             "metadata": {"pricing": {"type": "regular", "category": "utility"}}},
            {"id": "m2", "conversation_id": "c1", "sender_type": "llm", "sender_id": None, "content": "x", "timestamp": day,
             "metadata": {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 10}},
            {"id": "m3", "conversation_id": "c2", "sender_type": "llm", "sender_id": None, "content": "x", "timestamp": day + dt.timedelta(days=1),
             "metadata": {"tokens_used": 500}},
        ],
    }
    first = PriceTables((WhatsAppPrice("1", "utility", 0.004, dt.date(2025, 1, 1)),), (LLMPrice("*", 1.0, 2.0, dt.date(2025, 1, 1)),))
    second = PriceTables(
        (*first.whatsapp, WhatsAppPrice("1242", "utility", 0.02, dt.date(2024, 1, 1)), WhatsAppPrice("44", "marketing", 0.05, dt.date(2024, 1, 1))),
        (*first.llm, LLMPrice("gpt-4o", 2.5, 10.0, dt.date(2025, 3, 11))),
    )
    engine.fresh(rows)
    asked = dict(tenant_id=TENANT, start=dt.date(2025, 3, 10), end=dt.date(2025, 3, 12), tz="UTC")

    def answer(tables: PriceTables, outlet_id: str | None = None) -> tuple[list[dict[str, Any]], str]:
        statements = Statements(engine.executor)
        metrics = Metrics(statements, dataclasses.replace(engine.settings, cost_model="priced"), clock=lambda: FIXED_NOW, prices=tables)  # type: ignore[arg-type]
        want = reference.costs(rows, tables, **asked, outlet_id=outlet_id)
        got = metrics.dashboard(TENANT, asked["start"], asked["end"], tz="UTC", outlet_id=outlet_id).to_dict()["costs"]
        assert_same(got, want["series"], f"dashboard.costs, outlet {outlet_id}")
        dashboard_sql = statements.sql[-1]
        total_cost = metrics.summary(TENANT, asked["start"], asked["end"], tz="UTC", outlet_id=outlet_id).total_cost
        assert_same(total_cost, want["totals"]["total_cost"], f"summary.total_cost, outlet {outlet_id}")
        summary_sql = statements.sql[-1]
        costs = metrics.costs(TENANT, asked["start"], asked["end"], tz="UTC", outlet_id=outlet_id).to_dict()
        assert_same({"series": costs["series"], "totals": costs["totals"]}, {"series": want["series"], "totals": want["totals"]}, f"costs, outlet {outlet_id}")
        # The summary and the costs read where the dashboard reads: all the priced columns, or all cost_slots.
        assert {"cost_slots" in sql for sql in (summary_sql, statements.sql[-1])} == {"cost_slots" in dashboard_sql}
        return got, dashboard_sql

    def install(tables: PriceTables) -> bool:
        return Metrics(engine.executor, dataclasses.replace(engine.settings, cost_model="priced"), prices=tables).install_prices()

    assert install(first) is True
    assert install(first) is False  # installed already: nothing repriced
    for outlet_id in (None, OUTLET):
        assert "cost_slots" not in answer(first, outlet_id)[1]
    assert "cost_slots" in answer(second, None)[1]
    assert install(second) is True
    assert "cost_slots" in answer(first, None)[1]
    assert "cost_slots" not in answer(second, None)[1]

    # A late WhatsApp template to the market of 44 and a message moved by a day: the rollup's
    # priced columns follow the write (the store's refresh, or the live rollup's applier).
    rows["messages"].append({"id": "m4", "conversation_id": "c2", "sender_type": "agent", "sender_id": None, "content": "x",
                             "timestamp": day, "metadata": {"pricing": {"type": "regular", "category": "marketing"}}})
    rows["messages"][0] = {**rows["messages"][0], "timestamp": day + dt.timedelta(days=2)}
    engine.fresh(rows) if engine.name != "duckdb" else Metrics(engine.executor, engine.settings).store.load_rows("messages", rows["messages"])
    stored, sql = answer(second, None)
    assert "cost_slots" not in sql
    assert stored == answer(second, OUTLET)[0]
