"""The seed's three tables, as the loader validates them; DDL per engine lives in sql/schema/."""

from __future__ import annotations

from dataclasses import dataclass

from crm_metrics.templates import sql_dir


@dataclass(frozen=True)
class Column:
    name: str
    #: STRING, TIMESTAMP or JSON
    type: str
    required: bool


TABLES: dict[str, tuple[Column, ...]] = {
    "tenants": (
        Column("id", "STRING", True),
        Column("name", "STRING", True),
        Column("timezone", "STRING", False),
    ),
    "conversations": (
        Column("id", "STRING", True),
        Column("tenant_id", "STRING", True),
        Column("outlet_id", "STRING", False),
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


def ddl(dialect: str) -> str:
    """The CREATE TABLE IF NOT EXISTS script of an engine."""
    return (sql_dir() / "schema" / f"{dialect}.sql").read_text(encoding="utf-8")
