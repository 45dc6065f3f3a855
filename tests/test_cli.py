"""The `crm-metrics` command: the library's answers, one-line errors, SQL to read or to paste."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlglot

from crm_metrics import Dashboard, Metrics, MetricsError, Summary, demo, output, request, templates, to_json
from crm_metrics import planning, prices
from crm_metrics.cli import main
from crm_metrics.templates import Shape
from crm_metrics.compiler import compile_sql

TODAY = dt.date(2025, 11, 4)
NOW = dt.datetime(2025, 11, 5, 17, 0, tzinfo=dt.UTC)
TENANT = demo.TENANTS[0]  # Acme Corp, Asia/Jakarta
OUTLET = TENANT.outlets[0]
START, END = "2025-11-01", "2025-11-04"
RANGE = ["--start-date", START, "--end-date", END]


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine's settings must not leak into what these tests expect.
    for name in ("DATABASE_URL", "CRM_METRICS_DEBUG", "MAX_RANGE_DAYS", "LLM_PRICE_PER_MILLION_TOKENS", "WHATSAPP_PRICE_PER_MESSAGE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A DuckDB file with four days of demo data ending on TODAY; its URL."""
    url = f"duckdb:///{tmp_path_factory.mktemp('cli') / 'demo.duckdb'}"
    with Metrics.connect(url, clock=lambda: NOW) as metrics:
        demo.write(metrics, today=TODAY, days=4)
    return url


@pytest.fixture
def metrics(database: str) -> Iterator[Metrics]:
    with Metrics.connect(database, read_only=True) as metrics:
        yield metrics


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- query ------------------------------------------------------------------------------------

QUERIES = [
    ("dashboard", []),
    ("dashboard", ["--granularity", "week", "--tz", "UTC"]),
    ("dashboard", ["--outlet-id", OUTLET, "--granularity", "month"]),
    ("summary", []),
    ("summary", ["--outlet-id", OUTLET.upper(), "--tz", "America/New_York"]),
    ("overview", ["--outlet-id", OUTLET, "--granularity", "week"]),
]


def library_call(metrics: Metrics, kind: str, options: list[str]) -> Dashboard | Summary:
    fields = {option.removeprefix("--").replace("-", "_"): value for option, value in zip(options[::2], options[1::2], strict=True)}
    call = {"dashboard": metrics.dashboard, "summary": metrics.summary, "overview": metrics.overview}[kind]
    return call(TENANT.id, start_date=START, end_date=END, **fields)


@pytest.mark.parametrize(("kind", "options"), QUERIES)
def test_query_json_is_the_library_body_byte_for_byte(
    capsys: pytest.CaptureFixture[str], database: str, metrics: Metrics, kind: str, options: list[str]
) -> None:
    code, out, err = run(capsys, "query", kind, "--tenant-id", TENANT.id, *RANGE, *options, "--database-url", database)

    assert (code, err) == (0, "")
    assert out == to_json(library_call(metrics, kind, options))


def test_query_answers_come_from_the_data(capsys: pytest.CaptureFixture[str], database: str) -> None:
    _, out, _ = run(capsys, "query", "summary", "--tenant-id", TENANT.id, *RANGE, "--database-url", database)
    summary = json.loads(out)
    _, out, _ = run(capsys, "query", "dashboard", "--tenant-id", TENANT.id, *RANGE, "--database-url", database)
    dashboard = json.loads(out)

    assert (summary["tenant_name"], summary["timezone"]) == ("Acme Corp", "Asia/Jakarta")
    assert summary["total_conversations"] > 0
    assert [row["date"] for row in dashboard["conversations"]] == ["2025-11-01", "2025-11-02", "2025-11-03", "2025-11-04"]
    assert sum(row["total_conversations"] for row in dashboard["conversations"]) == summary["total_conversations"]


@pytest.mark.parametrize("kind", ["dashboard", "summary"])
def test_query_csv(capsys: pytest.CaptureFixture[str], database: str, metrics: Metrics, kind: str) -> None:
    code, out, err = run(capsys, "query", kind, "--tenant-id", TENANT.id, *RANGE, "--format", "csv", "--database-url", database)

    assert (code, err) == (0, "")
    header, rows = output.rows(library_call(metrics, kind, []))
    parsed = list(csv.reader(io.StringIO(out)))
    assert parsed == [header, *[["" if v is None else str(v) for v in row] for row in rows]]
    assert len(parsed) == (5 if kind == "dashboard" else 2)
    assert parsed[0][0] == ("date" if kind == "dashboard" else "tenant_id")


@pytest.mark.parametrize("kind", ["dashboard", "summary"])
def test_query_table(capsys: pytest.CaptureFixture[str], database: str, metrics: Metrics, kind: str) -> None:
    code, out, err = run(capsys, "query", kind, "--tenant-id", TENANT.id, *RANGE, "--format", "table", "--database-url", database)

    assert (code, err) == (0, "")
    assert out == output.to_table(library_call(metrics, kind, []))
    if kind == "dashboard":
        assert out.startswith(f"tenant {TENANT.id}, {START} .. {END} (Asia/Jakarta, by day)\n")
        assert all(f"\n{series}\n" in out for series in ("conversations", "messages", "handoffs", "costs"))
    else:
        assert "tenant_name                    Acme Corp\n" in out


def test_query_as_a_subprocess(database: str, metrics: Metrics, tmp_path: Path) -> None:
    args = ["query", "summary", "--tenant-id", TENANT.id, *RANGE]
    env = {**os.environ, "DATABASE_URL": database}
    env.pop("CRM_METRICS_DEBUG", None)

    done = subprocess.run([sys.executable, "-m", "crm_metrics", *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == to_json(metrics.summary(TENANT.id, START, END))

    bad = subprocess.run([sys.executable, "-m", "crm_metrics", *args, "--tz", "Mars/Olympus"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)

    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == "crm-metrics: error: tz: unknown timezone 'Mars/Olympus' (an IANA name such as 'Asia/Jakarta' or 'UTC')\n"


def test_a_reader_that_went_away_gets_no_error_message(database: str, tmp_path: Path) -> None:
    # `crm-metrics query ... | head -1`, when head is gone before the answer is written.
    read, write = os.pipe()
    os.close(read)
    command = [sys.executable, "-m", "crm_metrics", "query", "summary", "--tenant-id", TENANT.id, "--database-url", database]
    try:
        done = subprocess.run(command, stdout=write, stderr=subprocess.PIPE, cwd=tmp_path, timeout=60)
    finally:
        os.close(write)

    assert (done.returncode, done.stderr) == (1, b"")


# -- invalid input: exit 2, one line on stderr naming the field ---------------------------------

INVALID = [
    (["--tenant-id", "acme"], "tenant_id: must be a UUID"),
    (["--tenant-id", TENANT.id, "--start-date", "2025-13-01"], "start_date: is not a calendar date: '2025-13-01'"),
    (["--tenant-id", TENANT.id, "--start-date", "2025-02-29"], "start_date: is not a calendar date: '2025-02-29'"),
    (["--tenant-id", TENANT.id, "--end-date", "04/11/2025"], "end_date: must be a date as YYYY-MM-DD, got '04/11/2025'"),
    (["--tenant-id", TENANT.id, "--start-date", "2025-11-05", "--end-date", "2025-11-04"], "start_date: 2025-11-05 is after end_date 2025-11-04"),
    (["--tenant-id", TENANT.id, "--start-date", "2024-11-03", "--end-date", "2025-11-04"], "end_date: the range is 367 days; at most 366 are allowed"),
    (["--tenant-id", TENANT.id, "--tz", "Asia/Jakata"], "tz: unknown timezone 'Asia/Jakata'. Did you mean 'Asia/Jakarta'?"),
    (["--tenant-id", TENANT.id, "--outlet-id", "outlet-1"], "outlet_id: must be a UUID"),
]


@pytest.mark.parametrize("kind", ["dashboard", "summary"])
@pytest.mark.parametrize(("args", "error"), INVALID)
def test_invalid_query_input(capsys: pytest.CaptureFixture[str], database: str, kind: str, args: list[str], error: str) -> None:
    assert_one_line_error(run(capsys, "query", kind, *args, "--database-url", database), error)


def test_unknown_granularity(capsys: pytest.CaptureFixture[str], database: str) -> None:
    result = run(capsys, "query", "dashboard", "--tenant-id", TENANT.id, "--granularity", "year", "--database-url", database)

    assert_one_line_error(result, "granularity: must be one of day, week, month, got 'year'")


@pytest.mark.parametrize(
    ("url", "error"),
    [("mysql://localhost/crm", "Unknown database URL scheme 'mysql'"), ("duckdb://", "DuckDB URL 'duckdb://' must look like")],
)
def test_a_bad_database_url(capsys: pytest.CaptureFixture[str], url: str, error: str) -> None:
    assert_one_line_error(run(capsys, "init-db", "--database-url", url), error)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("data.duckdb", "--database-url 'data.duckdb' is a path, not a URL: for a DuckDB file use --database-url duckdb:///data.duckdb"),
        ("/srv/crm.duckdb", "for a DuckDB file use --database-url duckdb:////srv/crm.duckdb"),
        ("mysql://localhost/crm", "Unknown database URL scheme 'mysql' in --database-url."),
        ("bigquery://My_Project/crm", "BigQuery project 'My_Project' (--database-url or BIGQUERY_PROJECT_ID) is not a valid project name"),
        ("bigquery://my-project", "No BigQuery dataset: use --database-url bigquery://PROJECT/DATASET or set BIGQUERY_DATASET"),
    ],
)
@pytest.mark.parametrize("command", [["init-db"], ["query", "summary", "--tenant-id", TENANT.id]])
def test_database_url_errors_name_the_option_it_came_from(capsys: pytest.CaptureFixture[str], command: list[str], url: str, error: str) -> None:
    assert_one_line_error(run(capsys, *command, "--database-url", url), error)
    assert "DATABASE_URL" not in capsys.readouterr().err


def test_database_url_errors_name_the_variable_it_came_from(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "data.duckdb")
    assert_one_line_error(run(capsys, "init-db"), "DATABASE_URL 'data.duckdb' is a path, not a URL: for a DuckDB file use DATABASE_URL=duckdb:///data.duckdb")
    # The CLI's wording does not outlive the command: the library names the variable again.
    run(capsys, "init-db", "--database-url", "data.duckdb")
    with pytest.raises(MetricsError, match="^DATABASE_URL 'x.duckdb' is a path"):
        Metrics.connect("x.duckdb")


def test_a_bad_setting_in_the_environment(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database: str) -> None:
    monkeypatch.setenv("MAX_RANGE_DAYS", "a year")

    result = run(capsys, "query", "summary", "--tenant-id", TENANT.id, "--database-url", database)

    assert_one_line_error(result, "Config 'MAX_RANGE_DAYS' has value 'a year'")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--param", "tenant=x"], "tenant: unknown parameter; known: tenant_id, start_date, end_date, outlet_id, tz, granularity"),
        (["--param", "tenant_id"], "--param takes KEY=VALUE, got 'tenant_id'"),
        (["--param", "=x"], "--param takes KEY=VALUE, got '=x'"),
        (["--param", "granularity=hour"], "granularity: must be one of day, week, month, got 'hour'"),
        (["--param", "outlet_id=1"], "outlet_id: must be a UUID"),
        (["--inline"], "tenant_id: is required to inline the parameters"),
        (["--param", "tenant_id=acme"], "tenant_id: must be a UUID"),
        (["--param", "start_date=2025-02-30"], "start_date: is not a calendar date"),
    ],
)
def test_invalid_render_input(capsys: pytest.CaptureFixture[str], args: list[str], error: str) -> None:
    assert_one_line_error(run(capsys, "render", "conversation_metrics", "--dialect", "duckdb", *args), error)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["query", "dashboard"], "crm-metrics query dashboard: error: the following arguments are required: --tenant-id"),
        (["query", "summary", "--tenant-id", TENANT.id, "--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["query", "weekly"], "crm-metrics query NAME: error: the following arguments are required: --tenant-id"),
        (["render", "conversation_metrics", "--dialect", "mysql"], "argument --dialect: invalid choice: 'mysql'"),
        (["demo", "--days", "ninety"], "argument --days: invalid int value: 'ninety'"),
        (["load", "users", "users.csv"], "argument table: invalid choice: 'users'"),
        (["export"], "crm-metrics: error: argument COMMAND: invalid choice: 'export'"),
        (["init-db", "--verbose"], "crm-metrics: error: unrecognized arguments: --verbose"),
        (["serve", "--port", "80000"], "crm-metrics serve: error: argument --port: must be a TCP port from 1 to 65535, got '80000'"),
        (["serve", "--port", "-1"], "crm-metrics serve: error: argument --port: must be a TCP port from 1 to 65535, got '-1'"),
        (["serve", "--port", "0"], "argument --port: must be a TCP port from 1 to 65535, got '0'"),
        (["serve", "--port", "http"], "argument --port: must be a TCP port from 1 to 65535, got 'http'"),
    ],
)
def test_a_usage_error_is_one_line_too(capsys: pytest.CaptureFixture[str], args: list[str], error: str) -> None:
    with pytest.raises(SystemExit) as exit:
        main(args)
    out, err = capsys.readouterr()

    assert_one_line_error((exit.value.code, out, err), error)
    assert err.endswith(" --help)\n")


@pytest.mark.parametrize(("args", "usage"), [([], "usage: crm-metrics [-h] [--version] COMMAND ..."), (["query"], "usage: crm-metrics query [-h] KIND ...")])
def test_a_command_left_out_prints_the_whole_help(capsys: pytest.CaptureFixture[str], args: list[str], usage: str) -> None:
    """Not argparse's one line "the following arguments are required": the help, with the commands."""
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(usage + "\n")
    for command in (["query", "render", "init-db", "refresh", "load", "demo", "serve"] if not args else ["dashboard", "summary"]):
        assert f"\n    {command}" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from crm_metrics import __version__

    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr() == (f"crm-metrics {__version__}\n", "")


def assert_one_line_error(result: tuple[int, str, str], error: str) -> None:
    code, out, err = result
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("crm-metrics"), err
    assert error in err
    assert "Traceback" not in err and "internal error" not in err


# -- init-db, load, demo ------------------------------------------------------------------------


def test_init_db_creates_the_tables_and_can_run_again(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'new.duckdb'}"

    assert run(capsys, "init-db", "--database-url", url) == (0, f"tables, derived tables and rollup ready in {url}\n", "")
    assert run(capsys, "init-db", "--database-url", url) == (0, f"tables, derived tables and rollup ready in {url}\n", "")

    with Metrics.connect(url, read_only=True) as metrics:
        assert all(metrics.executor.has_table(name) for name in ("tenants", "conversations", "messages"))


def test_load_creates_the_tables_loads_and_refuses_a_bad_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'load.duckdb'}"
    beta, gamma = "00000000-0000-4000-8000-0000000000b2", "00000000-0000-4000-8000-0000000000b3"
    good = tmp_path / "tenants.csv"
    good.write_text(f"id,name,timezone\n{TENANT.id},Acme,Asia/Jakarta\n{beta.upper()},Beta,\n", encoding="utf-8")
    bad = tmp_path / "tenants.jsonl"
    bad.write_text(f'{{"id": "{gamma}", "name": "Gamma"}}\n{{"id": "t-4", "name": "Delta", "timezone": "Europe/Lodnon"}}\n', encoding="utf-8")

    summary = f"loaded 2 rows into tenants from {good}: 2 new, 0 changed, 0 unchanged\n"
    assert run(capsys, "load", "tenants", str(good), "--database-url", url) == (0, summary, "")
    assert_one_line_error(
        run(capsys, "load", "tenants", str(bad), "--database-url", url),
        f"{bad}: row 2 (line 2), column id: must be a UUID like 123e4567-e89b-12d3-a456-426614174000, got 't-4'",
    )
    assert_one_line_error(run(capsys, "load", "tenants", str(tmp_path / "none.csv"), "--database-url", url), "none.csv: no such file")

    with Metrics.connect(url, read_only=True) as metrics:
        assert metrics.tenant(TENANT.id) == ("Acme", "Asia/Jakarta")
        assert metrics.tenant(beta) == ("Beta", None)
        assert metrics.tenant(gamma) == (None, None)


def test_load_says_what_it_did_and_what_to_look_at(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'load.duckdb'}"
    conversations = tmp_path / "conversations.csv"
    conversations.write_text(
        "id,tenant_id,customer_phone,status,started_at\n"
        f"c1,{TENANT.id},+1,active,2025-11-01 09:00:00\nc2,{TENANT.id},+1,active,2025-11-01T09:00:00-03:00\n",
        encoding="utf-8",
    )
    messages = tmp_path / "messages.jsonl"
    messages.write_text(
        "".join(
            json.dumps({"id": f"m{n}", "conversation_id": conversation, "sender_type": "customer", "content": "hi", "timestamp": "2025-11-01T09:00:00Z"}) + "\n"
            for n, conversation in enumerate(["c1", "c9", "c9", "c8"])
        ),
        encoding="utf-8",
    )

    code, out, err = run(capsys, "load", "conversations", str(conversations), "--assume-tz", "America/Sao_Paulo", "--database-url", url)
    assert (code, out) == (0, f"loaded 2 rows into conversations from {conversations}: 2 new, 0 changed, 0 unchanged\n")
    assert err == "note: 1 timestamps had no UTC offset and were read in America/Sao_Paulo\n"
    code, out, err = run(capsys, "load", "messages", str(messages), "--database-url", url)
    assert (code, out) == (0, f"loaded 4 rows into messages from {messages}: 4 new, 0 changed, 0 unchanged\n")
    assert err == (
        "warning: 3 messages belong to 2 conversations that are not stored (c8, c9): "
        "no answer counts them until those conversations are loaded\n"
    )
    with Metrics.connect(url, read_only=True) as metrics:
        # 09:00 in São Paulo is 12:00 UTC, as the row written with its offset.
        assert metrics.summary(TENANT.id, "2025-11-01", "2025-11-01", tz="UTC").total_conversations == 2
        assert metrics.dashboard(TENANT.id, "2025-11-01", "2025-11-01", tz="America/Sao_Paulo").conversations[0].total_conversations == 2


def test_commands_that_read_never_create_a_store(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "none.duckdb"
    for command in (["refresh"], ["query", "summary", "--tenant-id", TENANT.id]):
        assert_one_line_error(
            run(capsys, *command, "--database-url", f"duckdb:///{path}"),
            f"no DuckDB store at '{path}' (create it with `crm-metrics demo`, `crm-metrics init-db` or `crm-metrics load`)",
        )
        assert not path.exists()


def test_a_store_without_tables_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    assert_one_line_error(
        run(capsys, "query", "summary", "--tenant-id", TENANT.id, "--database-url", f"duckdb:///{path}"),
        "the store has no table conversations (create the tables with `crm-metrics init-db`)",
    )


def test_a_store_held_by_another_process_is_explained(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    with Metrics.connect(f"duckdb:///{path}") as metrics:
        metrics.store.init_db()
    # A server holds the store open (read-only, as `crm-metrics serve` does).
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; db = duckdb.connect({str(path)!r}, read_only=True); print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        tenants = tmp_path / "tenants.csv"
        tenants.write_text(f"id,name\n{TENANT.id},Acme\n", encoding="utf-8")
        code, out, err = run(capsys, "load", "tenants", str(tenants), "--database-url", f"duckdb:///{path}")
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    assert_one_line_error(
        (code, out, err),
        f"the DuckDB store '{path}' is in use by another process (PID {holder.pid}, ",
    )
    assert "most likely `crm-metrics serve`" in err and "Stop that process, run this command, then start it again" in err
    assert "-readonly" not in err


def test_a_failed_load_leaves_no_trace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "tenants.csv"
    bad.write_text(f"id,name\n{TENANT.id},\n", encoding="utf-8")
    new, empty = tmp_path / "new.duckdb", tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()

    for path in (new, empty):
        assert_one_line_error(run(capsys, "load", "tenants", str(bad), "--database-url", f"duckdb:///{path}"), "column name: must not be empty")

    assert not new.exists()
    with duckdb.connect(str(empty), read_only=True) as db:
        assert db.execute("SELECT count(*) FROM information_schema.tables").fetchone() == (0,)


def test_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'demo.duckdb'}"

    code, out, err = run(capsys, "demo", "--days", "3", "--database-url", url)

    assert code == 0
    assert out.startswith(f"demo data written to {url}: {len(demo.TENANTS)} tenants, ")
    assert out.endswith(" messages\n") and out.count("\n") == 1
    # Progress, one line per tenant, on stderr.
    assert [line.split(":")[0] for line in err.splitlines()] == [t.name for t in demo.TENANTS]

    code, out, err = run(capsys, "query", "summary", "--tenant-id", TENANT.id, "--database-url", url)
    summary = json.loads(out)
    assert (code, err) == (0, "")
    assert summary["tenant_name"] == TENANT.name
    assert summary["total_conversations"] > 0


def test_demo_refuses_a_bad_number_of_days(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"

    assert_one_line_error(run(capsys, "demo", "--days", "0", "--database-url", f"duckdb:///{path}"), "days")


# -- where the database is --------------------------------------------------------------------


def test_database_url_option_wins_over_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_env, from_option = f"duckdb:///{tmp_path / 'env.duckdb'}", f"duckdb:///{tmp_path / 'option.duckdb'}"
    monkeypatch.setenv("DATABASE_URL", from_env)

    assert run(capsys, "init-db") == (0, f"tables, derived tables and rollup ready in {from_env}\n", "")
    assert run(capsys, "init-db", "--database-url", from_option) == (0, f"tables, derived tables and rollup ready in {from_option}\n", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env.duckdb", "option.duckdb"]


def test_the_default_database_is_crm_metrics_duckdb_in_the_working_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)

    assert run(capsys, "init-db") == (0, "tables, derived tables and rollup ready in duckdb:///crm_metrics.duckdb\n", "")
    assert (tmp_path / "crm_metrics.duckdb").is_file()


# -- render -----------------------------------------------------------------------------------

DIALECTS = ["bigquery", "postgres", "duckdb"]
#: The templates that answer a request (the others maintain the embedded store's derived tables).
EXAMPLE_PRICES = (str(Path(__file__).parent.parent / "examples/prices/whatsapp.csv"), str(Path(__file__).parent.parent / "examples/prices/llm.csv"))
REQUEST_TEMPLATES = [name for name in templates.names() if "tenant_id" in {p.name for p in templates.load(name).params}]
PLACEHOLDERS = {"bigquery": "@{}", "postgres": "%({})s", "duckdb": "${}"}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", templates.names())
def test_render(capsys: pytest.CaptureFixture[str], name: str, dialect: str) -> None:
    code, out, err = run(capsys, "render", name, "--dialect", dialect)

    assert (code, err) == (0, "")
    query = compile_sql(name, dialect)
    assert out == f"{templates.load(name).header()}\n{query.sql}\n"
    assert out.startswith(f"-- name: {name}\n")
    assert all(PLACEHOLDERS[dialect].format(p.name) in out for p in query.params)


def inline_params(**extra: str) -> list[str]:
    params = {"tenant_id": TENANT.id, "start_date": START, "end_date": END, "tz": TENANT.timezone, **extra}
    return [arg for key, value in params.items() for arg in ("--param", f"{key}={value}")]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", REQUEST_TEMPLATES)
def test_render_inline(capsys: pytest.CaptureFixture[str], name: str, dialect: str) -> None:
    outlet = {"outlet_id": OUTLET} if "outlet_id" in {p.name for p in templates.load(name).params} else {}
    code, out, err = run(capsys, "render", name, "--dialect", dialect, "--inline", *inline_params(**outlet))

    assert (code, err) == (0, "")
    assert out.startswith(templates.load(name).header() + "\n")
    assert f"-- tenant_id: {TENANT.id}\n" in out
    query = compile_sql(name, dialect, Shape(outlet=True, granularity=templates.load(name).granularities[0]))
    assert not [p.name for p in query.params if PLACEHOLDERS[dialect].format(p.name) in out]
    sqlglot.parse_one(out, read=dialect)


SHAPES = [{}, {"outlet_id": OUTLET}, {"granularity": "week"}, {"granularity": "month", "tz": "America/Sao_Paulo"}]


@pytest.mark.parametrize("shape", SHAPES, ids=["day", "outlet", "week", "month-elsewhere"])
@pytest.mark.parametrize("name", REQUEST_TEMPLATES)
def test_inlined_duckdb_sql_runs_as_is_and_gives_the_library_rows(
    capsys: pytest.CaptureFixture[str], database: str, name: str, shape: dict[str, str]
) -> None:
    if "granularity" in shape and shape["granularity"] not in templates.load(name).granularities:
        shape = {key: value for key, value in shape.items() if key != "granularity"}  # one bucket, or days only
    if "outlet_id" not in {p.name for p in templates.load(name).params}:
        shape = {key: value for key, value in shape.items() if key != "outlet_id"}  # every outlet
    rows, expected = inlined_and_library_rows(capsys, database, name, shape)

    assert rows == expected
    assert expected and any(value not in (0, None) for row in expected for value in row[1:])


def test_inlined_prices_are_the_ones_a_query_uses(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database: str
) -> None:
    monkeypatch.setenv("LLM_PRICE_PER_MILLION_TOKENS", "0.6")
    monkeypatch.setenv("WHATSAPP_PRICE_PER_MESSAGE", "0.0125")

    rows, expected = inlined_and_library_rows(capsys, database, "cost_metrics", {})

    assert rows == expected
    assert any(tokens for _, _, tokens, *_ in expected)
    for _, _, tokens, llm_cost, whatsapp_cost, *_ in expected:
        assert llm_cost == pytest.approx(tokens * 0.6 / 1e6)
        assert whatsapp_cost / 0.0125 == pytest.approx(round(whatsapp_cost / 0.0125))


def inlined_and_library_rows(
    capsys: pytest.CaptureFixture[str], database: str, name: str, shape: dict[str, str]
) -> tuple[list[tuple], list[tuple]]:
    """The rows of `render --inline` SQL run in a plain DuckDB console, and the library's rows
    (the priced templates with the example price tables, examples/prices/)."""
    priced = "whatsapp_lows" in {p.name for p in templates.load(name).params}
    tables = prices.load(*EXAMPLE_PRICES) if priced else None
    with pytest.MonkeyPatch.context() as env:
        if priced:
            env.setenv("WHATSAPP_PRICES", EXAMPLE_PRICES[0])
            env.setenv("LLM_PRICES", EXAMPLE_PRICES[1])
        code, sql, _ = run(capsys, "render", name, "--dialect", "duckdb", "--inline", *inline_params(**shape))
    assert code == 0
    params = {"tenant_id": TENANT.id, "start_date": START, "end_date": END, "tz": TENANT.timezone, **shape}
    grain = shape.get("granularity", templates.load(name).granularities[0])
    query = compile_sql(name, "duckdb", Shape(outlet="outlet_id" in shape, granularity=grain))
    period = request.period(dt.date.fromisoformat(START), dt.date.fromisoformat(END), params["tz"], now=NOW, max_days=366)
    with Metrics.connect(database, read_only=True) as metrics:
        values = planning.values(TENANT.id, shape.get("outlet_id"), period, metrics.settings, price_tables=tables)
        expected = query.normalise(metrics.executor.fetch(query, values))
        # The library itself reads the embedded store's rollup and derived tables: the same rows.
        assert metrics.layout == "rollup"
        for layout in ("rollup", "facts"):
            served = compile_sql(name, "duckdb", Shape(layout, "outlet_id" in shape, grain))
            assert served.normalise(metrics.executor.fetch(served, values)) == expected

    # A console in its own timezone, not the executor's pinned UTC session.
    with duckdb.connect(database.removeprefix("duckdb:///"), read_only=True) as console:
        console.execute("SET TimeZone = 'America/Los_Angeles'")
        rows = console.execute(sql).fetchall()
    return query.normalise(rows), expected


def test_refresh_rebuilds_the_derived_tables_after_direct_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    tenant = "123e4567-e89b-12d3-a456-426614174000"
    with Metrics.connect(url) as metrics:
        metrics.store.init_db()
        metrics.executor.run_script(
            f"INSERT INTO conversations VALUES ('c1', '{tenant}', NULL, '+1', 'resolved', "
            "TIMESTAMPTZ '2025-11-01 10:00:00+00', NULL, NULL)"
        )
        assert metrics.summary(tenant, "2025-11-01", "2025-11-01").total_conversations == 0
    assert main(["refresh", "--database-url", url]) == 0
    assert "derived tables rebuilt" in capsys.readouterr().out
    with Metrics.connect(url, read_only=True) as metrics:
        assert metrics.summary(tenant, "2025-11-01", "2025-11-01").total_conversations == 1


EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "metrics"


def test_custom_metrics_list_query_and_render(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A custom metric (docs/custom-metrics.md): listed, queried with the usual flags, rendered for a console."""
    assert main(["query", "weekly", "--tenant-id", TENANT.id]) == 2
    assert capsys.readouterr().err == "crm-metrics: error: no custom metric 'weekly'; known: none\n"
    assert main(["render", "conversations", "--dialect", "duckdb"]) == 2
    assert capsys.readouterr().err == "crm-metrics: error: no custom metric 'conversations'; known: none\n"
    monkeypatch.setenv("CRM_METRICS_PATH", str(EXAMPLES))
    assert main(["list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["metrics"]
    custom_entries = [(e["name"], e["status"]) for e in listed if e["kind"] == "custom"]
    assert custom_entries == [(path.stem, "ok") for path in sorted(EXAMPLES.glob("*.sql"))]
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    assert main(["init-db", "--database-url", url]) == 0
    capsys.readouterr()
    args = ["query", "messages_by_local_hour", "--tenant-id", TENANT.id, "--start-date", "2025-11-01", "--end-date", "2025-11-01", "--database-url", url]
    assert main(args) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["metric"], len(answer["rows"]), answer["rows"][0]) == ("messages_by_local_hour", 24, {"hour": 0, "messages": 0, "customer_messages": 0, "agent_messages": 0})
    assert main([*args, "--param", "colour=red"]) == 2
    assert "colour: unknown parameter of messages_by_local_hour; it declares: none" in capsys.readouterr().err
    assert main(["render", "agent_replies", "--dialect", "bigquery", "--inline", "--param", f"tenant_id={TENANT.id}", "--param", "start_date=2025-11-01", "--param", "end_date=2025-11-02"]) == 0
    sql = capsys.readouterr().out
    assert sql.startswith("-- name: agent_replies") and f"'{TENANT.id}'" in sql and "@tenant_id" not in sql
