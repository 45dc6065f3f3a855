"""The executor protocol: the few things crm-metrics asks of a database engine."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from crm_metrics.query import CompiledQuery

if TYPE_CHECKING:
    import pyarrow

    from crm_metrics.derived import Refresh


#: Which conversations a load touches, from the staging table of the rows being loaded:
#: their own ids, or the conversations of the messages (before and after the load).
TOUCHED = {
    "conversations": "SELECT id AS conversation_id FROM crm_metrics_staging",
    "messages": (
        "SELECT conversation_id FROM crm_metrics_staging UNION "
        "SELECT conversation_id FROM messages WHERE id IN (SELECT id FROM crm_metrics_staging)"
    ),
}
#: Every conversation, for a rebuild: those of `conversations`, and those only the derived
#: tables still know (deleted behind the loader's back), whose rows must go. Messages of a
#: conversation that does not exist have no facts, and message_facts holds only conversations
#: that conversation_facts holds (both keep the same conversations): neither needs scanning.
ALL_CONVERSATIONS = "SELECT id AS conversation_id FROM conversations UNION SELECT conversation_id FROM conversation_facts"


#: The rows being written, as every engine names them during a write.
STAGING = "crm_metrics_staging"


def orphans(table: str, run: Callable[[str], list[tuple[Any, ...]]], staging: str = STAGING) -> tuple[int, int, tuple[str, ...]]:
    """For a write of `messages`, run (with `run`, inside the write) the count of the written
    messages whose conversation is not stored, of their conversations, and three of those
    conversations' ids. Such messages load, but no answer counts them until their conversation
    arrives: a write says so. Other tables have none."""
    if table != "messages":
        return 0, 0, ()
    rows = f"SELECT s.conversation_id FROM {staging} AS s WHERE NOT EXISTS (SELECT 1 FROM conversations AS c WHERE c.id = s.conversation_id)"
    ((messages, conversations),) = run(f"SELECT COUNT(*), COUNT(DISTINCT conversation_id) FROM ({rows}) AS o")
    if not messages:
        return 0, 0, ()
    examples = run(f"SELECT DISTINCT conversation_id FROM ({rows}) AS o ORDER BY conversation_id LIMIT 3")
    return int(messages), int(conversations), tuple(str(row[0]) for row in examples)


@dataclass(frozen=True)
class Written:
    """What a write did: rows new to the table, stored rows changed in place, and for
    messages those whose conversation is not stored (how many, of how many conversations, and
    a few of those conversations' ids)."""

    inserted: int
    updated: int
    orphan_messages: int = 0
    orphan_conversations: int = 0
    orphan_examples: tuple[str, ...] = ()


def upsert(table: str, columns: Sequence[str], *, as_text: Collection[str] = ()) -> tuple[str, str]:
    """The two statements that write the staging table's rows into `table` in place: an
    UPDATE of the stored rows with the same id whose values differ, then an INSERT of the
    others. Never a DELETE: the tables may be the CRM's own, with foreign keys (ON DELETE
    CASCADE would take the messages with their conversation), triggers and columns of other
    applications, which must all survive. No unique constraint on `id` is needed (MERGE and
    ON CONFLICT want one). Columns in `as_text` are compared as text (PostgreSQL's `json` has
    no equality). Names come from the schema, never from data."""
    quoted = [f'"{name}"' for name in columns]

    def compared(side: str, name: str) -> str:
        column = f'{side}."{name}"'
        return f"CAST({column} AS TEXT)" if name in as_text else column

    changes = " OR ".join(f"{compared('t', name)} IS DISTINCT FROM {compared('s', name)}" for name in columns if name != "id")
    assignments = ", ".join(f'"{name}" = s."{name}"' for name in columns if name != "id")
    update = f'UPDATE "{table}" AS t SET {assignments} FROM {STAGING} AS s WHERE t.id = s.id AND ({changes})'
    insert = (
        f'INSERT INTO "{table}" ({", ".join(quoted)}) SELECT {", ".join(f"s.{q}" for q in quoted)} FROM {STAGING} AS s'
        f' WHERE NOT EXISTS (SELECT 1 FROM "{table}" AS t WHERE t.id = s.id)'
    )
    return update, insert


@runtime_checkable
class Executor(Protocol):
    """One engine. Implementations are safe to share between threads."""

    #: The sqlglot dialect the engine's queries are compiled to.
    dialect: ClassVar[str]
    #: Where it connects, fit to print (no password).
    description: str

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a compiled query with its parameters bound: the driver's rows, as tuples
        (the caller normalises them, once, by the query's column types)."""
        ...

    def run_script(self, sql: str) -> None:
        """Run statements without parameters (DDL)."""
        ...

    def has_table(self, name: str) -> bool: ...

    def upsert_rows(self, table: str, rows: pyarrow.Table, refresh: Refresh | None = None) -> Written:
        """Write rows in place (`upsert`): stored rows with the same `id` are updated, the
        others inserted; then run the `refresh` of the derived tables for every conversation
        the rows touch (TOUCHED); all in one transaction."""
        ...

    def rebuild(self, refresh: Refresh, ddl: str | None = None) -> None:
        """Run the `refresh` for every conversation (ALL_CONVERSATIONS), in one transaction;
        first the script `ddl` (which makes the derived tables), in the same transaction."""
        ...

    def ping(self) -> None:
        """Raise `BackendUnavailable` unless the database answers."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Changes:
    """Writes to `conversations` and `messages` that the live rollup has not applied yet:
    queued conversation ids (a conversation once per write that touched it) and the age of the
    oldest, in seconds (0 when none are pending)."""

    pending: int
    lag_seconds: float


@runtime_checkable
class ChangeQueue(Protocol):
    """An engine whose own triggers queue every write to `conversations` and `messages`, by
    any client, for the derived tables (PostgreSQL's live rollup: sql/schema/postgres-live.sql)."""

    def install_changes(self, ddl: str, live: str) -> bool:
        """In one short transaction: check the privileges the live rollup needs (a ConfigError
        names every one missing; nothing is made), run the script `ddl` (the seed's tables)
        and `live` (the queue and its triggers). Whether the queue was already there."""
        ...

    def remove_changes(self, script: str) -> None:
        """Run the removal `script` (the queue, its triggers, the derived tables) in one
        transaction, taking the locks it needs without making writers queue behind it."""
        ...

    def apply_changes(self, refresh: Refresh, limit: int) -> int:
        """Take up to `limit` conversations with queued changes and run `refresh` for them, in
        one transaction that also deletes their queued changes (all or nothing: a crash leaves
        them queued). The
        number of conversations refreshed; 0 when nothing is queued or the live rollup or
        the derived tables are not there."""
        ...

    def changes(self) -> Changes | None:
        """What is queued, or None without the live rollup."""
        ...


@runtime_checkable
class DryRunner(Protocol):
    """An engine that can tell what a query would cost without running it (BigQuery)."""

    def dry_run(self, query: CompiledQuery, values: Mapping[str, Any]) -> int:
        """The bytes the query would process; nothing runs and nothing is billed."""
        ...


class Session(Protocol):
    """One write transaction of an engine that takes events (crm_metrics/events.py), opened by
    `Transactional.session`: it commits when the `with` block ends, rolls back on an error."""

    def stage(self, name: str, rows: pyarrow.Table, *, like: str | None = None) -> None:
        """Make `rows` readable as the temporary table `name` until `unstage` (or the end);
        with `like`, its columns take that table's types (JSON columns stay JSON)."""
        ...

    def unstage(self, name: str) -> None: ...

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a statement without parameters (names come from the schema, values are staged),
        and its rows."""
        ...

    def upsert(self, table: str, columns: Sequence[str]) -> None:
        """Write the staged `STAGING` rows into `table` in place (`upsert`)."""
        ...

    def prepare(self, refresh: Refresh) -> None:
        """Run `refresh.before`, once the caller has made `crm_metrics_touched` and before it
        writes the base tables."""
        ...

    def refresh(self, refresh: Refresh) -> None:
        """Run `refresh` (or its `instead`, when `prepare` found the rollup behind the touched
        conversations' rows) for the conversations in the temporary table
        `crm_metrics_touched` (the caller makes it); drops that table."""
        ...


@runtime_checkable
class Transactional(Protocol):
    """An engine crm-metrics can write row by row in its own transactions (DuckDB, PostgreSQL;
    not BigQuery, whose copy the CRM's pipeline syncs)."""

    def session(self, refresh: Refresh | None = None) -> AbstractContextManager[Session]:
        """A write transaction; with `refresh`, the derived tables are locked against other
        writers for its length. Writers of events are serialised (one at a time per store)."""
        ...
