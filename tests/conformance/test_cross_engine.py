"""The same rows give the same answers on every engine (docs/metrics.md §5): each engine against
DuckDB, field by field, counts exactly and floats to 1e-9 relative.

The conformance suite already holds each engine to the plain-Python reference; this test holds
the engines to each other directly, on the same generated datasets, so that a disagreement
names both engines and the field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from crm_metrics import demo
from crm_metrics.request import ANOMALY_METRICS, FORECAST_METRICS
from tests.support import daily
from tests.support.api import TENANT_A
from tests.support.compare import assert_same
from tests.support.properties import on_engines
from tests.support.engines import ENGINES, DuckDBEngine, Engine
from tests.support.strategies import TENANT, Case, cases


@pytest.fixture(scope="module")
def duckdb() -> Iterator[Engine]:
    engine = DuckDBEngine()
    engine.start()
    yield engine
    engine.stop()


# The DuckDB layouts are each held to the reference by the conformance suite; this holds the
# other engines to DuckDB directly.
@pytest.fixture(scope="module", params=sorted(name for name in ENGINES if not name.startswith("duckdb")))
def other(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = ENGINES[request.param]()
    engine.start()
    yield engine
    engine.stop()


@on_engines(case=cases())
def test_same_answers_as_duckdb(duckdb: Engine, other: Engine, case: Case) -> None:
    answers = []
    for engine in (duckdb, other):
        metrics = engine.fresh(case.rows)
        dashboard = metrics.dashboard(
            TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz, granularity=case.granularity
        )
        summary = metrics.summary(TENANT, case.start, case.end, outlet_id=case.outlet_id, tz=case.tz)
        answers.append({"dashboard": dashboard.to_dict(), "summary": summary.to_dict()})
    assert_same(answers[1], answers[0], f"{engine.name} vs duckdb")


def test_demo_data_same_answers_as_duckdb(duckdb: Engine, engine: Engine) -> None:
    # `crm-metrics demo` writes through the loader on every engine; a realistic week of it
    # (thousands of rows, every tenant and timezone) must read back the same everywhere.
    today, now = dt.date(2025, 11, 4), dt.datetime(2025, 11, 5, 17, 0, tzinfo=dt.UTC)
    answers = []
    for engine in (duckdb, engine):
        metrics = engine.fresh(clock=lambda: now)
        demo.write(metrics, today=today, days=7)
        answers.append({
            tenant.id: {
                "dashboard": metrics.dashboard(tenant.id, today - dt.timedelta(days=6), today, granularity="day").to_dict(),
                "summary": metrics.summary(tenant.id, today - dt.timedelta(days=6), today).to_dict(),
            }
            for tenant in demo.TENANTS
        })
    assert answers[0][demo.TENANTS[0].id]["summary"]["total_conversations"] > 0
    assert_same(answers[1], answers[0], f"{engine.name} vs duckdb")


def test_anomalies_and_forecast_same_as_duckdb(duckdb: Engine, engine: Engine) -> None:
    # docs/anomalies.md: the daily values (sql/metrics/daily_values.sql) of seven weeks of a
    # tenant's rows, a spike and a drop among them, read the same everywhere; so do the
    # anomalies and the forecast computed from them.
    start, end = daily.RANGE
    answers = []
    for each in (duckdb, engine):
        metrics = each.fresh(daily.rows())
        metrics.settings = dataclasses.replace(metrics.settings, anomaly_min_volume=5)
        answers.append({
            **{metric: metrics.anomalies(TENANT_A, metric, start, end).to_dict() for metric in ANOMALY_METRICS},
            **{f"forecast {metric}": metrics.forecast(TENANT_A, metric).to_dict() for metric in FORECAST_METRICS},
        })
    found = answers[0]["total_conversations"]["anomalies"]
    assert [(a["date"], a["direction"]) for a in found] == [(str(daily.DROP), "down"), (str(daily.SPIKE), "up")]
    assert_same(answers[1], answers[0], f"{engine.name} vs duckdb")
