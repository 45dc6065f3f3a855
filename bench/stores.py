"""Load a generated data set into a DuckDB file or a private PostgreSQL schema.

The loader's per-row checks (crm_metrics.loader.prepare_file) run at tens of thousands of rows a
second: minutes for 10M messages, and its Parquet reader turns the whole file into Python
dicts first. So the rows go into DuckDB as Arrow tables in the loader's types through
`Metrics.write` (the step `Metrics.load` ends with, which also keeps the embedded store's
derived tables up to date), and `loader_rate` measures what the loader's own checks would
have cost.

PostgreSQL is where users already keep the seed's tables; crm-metrics reads them. The
executor's `upsert_rows` copies row by row from Python (about 7 minutes for the 10M
messages here), so the harness creates the tables with `Metrics.init_db` (the library's DDL
and indexes) and fills them as a user's own bulk load would: indexes dropped, one
`COPY ... FROM STDIN (FORMAT csv)` per chunk written by Arrow, indexes built again by
`init_db`, ANALYZE. Then `postgres_rollup` adds the derived tables and the rollup, as a user
with such tables would: `crm-metrics init-db --rollup`.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.csv as csv
import pyarrow.parquet as pq

from bench.generate import DATA_DIR, TABLES, DataSet
from crm_metrics import Metrics, Settings
from crm_metrics.loader import ARROW_TYPES, Batch, prepare_file
from crm_metrics.schema import TABLES as COLUMNS

#: Where the benches keep their DuckDB stores (made again when the data set changes).
STORES = DATA_DIR / "stores"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: Rows per PostgreSQL COPY statement.
CHUNK_ROWS = 1_000_000

Progress = Callable[[str], None]


def arrow_table(dataset: DataSet, table: str) -> pa.Table:
    """A table's rows in the schema's column order and the loader's Arrow types."""
    schema = pa.schema([(c.name, ARROW_TYPES[c.type]) for c in COLUMNS[table]])
    return pq.read_table(dataset.path(table), columns=schema.names).cast(schema)


def load(metrics: Metrics, dataset: DataSet, progress: Progress) -> dict[str, float]:
    """Create the tables and write every table of `dataset` through `Metrics.write`, which
    keeps the library's derived tables up to date; seconds per table."""
    seconds: dict[str, float] = {}
    metrics.store.init_db()
    for table in TABLES:
        started = time.perf_counter()
        rows = arrow_table(dataset, table)
        metrics.store.write(Batch(table, rows, str(dataset.path(table))))
        seconds[table] = time.perf_counter() - started
        progress(f"  {table}: {rows.num_rows:,} rows in {seconds[table]:.1f} s")
    return seconds


def duckdb_store(dataset: DataSet, path: Path, progress: Progress) -> dict[str, float]:
    """A fresh DuckDB file holding `dataset`."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"duckdb:///{path}"
    with Metrics.connect(url, settings=Settings(database_url=url)) as metrics:
        seconds = load(metrics, dataset, progress)
    seconds["megabytes"] = round(path.stat().st_size / 1e6, 1)
    return seconds


def postgres_available() -> str | None:
    """Why PostgreSQL cannot be measured, or None."""
    from crm_metrics.errors import ConfigError
    from crm_metrics.executors import connect

    try:
        connect(POSTGRES_URL).close()
    except ConfigError as error:
        return "not in main yet (no postgresql:// executor)" if "scheme" in str(error) else str(error)
    except Exception as error:  # the server is down or refuses us: say so in the report
        return f"PostgreSQL at {POSTGRES_URL} is unavailable: {error}"
    return None


def schema_url(schema: str, base: str = POSTGRES_URL) -> str:
    """The URL whose sessions find the tables in `schema` (libpq `options`)."""
    return f"{base}?options={quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def postgres_schema(base: str = POSTGRES_URL) -> Iterator[str]:
    """A private schema (random name) in the shared test database, dropped afterwards."""
    import psycopg

    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def postgres_store(dataset: DataSet, url: str, progress: Progress) -> dict[str, float]:
    import psycopg
    from psycopg import sql

    seconds: dict[str, float] = {}
    settings = Settings(database_url=url, query_timeout_seconds=0)
    with Metrics.connect(url, settings=settings) as metrics:
        metrics.store.init_db()
    with psycopg.connect(url, autocommit=True) as conn:
        # PostgreSQL's advice for a bulk load ("Populating a Database"): drop the indexes,
        # COPY, build them again (init_db below creates the ones it defines), then VACUUM (ANALYZE).
        (schema,) = conn.execute("SELECT current_schema()").fetchone()
        indexes = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)).fetchall()
        for (index,) in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, index)))
        for table in TABLES:
            started = time.perf_counter()
            rows = arrow_table(dataset, table)
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(name) for name in rows.column_names)
            )
            for offset in range(0, rows.num_rows, CHUNK_ROWS):
                text = io.BytesIO()
                # Arrow quotes every string and leaves nulls unquoted and empty: COPY's csv reads
                # an unquoted empty field as NULL and "" as the empty string.
                csv.write_csv(rows.slice(offset, CHUNK_ROWS), text, csv.WriteOptions(include_header=False))
                with conn.cursor().copy(statement) as copy:
                    copy.write(text.getbuffer())
            seconds[table] = time.perf_counter() - started
            progress(f"  {table}: {rows.num_rows:,} rows in {seconds[table]:.1f} s")
        started = time.perf_counter()
        with Metrics.connect(url, settings=settings) as metrics:
            metrics.store.init_db()
        seconds["indexes"] = time.perf_counter() - started
        progress(f"  {len(indexes)} indexes built in {seconds['indexes']:.1f} s")
        started = time.perf_counter()
        # What autovacuum does after a bulk load (PostgreSQL 13 and later vacuum after inserts
        # too): fresh statistics for the planner, and the visibility map that lets index-only
        # scans skip the heap (without it, the seed layout's lookups of the window's messages by
        # conversation fetched 107k heap rows for the largest tenant).
        conn.execute("VACUUM (ANALYZE)")
        seconds["analyze"] = time.perf_counter() - started
    return seconds


def postgres_rollup(url: str) -> float:
    """`init_db(rollup=True)` on a PostgreSQL store: the derived tables and the rollup made and
    filled from its rows, in one transaction; seconds."""
    started = time.perf_counter()
    with Metrics.connect(url, settings=Settings(database_url=url, query_timeout_seconds=0)) as metrics:
        metrics.store.init_db(rollup=True)
        assert metrics.layout == "rollup"
    seconds = time.perf_counter() - started
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        # As after the bulk load (postgres_store): what autovacuum does to tables just filled
        # (PostgreSQL 13 and later vacuum after inserts), done before measuring rather than
        # while measuring. Without it the derived tables have no visibility map (responses
        # read message_facts' turns through a bitmap heap scan, not its covering index) until
        # an autovacuum of ~1M rows runs on the bench's two cores, at a moment of its choosing.
        conn.execute("VACUUM message_facts, conversation_facts, metric_slots, cost_slots")
    return seconds


def loader_rate(dataset: DataSet, rows: int = 100_000) -> dict[str, float]:
    """Rows per second of the loader's own path (`crm_metrics.loader.prepare_file`: read the
    file as dicts, check and convert every value) on a Parquet file of the first messages,
    and what that makes for all of them."""
    with tempfile.TemporaryDirectory() as directory:
        sample = Path(directory) / "messages.parquet"
        pq.write_table(pq.read_table(dataset.path("messages")).slice(0, rows), sample)
        started = time.perf_counter()
        prepare_file("messages", sample)
        seconds = time.perf_counter() - started
    total = pq.read_metadata(dataset.path("messages")).num_rows
    return {"rows": rows, "rows_per_second": round(rows / seconds), "seconds_for_all_messages": round(total / (rows / seconds), 1)}
