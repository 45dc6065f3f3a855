"""The seed's three tables, as the loader validates them; DDL per engine lives in sql/schema/."""

from __future__ import annotations

from dataclasses import dataclass

from crm_metrics.errors import ConfigError
from crm_metrics.templates import sql_dir


@dataclass(frozen=True)
class Column:
    name: str
    #: STRING, TIMESTAMP or JSON
    type: str
    required: bool
    #: A UUID that requests name (a tenant, an outlet): stored in lowercase, so that it
    #: matches the request's canonical form on every engine.
    uuid: bool = False


TABLES: dict[str, tuple[Column, ...]] = {
    "tenants": (
        Column("id", "STRING", True, uuid=True),
        Column("name", "STRING", True),
        Column("timezone", "STRING", False),
    ),
    "conversations": (
        Column("id", "STRING", True),
        Column("tenant_id", "STRING", True, uuid=True),
        Column("outlet_id", "STRING", False, uuid=True),
        Column("customer_phone", "STRING", True),
        Column("status", "STRING", True),
        Column("started_at", "TIMESTAMP", True),
        Column("ended_at", "TIMESTAMP", False),
        Column("last_message_at", "TIMESTAMP", False),
    ),
    "messages": (
        Column("id", "STRING", True),
        Column("conversation_id", "STRING", True),
        Column("sender_type", "STRING", True),
        Column("sender_id", "STRING", False),
        Column("content", "STRING", True),
        Column("timestamp", "TIMESTAMP", True),
        Column("metadata", "JSON", False),
    ),
}


#: Engines whose `init_db` makes the derived tables and the rollup unless told otherwise: the
#: embedded store, which only crm-metrics writes. Elsewhere other writers may fill the seed's
#: tables, and derived tables would then answer from stale rows: users opt in.
ROLLUP_BY_DEFAULT = frozenset({"duckdb"})


def ddl(dialect: str, *, rollup: bool = False) -> str:
    """The CREATE ... IF NOT EXISTS script of an engine: the seed's tables, and with `rollup`
    the derived tables and the rollup too (sql/schema/<engine>-rollup.sql)."""
    directory = sql_dir() / "schema"
    script = (directory / f"{dialect}.sql").read_text(encoding="utf-8")
    if not rollup:
        return script
    derived = directory / f"{dialect}-rollup.sql"
    if not derived.exists():
        raise ConfigError(
            f"{dialect} keeps the seed's tables only: derived tables and the rollup are made on DuckDB and PostgreSQL"
        )
    return script + "\n" + derived.read_text(encoding="utf-8")


def script(name: str) -> str:
    """The script sql/schema/<name>.sql, e.g. `postgres-rollup` (the derived tables),
    `postgres-live` (the live rollup's queue and triggers) or `postgres-live-drop`."""
    return (sql_dir() / "schema" / f"{name}.sql").read_text(encoding="utf-8")
