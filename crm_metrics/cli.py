"""The `crm-metrics` command: the same answers as the library and the HTTP server.

Errors print one line on stderr and exit with status 2 (set CRM_METRICS_DEBUG=1 for the
traceback); a command left out prints the help, with status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from crm_metrics import __version__, loader, output, request, templates
from crm_metrics.config import DEFAULT_DATABASE_URL, URL_SETTING, Settings
from crm_metrics.dialects import Dialect
from crm_metrics.console import console_sql, custom_console_sql
from crm_metrics.errors import ConfigError, MetricsError
from crm_metrics.answers import ANSWERS
from crm_metrics.request import ANOMALY_METRICS, COMPARISONS, DEFAULT_SPAN_DAYS, DIRECTIONS, FORECAST_METRICS, GROUPINGS
from crm_metrics.schema import TABLES
from crm_metrics.custom import CustomMetrics
from crm_metrics.service import BUILTIN_NAMES, Metrics, catalogue

PROG = "crm-metrics"
#: crm_metrics.report.FORMATS, named here so that the help needs no import of the report's libraries.
REPORT_FORMATS = ("pdf", "html")
#: What `crm-metrics query KIND` answers (crm_metrics/answers.py; docs/metrics.md §3, §4, §7).
QUERY_KINDS = {
    "dashboard": "dense series per day, week or month",
    "summary": "the whole range in one row (--compare previous: and the period before)",
    "overview": "the dashboard and the summary from one statement (the dashboard's fields, then summary)",
    "responses": "response times per bucket and in total: turns, exact medians and p90, first and human responses",
    "outcomes": "the outcomes of the conversations started per bucket and in total: containment, agents, cost",
    "outlets": "the summary per outlet (conversations without one last)",
    "heatmap": "168 cells by local weekday and hour: customer messages, conversation starts, response time",
    "anomalies": "the days whose --metric departs from the tenant's own expected value (docs/anomalies.md)",
    "forecast": "the current month of --metric: actual so far, the rest projected with a range, the previous month",
    "costs": "priced costs per bucket and in total (COST_MODEL=priced): WhatsApp by market and category, LLM by model (--group-by market: per prefix)",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error (its default prints the
    whole usage first). Subcommand parsers are made of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _port(text: str) -> int:
    """--port, read as the PORT variable is (a bad one is a usage error, not a failed bind)."""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"must be a TCP port from 1 to 65535, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--database-url",
        help=f"database URL (default: $DATABASE_URL, else {DEFAULT_DATABASE_URL})",
    )
    scope = argparse.ArgumentParser(add_help=False)
    scope.add_argument("--tenant-id", required=True, help="tenant UUID")
    scope.add_argument(
        "--start-date",
        help=f"first local date, YYYY-MM-DD (default: end date - {DEFAULT_SPAN_DAYS} days: {DEFAULT_SPAN_DAYS + 1} days, both ends included)",
    )
    scope.add_argument("--end-date", help="last local date, YYYY-MM-DD (default: today in the timezone)")
    scope.add_argument("--tz", help="IANA timezone that cuts days (default: the tenant's, else UTC)")
    request = argparse.ArgumentParser(add_help=False, parents=[scope])
    request.add_argument("--outlet-id", help="only this outlet's conversations (UUID)")

    parser = _Parser(prog=PROG, description="SQL-first metrics for WhatsApp CRMs.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}", help="print the version and exit")
    # Not required: a command (or a query's kind) left out prints the whole help (main), not
    # argparse's one line "the following arguments are required".
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(full_help=parser.format_help)

    query = commands.add_parser("query", help="print an answer: dashboard, summary, overview, responses, outcomes, outlets, heatmap, anomalies, forecast, costs, or a custom metric's NAME (CRM_METRICS_PATH)")
    kinds = query.add_subparsers(dest="kind", metavar="KIND")
    query.set_defaults(full_help=query.format_help)
    # The forecast covers the current month: no dates.
    month = argparse.ArgumentParser(add_help=False)
    month.add_argument("--tenant-id", required=True, help="tenant UUID")
    month.add_argument("--tz", help="IANA timezone that cuts days and months (default: the tenant's, else UTC)")
    month.add_argument("--outlet-id", help="only this outlet's conversations (UUID)")
    for kind, help_text in QUERY_KINDS.items():
        # The outlet breakdown covers every outlet: it takes no --outlet-id.
        parent = {"outlets": scope, "forecast": month}.get(kind, request)
        sub = kinds.add_parser(kind, help=help_text, parents=[parent, database])
        if kind == "anomalies":
            sub.add_argument("--metric", required=True, choices=ANOMALY_METRICS, metavar="METRIC", help=", ".join(ANOMALY_METRICS))
            sub.add_argument("--direction", default="both", choices=DIRECTIONS, help="both (default), up or down")
        if kind == "forecast":
            sub.add_argument("--metric", required=True, choices=FORECAST_METRICS, metavar="METRIC", help=", ".join(FORECAST_METRICS))
        if kind in ANSWERS and ANSWERS[kind].series:
            sub.add_argument("--granularity", default="day", help="day (default), week (ISO, from Monday) or month")
        if kind == "summary":
            sub.add_argument("--compare", choices=COMPARISONS, help="previous: add the n days before the range and the change")
        if kind == "costs":
            sub.add_argument("--group-by", choices=GROUPINGS, help="market: add the WhatsApp figures per prefix of WHATSAPP_PRICES")
        sub.add_argument("--format", default="json", choices=output.FORMATS, help="output format (default: json, the HTTP body)")
        if kind in ANSWERS:
            sub.add_argument(
                "--dry-run",
                action="store_true",
                help="print the bytes the query would process instead (BigQuery only; it does not run)",
            )

    render = commands.add_parser("render", help="print a metric's SQL for a dialect (or --list the metrics)")
    render.add_argument("name", nargs="?", metavar="NAME", help=", ".join(templates.names()) + ", or a custom metric of CRM_METRICS_PATH")
    render.add_argument("--list", action="store_true", help="list the metric templates with what each answers, and stop")
    render.add_argument("--dialect", choices=[d.value for d in Dialect], help="bigquery, duckdb or postgres (required with NAME)")
    render.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a request parameter: tenant_id, start_date, end_date, outlet_id, tz, granularity (and a custom metric's own)",
    )
    style = render.add_mutually_exclusive_group()
    style.add_argument("--inline", action="store_true", help="turn parameters into typed literals, to run as-is in a console")
    style.add_argument(
        "--declare",
        action="store_true",
        help="a BigQuery script: one DECLARE per parameter, then the query (--dialect bigquery)",
    )
    render.add_argument(
        "--dataset",
        metavar="PROJECT.DATASET",
        help="qualify the tables for the BigQuery console (default: from DATABASE_URL or BIGQUERY_PROJECT_ID and BIGQUERY_DATASET)",
    )

    listing = commands.add_parser("list", help="list the metrics: the built-in answers and the custom metrics of CRM_METRICS_PATH (refused ones with their error)")
    listing.add_argument("--metrics-path", metavar="DIR", help="the custom metrics' directory (default: $CRM_METRICS_PATH)")
    listing.add_argument("--format", default="table", choices=("table", "json"), help="table (default) or json (GET /api/v1/metrics's body)")

    report = commands.add_parser("report", help="write the summary report of a tenant and range (PDF or HTML)", parents=[request, database])
    report.add_argument("--format", default="pdf", choices=REPORT_FORMATS, help="pdf (default) or html")
    report.add_argument("--out", required=True, metavar="FILE", help="where to write it (- for standard output)")

    scheduler = commands.add_parser(
        "scheduler",
        help="send the scheduled reports of a schedule file (TOML), each once per period, until stopped",
        parents=[database],
    )
    scheduler.add_argument("schedule", metavar="SCHEDULE", help="the schedule file (TOML; docs/page.md)")
    scheduler.add_argument("--once", action="store_true", help="send what is due now, then stop (for cron)")

    init_db = commands.add_parser("init-db", help="create the tables where missing", parents=[database])
    init_db.add_argument(
        "--rollup",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also the derived tables and the rollup, filled from the rows there, which queries then read;"
        " loads keep them exact, and on PostgreSQL so do writes of any other client (applied by"
        " crm-metrics serve) (default: on DuckDB yes, on PostgreSQL no; never dropped: see drop-rollup)",
    )
    commands.add_parser(
        "drop-rollup",
        help="PostgreSQL: remove the live rollup (its triggers and queue) and the derived tables; answers come from the seed's tables again",
        parents=[database],
    )
    commands.add_parser(
        "refresh",
        help="rebuild the derived tables and the rollup after the seed's tables were written directly",
        parents=[database],
    )

    load = commands.add_parser("load", help="load a CSV, JSON Lines or Parquet file (all or nothing)", parents=[database])
    load.add_argument("table", choices=list(TABLES))
    load.add_argument("file")
    load.add_argument(
        "--assume-tz",
        metavar="ZONE",
        help="IANA timezone of timestamps written without a UTC offset (default: UTC); the load says how many it read",
    )

    demo = commands.add_parser("demo", help="write the deterministic demo dataset", parents=[database])
    demo.add_argument("--days", type=int, default=90, help="days ending today (default: 90)")

    serve = commands.add_parser("serve", help="serve the HTTP API (opens the database read-only)", parents=[database])
    serve.add_argument("--host", help="interface to listen on (default: $HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="TCP port, 1 to 65535 (default: $PORT, else 3007)")
    serve.add_argument(
        "--schedule",
        metavar="FILE",
        help="also run the report scheduler of this schedule file (TOML); the store is then opened read-write",
    )
    consume = commands.add_parser(
        "consume",
        help="apply the events of a Redis stream (REDIS_URL) in a consumer group, until stopped",
        parents=[database],
    )
    consume.add_argument("--stream", help="the stream (default: $EVENTS_STREAM, else crm:events); its dead letters go to STREAM:dead")
    consume.add_argument("--name", help="this consumer's name in the group (default: the host name); a restart under the same name resumes its pending entries")
    consume.add_argument("--once", action="store_true", help="apply what is waiting, then stop")
    return parser


def _custom_query_parser() -> argparse.ArgumentParser:
    """`crm-metrics query NAME`: a custom metric of CRM_METRICS_PATH (docs/custom-metrics.md)."""
    parser = _Parser(prog=f"{PROG} query NAME", description="Print a custom metric's answer (a .sql file of CRM_METRICS_PATH).")
    parser.add_argument("name", metavar="NAME", help="the metric (crm-metrics list shows them)")
    parser.add_argument("--tenant-id", required=True, help="tenant UUID")
    parser.add_argument("--start-date", help="first local date, YYYY-MM-DD")
    parser.add_argument("--end-date", help="last local date, YYYY-MM-DD (default: today in the timezone)")
    parser.add_argument("--tz", help="IANA timezone that cuts days (default: the tenant's, else UTC)")
    parser.add_argument("--outlet-id", help="only this outlet's conversations (UUID; metrics that declare outlet_id)")
    parser.add_argument("--granularity", help="day, week or month (series metrics only)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a parameter the metric declares")
    parser.add_argument("--format", default="json", choices=output.FORMATS, help="output format (default: json, the HTTP body)")
    parser.add_argument("--metrics-path", metavar="DIR", help="the custom metrics' directory (default: $CRM_METRICS_PATH)")
    parser.add_argument("--database-url", help=f"database URL (default: $DATABASE_URL, else {DEFAULT_DATABASE_URL})")
    parser.set_defaults(command="custom-query")
    return parser


def _print_catalogue(entries: Sequence[Mapping[str, Any]], fmt: str) -> None:
    if fmt == "json":
        import json

        print(json.dumps({"metrics": list(entries)}, ensure_ascii=False, separators=(",", ":")))
        return
    width = max(len(e["name"]) for e in entries)
    for entry in entries:
        what = entry.get("error") if entry["status"] != "ok" else entry.get("description", "")
        print(f"{entry['name'].ljust(width)}  {entry['kind']:<7}  {entry['status']:<5}  {what}")


def _params(pairs: Sequence[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise MetricsError(f"--param takes KEY=VALUE, got {pair!r}")
        params[key.strip()] = value
    return params


def _dry_run_report(kind: str, estimate: int, read: Mapping[str, tuple[dt.date | None, dt.date | None]], settings: Settings) -> str:
    limit = settings.bigquery_maximum_bytes_billed
    cap = f"at most {limit:,} bytes may be billed (BIGQUERY_MAXIMUM_BYTES_BILLED)" if limit else "no BIGQUERY_MAXIMUM_BYTES_BILLED limit"
    lines = [f"the {kind} query would process {estimate:,} bytes; {cap}"]
    for table, (first, last) in sorted(read.items()):
        if first is None or last is None:
            lines.append(f"{table}: every partition (no LOOKAROUND_DAYS: the contract looks back and ahead without bound)")
        else:
            lines.append(f"{table}: partitions {first} to {last} ({(last - first).days + 1} days, UTC)")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> None:
    if args.command == "list":
        path = args.metrics_path or Settings.from_env().metrics_path
        _print_catalogue(catalogue(CustomMetrics(path, BUILTIN_NAMES)), args.format)
        return
    if args.command == "render":
        if args.list:
            for name in templates.names():
                print(f"{name}: {templates.load(name).table}")
            return
        if not args.name or not args.dialect:
            raise MetricsError("render takes NAME and --dialect (or --list)")
        style = "inline" if args.inline else "declare" if args.declare else "params"
        settings = Settings.from_env()
        if args.name in templates.names():
            sql = console_sql(args.name, args.dialect, _params(args.param), style=style, dataset=args.dataset, settings=settings)
        else:
            metric = CustomMetrics(settings.metrics_path, BUILTIN_NAMES).get(args.name)
            sql = custom_console_sql(metric, args.dialect, _params(args.param), style=style, dataset=args.dataset, settings=settings)
        print(sql, end="")
        return
    if args.command == "serve":
        _server("serve").serve(database_url=args.database_url, host=args.host, port=args.port, schedule=args.schedule)
        return
    if args.command == "consume":
        _server("stream").consume(database_url=args.database_url, stream=args.stream, name=args.name, once=args.once)
        return
    settings = Settings.from_env(database_url=args.database_url)
    if args.command == "custom-query":
        # An unknown or refused metric is said before the database is opened.
        CustomMetrics(args.metrics_path or settings.metrics_path, BUILTIN_NAMES).get(args.name)
        with Metrics.connect(settings=settings, read_only=True, create=False, metrics_path=args.metrics_path) as metrics:
            answer = metrics.query(
                args.name, args.tenant_id, args.start_date, args.end_date, args.outlet_id, args.tz, args.granularity, _params(args.param)
            )
            sys.stdout.write(output.formatted(answer, args.format))
        return
    if args.command == "scheduler":
        from crm_metrics import scheduler

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        scheduler.run_file(args.schedule, settings, once=args.once)
        return
    if args.command == "load":
        # Check the whole file before the database is opened: a bad file leaves no trace, not
        # even a new database file or empty tables.
        batch = loader.prepare_file(args.table, args.file, assume_tz=args.assume_tz)
    # Only the commands that make or fill a store may create one.
    read_only = args.command in ("query", "report")
    create = args.command in ("init-db", "load", "demo")
    with Metrics.connect(settings=settings, read_only=read_only, create=create) as metrics:
        if args.command == "query":
            query = request.query(
                args.tenant_id, getattr(args, "start_date", None), getattr(args, "end_date", None), getattr(args, "outlet_id", None), args.tz,
                getattr(args, "granularity", None), getattr(args, "compare", None), getattr(args, "group_by", None),
                metric=getattr(args, "metric", None), direction=getattr(args, "direction", None),
            )
            if getattr(args, "dry_run", False):
                read = metrics.read_partitions(args.kind, query)
                print(_dry_run_report(args.kind, metrics.dry_run(args.kind, query), read, settings), end="")
                return
            sys.stdout.write(output.formatted(metrics.answer(args.kind, query), args.format))
        elif args.command == "report":
            from crm_metrics import report

            query = request.query(args.tenant_id, args.start_date, args.end_date, args.outlet_id, args.tz)
            document = report.render(metrics, query, args.format)
            if args.out == "-":
                sys.stdout.buffer.write(document)
            else:
                Path(args.out).write_bytes(document)
                print(f"{args.format} report written to {args.out} ({len(document):,} bytes)")
        elif args.command == "init-db":
            metrics.store.init_db(rollup=args.rollup)
            made = {"rollup": "tables, derived tables and rollup", "facts": "tables and derived tables"}.get(metrics.layout, "tables")
            print(f"{made} ready in {metrics.executor.description}")
            if metrics.priced and metrics.store.card_tables and metrics.install_prices():
                print(f"rollup priced by rate card {metrics.rate_card} (docs/costs.md, \"The priced rollup\")")
        elif args.command == "drop-rollup":
            dropped = metrics.store.drop_rollup()
            done = "live rollup and derived tables removed" if dropped else "no rollup to remove"
            print(f"{done} in {metrics.executor.description}")
        elif args.command == "refresh":
            rebuilt = metrics.store.refresh()
            done = "derived tables rebuilt" if rebuilt else "nothing to rebuild (no derived tables)"
            print(f"{done} in {metrics.executor.description}")
        elif args.command == "load":
            metrics.store.ensure_tables()
            report = metrics.store.write(batch)
            first, *notes = report.lines()
            print(first)
            for note in notes:
                print(note, file=sys.stderr)
        elif args.command == "demo":
            from crm_metrics import demo

            counts = demo.write(metrics, days=args.days, progress=lambda line: print(line, file=sys.stderr))
            written = ", ".join(f"{n:,} {table}" for table, n in counts.items())
            print(f"demo data written to {metrics.executor.description}: {written}")


def _server(module: str) -> Any:
    """A module of the server package (`serve`, `stream`), or what to install: it is the
    `server` extra's (starlette, uvicorn, pyjwt), and the stream's the `redis` extra's."""
    import importlib

    try:
        return importlib.import_module(f"server.{module}")
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in SERVER_MODULES:
            command, extra = ("serve", "server") if module == "serve" else ("consume", "server,redis")
            raise ConfigError(
                f"crm-metrics {command} needs the {extra.split(',')[0]} extra: pip install 'crm-metrics[{extra}]' (module {error.name} is missing)"
            ) from None
        raise


#: What the `server` extra installs, by the top-level module a missing one would name.
SERVER_MODULES = frozenset({"starlette", "uvicorn", "jwt", "redis"})


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if len(given) > 1 and given[0] == "query" and given[1] not in QUERY_KINDS and not given[1].startswith("-"):
        # `query NAME`: a custom metric, whose names come from CRM_METRICS_PATH at run time.
        args = _custom_query_parser().parse_args(given[1:])
    else:
        args = _parser().parse_args(argv)
    if args.command is None or (args.command == "query" and args.kind is None):
        sys.stderr.write(args.full_help())
        return 2
    # Errors about the database URL then name the option the user gave it with.
    named = URL_SETTING.set("--database-url") if getattr(args, "database_url", None) is not None else None
    try:
        run(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`crm-metrics query ... | head`): stop without a message. Point
        # stdout at devnull so the flush at exit does not fail again (Python docs, signal
        # module, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:
        if os.environ.get("CRM_METRICS_DEBUG"):
            raise
        message = " ".join(str(error).split())
        if not isinstance(error, (MetricsError, OSError)):
            message = f"internal error ({type(error).__name__}): {message}; CRM_METRICS_DEBUG=1 shows the traceback"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    finally:
        if named is not None:
            URL_SETTING.reset(named)
    return 0


if __name__ == "__main__":
    sys.exit(main())
