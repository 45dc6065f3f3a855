"""The contract, checked on every engine against the plain-Python reference (tests/support/reference.py)."""

from __future__ import annotations


from crm_metrics import request
from crm_metrics import planning
from crm_metrics.compiler import compile_sql
from crm_metrics.models import SERIES, SERIES_TEMPLATES
from tests.support import reference
from tests.support.compare import assert_same
from tests.support.properties import on_engines
from tests.support.engines import FIXED_NOW, Engine
from tests.support.strategies import TENANT, Case, cases


def _expected_dashboard(case: Case) -> dict:
    return reference.dashboard(
        case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz,
        granularity=case.granularity, outlet_id=case.outlet_id,
    )


@on_engines(case=cases())
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


@on_engines(case=cases(), share=0.5)
def test_daily_values_match_reference(engine: Engine, case: Case) -> None:
    """docs/anomalies.md: the daily values anomalies and the forecast read."""
    metrics = engine.fresh(case.rows)
    got = metrics.daily_values(TENANT, case.start, case.end, case.outlet_id, case.tz)
    rows = [{key: (value.isoformat() if key == "date" else value) for key, value in row.items()} for row in got.values()]
    want = reference.daily_values(case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz, outlet_id=case.outlet_id)
    assert_same(rows, want, "daily_values")


@on_engines(case=cases())
def test_summary_and_second_set_match_reference(engine: Engine, case: Case) -> None:
    """§4, and §7 on the same load (responses, outcomes, previous period, outlets, heat map)."""
    metrics = engine.fresh(case.rows)
    data = metrics.summary(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz).to_dict()
    expected = reference.summary(case.rows, tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz, outlet_id=case.outlet_id)
    assert_same({k: data[k] for k in expected}, expected, "summary")

    asked = dict(tenant_id=TENANT, start=case.start, end=case.end, tz=case.tz)
    dates = (case.start, case.end)
    for kind, want in (
        ("responses", reference.responses(case.rows, **asked, granularity=case.granularity, outlet_id=case.outlet_id)),
        ("outcomes", reference.outcomes(case.rows, **asked, granularity=case.granularity, outlet_id=case.outlet_id)),
    ):
        got = metrics.answer(kind, request.query(TENANT, *dates, case.outlet_id, case.tz, case.granularity)).to_dict()
        assert (got["period_start"], got["timezone"], got["granularity"]) == (case.start.isoformat(), case.tz, case.granularity)
        assert_same({"series": got["series"], "totals": got["totals"]}, want, kind)

    compared = metrics.summary(TENANT, *dates, outlet_id=case.outlet_id, tz=case.tz, compare="previous").to_dict()
    want = reference.compared_summary(case.rows, **asked, outlet_id=case.outlet_id)
    assert_same({k: compared[k] for k in want}, want, "summary?compare=previous")

    outlets = metrics.outlets(TENANT, *dates, tz=case.tz).to_dict()
    assert list(outlets) == ["tenant_id", "period_start", "period_end", "timezone", "outlets"]
    assert_same(outlets["outlets"], reference.outlets(case.rows, **asked), "outlets")

    heatmap = metrics.heatmap(TENANT, *dates, outlet_id=case.outlet_id, tz=case.tz).to_dict()
    assert_same(heatmap["cells"], reference.heatmap(case.rows, **asked, outlet_id=case.outlet_id), "heatmap")


@on_engines(case=cases())
def test_each_series_template_alone_matches_the_dashboard(engine: Engine, case: Case) -> None:
    """The per-table templates (for consoles and readers) and sql/dashboard.sql (what the
    library runs) give the same rows."""
    metrics = engine.fresh(case.rows)
    dashboard = metrics.dashboard(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity)
    period = request.period(case.start, case.end, case.tz, now=FIXED_NOW, max_days=366)
    plan = metrics.plan(period, outlet=case.outlet_id is not None, granularity=case.granularity)
    values = planning.values(TENANT, case.outlet_id, period, metrics.settings, plan.offsets)
    for series, template in SERIES_TEMPLATES.items():
        query = compile_sql(template, metrics.executor.dialect, plan.shape)
        alone = [SERIES[series](*row).to_dict() for row in query.normalise(metrics.executor.fetch(query, values))]
        assert_same(alone, dashboard.to_dict()[series], series)


@on_engines(case=cases(), share=0.5)
def test_overview_is_the_dashboard_and_the_summary(engine: Engine, case: Case) -> None:
    """Metrics.overview: the dashboard's one statement answers both, its summary added up from
    the buckets' counts and sums equal to the summary's own statement (docs/metrics.md §4)."""
    metrics = engine.fresh(case.rows)
    asked = dict(outlet_id=case.outlet_id, tz=case.tz)
    overview = metrics.overview(TENANT, case.start, case.end, granularity=case.granularity, **asked)
    dashboard = metrics.dashboard(TENANT, case.start, case.end, granularity=case.granularity, **asked)
    summary = metrics.summary(TENANT, case.start, case.end, **asked)
    assert overview.dashboard == dashboard
    assert_same(overview.summary.to_dict(), summary.to_dict(), "overview.summary")
    assert overview.to_dict() == {**dashboard.to_dict(), "summary": overview.summary.to_dict()}
