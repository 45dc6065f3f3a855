"""Reads of the seed's tables as they are (no `--rollup`), and what BigQuery would bill for them.

    python -m bench.seed_reads                 # alone: loads the full set into a private
                                               # PostgreSQL schema (about 5 minutes), measures,
                                               # updates bench/report.json and report.md
    python -m bench.seed_reads --schema NAME   # on a schema that already holds the full set

PostgreSQL: the library on the seed's tables (dashboard + summary, 30 days, in one call:
`Metrics.overview`, one statement as the baseline's) against the hand-written baseline query (bench/baseline.py: a join and JSON over the same tables, no
derived tables), interleaved in one loop on the same data, for the largest and the median
tenant; the baseline's numbers are checked against the library's. Both run with the session
settings of the library's connections.

BigQuery: the bytes a 30-day and a 365-day request would read, computed from the partition
filters of the compiled BigQuery SQL (crm_metrics/partitions.py: which columns each scan
reads, in which UTC days) and the generated data's column sizes per day in BigQuery's logical
units (STRING 2 bytes + UTF-8 length, TIMESTAMP 8, JSON its UTF-8 text); without and with a
look-around bound. Not an emulator dry run: the emulator estimates every query at 0 bytes.
BigQuery's own estimate is the same sum (it prices partitions and columns; clustering only
lowers what is billed afterwards).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

import duckdb

from bench import baseline, generate, machine, measure, pandas_metrics, report, stores
from bench.measure import Clock, windows
from crm_metrics import Metrics, Settings, planning, request
from crm_metrics.compiler import compile_sql
from crm_metrics.partitions import scans

Progress = Callable[[str], None]
#: The look-around bound priced for BigQuery (docs/bigquery.md suggests it).
LOOKAROUND_DAYS = 30


def measure_postgres(url: str, targets: Mapping[str, measure.Window], progress: Progress) -> dict[str, Any]:
    """Library (seed layout) vs the hand-written baseline, interleaved, per tenant."""
    import psycopg

    results: dict[str, Any] = {}
    for label, window in targets.items():
        progress(f"PostgreSQL, seed's tables, {label} tenant: library vs hand-written baseline ...")
        settings = Settings(database_url=url, query_timeout_seconds=0)
        with Metrics.connect(url, read_only=True, settings=settings) as metrics, psycopg.connect(url, autocommit=True) as raw:
            assert metrics.layout == "seed", metrics.layout
            for name, value in measure.session_settings(metrics):
                raw.execute("SELECT set_config(%s, %s, false)", (name, value))
            period = request.period(window.start, window.end, window.tz, now=dt.datetime.now(dt.UTC), max_days=366)

            def hand_written() -> dict[str, Any]:
                rows = baseline.rows(raw, window.tenant_id, window.start, window.end, period.range_start, period.range_end, window.tz)
                return baseline.answer(rows)

            def library() -> dict[str, Any]:
                # Dashboard + summary in one call, as the baseline answers both from one statement:
                # the same body measure.answer builds from two calls (dashboard fields, then summary).
                return metrics.overview(window.tenant_id, window.start, window.end).to_dict()

            disagreements = pandas_metrics.compare(library(), hand_written())
            timings = measure.interleaved({"library": library, "baseline": hand_written}, budget=60.0)
        results[label] = {
            "library_ms": timings.median_ms("library"),
            "baseline_ms": timings.median_ms("baseline"),
            "ratio": timings.ratio("library", "baseline"),
            "runs": len(timings.runs["library"]),
            "disagreements": disagreements,
            "load_average": measure.load_average(),
        }
        r = results[label]
        progress(f"  library {r['library_ms']} ms, baseline {r['baseline_ms']} ms ({r['ratio']}×), agree: {not disagreements}")
    return results


# -- BigQuery bytes ---------------------------------------------------------------------------

#: BigQuery's logical size of a column's values, as DuckDB SQL over the generated Parquet.
_SIZE = {
    "TIMESTAMP": 'COUNT("{c}") * 8',
    "STRING": 'SUM(2 + strlen(CAST("{c}" AS VARCHAR)))',
    "JSON": 'SUM(strlen(CAST("{c}" AS VARCHAR)))',
}
_TYPES = {
    "conversations": {
        "id": "STRING", "tenant_id": "STRING", "outlet_id": "STRING", "customer_phone": "STRING", "status": "STRING",
        "started_at": "TIMESTAMP", "ended_at": "TIMESTAMP", "last_message_at": "TIMESTAMP",
    },
    "messages": {
        "id": "STRING", "conversation_id": "STRING", "sender_type": "STRING", "sender_id": "STRING", "content": "STRING",
        "timestamp": "TIMESTAMP", "metadata": "JSON",
    },
}
_PARTITION = {"conversations": "started_at", "messages": "timestamp"}


def column_bytes(dataset: generate.DataSet) -> dict[str, dict[str, dict[dt.date, int]]]:
    """Per table, column and UTC day (the partition): the column's logical bytes."""
    found: dict[str, dict[str, dict[dt.date, int]]] = {}
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        db.execute("SET enable_progress_bar = false")
        for table, types in _TYPES.items():
            sums = ", ".join(f'COALESCE({_SIZE[t].format(c=c)}, 0)' for c, t in types.items())
            rows = db.execute(
                f"SELECT CAST(\"{_PARTITION[table]}\" AS DATE) AS day, {sums} FROM read_parquet(?) GROUP BY day",
                [str(dataset.path(table))],
            ).fetchall()
            found[table] = {column: {row[0]: int(row[i + 1]) for row in rows} for i, column in enumerate(types)}
    return found


def request_bytes(sizes: Mapping[str, Mapping[str, Mapping[dt.date, int]]], kind: str, window: measure.Window, lookaround_days: int) -> int:
    """The bytes the BigQuery statement of `kind` reads for `window`: for each scan, the
    columns it reads over the partitions its filters leave (every partition when unbounded)."""
    settings = Settings(lookaround_days=lookaround_days)
    period = request.period(window.start, window.end, window.tz, now=dt.datetime.now(dt.UTC), max_days=366)
    plan = planning.plan("seed", period, outlet=False, granularity="range" if kind == "summary" else "day", lookaround_days=lookaround_days)
    values = planning.values(window.tenant_id, None, period, settings)
    total = 0
    for scan in scans(compile_sql(kind, "bigquery", plan.shape).sql):
        first, last = scan.days(values)
        for column in scan.columns:
            total += sum(
                size for day, size in sizes[scan.table][column].items()
                if (first is None or day >= first) and (last is None or day <= last)
            )
    return total


def bigquery_bytes(dataset: generate.DataSet, window: measure.Window, progress: Progress) -> dict[str, Any]:
    """Dashboard + summary bytes for the 30 days of `window` and the 365 days to its end,
    unbounded and within LOOKAROUND_DAYS."""
    progress("BigQuery: bytes from the partition filters (30 vs 365 days) ...")
    sizes = column_bytes(dataset)
    year = measure.Window(window.label, window.tenant_id, window.end - dt.timedelta(days=364), window.end, window.tz)
    rows = {}
    for bound in (0, LOOKAROUND_DAYS):
        rows[str(bound)] = {
            label: sum(request_bytes(sizes, kind, w, bound) for kind in ("dashboard", "summary"))
            for label, w in (("30", window), ("365", year))
        }
    table_bytes = {table: sum(sum(days.values()) for days in columns.values()) for table, columns in sizes.items()}
    return {"lookaround_days": LOOKAROUND_DAYS, "bytes": rows, "table_bytes": table_bytes, "window_end": str(window.end)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", help="a PostgreSQL schema that already holds the full set (else one is made and dropped)")
    args = parser.parse_args()
    clock = Clock()
    full, _ = generate.ensure(progress=clock)

    targets = windows(full)
    section: dict[str, Any] = {"bigquery_bytes": bigquery_bytes(full, targets["largest"], clock)}
    if reason := stores.postgres_available():
        section["seed_reads"] = {"skipped": reason}
    elif args.schema:
        section["seed_reads"] = measure_postgres(stores.schema_url(args.schema), targets, clock)
    else:
        with stores.postgres_schema() as schema:
            url = stores.schema_url(schema)
            clock(f"PostgreSQL: loading the full set into schema {schema} ...")
            stores.postgres_store(full, url, clock)
            section["seed_reads"] = measure_postgres(url, targets, clock)
    if not isinstance(section["seed_reads"], dict) or "skipped" not in section["seed_reads"]:
        details = machine.details()
        section["seed_reads"]["measured"] = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": details["commit"][:10],
            "dirty": details["dirty"],
            "speed_ms": details["speed_ms"],
            "alone": True,
        }
    path = report.HERE / "report.json"
    whole = json.loads(path.read_text()) if path.exists() else {}
    whole.update(section)
    report.write(whole)
    clock("updated bench/report.json and bench/report.md")
    for row in report.seed_reads_targets(whole):
        print("  " + " | ".join(row))


if __name__ == "__main__":
    main()
