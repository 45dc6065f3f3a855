"""The contract, checked on every engine against the plain-Python reference (tests/reference.py)."""

from __future__ import annotations

from hypothesis import given

from tests import reference
from tests.compare import assert_same
from tests.engines import Engine
from tests.strategies import TENANT, Case, cases


def _expected_dashboard(case: Case) -> dict:
    return reference.dashboard(
        case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz,
        granularity=case.granularity, outlet_id=case.outlet_id,
    )


@given(case=cases())
def test_dashboard_matches_reference(engine: Engine, case: Case) -> None:
    metrics = engine.fresh(case.rows)
    got = metrics.dashboard(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity)
    data = got.to_dict()
    assert (data["period_start"], data["period_end"], data["timezone"], data["granularity"]) == (
        case.start.isoformat(), case.end.isoformat(), case.tz, case.granularity,
    )
    expected = _expected_dashboard(case)
    for series in ("conversations", "messages", "handoffs", "costs"):
        assert_same(data[series], expected[series], series)


@given(case=cases())
def test_summary_matches_reference(engine: Engine, case: Case) -> None:
    metrics = engine.fresh(case.rows)
    data = metrics.summary(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz).to_dict()
    expected = reference.summary(case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz, outlet_id=case.outlet_id)
    assert_same({k: data[k] for k in expected}, expected, "summary")
