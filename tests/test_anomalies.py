"""Anomalies and the forecast (docs/anomalies.md): the method on hand-made series, its
evaluation on synthetic ones with fixed seeds (the targets), and the library's answers on rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections.abc import Iterator
from typing import Any

import pytest

from bench import synthetic
from crm_metrics import Metrics, Settings, request
from crm_metrics.anomalies import WATCHED, Thresholds, detect, forecast_month, quantile
from crm_metrics.errors import ConfigError, InvalidParameter

from tests.support import daily
from tests.support.api import TENANT_A
from tests.support.engines import FIXED_NOW

MONDAY = dt.date(2025, 1, 6)


def _series(values: list[float], metric: str = "total_conversations", volume: list[float] | None = None) -> dict[dt.date, dict[str, Any]]:
    watched = WATCHED[metric]
    return {
        MONDAY + dt.timedelta(days=i): {metric: v, watched.volume: (volume[i] if volume else v)}
        for i, v in enumerate(values)
    }


def _last(days: dict[dt.date, Any]) -> dt.date:
    return max(days)


# -- the method --------------------------------------------------------------------------------


def test_the_weekly_rhythm_is_no_anomaly() -> None:
    # Mondays three times the other days, Sundays a fifth: every week alike, with a little noise.
    week = [300, 100, 100, 100, 100, 60, 20]
    values = [v + (i * 7) % 5 for i, v in enumerate(week * 10)]
    days = _series(values)
    assert detect(days, "total_conversations", MONDAY + dt.timedelta(weeks=8), _last(days)) == []


def test_a_spike_and_a_drop_are_found_with_their_band() -> None:
    values = [100 + (i * 7) % 9 for i in range(70)]
    values[63], values[65] = 200, 30
    days = _series(values)
    flags = detect(days, "total_conversations", MONDAY + dt.timedelta(weeks=8), _last(days))
    assert [(f.date, f.direction) for f in flags] == [(MONDAY + dt.timedelta(days=63), "up"), (MONDAY + dt.timedelta(days=65), "down")]
    spike = flags[0]
    same_weekday = [values[63 - 7 * k] for k in range(1, 9)]
    assert spike.expected == statistics.median(same_weekday)
    assert spike.lower < spike.expected < spike.upper < spike.value
    assert spike.score == pytest.approx((spike.value - spike.expected) / ((spike.upper - spike.expected) / Thresholds().band))
    up = detect(days, "total_conversations", MONDAY + dt.timedelta(weeks=8), _last(days), direction="up")
    assert [f.direction for f in up] == ["up"]


def test_small_counts_are_never_flagged() -> None:
    # 2 conversations on Sundays, then 4 (double!), then 19: all under the volume floor (20).
    values = [10, 10, 10, 10, 10, 5, 2] * 9
    values[-1], values[-8] = 4, 19
    days = _series(values)
    assert detect(days, "total_conversations", MONDAY + dt.timedelta(weeks=7), _last(days)) == []
    # Over the floor, the same jump is news.
    values[-1] = 40
    flagged = detect(_series(values), "total_conversations", MONDAY + dt.timedelta(weeks=8), _last(days))
    assert [f.date for f in flagged] == [_last(days)]


def test_rates_are_guarded_by_their_denominator() -> None:
    # A handoff rate of 100% is no news from 3 conversations, but is from 60.
    values = [0.1] * 63
    volume = [60.0] * 63
    days = _series([*values, 1.0], "handoff_rate", [*volume, 3.0])
    assert detect(days, "handoff_rate", _last(days), _last(days)) == []
    days = _series([*values, 1.0], "handoff_rate", [*volume, 60.0])
    assert [f.direction for f in detect(days, "handoff_rate", _last(days), _last(days))] == ["up"]


def test_too_little_history_judges_nothing() -> None:
    values = [100] * 14 + [1000]
    days = _series(values)
    assert detect(days, "total_conversations", _last(days), _last(days)) == []  # two weeks before it
    days = _series([100] * 21 + [1000])
    assert len(detect(days, "total_conversations", _last(days), _last(days))) == 1


def test_days_without_data_are_no_history() -> None:
    # A tenant that started three weeks ago: the empty weeks before do not make it a spike.
    values = [0] * 35 + [100 + i % 3 for i in range(22)]
    days = _series(values)
    assert detect(days, "total_conversations", MONDAY + dt.timedelta(days=56), _last(days)) == []


def test_quantile_is_percentile_cont() -> None:
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile([10, 20, 30], 0.9) == pytest.approx(28.0)
    assert quantile([7], 0.1) == 7


def test_forecast_month_sums_actuals_and_projects_the_rest() -> None:
    # 10 a day on weekdays, 4 on weekends, since well before the month.
    days = {MONDAY + dt.timedelta(days=i): {"total_messages": 4 if (MONDAY + dt.timedelta(days=i)).weekday() >= 5 else 10} for i in range(80)}
    as_of = dt.date(2025, 3, 11)
    month = forecast_month(days, "total_messages", as_of, 8, (0.1, 0.9))
    assert (month.first, month.last) == (dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    assert month.actual == sum(days[dt.date(2025, 3, d)]["total_messages"] for d in range(1, 11))
    assert month.previous == sum(days[dt.date(2025, 2, d)]["total_messages"] for d in range(1, 29))
    full = sum(4 if dt.date(2025, 3, d).weekday() >= 5 else 10 for d in range(1, 32))
    assert month.projected == month.lower == month.upper == full


# -- the evaluation: targets on synthetic series (bench/anomalies.py runs a larger one) ------


def test_evaluation_meets_the_targets() -> None:
    result = synthetic.evaluate(range(2), days=180, volumes=(40, 1000), sizes=(5.0, 6.0, 8.0))
    figures = synthetic.summary(result)
    assert figures["recall"] >= 0.9, figures
    assert figures["precision"] >= 0.9, figures
    assert figures["worst_false_alarms_per_90_days"] <= 1.0, result["false_alarms_per_90_days"]
    assert figures["alarms_under_floor"] == 0, result["alarms_under_floor"]


# -- the library -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows_metrics() -> Iterator[Metrics]:
    settings = Settings(database_url="duckdb:///:memory:", anomaly_min_volume=5)
    with Metrics.connect(settings=settings, clock=lambda: FIXED_NOW) as metrics:
        metrics.store.init_db()
        for table, table_rows in daily.rows().items():
            metrics.store.load_rows(table, table_rows)
        yield metrics


def test_library_finds_the_spike_and_the_drop(rows_metrics: Metrics) -> None:
    start, end = daily.RANGE
    found = rows_metrics.anomalies(TENANT_A, "total_conversations", start, end)
    assert [(a.date, a.direction, a.value) for a in found.anomalies] == [(daily.DROP, "down", 0), (daily.SPIKE, "up", 40)]
    same_weekday = [daily.counts()[daily.SPIKE - dt.timedelta(weeks=k)] for k in range(1, 7)]
    assert found.anomalies[1].expected == statistics.median(same_weekday)
    assert found.to_dict()["anomalies"][1]["date"] == "2025-10-29"
    messages = rows_metrics.anomalies(TENANT_A, "total_messages", start, end, direction="up")
    assert [a.date for a in messages.anomalies] == [daily.SPIKE]
    # The rates do not move: a third handed off every day.
    assert rows_metrics.anomalies(TENANT_A, "handoff_rate", start, end).anomalies == []


def test_today_is_not_judged(rows_metrics: Metrics) -> None:
    # With the clock on the spike's day, that day is not over: its count so far is no anomaly.
    at_spike = Metrics(rows_metrics.executor, rows_metrics.settings, clock=lambda: dt.datetime(2025, 10, 29, 23, 0, tzinfo=dt.UTC))
    found = at_spike.anomalies(TENANT_A, "total_conversations", dt.date(2025, 10, 21), dt.date(2025, 10, 29), tz="UTC")
    assert found.anomalies == []


def test_library_forecast_is_the_month_so_far_and_projected(rows_metrics: Metrics) -> None:
    forecast = rows_metrics.forecast(TENANT_A, "total_conversations", tz="UTC")
    counts = daily.counts()
    assert (forecast.period_start, forecast.period_end, forecast.as_of) == (dt.date(2025, 11, 1), dt.date(2025, 11, 30), dt.date(2025, 11, 4))
    assert forecast.actual_to_date == sum(counts[dt.date(2025, 11, d)] for d in (1, 2, 3))
    assert forecast.previous_month.actual == sum(n for day, n in counts.items() if day.month == 10)
    assert [d.actual for d in forecast.days[:3]] == [counts[dt.date(2025, 11, d)] for d in (1, 2, 3)]
    projected = forecast.days[3:]
    assert [d.date for d in projected] == [dt.date(2025, 11, d) for d in range(4, 31)]
    tuesday = [counts[dt.date(2025, 11, 4) - dt.timedelta(weeks=k)] for k in range(1, 8)]
    assert projected[0].expected == statistics.median(tuesday)
    assert forecast.lower <= forecast.projected <= forecast.upper
    assert forecast.projected == pytest.approx(forecast.actual_to_date + sum(d.expected for d in projected))
    cost = rows_metrics.forecast(TENANT_A, "total_cost", tz="UTC")
    dashboard = rows_metrics.dashboard(TENANT_A, "2025-10-01", "2025-10-31", tz="UTC", granularity="month")
    assert cost.previous_month.actual == pytest.approx(dashboard.costs[0].total_cost)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda m: m.anomalies(TENANT_A, ""), "metric"),
        (lambda m: m.anomalies(TENANT_A, "total_handoffs"), "metric"),
        (lambda m: m.anomalies(TENANT_A, "total_cost", direction="sideways"), "direction"),
        (lambda m: m.forecast(TENANT_A, "handoff_rate"), "metric"),
        (lambda m: m.answer("forecast", request.query(TENANT_A, "2025-11-01", metric="total_cost")), "start_date"),
        (lambda m: m.answer("summary", request.query(TENANT_A, metric="total_cost")), "metric"),
    ],
)
def test_invalid_requests_name_the_field(rows_metrics: Metrics, call: Any, field: str) -> None:
    with pytest.raises(InvalidParameter) as error:
        call(rows_metrics)
    assert error.value.field == field


def test_settings_are_checked_together() -> None:
    with pytest.raises(ConfigError, match="ANOMALY_MIN_HISTORY"):
        Settings.from_env({"ANOMALY_HISTORY_WEEKS": "2", "ANOMALY_MIN_HISTORY": "3"})
    with pytest.raises(ConfigError, match="ANOMALY_BAND"):
        Settings.from_env({"ANOMALY_BAND": "0"})
    assert Thresholds.of(Settings()) == Thresholds()
    assert dataclasses.asdict(Thresholds.of(Settings.from_env({"ANOMALY_MIN_VOLUME": "50"})))["min_volume"] == 50


def test_watched_metrics_are_the_request_rules() -> None:
    assert set(WATCHED) == set(request.ANOMALY_METRICS)
    assert set(request.FORECAST_METRICS) <= set(WATCHED)


def test_the_table_shows_the_forecast_headline(rows_metrics: Metrics) -> None:
    from crm_metrics.output import to_csv, to_table

    forecast = rows_metrics.forecast(TENANT_A, "total_conversations", tz="UTC")
    table = to_table(forecast)
    assert "projected" in table and "previous_month.actual" in table and "\ndays\n" in table
    assert to_csv(forecast).splitlines()[0] == "date,actual,expected,lower,upper"
