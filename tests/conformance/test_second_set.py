"""docs/metrics.md §7 (responses, outcomes, previous period, outlets, heat map), checked on every
engine against the plain-Python reference (tests/support/reference.py), on the strategies'
generated data: one load per example, every §7 answer asked of it."""

from __future__ import annotations

from crm_metrics.request import query
from tests.support import reference
from tests.support.compare import assert_same
from tests.support.engines import Engine
from tests.support.properties import on_engines
from tests.support.strategies import TENANT, Case, cases


@on_engines(case=cases())
def test_second_set_matches_reference(engine: Engine, case: Case) -> None:
    metrics = engine.fresh(case.rows)
    asked = dict(tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz)
    dates = (case.start, case.end)

    for kind, expected in (
        ("responses", reference.responses(case.rows, **asked, granularity=case.granularity, outlet_id=case.outlet_id)),
        ("outcomes", reference.outcomes(case.rows, **asked, granularity=case.granularity, outlet_id=case.outlet_id)),
    ):
        data = metrics.answer(kind, query(TENANT, *dates, case.outlet_id, case.tz, case.granularity)).to_dict()
        assert (data["period_start"], data["timezone"], data["granularity"]) == (case.start.isoformat(), case.tz, case.granularity)
        assert_same({"series": data["series"], "totals": data["totals"]}, expected, kind)

    compared = metrics.summary(TENANT, *dates, outlet_id=case.outlet_id, tz=case.tz, compare="previous").to_dict()
    expected = reference.compared_summary(case.rows, **asked, outlet_id=case.outlet_id)
    assert_same({k: compared[k] for k in expected}, expected, "summary?compare=previous")

    outlets = metrics.outlets(TENANT, *dates, tz=case.tz).to_dict()
    assert list(outlets) == ["tenant_id", "period_start", "period_end", "timezone", "outlets"]
    assert_same(outlets["outlets"], reference.outlets(case.rows, **asked), "outlets")

    heatmap = metrics.heatmap(TENANT, *dates, outlet_id=case.outlet_id, tz=case.tz).to_dict()
    assert_same(heatmap["cells"], reference.heatmap(case.rows, **asked, outlet_id=case.outlet_id), "heatmap")
