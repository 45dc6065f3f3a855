"""Priced costs (docs/metrics.md §8, COST_MODEL=priced) on every engine and layout, against the
plain-Python reference: the costs answer with its markets, the dashboard's cost series, the
summary's total_cost and §7.2's cohort cost, all from one load."""

from __future__ import annotations

import dataclasses

from crm_metrics import Metrics
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

    outcomes = metrics.outcomes(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity).to_dict()
    cohort = reference.priced_cohort_costs(case.rows, tables, **asked, granularity=case.granularity, outlet_id=case.outlet_id)
    assert_same([row["cohort_cost"] for row in outcomes["series"]], [cohort[b] for b in cohort if b is not None], "outcomes.cohort_cost")
    assert_same(outcomes["totals"]["cohort_cost"], cohort[None], "outcomes.totals.cohort_cost")
