"""The executor protocol: the few things crm-metrics asks of a database engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from crm_metrics.query import CompiledQuery

if TYPE_CHECKING:
    import pyarrow


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

    def replace_rows(self, table: str, rows: pyarrow.Table) -> None:
        """Insert rows, replacing existing rows of the same `id`; all or nothing."""
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
