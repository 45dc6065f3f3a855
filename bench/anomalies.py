"""Anomalies and forecasts (docs/anomalies.md): the detector's evaluation on synthetic series
with fixed seeds (bench/synthetic.py, larger than the test's), and a forecast backtest on the
bench data: each month of a few tenants predicted from its first 10 and 20 days, against the
naive "same as last month", both measured in the same run. Merged into bench/report.md and
bench/report.json (their `anomalies` section).

    python -m bench.anomalies        # or: make bench-anomalies (a few minutes)

The backtest loads six tenants of the scale data set (bench/generate.py; sizes ranked 2, 5, 10,
20, 50 and 100 of 1,000, from about 4 to 180 conversations a day) into a DuckDB store
through the library's loader, then reads each tenant's daily values for the year in its own
timezone (sql/metrics/daily_values.sql) and forecasts from them with the library's code
(crm_metrics/anomalies.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from bench import generate, report, stores, synthetic
from crm_metrics import Metrics, Settings
from crm_metrics.anomalies import Thresholds, forecast_month
from crm_metrics.loader import Batch
from crm_metrics.request import FORECAST_METRICS

#: Size ranks of the tenants the backtest reads (1 = the largest of 1,000).
RANKS = (2, 5, 10, 20, 50, 100)
#: A month is predicted from its first this many days.
CUTS = (10, 20)
SEEDS = range(4)
STORE = generate.DATA_DIR / "stores" / "anomalies.duckdb"


def evaluation() -> dict[str, Any]:
    started = time.perf_counter()
    thresholds = Thresholds()
    result = synthetic.evaluate(SEEDS, thresholds=thresholds)
    result["summary"] = synthetic.summary(result)
    result["thresholds"] = thresholds.__dict__
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _store(progress: stores.Progress) -> tuple[list[str], dict[str, float]]:
    """The chosen tenants' rows of the full set in a fresh DuckDB store; their ids."""
    full, _ = generate.ensure(progress=progress)
    ids = [generate.tenant_id(rank) for rank in RANKS]
    wanted = pa.array(ids)
    for leftover in (STORE, STORE.with_name(STORE.name + ".wal")):
        leftover.unlink(missing_ok=True)
    STORE.parent.mkdir(parents=True, exist_ok=True)
    url = f"duckdb:///{STORE}"
    seconds: dict[str, float] = {}
    with Metrics.connect(url, settings=Settings(database_url=url)) as metrics:
        metrics.store.init_db()
        tenants = stores.arrow_table(full, "tenants")
        conversations = stores.arrow_table(full, "conversations")
        conversations = conversations.filter(pc.is_in(conversations["tenant_id"], value_set=wanted))
        messages = stores.arrow_table(full, "messages")
        messages = messages.filter(pc.is_in(messages["conversation_id"], value_set=conversations["id"].combine_chunks()))
        for table, rows in (("tenants", tenants.filter(pc.is_in(tenants["id"], value_set=wanted))), ("conversations", conversations), ("messages", messages)):
            started = time.perf_counter()
            metrics.store.write(Batch(table, rows, str(full.path(table))))
            seconds[table] = round(time.perf_counter() - started, 1)
            progress(f"anomalies: {rows.num_rows:,} {table} loaded in {seconds[table]} s")
    return ids, seconds


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def backtest(progress: stores.Progress) -> dict[str, Any]:
    started = time.perf_counter()
    ids, loading = _store(progress)
    weeks = Thresholds().history_weeks
    settings = Settings()
    quantiles = (settings.forecast_lower_quantile, settings.forecast_upper_quantile)
    errors: dict[str, dict[str, list[float]]] = {m: {**{f"day {c}": [] for c in CUTS}, "naive": []} for m in FORECAST_METRICS}
    covered: dict[str, dict[str, list[bool]]] = {m: {f"day {c}": [] for c in CUTS} for m in FORECAST_METRICS}
    per_tenant = []
    with Metrics.connect(f"duckdb:///{STORE}", read_only=True) as metrics:
        for rank, tenant in zip(RANKS, ids, strict=True):
            days = metrics.daily_values(tenant, generate.FIRST_DAY, generate.LAST_DAY)
            per_tenant.append({"rank": rank, "tenant_id": tenant, "conversations_per_day": round(statistics.mean(d["total_conversations"] for d in days.values()), 1)})
            # A month needs its previous month and the weeks before its first cut.
            for month in _months(generate.FIRST_DAY.replace(month=3), generate.LAST_DAY):
                last = (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
                for metric in FORECAST_METRICS:
                    actual = sum(float(days[d][metric]) for d in days if month <= d <= last)
                    if actual <= 0:
                        continue
                    for cut in CUTS:
                        forecast = forecast_month(days, metric, month + dt.timedelta(days=cut), weeks, quantiles)
                        errors[metric][f"day {cut}"].append(abs(forecast.projected - actual) / actual)
                        covered[metric][f"day {cut}"].append(forecast.lower <= actual <= forecast.upper)
                    errors[metric]["naive"].append(abs(forecast.previous - actual) / actual)
    mape = {m: {k: round(100 * statistics.mean(v), 2) for k, v in by.items()} for m, by in errors.items()}
    coverage = {m: {k: round(100 * sum(v) / len(v), 1) for k, v in by.items()} for m, by in covered.items()}
    return {
        "tenants": per_tenant,
        "months": len(errors["total_cost"]["naive"]) // len(RANKS),
        "loading_seconds": loading,
        "mape_percent": mape,
        "range_covers_actual_percent": coverage,
        "seconds": round(time.perf_counter() - started, 1),
    }


def measure(progress: stores.Progress = print) -> dict[str, Any]:
    section: dict[str, Any] = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "load_average_at_start": os.getloadavg()[0]}
    progress("anomalies: the evaluation on synthetic series")
    section["evaluation"] = evaluation()
    progress(f"anomalies: evaluation done in {section['evaluation']['seconds']} s: {section['evaluation']['summary']}")
    section["forecast"] = backtest(progress)
    progress(f"anomalies: forecast backtest done in {section['forecast']['seconds']} s")
    section["load_average_at_end"] = os.getloadavg()[0]
    return section


def main() -> None:
    started = time.perf_counter()

    def progress(line: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {line}", flush=True)

    path = report.HERE / "report.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    result["anomalies"] = measure(progress)
    report.write(result)
    progress("bench.anomalies: done; wrote bench/report.md and bench/report.json")
    for row in report.anomalies_targets(result):
        print("  " + " | ".join(row))


if __name__ == "__main__":
    sys.exit(main())
