"""Priced costs (docs/costs.md, COST_MODEL=priced) against the flat model: the dashboard, the
summary and the costs of the largest and the median tenant over 30 days, on DuckDB (the embedded store) and on PostgreSQL
after `init-db --rollup`, flat and priced interleaved in the same loop. Runs alone:

    python -m bench.priced          (make bench-priced)

It reads the small set (bench/generate.py), loads it into a DuckDB file and a private
PostgreSQL schema (dropped afterwards), and writes its section of bench/report.md (between the
priced markers, kept by a full `make bench`) and bench/priced.json. The priced side uses the
example tables (examples/prices/). A few minutes. Target (issue 18): priced at most 1.5× flat.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from bench import generate, machine, measure, report, stores
from bench.measure import Clock, windows
from bench.stores import STORES
from crm_metrics import Metrics, Settings

RESULT = Path(__file__).parent / "priced.json"
START, END = "<!-- priced:start -->", "<!-- priced:end -->"
EXAMPLES = Path(__file__).parent.parent / "examples" / "prices"
#: Priced may cost at most this many times the flat dashboard.
TARGET_RATIO = 1.5
#: The flat token price of the tables that are not the installed rate card (per-request pricing).
OTHER_TOKEN_PRICE = 0.16
_NUMBERED_FREE_ROWS = "SELECT 1 FROM cost_slots WHERE kind = 'whatsapp' AND NOT charged AND phone IS NOT NULL LIMIT 1"


def priced_settings(url: str) -> Settings:
    return Settings(
        database_url=url, cost_model="priced",
        whatsapp_prices=str(EXAMPLES / "whatsapp.csv"), llm_prices=str(EXAMPLES / "llm.csv"),
    )


#: The answers whose costs the priced rollup's columns serve (crm_metrics/service.py STORED_PRICES);
#: the costs answer exists under COST_MODEL=priced only (no flat figure to compare with).
ANSWERS = ("dashboard", "summary", "costs")


def contest(flat: Metrics, priced: Metrics, window: measure.Window) -> dict[str, Any]:
    """Each answer flat, priced by the rollup's rate card (installed: its priced columns),
    and priced by other tables (another flat token price: cost_slots priced per request)."""
    asked = (window.tenant_id, window.start, window.end)
    other = Metrics(priced.executor, dataclasses.replace(priced.settings, llm_price_per_million_tokens=OTHER_TOKEN_PRICE))
    assert priced.store.installed_card() == priced.rate_card != other.rate_card, "the bench measures the installed rate card"
    result: dict[str, Any] = {}
    for answer in ANSWERS:
        def ask(metrics: Metrics, answer: str = answer) -> object:
            return getattr(metrics, answer)(*asked, tz=window.tz)

        has_flat = answer != "costs"
        contestants = {"flat": lambda: ask(flat)} if has_flat else {}
        timings = measure.interleaved({**contestants, "priced": lambda: ask(priced), "per_request": lambda: ask(other)})
        summary = timings.summary()
        result[answer] = {
            "flat_ms": summary["flat"]["median_ms"] if has_flat else None,
            "priced_ms": summary["priced"]["median_ms"],
            "ratio": timings.ratio("priced", "flat") if has_flat else None,
            "per_request_ms": summary["per_request"]["median_ms"],
            "per_request_ratio": timings.ratio("per_request", "flat" if has_flat else "priced"),
            "runs": summary["priced"]["runs"],
        }
    costs = priced.costs(*asked, tz=window.tz).totals
    return {
        **result,
        "layout": priced.plan(flat.resolve(_query(window)).period, priced=True).shape.layout,
        "charged": costs.whatsapp_charged_messages,
        "free": costs.whatsapp_free_messages,
        "llm_calls": costs.total_llm_calls,
        "load_average": measure.load_average(),
    }


def install(url: str) -> float | None:
    """The example tables as the store's rate card (what `crm-metrics serve` does at start
    under COST_MODEL=priced): the rollup's priced columns by them. Its seconds; None where
    the store had that card already (a DuckDB store of an earlier run)."""
    started = time.perf_counter()
    with Metrics.connect(url, settings=dataclasses.replace(priced_settings(url), query_timeout_seconds=0)) as writer:
        if not writer.store.card_tables:
            writer.store.init_db()  # a store made before the priced rollup: its columns and tables
        installed = writer.install_prices()
    return round(time.perf_counter() - started, 1) if installed else None


def _query(window: measure.Window) -> Any:
    from crm_metrics import request

    return request.query(window.tenant_id, window.start, window.end, None, window.tz)


def run() -> dict[str, Any]:
    clock = Clock()
    full, small = generate.ensure(progress=clock)
    targets = windows(full)
    result: dict[str, Any] = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine.details()}
    result["window"] = {"start_date": str(targets["largest"].start), "end_date": str(targets["largest"].end)}

    path = STORES / "priced-small.duckdb"
    if path.exists():
        with Metrics.connect(f"duckdb:///{path}", read_only=True) as cached:
            stale = cached.layout != "rollup"  # made before the store had cost_slots
        if not stale:
            with duckdb.connect(str(path), read_only=True) as raw:
                # made before free messages lost their number in cost_slots (docs/costs.md)
                stale = bool(raw.execute(_NUMBERED_FREE_ROWS).fetchall())
        if stale:
            path.unlink()
    if not path.exists():
        clock("DuckDB: loading the small set ...")
        stores.duckdb_store(small, path, clock)
    url = f"duckdb:///{path}"
    result["duckdb_install_seconds"] = install(url)
    clock(f"  the rate card installed in {result['duckdb_install_seconds']} s")
    result["duckdb"] = {}
    with Metrics.connect(url, read_only=True) as flat:
        priced = Metrics(flat.executor, priced_settings(url))
        for label, window in targets.items():
            clock(f"DuckDB, {label} tenant: dashboard, summary, costs: flat vs priced ...")
            result["duckdb"][label] = contest(flat, priced, window)
            clock(f"  {result['duckdb'][label]}")

    if reason := stores.postgres_available():
        result["postgres"] = {"skipped": reason}
    else:
        with stores.postgres_schema() as schema:
            url = stores.schema_url(schema)
            clock(f"PostgreSQL: loading the small set into {schema}, then init-db --rollup ...")
            stores.postgres_store(small, url, clock)
            stores.postgres_rollup(url)
            result["postgres_install_seconds"] = install(url)
            clock(f"  the rate card installed in {result['postgres_install_seconds']} s")
            result["postgres"] = {}
            with Metrics.connect(url, read_only=True) as flat:
                priced = Metrics(flat.executor, dataclasses.replace(priced_settings(url), database_url=url))
                for label, window in targets.items():
                    clock(f"PostgreSQL (rollup), {label} tenant: dashboard, summary, costs: flat vs priced ...")
                    result["postgres"][label] = contest(flat, priced, window)
                    clock(f"  {result['postgres'][label]}")
    result["seconds"] = round(clock.seconds(), 1)
    return result


def section(result: Mapping[str, Any]) -> str:
    """The report's section, markdown."""
    window = result["window"]
    lines = [
        START,
        "## Priced costs (docs/costs.md): the dashboard, the summary and the costs, flat vs priced",
        "",
        f"Written by `python -m bench.priced` on {result['started_at']} (commit `{result['machine']['commit'][:10]}`; "
        f"reference work {result['machine']['speed_ms']} ms, bench/machine.py speed_ms), in "
        f"{result['seconds'] / 60:.1f} minutes; figures in bench/priced.json. The window is {window['start_date']} .. "
        f"{window['end_date']} in each tenant's timezone, read from the small set; one round is an answer (the dashboard, the summary, the costs: §8's series and totals, which "
        "exist under COST_MODEL=priced only) under "
        "COST_MODEL=flat, under COST_MODEL=priced with the example tables installed as the store's rate card (the "
        "rollup's priced columns, docs/costs.md \"The priced rollup\": what `crm-metrics serve` does at start), and "
        "under tables that are not the installed card (cost_slots priced per request: a process whose tables another "
        f"process replaced), interleaved, medians. Target: priced ≤ {TARGET_RATIO:g}× flat. The bench data carries what a CRM writes (bench/generate.py, as the demo): LLM "
        "messages with their model and input/output tokens, Meta's pricing object on the business's messages (LLM "
        "and agent replies free, system notices charged utility templates, priced by each tenant's market).",
        "",
        "| engine | tenant | answer | flat | priced | priced / flat | met? | other tables, per request | / flat | priced layout | charged | llm calls | runs | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for engine in ("duckdb", "postgres"):
        measured = result.get(engine, {})
        if "skipped" in measured:
            lines.append(f"| {engine} | - | - | not measured: {measured['skipped']} | | | | | | | | | | |")
            continue
        for label, m in measured.items():
            name = "DuckDB" if engine == "duckdb" else "PostgreSQL (rollup)"
            for answer in ANSWERS:
                a = m[answer]
                if a["flat_ms"] is None:  # priced only: per request against the card's columns
                    flat, ratio, met, per = "-", "-", "-", f"{a['per_request_ratio']:.2f}× priced"
                else:
                    flat, ratio, per = f"{a['flat_ms']:.1f} ms", f"{a['ratio']:.2f}×", f"{a['per_request_ratio']:.2f}×"
                    met = "yes" if a["ratio"] <= TARGET_RATIO else "**no**"
                lines.append(
                    f"| {name} | {label} | {answer} | {flat} | {a['priced_ms']:.1f} ms | {ratio} | {met} | "
                    f"{a['per_request_ms']:.1f} ms | {per} | {m['layout']} | {m['charged']:,} | {m['llm_calls']:,} | {a['runs']} | {m['load_average']} |"
                )
    installs = [
        f"{name} {'installed by an earlier run' if result[key] is None else f'{result[key]} s'}"
        for name, key in (("DuckDB", "duckdb_install_seconds"), ("PostgreSQL", "postgres_install_seconds")) if key in result
    ]
    if installs:
        lines += ["", f"Installing the example card (every slot of the small set repriced, one transaction): {', '.join(installs)}."]
    lines.append(END)
    return "\n".join(lines) + "\n"


def main() -> None:
    started = time.perf_counter()
    result = run()
    report.write_section(result, RESULT, START, END, section(result))
    print(section(result))
    print(f"bench.priced: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
