"""The second set of answers (docs/metrics.md §7) at scale: the largest and the median
tenant's 30-day responses + outcomes + heat map, on DuckDB (the embedded store: derived tables
and rollup) and on PostgreSQL after `init-db --rollup`, each against pandas computing the same
fields from the same rows in the same run. Runs alone:

    python -m bench.second_set

It reads the small set (bench/generate.py: the tenants' last 36.5 days, so the 30-day window at
the end of the year holds exactly the rows of the full set; the main bench measures what the
store's size adds), loads it into a DuckDB file and a private PostgreSQL schema (dropped
afterwards), checks that pandas and the library agree field by field, and writes its section of
bench/report.md (between the second-set markers) and bench/second_set.json. A few minutes.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bench import generate, machine, measure, pandas_metrics, report, stores
from bench.measure import Clock, windows
from bench.stores import STORES
from crm_metrics import Metrics

RESULT = Path(__file__).parent / "second_set.json"
START, END = "<!-- second-set:start -->", "<!-- second-set:end -->"
#: Targets of issue 13, in milliseconds: DuckDB largest and median tenant, PostgreSQL largest.
TARGETS = {("duckdb", "largest"): 50.0, ("duckdb", "median"): 20.0, ("postgres", "largest"): 100.0}


def library(metrics: Metrics, window: measure.Window) -> dict[str, Any]:
    """The three answers, as their JSON objects."""
    asked = (window.tenant_id, window.start, window.end)
    return {
        "responses": metrics.responses(*asked, tz=window.tz).to_dict(),
        "outcomes": metrics.outcomes(*asked, tz=window.tz).to_dict(),
        "heatmap": metrics.heatmap(*asked, tz=window.tz).to_dict(),
    }


def _local(instants: pd.Series, tz: str) -> pd.Series:
    return instants.dt.tz_convert(tz)


def _quantile(values: pd.Series, p: float) -> float | None:
    values = values.dropna()
    return None if values.empty else float(values.quantile(p, interpolation="linear"))


def _mean(values: pd.Series) -> float | None:
    values = values.dropna()
    return None if values.empty else float(values.mean())


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def pandas_answers(read: pandas_metrics.Reader, window: measure.Window) -> dict[str, Any]:
    """The same fields in pandas: the user's alternative, reading the tenant's conversations
    that overlap the range and all their messages (pandas_metrics' two SELECTs)."""
    tz, start, end = window.tz, window.start, window.end
    zone_start = pd.Timestamp(start).tz_localize(tz)
    zone_end = pd.Timestamp(end + dt.timedelta(days=1)).tz_localize(tz)
    params = {"tenant": window.tenant_id, "range_start": zone_start.to_pydatetime(), "range_end": zone_end.to_pydatetime()}
    conv = read(pandas_metrics.CONVERSATIONS_SQL, params)
    msg = read(pandas_metrics.MESSAGES_SQL, params)
    conv["started_at"] = pd.to_datetime(conv["started_at"], utc=True)
    msg["timestamp"] = pd.to_datetime(msg["timestamp"], utc=True)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]

    meta = msg["metadata"].map(pandas_metrics._metadata, na_action="ignore")
    msg["tokens"] = meta.map(pandas_metrics._tokens, na_action="ignore").fillna(0).astype("int64")
    msg["handoff"] = meta.map(lambda m: m.get("handoff_requested") in (True, "true"), na_action="ignore").fillna(False).astype(bool)
    msg = msg.sort_values(["conversation_id", "timestamp", "id"]).reset_index(drop=True)
    msg["position"] = msg.groupby("conversation_id").cumcount()
    msg["local"] = _local(msg["timestamp"], tz)
    msg["day"] = msg["local"].dt.date
    conv["local"] = _local(conv["started_at"], tz)
    conv["day"] = conv["local"].dt.date
    started = conv[(conv["day"] >= start) & (conv["day"] <= end)].set_index("id")

    # Customer turns (system messages skipped) and their first reply.
    visible = msg[msg["sender_type"] != "system"]
    group = visible["conversation_id"]
    previous = visible.groupby(group)["sender_type"].shift(1)
    reply_at = visible["timestamp"].where(visible["sender_type"].isin(["llm", "agent"]))
    next_reply = reply_at.groupby(group).shift(-1).groupby(group).bfill()
    is_turn = (visible["sender_type"] == "customer") & (previous != "customer")
    turns = pd.DataFrame({"day": visible["day"], "local": visible["local"], "seconds": (next_reply - visible["timestamp"]) / pd.Timedelta(seconds=1)})
    turns = turns[is_turn & (turns["day"] >= start) & (turns["day"] <= end)]

    # Per conversation started in the range: first reply, first agent after the first request, messages.
    replies = msg[msg["sender_type"].isin(["llm", "agent"])].groupby("conversation_id")["timestamp"].min()
    requests = msg[msg["handoff"]].drop_duplicates("conversation_id").set_index("conversation_id")
    agents = msg[msg["sender_type"] == "agent"].join(requests["position"].rename("request_position"), on="conversation_id", how="inner")
    human = agents[agents["position"] > agents["request_position"]].groupby("conversation_id")["timestamp"].min()
    started = started.assign(
        first_seconds=(replies.reindex(started.index) - started["started_at"]) / pd.Timedelta(seconds=1),
        handed_off=started.index.isin(requests.index),
        human_seconds=(human.reindex(started.index) - requests["timestamp"].reindex(started.index)) / pd.Timedelta(seconds=1),
        messages=msg.groupby("conversation_id").size().reindex(started.index).fillna(0).astype("int64"),
        agents=msg[msg["sender_type"] == "agent"].groupby("conversation_id").size().reindex(started.index).fillna(0).astype("int64"),
        tokens=msg[msg["sender_type"] == "llm"].groupby("conversation_id")["tokens"].sum().reindex(started.index).fillna(0).astype("int64"),
    )

    def responses(turn_rows: pd.DataFrame, cohort: pd.DataFrame) -> dict[str, Any]:
        handed = cohort[cohort["handed_off"]]
        return {
            "customer_turns": len(turn_rows),
            "answered_turns": int(turn_rows["seconds"].notna().sum()),
            "median_response_time_seconds": _quantile(turn_rows["seconds"], 0.5),
            "p90_response_time_seconds": _quantile(turn_rows["seconds"], 0.9),
            "first_responses": int(cohort["first_seconds"].notna().sum()),
            "average_first_response_seconds": _mean(cohort["first_seconds"]),
            "median_first_response_seconds": _quantile(cohort["first_seconds"], 0.5),
            "answered_handoffs": int(handed["human_seconds"].notna().sum()),
            "unanswered_handoffs": int(handed["human_seconds"].isna().sum()),
            "average_human_response_seconds": _mean(handed["human_seconds"]),
            "median_human_response_seconds": _quantile(handed["human_seconds"], 0.5),
        }

    def outcomes(cohort: pd.DataFrame) -> dict[str, Any]:
        total, resolved = len(cohort), int((cohort["status"] == "resolved").sum())
        contained = int(((cohort["status"] == "resolved") & ~cohort["handed_off"] & (cohort["agents"] == 0)).sum())
        messages = int(cohort["messages"].sum())
        cost = int(cohort["tokens"].sum()) * pandas_metrics.LLM_PRICE_PER_MILLION / 1e6 + messages * pandas_metrics.WHATSAPP_PRICE
        return {
            "total_conversations": total,
            "contained_conversations": contained,
            "containment_rate": _ratio(contained, total),
            "agent_involved_conversations": int((cohort["agents"] > 0).sum()),
            "cohort_messages": messages,
            "cohort_cost": cost,
            "cost_per_resolved_conversation": _ratio(cost, resolved),
            "messages_per_conversation": _ratio(messages, total),
        }

    turns_by_day = dict(tuple(turns.groupby("day")))
    cohort_by_day = dict(tuple(started.groupby("day")))
    empty_turns, empty_cohort = turns.iloc[0:0], started.iloc[0:0]
    answer = {
        "responses": {
            "series": [{"date": d.isoformat(), **responses(turns_by_day.get(d, empty_turns), cohort_by_day.get(d, empty_cohort))} for d in days],
            "totals": responses(turns, started),
        },
        "outcomes": {
            "series": [{"date": d.isoformat(), **outcomes(cohort_by_day.get(d, empty_cohort))} for d in days],
            "totals": outcomes(started),
        },
    }

    in_range = msg[(msg["day"] >= start) & (msg["day"] <= end) & (msg["sender_type"] == "customer")]
    cells = pd.DataFrame(0, index=pd.MultiIndex.from_product([range(1, 8), range(24)], names=["weekday", "hour"]), columns=["customer_messages", "conversations_started"])

    def cell_counts(local: pd.Series) -> pd.Series:
        return pd.Series(1, index=pd.MultiIndex.from_arrays([local.dt.day_of_week + 1, local.dt.hour], names=["weekday", "hour"])).groupby(level=[0, 1]).sum()

    cells["customer_messages"] = cell_counts(in_range["local"]).reindex(cells.index).fillna(0).astype("int64")
    cells["conversations_started"] = cell_counts(started["local"]).reindex(cells.index).fillna(0).astype("int64")
    answered = turns.dropna(subset=["seconds"])
    means = answered.groupby([answered["local"].dt.day_of_week + 1, answered["local"].dt.hour])["seconds"].mean()
    cells["average_response_time_seconds"] = means.reindex(cells.index)
    answer["heatmap"] = {
        "cells": [
            {"weekday": w, "hour": h, "customer_messages": int(row.customer_messages), "conversations_started": int(row.conversations_started),
             "average_response_time_seconds": None if pd.isna(row.average_response_time_seconds) else float(row.average_response_time_seconds)}
            for (w, h), row in cells.iterrows()
        ]
    }
    return answer


def differences(theirs: Any, mine: Any, where: str = "", rel: float = 1e-9) -> list[str]:
    """Where the library's answer and pandas' differ: counts exactly, floats to `rel`."""
    if isinstance(mine, Mapping):
        return [d for key, value in mine.items() for d in differences(theirs.get(key), value, f"{where}.{key}", rel)]
    if isinstance(mine, list):
        if not isinstance(theirs, list) or len(theirs) != len(mine):
            return [f"{where}: {len(theirs or [])} rows vs {len(mine)}"]
        return [d for i, (a, b) in enumerate(zip(theirs, mine, strict=True)) for d in differences(a, b, f"{where}[{i}]", rel)]
    if mine is None or theirs is None or isinstance(mine, str):
        return [] if mine == theirs else [f"{where}: library {theirs!r}, pandas {mine!r}"]
    if isinstance(mine, int) and isinstance(theirs, int):
        return [] if mine == theirs else [f"{where}: library {theirs!r}, pandas {mine!r}"]
    return [] if math.isclose(float(theirs), float(mine), rel_tol=rel, abs_tol=1e-9) else [f"{where}: library {theirs!r}, pandas {mine!r}"]


def contest(metrics: Metrics, read: pandas_metrics.Reader, window: measure.Window) -> dict[str, Any]:
    """The library's three answers against pandas', interleaved; whether they agree."""
    ours = library(metrics, window)
    theirs = pandas_answers(read, window)
    disagreements = differences(ours, theirs)
    timings = measure.interleaved({"library": lambda: library(metrics, window), "pandas": lambda: pandas_answers(read, window)})
    summary = timings.summary()
    # Each answer alone (where the time goes), a few runs each, medians.
    asked = (window.tenant_id, window.start, window.end)
    alone = {}
    for kind in ("responses", "outcomes", "heatmap"):
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            getattr(metrics, kind)(*asked, tz=window.tz)
            runs.append(time.perf_counter() - started)
        alone[kind] = round(sorted(runs)[len(runs) // 2] * 1000, 1)
    return {
        "alone_ms": alone,
        "library_ms": summary["library"]["median_ms"],
        "pandas_ms": summary["pandas"]["median_ms"],
        "pandas_ratio": timings.ratio("pandas", "library"),
        "runs": summary["library"]["runs"],
        "pandas_agrees": not disagreements,
        "disagreements": disagreements[:10],
        "load_average": measure.load_average(),
        "turns": ours["responses"]["totals"]["customer_turns"],
        "conversations": ours["outcomes"]["totals"]["total_conversations"],
    }


def run() -> dict[str, Any]:
    clock = Clock()
    full, small = generate.ensure(progress=clock)
    targets = windows(full)
    result: dict[str, Any] = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine.details()}
    result["window"] = {"start_date": str(targets["largest"].start), "end_date": str(targets["largest"].end)}

    path = STORES / "second-set-small.duckdb"
    clock("DuckDB: loading the small set ...")
    result["duckdb_loading"] = stores.duckdb_store(small, path, clock)
    import duckdb

    result["duckdb"] = {}
    with Metrics.connect(f"duckdb:///{path}", read_only=True) as metrics:
        raw = duckdb.connect(str(path), read_only=True)
        for label, window in targets.items():
            clock(f"DuckDB, {label} tenant: responses + outcomes + heat map vs pandas ...")
            result["duckdb"][label] = contest(metrics, pandas_metrics.duckdb_reader(raw), window)
            clock(f"  {result['duckdb'][label]}")
        raw.close()

    if reason := stores.postgres_available():
        result["postgres"] = {"skipped": reason}
    else:
        import psycopg

        with stores.postgres_schema() as schema:
            url = stores.schema_url(schema)
            clock(f"PostgreSQL: loading the small set into {schema}, then init-db --rollup ...")
            stores.postgres_store(small, url, clock)
            result["postgres_rollup_seconds"] = round(stores.postgres_rollup(url), 1)
            result["postgres"] = {}
            with Metrics.connect(url, read_only=True) as metrics, psycopg.connect(url, autocommit=True) as conn:
                assert metrics.layout == "rollup"
                for label, window in targets.items():
                    clock(f"PostgreSQL (rollup), {label} tenant: responses + outcomes + heat map vs pandas ...")
                    result["postgres"][label] = contest(metrics, pandas_metrics.postgres_reader(conn), window)
                    clock(f"  {result['postgres'][label]}")
    result["seconds"] = round(clock.seconds(), 1)
    return result


def section(result: Mapping[str, Any]) -> str:
    """The report's section, markdown."""
    window = result["window"]
    lines = [
        START,
        "## Second set (docs/metrics.md §7): responses + outcomes + heat map",
        "",
        f"Written by `python -m bench.second_set` on {result['started_at']} (commit `{result['machine']['commit'][:10]}`; "
        f"reference work {result['machine']['speed_ms']} ms, bench/machine.py speed_ms), in "
        f"{result['seconds'] / 60:.1f} minutes; figures in bench/second_set.json. The window is {window['start_date']} .. "
        f"{window['end_date']} in each tenant's timezone, read from the small set (the same rows as the full set in "
        "that window); one round is the three library calls (three statements), against pandas computing the same "
        "fields (daily series, totals, 168 cells) from two plain SELECTs of the same store, interleaved, medians.",
        "",
        "| engine | tenant | target | library | met? | pandas | pandas / library | pandas agrees | turns | conversations | runs | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for engine in ("duckdb", "postgres"):
        measured = result.get(engine, {})
        if "skipped" in measured:
            lines.append(f"| {engine} | - | - | not measured: {measured['skipped']} | | | | | | | | |")
            continue
        for label, m in measured.items():
            target = TARGETS.get((engine, label))
            met = "-" if target is None else ("yes" if m["library_ms"] <= target else "**no**")
            name = "DuckDB" if engine == "duckdb" else "PostgreSQL (rollup)"
            lines.append(
                f"| {name} | {label} | {'-' if target is None else f'≤ {target:g} ms'} | {m['library_ms']:.1f} ms | {met} | "
                f"{m['pandas_ms']:,.1f} ms | {m['pandas_ratio']:.1f}× | {'yes' if m['pandas_agrees'] else 'no: ' + '; '.join(m['disagreements'][:2])} | "
                f"{m['turns']:,} | {m['conversations']:,} | {m['runs']} | {m['load_average']} |"
            )
    lines += ["", "Each answer alone (medians of 5 runs, same stores):", ""]
    for engine in ("duckdb", "postgres"):
        for label, m in result.get(engine, {}).items():
            if isinstance(m, Mapping) and "alone_ms" in m:
                parts = ", ".join(f"{kind} {ms:.1f} ms" for kind, ms in m["alone_ms"].items())
                lines.append(f"- {'DuckDB' if engine == 'duckdb' else 'PostgreSQL (rollup)'}, {label}: {parts}")
    lines += [
        "",
        "Where the statements read: responses and outcomes from the derived tables (a rollup of sums has no median; "
        "each conversation's first reply, human response, messages and tokens are columns of conversation_facts), the "
        "heat map from the rollup (a 15-minute UTC slot lies inside one local hour).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    started = time.perf_counter()
    result = run()
    report.write_section(result, RESULT, START, END, section(result))
    print(section(result))
    print(f"bench.second_set: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
