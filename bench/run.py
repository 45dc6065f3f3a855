"""`make bench`: generate the data if missing, load it, measure everything, write the report.

    python -m bench.run

Writes bench/report.md and bench/report.json. Needs PostgreSQL on 127.0.0.1:5432 (database
`test`; a private schema is created and dropped) and wrk for the HTTP figures; a part that
cannot run is reported as not measured, with the reason.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import time
from typing import Any

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench import generate, http_load, live, machine, measure, pandas_metrics, report, seed_reads, stores
from bench.measure import MEDIAN_RANK, Clock, windows
from bench.stores import STORES
from crm_metrics import Metrics



def largest_share(full: generate.DataSet) -> float:
    conversations = pq.read_table(full.path("conversations"), columns=["tenant_id"])
    counts = pc.value_counts(conversations["tenant_id"]).field("counts")
    return round(pc.max(counts).as_py() / conversations.num_rows, 4)


def measure_duckdb(path: str, targets: dict[str, measure.Window], progress: Clock) -> dict[str, Any]:
    url = f"duckdb:///{path}"
    results: dict[str, Any] = {}
    for label, window in targets.items():
        progress(f"DuckDB, {label} tenant: library, driver, pandas ...")
        with Metrics.connect(url, read_only=True) as metrics:
            # Same process, same file, same read-only configuration: DuckDB hands out a
            # connection to the very database instance the library uses (one buffer pool).
            raw = duckdb.connect(path, read_only=True)
            reader = pandas_metrics.duckdb_reader(raw)
            results[label] = measure.paths(metrics, measure.duckdb_replay(raw), _pandas(reader, window), window)
            results[label]["phases"] = measure.duckdb_phases(raw, measure.statements(metrics, window))
            raw.close()
        _said(progress, results[label])
    return results


def _pandas(reader: pandas_metrics.Reader, window: measure.Window) -> Any:
    return lambda: pandas_metrics.compute(reader, window.tenant_id, window.start, window.end, window.tz)


def _said(progress: Clock, result: dict[str, Any]) -> None:
    t = result["timings"]
    progress(
        f"  dashboard+summary {t['dashboard+summary']['median_ms']} ms, driver {t['driver']['median_ms']} ms "
        f"(overhead {result['overhead_ratio']}×), pandas {t['pandas']['median_ms']} ms ({result['pandas_ratio']}×), "
        f"pandas agrees: {not result['pandas_disagreements']}, runs {t['driver']['runs']}"
    )


def measure_store_size(small: str, full: str, targets: dict[str, measure.Window], progress: Clock) -> dict[str, Any]:
    results = {}
    with Metrics.connect(f"duckdb:///{small}", read_only=True) as small_store, Metrics.connect(f"duckdb:///{full}", read_only=True) as full_store:
        for label, window in targets.items():
            progress(f"DuckDB, {label} tenant: small store vs full store ...")
            results[label] = measure.store_size(small_store, full_store, window)
            progress(f"  growth {results[label]['growth_ratio']}×, same answer: {results[label]['same_answer']}")
    return results


def measure_postgres(full: generate.DataSet, targets: dict[str, measure.Window], progress: Clock) -> dict[str, Any]:
    if reason := stores.postgres_available():
        progress(f"PostgreSQL: skipped: {reason}")
        return {"skipped": reason}
    import psycopg

    results: dict[str, Any] = {}
    with stores.postgres_schema() as schema:
        url = stores.schema_url(schema)
        progress(f"PostgreSQL: loading the full set into schema {schema} ...")
        started = time.perf_counter()
        seconds = stores.postgres_store(full, url, progress)
        results["loading"] = {
            "seconds": round(time.perf_counter() - started, 1),
            "detail": ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()),
        }
        # What users who keep the seed's tables as they are get, against the query they would
        # write by hand (bench/seed_reads.py; `python -m bench.seed_reads` runs it alone).
        results["seed_reads"] = seed_reads.measure_postgres(url, targets, progress)
        progress("PostgreSQL: init-db --rollup (derived tables and rollup from the rows there) ...")
        results["rollup_seconds"] = round(stores.postgres_rollup(url), 1)
        progress(f"  built in {results['rollup_seconds']} s")
        for label, window in targets.items():
            progress(f"PostgreSQL, {label} tenant, through the rollup: library, driver, pandas ...")
            with Metrics.connect(url, read_only=True) as metrics, psycopg.connect(url, autocommit=True) as raw:
                results["server_version"] = raw.execute("SHOW server_version").fetchone()[0]
                reader = pandas_metrics.postgres_reader(raw)
                results[label] = measure.paths(metrics, measure.postgres_replay(raw, metrics), _pandas(reader, window), window)
                results[label]["layout"] = metrics.layout
            _said(progress, results[label])
    return results


def measure_http(path: str, targets: dict[str, measure.Window], progress: Clock) -> dict[str, Any]:
    if reason := http_load.unavailable():
        progress(f"HTTP: skipped: {reason}")
        return {"skipped": reason}
    url = f"duckdb:///{path}"
    log = STORES / "serve.log"
    log.unlink(missing_ok=True)
    runs = {}
    progress("HTTP: cached, largest tenant ...")
    runs["cached, largest tenant"] = http_load.cached(url, targets["largest"].tenant_id, generate.LAST_DAY, log)
    for label in ("largest", "median"):
        progress(f"HTTP: uncached, {label} tenant ...")
        runs[f"uncached, {label} tenant"] = http_load.uncached(url, targets[label].tenant_id, generate.LAST_DAY, log)
    progress("HTTP: uncached, median tenant, one connection ...")
    runs["uncached, median tenant, 1 connection"] = http_load.uncached(url, targets["median"].tenant_id, generate.LAST_DAY, log, connections=1)
    for name, run in runs.items():
        progress(f"  {name}: {run['requests_per_second']} requests/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms, errors {run['errors']}")
    return {
        "cached": runs["cached, largest tenant"],
        "runs": runs,
        "note": (
            f"`crm-metrics serve` on the full DuckDB store (its own process, default settings, in-process "
            f"cache), loaded by wrk (one thread, {http_load.CONNECTIONS} keep-alive connections, another "
            f"process) on 127.0.0.1, GET {http_load.DASHBOARD} with 30-day windows. Cached "
            f"({http_load.SECONDS} s): 4 windows, each answered once before the clock starts. Uncached "
            f"({http_load.UNCACHED_SECONDS} s): CACHE_TTL_SECONDS=0 and 64 different windows in turn, so "
            "that no two requests in flight are identical (the server merges those); requests still "
            "running when the time is up are not counted. The last run has one connection: one "
            "request at a time, the latency of a single uncached answer over HTTP. wrk and the "
            "server share the machine's 2 cores."
        ),
    }


def main() -> None:
    # Stopped by SIGTERM, unwind like Ctrl-C: the PostgreSQL schema and the server go away.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    clock = Clock()
    started_at = dt.datetime.now(dt.UTC)
    details = machine.details()
    clock(f"bench: commit {details['commit'][:10]}, {details['cpu']}, {details['cores']} cores, load average {details['load_average_at_start']}")
    full, small = generate.ensure(progress=clock)
    result: dict[str, Any] = {"machine": details, "started_at": started_at.isoformat(timespec="seconds")}
    result["data"] = generate.manifest(full) | {"largest_share": largest_share(full)}

    paths = {name: STORES / f"{name}.duckdb" for name in ("full", "small")}
    result["loading"] = {}
    for name, dataset in (("full", full), ("small", small)):
        clock(f"DuckDB: loading the {name} set ...")
        result["loading"][name] = stores.duckdb_store(dataset, paths[name], clock)
    clock("loader: timing crm-metrics' own loading path on a slice ...")
    result["loader"] = stores.loader_rate(full)

    targets = windows(full)
    result["window"] = {"start_date": str(targets["largest"].start), "end_date": str(targets["largest"].end)}
    result["cache_note"] = (
        "No result cache: the library has none (every call runs its statements; it remembers only "
        "a tenant's name and timezone, for TENANT_CACHE_SECONDS), so every library figure below is "
        "uncached. \"First call\" is the first answer after opening the store, tenant lookup "
        "included. The server's result cache is measured under HTTP."
    )
    result["duckdb"] = measure_duckdb(str(paths["full"]), targets, clock)
    result["tenants"] = {
        label: {"rank": 1 if label == "largest" else MEDIAN_RANK, "tz": window.tz, **{
            key.removeprefix("total_"): value for key, value in result["duckdb"][label]["totals"].items()
        }}
        for label, window in targets.items()
    }
    result["store_size"] = measure_store_size(str(paths["small"]), str(paths["full"]), targets, clock)
    result["postgres"] = measure_postgres(full, targets, clock)
    result["seed_reads"] = result["postgres"].pop("seed_reads", {"skipped": result["postgres"].get("skipped", "not measured")})
    result["bigquery_bytes"] = seed_reads.bigquery_bytes(full, targets["largest"], clock)
    result["postgres_server"] = result["postgres"].get("server_version")
    result["http"] = measure_http(str(paths["full"]), targets, clock)
    result["live_rollup"] = live.measure(small, clock)
    # Events (bench/events.py; `python -m bench.events` runs this section alone).
    from bench import events

    result["events"] = events.measure(clock)
    # Anomalies and forecasts (bench/anomalies.py; `make bench-anomalies` runs this section alone).
    from bench import anomalies

    result["anomalies"] = anomalies.measure(clock)

    result["load_average_at_end"] = measure.load_average()
    result["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["seconds"] = round(clock.seconds(), 1)
    report.write(result)
    clock(f"bench: done in {result['seconds'] / 60:.1f} minutes; wrote bench/report.md and bench/report.json")
    for measure_name, target, measured, met in report.targets(result):
        print(f"  {measure_name}: {measured} (target {target}): {met}")


if __name__ == "__main__":
    main()
