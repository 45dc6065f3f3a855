"""The executor protocol: the few things crm-metrics asks of a database engine."""

from __future__ import annotations

from collections.abc import Mapping
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


@runtime_checkable
class Executor(Protocol):
    """One engine. Implementations are safe to share between threads."""

    #: The sqlglot dialect the engine's queries are compiled to.
    dialect: ClassVar[str]
    #: Where it connects, fit to print (no password).
    description: str

    def fetch(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run a compiled query with its parameters bound; rows normalised by `query.normalise`."""
        ...

    def run_script(self, sql: str) -> None:
        """Run statements without parameters (DDL)."""
        ...

    def has_table(self, name: str) -> bool: ...

    def replace_rows(self, table: str, rows: pyarrow.Table, refresh: Refresh | None = None) -> None:
        """Insert rows, replacing existing rows of the same `id`, then run the `refresh` of the
        derived tables for every conversation the rows touch (TOUCHED); all in one transaction."""
        ...

    def rebuild(self, refresh: Refresh, ddl: str | None = None) -> None:
        """Run the `refresh` for every conversation (ALL_CONVERSATIONS), in one transaction;
        first the script `ddl` (which makes the derived tables), in the same transaction."""
        ...

    def ping(self) -> None:
        """Raise `BackendUnavailable` unless the database answers."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class DryRunner(Protocol):
    """An engine that can tell what a query would cost without running it (BigQuery)."""

    def dry_run(self, query: CompiledQuery, values: Mapping[str, Any]) -> int:
        """The bytes the query would process; nothing runs and nothing is billed."""
        ...
