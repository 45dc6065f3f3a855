"""The write path: tables, loads and the derived tables (`Metrics.store`).

    metrics.store.init_db()                        # the tables where missing
    report = metrics.store.load("messages", "messages.jsonl")
    print(*report.lines(), sep="\\n")

Every write is all or nothing and updates stored rows in place by id (never a delete: only a
delete event removes rows, crm_metrics/events.py); on a
store with derived tables it brings them up to date in its own transaction (crm_metrics/derived.py),
so an answer never sees the base tables and the derived ones disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from crm_metrics import derived, events, loader, schema
from crm_metrics.compiler import compile_sql, parse_dialect
from crm_metrics.errors import ConfigError
from crm_metrics.executors import Executor
from crm_metrics.executors.base import ChangeQueue
from crm_metrics.prices import PriceTables

#: The Arrow types of the rate card's columns (sql/schema/*-rollup.sql), for a table of no rows too.
_CARD_TYPES = {
    "low": pa.string(), "high": pa.string(), "market": pa.string(), "category": pa.string(), "price": pa.float64(),
    "model": pa.string(), "input_price": pa.float64(), "output_price": pa.float64(),
    "valid_from": pa.date32(), "valid_to": pa.date32(), "fingerprint": pa.string(), "llm_price_per_million_tokens": pa.float64(),
}


class Store:
    """The tables of one database, for writing. Safe to share between threads."""

    def __init__(self, executor: Executor, *, read_only: bool = False, on_write: Callable[[], None] = lambda: None) -> None:
        self.executor = executor
        self.read_only = read_only
        #: Called after every write (the facade forgets the tenants it remembers).
        self._on_write = on_write
        self._layout: str | None = None
        self._card_tables = False
        self._events = events.Writer(executor)

    @property
    def layout(self) -> str:
        """The store's richest layout: 'rollup' where the derived tables and the rollup exist
        (the embedded store; PostgreSQL after `init-db --rollup`), 'facts' where only the
        derived tables do, else 'seed'. Looked up once (and again by every write)."""
        if self._layout is None:
            layout = "seed"
            if all(self.executor.has_table(table) for table in derived.FACTS):
                # A rollup without its priced part (a store made before it) answers from the
                # derived tables until `init-db` rebuilds it whole.
                rollup = all(self.executor.has_table(table) for table in (derived.ROLLUP, derived.COSTS))
                layout = "rollup" if rollup else "facts"
            # The priced rollup's columns and rate card (docs/costs.md) come with the rollup's
            # DDL: a rollup made before them has neither until `init-db`.
            self._card_tables = layout == "rollup" and self.executor.has_table(derived.RATE_CARD)
            self._layout = layout
        return self._layout

    @property
    def card_tables(self) -> bool:
        """Whether the rollup keeps priced columns by a stored rate card (docs/costs.md, "The
        priced rollup"): the rollup layout with the rate card's tables."""
        return self.layout == "rollup" and self._card_tables

    def installed_card(self) -> str | None:
        """The name (`Metrics.rate_card`) of the rate card the rollup's priced columns hold;
        None where none is installed. Read afresh: another process may install its own."""
        if not self.card_tables:
            return None
        rows = self.executor.fetch(compile_sql("lookup/rate_card", self.executor.dialect), {})
        return rows[0][0] if rows else None

    def install_prices(self, card: str, tables: PriceTables, llm_price_per_million_tokens: float) -> bool:
        """Store the rate card `tables` under the name `card` and price every rollup slot by
        it, in one transaction (docs/costs.md, "The priced rollup"); False where that card is
        installed already. Needs the priced rollup (`init-db`): ConfigError without it."""
        self._writable()
        self._layout = None
        if not self.card_tables:
            raise ConfigError(f"{self.executor.description} has no priced rollup: run `crm-metrics init-db`{' --rollup' if self.executor.dialect == 'postgres' else ''}")
        if self.installed_card() == card:
            return False
        card_row = {"fingerprint": (card,), "llm_price_per_million_tokens": (float(llm_price_per_million_tokens),)}
        with self.executor.session() as session:
            for table, columns in {**tables.stored(), derived.RATE_CARD: card_row}.items():
                staged = f"{table}_staged"
                session.stage(staged, pa.table({name: pa.array(values, _CARD_TYPES[name]) for name, values in columns.items()}), like=table)
                session.rows(f"DELETE FROM {table}")
                session.rows(f"INSERT INTO {table} SELECT {', '.join(columns)} FROM {staged}")
                session.unstage(staged)
            for statement in derived.reprice_all(parse_dialect(self.executor.dialect)):
                session.rows(statement)
        self._changed()
        return True

    def init_db(self, *, rollup: bool | None = None) -> None:
        """Create the tables where missing; with `rollup`, the derived tables and the rollup
        too, filled from the rows already there in the same transaction (all or nothing).
        `rollup` defaults to True on DuckDB (the embedded store, which only crm-metrics
        writes) and False elsewhere; BigQuery has no derived tables (ConfigError). Tables are
        never dropped: without `rollup`, derived tables already there stay and stay exact.
        On PostgreSQL `rollup` installs the live rollup first (`_init_live`)."""
        self._writable()
        dialect = self.executor.dialect
        if rollup is None:
            rollup = dialect in schema.ROLLUP_BY_DEFAULT
        script = schema.ddl(dialect, rollup=rollup)
        if rollup and isinstance(self.executor, ChangeQueue):
            self._init_live(self.executor)
        elif rollup and self.layout != "rollup":
            self.executor.rebuild(derived.refresh(parse_dialect(dialect), rollup=True, prices=True), ddl=script)
        else:
            self.executor.run_script(script)
        self._changed()

    def _init_live(self, executor: ChangeQueue) -> None:
        """The live rollup (PostgreSQL): triggers that queue every write to conversations
        and messages, by any client, for `crm-metrics serve` to apply (crm_metrics/changes.py).
        First the triggers, in a short transaction of their own (writers wait for it at most
        a few seconds); then the derived tables are filled in another, from a snapshot taken
        after the triggers exist: a write is either in that snapshot or queued, and the CRM
        goes on writing during the fill. A fill that fails takes the triggers away again."""
        dialect = self.executor.dialect
        was_seed = self.layout == "seed"
        installed = executor.install_changes(schema.ddl(dialect), schema.script(f"{dialect}-live"))
        refresh = derived.refresh(parse_dialect(dialect), rollup=True, prices=True)
        tables = schema.script(f"{dialect}-rollup")
        self._layout = None
        try:
            if self.layout != "rollup":
                self.executor.rebuild(refresh, ddl=tables)
            elif not installed:
                # Derived tables made before the live rollup: writes of other clients since
                # then never reached them. The tables' DDL first: it adds the priced rollup's
                # columns to a rollup made before them, which the refresh sets.
                self.executor.rebuild(refresh, ddl=tables)
            else:
                self.executor.run_script(tables)
        except BaseException:
            if was_seed:
                executor.remove_changes(schema.script(f"{dialect}-live-drop"))
            raise

    def drop_rollup(self) -> bool:
        """Remove PostgreSQL's live rollup and the derived tables, in one transaction:
        answers come from the seed's tables again (sql/schema/postgres-live-drop.sql). False
        when there was nothing to remove. Other engines: ConfigError."""
        self._writable()
        if not isinstance(self.executor, ChangeQueue):
            raise ConfigError(f"drop-rollup is for PostgreSQL's live rollup; this database is {self.executor.description}")
        found = self.executor.changes() is not None or self.layout != "seed"
        self.executor.remove_changes(schema.script(f"{self.executor.dialect}-live-drop"))
        self._changed()
        return found

    def ensure_tables(self) -> None:
        """`init_db` where one of the seed's tables is missing; nothing where they exist: a
        role that may write the CRM's tables need not own them (DDL, even CREATE INDEX IF NOT
        EXISTS, is the owner's)."""
        if not all(self.executor.has_table(table) for table in schema.TABLES):
            self.init_db()

    def load(self, table: str, path: str | Path, *, assume_tz: str | None = None) -> loader.LoadReport:
        """Load a CSV, JSON Lines or Parquet file into a table, all or nothing; stored rows
        with the same id are updated in place. Timestamps without a UTC offset are read in
        `assume_tz` (default UTC)."""
        return self.write(loader.prepare_file(table, path, assume_tz=assume_tz))

    def load_rows(
        self, table: str, rows: Iterable[Mapping[str, Any]], source: str = "rows", *, assume_tz: str | None = None
    ) -> loader.LoadReport:
        """Load rows (dicts with the table's columns) as `load` loads a file."""
        return self.write(loader.prepare_rows(table, rows, source, assume_tz=assume_tz))

    def write(self, batch: loader.Batch) -> loader.LoadReport:
        """Write a batch checked by `crm_metrics.loader.prepare_file` / `prepare_rows`, all
        or nothing, keeping derived tables up to date."""
        self._writable()
        # Looked up afresh: another process may have made the derived tables since (init-db
        # --rollup), and a write that skipped them would leave them stale.
        self._layout = None
        written = self.executor.upsert_rows(batch.table, batch.rows, self._refresh())
        self._changed()
        return loader.LoadReport(
            table=batch.table,
            source=batch.source,
            rows=batch.rows.num_rows,
            inserted=written.inserted,
            updated=written.updated,
            naive_timestamps=batch.naive_timestamps,
            assumed_tz=batch.assumed_tz,
            orphan_messages=written.orphan_messages,
            orphan_conversations=written.orphan_conversations,
            orphan_examples=written.orphan_examples,
        )

    def check_events(self) -> None:
        """ConfigError unless this store can take events: opened for writing, on DuckDB or
        PostgreSQL (BigQuery's copy is synced by the CRM's pipeline)."""
        self._writable()
        self._events.check_engine()

    def apply(self, batch: Sequence[events.Event]) -> events.Applied:
        """Apply events checked by `crm_metrics.events.check` in one transaction, keeping
        derived tables up to date (docs/events.md: versions, deletes, order). ConfigError on
        BigQuery, which takes no events."""
        self.check_events()
        self._layout = None
        applied = self._events.apply(batch, self._refresh(events=True))
        self._changed()
        return applied

    def refresh(self) -> bool:
        """Recompute the derived tables from the base tables (after writing those directly);
        False when the store has none."""
        self._writable()
        self._layout = None
        refresh = self._refresh()
        if refresh:
            self.executor.rebuild(refresh)
        self._changed()
        return refresh is not None

    def _refresh(self, *, events: bool = False) -> derived.Refresh | None:
        if self.layout == "seed":
            return None
        dialect = parse_dialect(self.executor.dialect)
        rollup, prices = self.layout == "rollup", self.card_tables
        if events:
            # An event batch's cost follows the messages it changes (derived.events).
            return derived.events(dialect, rollup=rollup, prices=prices)
        return derived.refresh(dialect, rollup=rollup, prices=prices)

    def _writable(self) -> None:
        if self.read_only:
            raise ConfigError(f"{self.executor.description} is opened read-only: open it without read_only to write")

    def _changed(self) -> None:
        self._layout = None
        self._on_write()
