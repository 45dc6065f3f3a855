"""bench/report.json (every figure) and bench/report.md (the targets table first, then details)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
TENANTS = ("largest", "median")


#: The sections that run alone (bench/second_set.py, bench/priced.py): kept when the whole
#: bench rewrites the page.
KEPT = (
    ("<!-- second-set:start -->", "<!-- second-set:end -->"),
    ("<!-- priced:start -->", "<!-- priced:end -->"),
)


def write(report: Mapping[str, Any], directory: Path = HERE) -> None:
    (directory / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    page = directory / "report.md"
    old = page.read_text(encoding="utf-8") if page.exists() else ""
    kept = "".join(
        start + old.partition(start)[2].partition(end)[0] + end + "\n" for start, end in KEPT if start in old and end in old
    )
    page.write_text(markdown(report) + ("\n" + kept if kept else ""))


def write_section(result: Mapping[str, Any], path: Path, start: str, end: str, text: str, directory: Path = HERE) -> None:
    """A section measured alone (one of KEPT): its figures into `path`, its `text` (from `start`
    to `end`) in place of the old one in report.md, or at the end; the rest of the page stays."""
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    page = directory / "report.md"
    old = page.read_text(encoding="utf-8") if page.exists() else ""
    if start in old and end in old:
        before, _, rest = old.partition(start)
        new = before + text + rest.partition(end + "\n")[2]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    page.write_text(new, encoding="utf-8")


# -- the targets ----------------------------------------------------------------------------


def _skipped(section: Any) -> str | None:
    return section.get("skipped") if isinstance(section, Mapping) else "not measured"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f} ms" if value >= 10 else f"{value:,.2f} ms"


def _both(engine: Mapping[str, Any], tenant: str) -> float:
    return float(engine[tenant]["timings"]["dashboard+summary"]["median_ms"])


def _row(measure: str, target: str, check: Callable[[], tuple[str, bool]], *sections: Any) -> tuple[str, str, str, str]:
    for section in sections:
        if reason := _skipped(section):
            return measure, target, "—", f"not measured: {reason}"
    measured, met = check()
    return measure, target, measured, "yes" if met else "**no**"


def targets(report: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    duck, pg, http, size = report.get("duckdb"), report.get("postgres"), report.get("http"), report.get("store_size")

    def overhead() -> tuple[str, bool]:
        parts, ratios = [], []
        for name, engine in (("DuckDB", duck), ("PostgreSQL", pg)):
            if _skipped(engine):
                continue
            values = [engine[t]["overhead_ratio"] for t in TENANTS]
            ratios += values
            parts.append(f"{name}: largest {values[0]:.2f}×, median {values[1]:.2f}×")
        return "; ".join(parts), max(ratios) <= 1.10

    def latency(engine: Any, tenant: str, limit: float) -> Callable[[], tuple[str, bool]]:
        def check() -> tuple[str, bool]:
            value = _both(engine, tenant)
            return _ms(value), value <= limit

        return check

    def pandas() -> tuple[str, bool]:
        parts, ratios = [], []
        for name, engine in (("DuckDB", duck), ("PostgreSQL", pg)):
            if _skipped(engine):
                continue
            largest = engine["largest"]
            ratios.append(largest["pandas_ratio"])
            pandas_ms = largest["timings"]["pandas"]["median_ms"]
            parts.append(f"{name}: {largest['pandas_ratio']:.2f}× (pandas {_ms(pandas_ms)}, library {_ms(_both(engine, 'largest'))})")
        return "; ".join(parts), min(ratios) >= 20

    def cached_http() -> tuple[str, bool]:
        run = http["cached"]
        met = run["requests_per_second"] >= 2000 and run["p99_ms"] is not None and run["p99_ms"] <= 25 and not run["errors"]
        errors = f", errors {run['errors']}" if run["errors"] else ""
        return f"{run['requests_per_second']:,.0f} requests/s, p99 {_ms(run['p99_ms'])}{errors}", met

    def growth() -> tuple[str, bool]:
        values = [size[t]["growth_ratio"] for t in TENANTS]
        same = all(size[t]["same_answer"] for t in TENANTS)
        note = "" if same else " (answers differ!)"
        return f"largest {values[0]:.2f}×, median {values[1]:.2f}×{note}", max(values) < 2 and same

    return [
        _row("library overhead vs the same SQL run directly", "≤ 1.10×", overhead, duck),
        _row(
            "largest tenant, 30-day dashboard + summary, DuckDB, no result cache",
            "≤ 50 ms",
            latency(duck, "largest", 50),
            duck,
        ),
        _row("median tenant, same", "≤ 10 ms", latency(duck, "median", 10), duck),
        _row("vs pandas on the same data and machine", "≥ 20× faster for the largest tenant", pandas, duck),
        _row("PostgreSQL (`init-db --rollup`), largest tenant", "≤ 100 ms", latency(pg, "largest", 100), pg),
        _row("HTTP, cached, 32 concurrent connections", "≥ 2,000 requests/s, p99 ≤ 25 ms", cached_http, http),
        _row("store 10× larger, same tenant", "latency grows < 2×", growth, size),
        *seed_reads_targets(report),
        *_live_targets(report.get("live_rollup")),
    ]


def _live_targets(live: Any) -> list[tuple[str, str, str, str]]:
    """The live rollup's rows (bench/live.py, which also runs alone)."""

    def cost() -> tuple[str, bool]:
        ratios = {case: values["ratio"] for case, values in live["writer_cost"].items()}
        return "; ".join(f"{case}: {ratio:.2f}×" for case, ratio in ratios.items()), max(ratios.values()) <= 1.3

    def freshness() -> tuple[str, bool]:
        lag = live["lag"]
        met = lag["p99_ms"] <= 2000 and not lag["unseen"]
        return f"p99 {lag['p99_ms']:,.0f} ms (p50 {lag['p50_ms']:,.0f} ms) at {lag['writes_per_second']:,.0f} writes/s", met

    return [
        _row("PostgreSQL live rollup: CRM writer's cost with / without its triggers", "≤ 1.3×", cost, live),
        _row("PostgreSQL live rollup: write to rollup lag, 4 writers", "p99 ≤ 2 s at 200 writes/s", freshness, live),
    ]


# -- the page -------------------------------------------------------------------------------


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def markdown(report: Mapping[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# crm-metrics benchmark",
        "",
        f"Written by `make bench` (bench/run.py) on {report['finished_at']}, commit `{m['commit'][:10]}`"
        f"{' (with uncommitted changes)' if m['dirty'] else ''} (\"{m['commit_subject']}\"), "
        f"in {report['seconds'] / 60:.1f} minutes. Every figure is in bench/report.json.",
        "",
        "## Targets",
        "",
    ]
    lines += _table(("measure", "target", "measured", "met?"), targets(report))
    lines += [
        "Latencies are medians over repeated runs of a 30-day window (the tenant's local days "
        f"{report['window']['start_date']} to {report['window']['end_date']}); ratios compare "
        "contestants run interleaved in the same loop. Absolute times are indicative: this is a "
        "shared 2-core machine (load average below).",
        "",
        "## Machine",
        "",
    ]
    versions = ", ".join(f"{name} {version}" for name, version in m["versions"].items() if version)
    lines += _table(
        ("what", "value"),
        [
            ("CPU", f"{m['cpu']}, {m['cores']} cores"),
            ("memory", f"{m['memory_gib']} GiB"),
            ("OS, Python", f"{m['os']}, Python {m['python']}"),
            ("PostgreSQL server", report.get("postgres_server") or "—"),
            ("packages", versions),
            ("load average (1 min) at start / end", f"{m['load_average_at_start'][0]} / {report['load_average_at_end']}"),
            ("reference work (bench/machine.py speed_ms: the same pure-Python work every run)", f"{m.get('speed_ms', '—')} ms"),
        ],
    )
    lines += _data(report) + _engines(report) + _seed_reads(report) + _store_size(report) + _http(report) + _live(report) + _events(report) + _anomalies(report) + _method()
    return "\n".join(lines).rstrip() + "\n"


def _data(report: Mapping[str, Any]) -> list[str]:
    data = report["data"]
    rows = data["rows"]
    lines = ["## Data", ""]
    lines.append(
        f"Generated by bench/generate.py (seed {data['seed']}, {data['seconds']} s, cached under bench/data/): "
        f"{data['first_day']} to {data['last_day']}, {rows['full']['tenants']:,} tenants with Zipf sizes "
        f"(the largest holds {data['largest_share'] * 100:.1f}% of the conversations). The small set is the "
        f"same tenants' last tenth of the year (conversations started from {data['small_set_cutoff']})."
    )
    lines.append("")
    lines += _table(
        ("set", "conversations", "messages", "DuckDB load", "DuckDB file"),
        [
            (
                name,
                f"{rows[name]['conversations']:,}",
                f"{rows[name]['messages']:,}",
                f"{sum(v for k, v in report['loading'][name].items() if k != 'megabytes'):.1f} s",
                f"{report['loading'][name]['megabytes']:,} MB",
            )
            for name in ("full", "small")
        ],
    )
    tenants = report["tenants"]
    lines += _table(
        ("tenant", "size rank", "timezone", "conversations in the window", "messages in the window"),
        [
            (name, tenants[name]["rank"], tenants[name]["tz"], f"{tenants[name]['conversations']:,}", f"{tenants[name]['messages']:,}")
            for name in TENANTS
        ],
    )
    loader = report["loader"]
    load = report["loading"]["full"]
    steps = ", ".join(f"{table} {load[table]:.1f} s" for table in ("tenants", "conversations", "messages"))
    lines += [
        f"Loading: into DuckDB through `Metrics.write` (Arrow tables in the loader's types; it keeps the "
        f"embedded store's derived tables up to date), full set: {steps}. Not through `crm-metrics load`: "
        f"its checks (`loader.prepare_file`, reading the file as Python dicts) handle "
        f"{loader['rows_per_second']:,} rows/s here (measured on {loader['rows']:,} messages), about "
        f"{loader['seconds_for_all_messages']:,.0f} s for the full set's messages. PostgreSQL: below.",
        "",
    ]
    return lines


def _engines(report: Mapping[str, Any]) -> list[str]:
    lines = ["## Latency: library, driver, pandas", ""]
    lines.append(report.get("cache_note", ""))
    lines.append("")
    for name, key in (("DuckDB", "duckdb"), ("PostgreSQL", "postgres")):
        engine = report.get(key)
        lines += [f"### {name}", ""]
        if reason := _skipped(engine):
            lines += [f"Not measured: {reason}.", ""]
            continue
        if key == "postgres":
            lines += [
                f"The full set, in a private schema of the shared server: created by `Metrics.init_db`, "
                f"filled by COPY with the indexes built afterwards, then VACUUM (ANALYZE) as autovacuum would after a bulk load, in "
                f"{engine['loading']['seconds']:.0f} s ({engine['loading']['detail']}). Read as they are "
                f"(the seed's tables, no `--rollup`): the next section. Then "
                f"`init-db --rollup` made the derived tables and the rollup from those rows in "
                f"{engine['rollup_seconds']:.0f} s, in one transaction; the figures below read them.",
                "",
            ]
        rows = []
        for tenant in TENANTS:
            result = engine[tenant]
            t = result["timings"]
            rows.append(
                (
                    tenant,
                    _ms(t["dashboard"]["median_ms"]),
                    _ms(t["summary"]["median_ms"]),
                    _ms(t["dashboard+summary"]["median_ms"]),
                    _ms(t["driver"]["median_ms"]),
                    f"{result['overhead_ratio']:.2f}×",
                    _ms(t["pandas"]["median_ms"]),
                    f"{result['pandas_ratio']:.2f}×",
                    "yes" if not result["pandas_disagreements"] else f"**no** ({len(result['pandas_disagreements'])} fields)",
                    _ms(result["first_call_ms"]),
                    t["dashboard+summary"]["runs"],
                    result["load_average"],
                )
            )
        lines += _table(
            (
                "tenant",
                "dashboard",
                "summary",
                "dashboard + summary",
                "same SQL via driver",
                "library overhead",
                "pandas",
                "pandas / library",
                "pandas agrees",
                "first call",
                "runs",
                "load avg",
            ),
            rows,
        )
        for tenant in TENANTS:
            result = engine[tenant]
            statements = ", ".join(f"{n} {_ms(v)}" for n, v in result["statement_ms"].items())
            lines.append(f"- {tenant}: {result['statements']} statements per dashboard + summary; each alone via the driver: {statements}.")
            for statement, phases in result.get("phases", {}).items():
                parts = ", ".join(f"{phase} {_ms(ms)}" for phase, ms in phases.items())
                lines.append(f"  - where {statement}'s time goes (DuckDB's profiler, medians): {parts}.")
            for problem in result["pandas_disagreements"][:5]:
                lines.append(f"  - pandas disagrees: {problem}")
        lines.append("")
    return lines


def seed_reads_targets(result: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """The targets table's rows of this section."""
    seed = result.get("seed_reads")
    if not isinstance(seed, Mapping) or "largest" not in seed:
        reason = seed.get("skipped", "not measured") if isinstance(seed, Mapping) else "not measured"
        return [("PostgreSQL, seed's tables (no `--rollup`), largest / median tenant", "≤ 1 s / ≤ 20 ms", "—", f"not measured: {reason}")]
    largest, median = seed["largest"], seed["median"]
    return [
        (
            "PostgreSQL, seed's tables (no `--rollup`), largest tenant, vs the hand-written query",
            "≤ 1 s",
            f"{largest['library_ms'] / 1000:,.2f} s; hand-written {largest['baseline_ms'] / 1000:,.2f} s ({largest['ratio']:.2f}×)",
            "yes" if largest["library_ms"] <= 1000 else "**no**",
        ),
        (
            "same, median tenant",
            "≤ 20 ms",
            f"{median['library_ms']:,.1f} ms; hand-written {median['baseline_ms']:,.1f} ms ({median['ratio']:.2f}×)",
            "yes" if median["library_ms"] <= 20 else "**no**",
        ),
    ]


def _seed_reads(result: Mapping[str, Any]) -> list[str]:
    """The section on seed-layout reads and BigQuery bytes."""
    lines = ["## Reads of the seed's tables (PostgreSQL, no `--rollup`) and BigQuery bytes", ""]
    seed = result.get("seed_reads")
    if isinstance(seed, Mapping) and "largest" in seed:
        lines += [
            "The library's 30-day dashboard + summary on the seed's tables as they are, answered together in "
            "one call (`Metrics.overview`, GET /api/v1/metrics/overview: the dashboard's one statement, the "
            "summary added up from its buckets), as the baseline answers both from one statement (turns and "
            "handoffs derived per request from the window's conversations only: docs/postgres.md, seed-layout reads) "
            "against the hand-written query (bench/baseline.py: one statement, a join and JSON over the same "
            "tables, no derived tables, relying on `last_message_at`), interleaved in one loop on the full "
            "set; ratio = library / hand-written, the median of the per-round ratios. Run alone with "
            "`python -m bench.seed_reads`.",
            "",
        ]
        if measured := seed.get("measured"):
            lines += [
                f"This section was measured alone (`python -m bench.seed_reads`) on {measured['at']}, commit "
                f"`{measured['commit']}`{' (with uncommitted changes)' if measured['dirty'] else ''}, reference work "
                f"{measured.get('speed_ms', '—')} ms (bench/machine.py speed_ms); the "
                "rest of the page comes from the run named at the top.",
                "",
            ]
        lines += _table(
            ("tenant", "library (dashboard + summary)", "hand-written query", "library / hand-written", "same numbers", "runs", "load avg"),
            [
                (
                    label,
                    _ms(seed[label]["library_ms"]),
                    _ms(seed[label]["baseline_ms"]),
                    f"{seed[label]['ratio']:.2f}×",
                    "yes" if not seed[label]["disagreements"] else f"**no** ({len(seed[label]['disagreements'])} fields)",
                    seed[label]["runs"],
                    seed[label]["load_average"],
                )
                for label in TENANTS
            ],
        )
        for label in TENANTS:
            for problem in seed[label]["disagreements"][:5]:
                lines.append(f"- {label}: {problem}")
    else:
        reason = seed.get("skipped", "not measured") if isinstance(seed, Mapping) else "not measured"
        lines += [f"PostgreSQL not measured: {reason}.", ""]
    data = result.get("bigquery_bytes")
    if isinstance(data, Mapping):
        days = data["lookaround_days"]
        table = data["table_bytes"]
        lines += [
            f"BigQuery bytes of the largest tenant's dashboard + summary, 30 days and 365 days to "
            f"{data['window_end']}, computed from the partition filters of the compiled BigQuery SQL "
            "(crm_metrics/partitions.py) and the generated data's column sizes per UTC day, in BigQuery's "
            "logical units; not an emulator dry run (the emulator estimates 0 bytes for every query). "
            f"The data holds one year: `conversations` {table['conversations'] / 1e6:,.0f} MB, `messages` "
            f"{table['messages'] / 1e6:,.0f} MB. Without a bound a request reads every partition of both "
            "tables, however short its range.",
            "",
        ]
        rows = []
        for bound, label in (("0", "no bound (the contract)"), (str(days), f"LOOKAROUND_DAYS={days}")):
            thirty, year = data["bytes"][bound]["30"], data["bytes"][bound]["365"]
            rows.append((label, f"{thirty / 1e6:,.1f} MB", f"{year / 1e6:,.1f} MB", f"{thirty / year:.2f}"))
        lines += _table(("bound", "30 days", "365 days", "30 / 365"), rows)
    return lines


def _store_size(report: Mapping[str, Any]) -> list[str]:
    size = report.get("store_size")
    lines = ["## Store 10× larger, same tenant (DuckDB)", ""]
    if reason := _skipped(size):
        return lines + [f"Not measured: {reason}.", ""]
    lines += [
        "The same tenant's same 30-day window, dashboard + summary, on the small store (the last tenth "
        "of the year) and on the full one: the window holds the same rows in both.",
        "",
    ]
    lines += _table(
        ("tenant", "small store", "full store", "growth", "same answer"),
        [
            (
                t,
                _ms(size[t]["timings"]["small"]["median_ms"]),
                _ms(size[t]["timings"]["full"]["median_ms"]),
                f"{size[t]['growth_ratio']:.2f}×",
                "yes" if size[t]["same_answer"] else "**no**",
            )
            for t in TENANTS
        ],
    )
    return lines


def _http(report: Mapping[str, Any]) -> list[str]:
    http = report.get("http")
    lines = ["## HTTP under load", ""]
    if reason := _skipped(http):
        return lines + [f"Not measured: {reason}.", ""]
    lines += [http["note"], ""]
    rows = []
    for name, run in http["runs"].items():
        rows.append(
            (
                name,
                f"{run['requests_per_second']:,.1f}",
                _ms(run["p50_ms"]),
                _ms(run["p90_ms"]),
                _ms(run["p99_ms"]),
                f"{run['requests']:,}",
                run["errors"] or "none",
                run["seconds"],
            )
        )
    return lines + _table(("run", "requests/s", "p50", "p90", "p99", "requests", "errors", "seconds"), rows)


def events_targets(report: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """The events section's targets (issue 12): message events ingested per second on DuckDB,
    freshness p99 at 1,000 events/s sustained."""
    events = report.get("events")
    if _skipped(events):
        return [("events ingested, DuckDB", "≥ 5,000 message events/s", f"not measured: {_skipped(events)}", "—")]
    duck = events["duckdb"]
    best = max(duck["http"]["events_per_second"], duck["stream"]["events_per_second"])
    rates = f"HTTP {duck['http']['events_per_second']:,}/s, stream {duck['stream']['events_per_second']:,}/s"
    rows = [("message events ingested, DuckDB", "≥ 5,000 events/s", rates, "yes" if best >= 5000 else "**no**")]
    p99 = {
        f"{engine} {way}": events[engine][f"freshness_{way}"]["p99_ms"]
        for engine in ("duckdb", "postgres")
        if not _skipped(events.get(engine))
        for way in ("stream", "http")
    }
    shown = ", ".join(f"{name} {value:,.0f} ms" for name, value in p99.items())
    rows.append(("freshness p99 at 1,000 events/s (XADD/POST to an uncached dashboard)", "≤ 1 s", shown, "yes" if max(p99.values()) <= 1000 else "**no**"))
    return rows


def _events(report: Mapping[str, Any]) -> list[str]:
    events = report.get("events")
    lines = ["## Events (ingestion and freshness)", ""]
    if events is None:
        return []
    if reason := _skipped(events):
        return lines + [f"Not measured: {reason}.", ""]
    lines += [
        f"`python -m bench.events` (bench/events.py) on {events['started_at']}, load average {events['load_average_at_start']:.2f} "
        f"at start and {events['load_average_at_end']:.2f} at end, reference work {events.get('speed_ms', '—')} ms "
        f"(bench/machine.py speed_ms). The store holds the demo data ({events['store']['conversations']:,} "
        f"conversations, {events['store']['messages']:,} messages; the rollup layout); the events are new messages of "
        "the last three days' conversations.",
        "",
    ]
    lines += _table(("target", "wanted", "measured", "met?"), events_targets(report))
    rows = []
    for engine in ("duckdb", "postgres"):
        figures = events.get(engine)
        if reason := _skipped(figures):
            rows.append((engine, f"not measured: {reason}", "", "", "", ""))
            continue
        for way in ("http", "stream"):
            t, f = figures[way], figures[f"freshness_{way}"]
            rows.append(
                (
                    f"{engine}, {way}",
                    f"{t['events_per_second']:,} ({t['events']:,} in batches of {t['batch']:,}, {t['seconds']} s)",
                    f"{f['rate_offered']:,}",
                    _ms(f["p50_ms"]),
                    _ms(f["p99_ms"]),
                    f"{f['probes_seen']} of {f['probes']} probes seen, max {_ms(f['max_ms'])}",
                )
            )
    lines += _table(("engine, way in", "events/s ingested", "events/s offered", "freshness p50", "freshness p99", "of"), rows)
    lines += [
        "Throughput: HTTP is `crm-metrics serve` in its own process taking POSTs of NDJSON one after the "
        "other; the stream is the consumer (server/stream.py) in the bench's process draining a stream "
        "filled beforehand. Each batch is one transaction that also refreshes the derived tables and the "
        "rollup for the messages it changes (docs/events.md: each touched conversation's facts from the "
        "last reply before its earliest change on, and the rollup by the difference of what those rows "
        "add to each slot before and after); the consumer reads up to "
        "EVENTS_MAX_BATCH entries at once, so a consumer behind takes the backlog in one batch. The events "
        "go to the ~600 conversations of the last three days, which grow by 150-200 messages each over "
        "the run (so a batch's work has to follow the messages it changes, not the conversations' length). Freshness: `crm-metrics serve` with EVENTS_STREAM, no "
        "result cache, 1,000 message events/s offered the same way in (by XADD 100 every 100 ms; by POST "
        "a batch of 1,000 every second, not waiting for the answers); a probe adds one message to a tenant "
        "of its own the same way (by XADD every 250 ms; by POST as one event of each second's batch), and "
        "a watcher polls that tenant's dashboard until it counts the probe (counted from the run's own "
        "start: the stream run's probes are there when the HTTP run begins).",
        "",
    ]
    return lines


def _live(report: Mapping[str, Any]) -> list[str]:
    live = report.get("live_rollup")
    lines = ["## PostgreSQL live rollup", ""]
    if reason := _skipped(live):
        return lines + [f"Not measured: {reason} (`python -m bench.live` runs this section alone).", ""]
    fill, lag = live["fill"], live["lag"]
    lines += [
        "bench/live.py (`python -m bench.live` runs it alone), on the small set in PostgreSQL. "
        "Writer's cost: messages written into the latest conversations, the live rollup's "
        "triggers enabled and disabled in interleaved rounds (medians of "
        f"{next(iter(live['writer_cost'].values()))['rounds']} rounds each). Server CPU: the "
        "writing backend's CPU time (/proc/PID/schedstat), which the machine's other load moves "
        "far less than wall time.",
        "",
    ]
    lines += _table(
        ("write", "without the triggers", "with them", "ratio", "server CPU a row, without → with"),
        [
            (
                case,
                f"{v['without_ms_per_row']} ms a row",
                f"{v['with_ms_per_row']} ms a row",
                f"{v['ratio']:.2f}×",
                f"{v['without_server_cpu_us_per_row']} → {v['with_server_cpu_us_per_row']} µs ({v['server_cpu_ratio']:.2f}×)"
                if "server_cpu_ratio" in v
                else "not measured",
            )
            for case, v in live["writer_cost"].items()
        ],
    )
    lines += [
        f"Lag: {lag['writers']} writers inserting single messages at {lag['writes_per_second']:,.0f} writes/s "
        f"for {lag['seconds']} s ({lag['writes']:,} writes) while `crm-metrics serve` applied them "
        "(default `ROLLUP_POLL_SECONDS`); each message looked up in `message_facts` every 10 ms "
        "from its commit (the rollup's rows are written in the same transaction). The percentiles "
        "are of the writes seen within a minute after the writers stopped; the others are counted "
        "as never seen."
        + (f" Load average (1 min) at the end of the writes: {lag['load_average']}." if "load_average" in lag else ""),
        "",
    ]
    lines += _table(
        ("p50", "p90", "p99", "max", "never seen"),
        [(_ms(lag["p50_ms"]), _ms(lag["p90_ms"]), _ms(lag["p99_ms"]), _ms(lag["max_ms"]), lag["unseen"])],
    )
    lines += [
        f"`init-db --rollup` on those rows took {fill['seconds']} s while a writer inserted a message "
        f"every 20 ms; its slowest insert meanwhile took {_ms(fill['writer']['max_ms'])} "
        f"(p50 {_ms(fill['writer']['p50_ms'])}, {fill['writer']['count']} inserts).",
        "",
    ]
    return lines


def _method() -> list[str]:
    return [
        "## Method",
        "",
        "- Library: `Metrics.dashboard(...)` (day series) and `Metrics.summary(...)` with explicit dates, "
        "the tenant's timezone from `tenants`, default settings; the store opened read-only, as the server does.",
        "- Same SQL via driver: the statements the library ran for that answer (recorded at its executor, "
        "with their bound values) replayed on a raw `duckdb` / `psycopg` connection of the same database "
        "with the same session settings (DuckDB: TimeZone; PostgreSQL: every setting the executor gives "
        "its sessions, read from pg_settings, e.g. jit = off), fetching all rows. Both start fresh for "
        "each tenant (PostgreSQL caches plans per connection).",
        "- pandas: bench/pandas_metrics.py, what a user writes without crm-metrics: two plain SELECTs "
        "(the tenant's conversations overlapping the window, and their messages) into DataFrames, then "
        "vectorised pandas with `json.loads` on metadata; every field of the day dashboard and the "
        "summary is checked against the library's (counts exactly, floats to 1e-9).",
        "- Each comparison runs its contestants interleaved, in reverse order every other round (the "
        "library against the driver in one loop, the library against pandas in another), one warm-up round, "
        "then at least 5 timed rounds and more while a 20 s budget lasts (at most 31). Times are medians; a "
        "ratio is the median of the per-round ratios (library / driver, pandas / library, full / small store), "
        "each round's contestants having run back to back.",
        "",
    ]


def anomalies_targets(report: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """The anomalies section's targets (issue 16) on the synthetic evaluation."""
    section = report.get("anomalies")
    if _skipped(section):
        return [("anomalies", "see docs/anomalies.md", f"not measured: {_skipped(section)}", "—")]
    s = section["evaluation"]["summary"]

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f}%"

    return [
        ("anomaly recall, departures ≥ 5 sd", "≥ 90%", pct(s["recall"]), "yes" if (s["recall"] or 0) >= 0.9 else "**no**"),
        ("anomaly precision, departures ≥ 5 sd", "≥ 90%", pct(s["precision"]), "yes" if (s["precision"] or 0) >= 0.9 else "**no**"),
        ("false alarms on clean series, worst metric", "≤ 1 per 90 days", f"{s['worst_false_alarms_per_90_days']:.2f}", "yes" if s["worst_false_alarms_per_90_days"] <= 1 else "**no**"),
        ("alarms on series under the volume floor", "0", str(s["alarms_under_floor"]), "yes" if s["alarms_under_floor"] == 0 else "**no**"),
    ]


def _anomalies(report: Mapping[str, Any]) -> list[str]:
    section = report.get("anomalies")
    if section is None:
        return []
    lines = ["## Anomalies and forecasts", ""]
    if reason := _skipped(section):
        return lines + [f"Not measured: {reason}.", ""]
    evaluation, forecast = section["evaluation"], section["forecast"]
    t = evaluation["thresholds"]
    lines += [
        f"`python -m bench.anomalies` (bench/anomalies.py; `make bench-anomalies`) on {section['started_at']}, load average "
        f"{section['load_average_at_start']:.2f} at start and {section['load_average_at_end']:.2f} at end. The method and "
        "the evaluation's design: docs/anomalies.md.",
        "",
        f"**Detection** on synthetic daily series (bench/synthetic.py; seeds {evaluation['seeds'][0]} to {evaluation['seeds'][1] - 1}, "
        f"{evaluation['days_evaluated']} days judged after {t['history_weeks']} weeks of history, at {', '.join(f'{v:,}' for v in evaluation['volumes'])} "
        f"conversations a day; band {t['band']} robust sd, volume floor {t['min_volume']}), computed in {evaluation['seconds']} s:",
        "",
    ]
    lines += _table(("target", "wanted", "measured", "met?"), anomalies_targets(report))

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.0f}%"

    lines += _table(
        ("injected", "departures", "found (recall)", "flags", "precision"),
        [(k, f"{v['injected']:,}", f"{v['found']:,} ({pct(v['recall'])})", f"{v['flags']:,}", pct(v["precision"])) for k, v in evaluation["by_size"].items()],
    )
    sizes = sorted({size for by in evaluation["by_metric_and_size"].values() for size in by}, key=float)
    lines += _table(
        ("metric", *(f"recall / precision at {s} sd" for s in sizes), "false alarms per 90 days (clean)", "alarms under the floor"),
        [
            (m, *(f"{pct(by[s]['recall'])} / {pct(by[s]['precision'])}" for s in sizes), f"{evaluation['false_alarms_per_90_days'][m]:.2f}", str(evaluation["alarms_under_floor"][m]))
            for m, by in evaluation["by_metric_and_size"].items()
        ],
    )
    tenants = ", ".join(f"rank {t['rank']} ({t['conversations_per_day']:,}/day)" for t in forecast["tenants"])
    lines += [
        f"**Forecast backtest** on the bench data (bench/generate.py's full set, seed 42): the tenants of size {tenants}, each month "
        f"from March to December ({forecast['months']} months) predicted from its first 10 and 20 days (actual so far plus the "
        "same-weekday median of the 8 weeks before for each remaining day), against the naive forecast \"same as last month\" "
        f"(the previous month's total), mean absolute percentage error over tenants and months. Loading the six tenants' rows "
        f"took {sum(forecast['loading_seconds'].values()):.0f} s; the whole backtest {forecast['seconds']} s.",
        "",
    ]
    mape, coverage = forecast["mape_percent"], forecast["range_covers_actual_percent"]
    lines += _table(
        ("metric", "MAPE from day 10", "MAPE from day 20", "MAPE naive (last month)", "range holds the actual, day 10 / day 20"),
        [(m, f"{v['day 10']:.1f}%", f"{v['day 20']:.1f}%", f"{v['naive']:.1f}%", f"{coverage[m]['day 10']:.0f}% / {coverage[m]['day 20']:.0f}%") for m, v in mape.items()],
    )
    return lines
