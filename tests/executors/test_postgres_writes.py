"""Writes into PostgreSQL tables shaped the way applications make them: primary keys, foreign
keys with and without ON DELETE CASCADE, columns and triggers of their own, or no constraint at
all. A load updates rows in place: it never deletes, so nothing of the CRM's goes with a reload.
And ids that requests name, written in upper case by other applications, still answer."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from crm_metrics import ConfigError, LoadError, Metrics, Settings
from crm_metrics.cli import main
from tests.support.engines import FIXED_NOW, POSTGRES_URL, PostgresEngine, with_option

TENANT = "7a1e3c1e-0000-4000-8000-00000000000f"
OUTLET = "0b1e7000-0000-4000-8000-00000000000a"

#: The CRM's own tables, as its other services create them.
SCHEMAS = {
    "cascading-fk": """
        CREATE TABLE conversations (id text PRIMARY KEY, tenant_id text NOT NULL, outlet_id text, customer_phone text NOT NULL,
          status text NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz, last_message_at timestamptz);
        CREATE TABLE messages (id text PRIMARY KEY, conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
          sender_type text NOT NULL, sender_id text, content text NOT NULL, "timestamp" timestamptz NOT NULL, metadata jsonb);
    """,
    "plain-fk": """
        CREATE TABLE conversations (id text PRIMARY KEY, tenant_id text NOT NULL, outlet_id text, customer_phone text NOT NULL,
          status text NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz, last_message_at timestamptz);
        CREATE TABLE messages (id text PRIMARY KEY, conversation_id text NOT NULL REFERENCES conversations (id),
          sender_type text NOT NULL, sender_id text, content text NOT NULL, "timestamp" timestamptz NOT NULL, metadata jsonb);
    """,
    # Columns of other applications (one NOT NULL with a default), json rather than jsonb, and
    # a trigger that stamps every update.
    "own-columns-and-trigger": """
        CREATE TABLE conversations (id text PRIMARY KEY, tenant_id text NOT NULL, outlet_id text, customer_phone text NOT NULL,
          status text NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz, last_message_at timestamptz,
          crm_notes text, crm_version integer NOT NULL DEFAULT 1, crm_updates integer NOT NULL DEFAULT 0);
        CREATE TABLE messages (id text PRIMARY KEY, conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
          sender_type text NOT NULL, sender_id text, content text NOT NULL, "timestamp" timestamptz NOT NULL, metadata json,
          delivered boolean NOT NULL DEFAULT true);
        CREATE FUNCTION crm_count_updates() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN NEW.crm_updates := OLD.crm_updates + 1; RETURN NEW; END $$;
        CREATE TRIGGER crm_count_updates BEFORE UPDATE ON conversations FOR EACH ROW EXECUTE FUNCTION crm_count_updates();
    """,
    "no-constraints": "",  # the tables `crm-metrics init-db` makes
}


@pytest.fixture(scope="module")
def server() -> Iterator[None]:
    # The shared engine says whether PostgreSQL is here (skip, or fail under CI=true).
    engine = PostgresEngine()
    engine.start()
    engine.stop()
    yield


@pytest.fixture
def schema(server: None) -> Iterator[str]:
    name = f"crm_test_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def crm_database(schema: str, ddl: str, *, rollup: bool = False) -> tuple[Metrics, psycopg.Connection]:
    """The CRM's tables made by `ddl`, then `init-db` (which adds what is missing), and a
    connection of the CRM's own into the schema."""
    url = with_option(POSTGRES_URL, f"-csearch_path={schema}")
    conn = psycopg.connect(url, autocommit=True)
    if ddl:
        conn.execute(ddl)
    # Tenants are looked up on every request: the CRM writes them behind the library.
    metrics = Metrics.connect(settings=Settings(database_url=url, tenant_cache_seconds=0), clock=lambda: FIXED_NOW)
    metrics.store.init_db(rollup=rollup)
    return metrics, conn


def at(day: int, hour: int, minute: int = 0) -> str:
    return dt.datetime(2025, 11, day, hour, minute, tzinfo=dt.UTC).isoformat()


def conversations(status: str) -> list[dict[str, object]]:
    return [
        {"id": f"c{i}", "tenant_id": TENANT, "outlet_id": OUTLET if i % 2 else None, "customer_phone": f"+62811{i:04}",
         "status": status if i % 3 else "active", "started_at": at(1 + i % 3, 8 + i % 10), "ended_at": None, "last_message_at": None}
        for i in range(12)
    ]


def messages() -> list[dict[str, object]]:
    rows = []
    for i in range(12):
        for n, sender in enumerate(("customer", "llm", "customer", "agent")):
            metadata = {"tokens_used": 40 + n} if sender == "llm" else ({"handoff_requested": True, "trigger": "keyword"} if n == 3 and i % 4 == 0 else None)
            rows.append({"id": f"m{i}-{n}", "conversation_id": f"c{i}", "sender_type": sender, "sender_id": None, "content": "hi",
                         "timestamp": at(1 + i % 3, 8 + i % 10, n), "metadata": metadata})
    return rows


def answers(metrics: Metrics) -> dict[str, object]:
    dashboard = metrics.dashboard(TENANT, "2025-11-01", "2025-11-03", tz="UTC").to_dict()
    summary = metrics.summary(TENANT, "2025-11-01", "2025-11-03", tz="UTC").to_dict()
    return {"dashboard": dashboard, "summary": summary}


STATUS_FIELDS = {"active_conversations", "resolved_conversations", "handed_off_conversations", "resolution_rate"}


def without_statuses(answer: dict[str, object]) -> dict[str, object]:
    dashboard = dict(answer["dashboard"])  # type: ignore[arg-type]
    dashboard["conversations"] = [{k: v for k, v in row.items() if k not in STATUS_FIELDS} for row in dashboard["conversations"]]
    summary = {k: v for k, v in answer["summary"].items() if k not in STATUS_FIELDS}  # type: ignore[union-attr]
    return {"dashboard": dashboard, "summary": summary}


def count(conn: psycopg.Connection, query: str) -> int:
    ((value,),) = conn.execute(query).fetchall()
    return int(value)


@pytest.mark.parametrize("rollup", [False, True], ids=["seed-tables", "rollup"])
@pytest.mark.parametrize("shape", list(SCHEMAS))
def test_reloading_conversations_keeps_their_messages_and_other_applications_columns(schema: str, shape: str, rollup: bool) -> None:
    metrics, crm = crm_database(schema, SCHEMAS[shape], rollup=rollup)
    with metrics, crm:
        metrics.store.load_rows("conversations", conversations("resolved"))
        metrics.store.load_rows("messages", messages())
        if shape == "own-columns-and-trigger":
            crm.execute("UPDATE conversations SET crm_notes = 'VIP', crm_version = 7 WHERE id = 'c1'")
        first = answers(metrics)
        assert first["summary"]["total_messages"] == 48

        for status in ("handed_off", "resolved", "closed"):
            report = metrics.store.load_rows("conversations", conversations(status))
            # Only the conversations whose status changed are written (a third stay active).
            assert (report.inserted, report.updated, report.unchanged) == (0, 8, 4)
            assert count(crm, "SELECT count(*) FROM messages") == 48
            again = answers(metrics)
            assert without_statuses(again) == without_statuses(first)
            assert again["summary"]["resolution_rate"] == pytest.approx(8 / 12 if status == "resolved" else 0.0)

        if shape == "own-columns-and-trigger":
            # The CRM's columns survive; its trigger saw four updates of c1: the CRM's own and our three.
            row = crm.execute("SELECT crm_notes, crm_version, crm_updates FROM conversations WHERE id = 'c1'").fetchone()
            assert row == ("VIP", 7, 4)
            assert count(crm, "SELECT count(*) FROM messages WHERE delivered") == 48


def test_messages_reload_in_place_under_a_foreign_key(schema: str) -> None:
    metrics, crm = crm_database(schema, SCHEMAS["plain-fk"])
    with metrics, crm:
        metrics.store.load_rows("conversations", conversations("resolved"))
        metrics.store.load_rows("messages", messages())
        report = metrics.store.load_rows("messages", [{**row, "content": "edited"} for row in messages()[:5]])
        assert (report.inserted, report.updated) == (0, 5)
        assert count(crm, "SELECT count(*) FROM messages WHERE content = 'edited'") == 5


def test_a_message_whose_conversation_is_missing_fails_under_a_foreign_key_and_writes_nothing(schema: str) -> None:
    metrics, crm = crm_database(schema, SCHEMAS["cascading-fk"])
    with metrics, crm:
        metrics.store.load_rows("conversations", conversations("resolved"))
        orphan = {**messages()[0], "id": "m-orphan", "conversation_id": "c-missing"}
        with pytest.raises(LoadError, match="PostgreSQL refused the rows for messages; nothing was written: .*foreign key"):
            metrics.store.load_rows("messages", [messages()[1], orphan])
        assert count(crm, "SELECT count(*) FROM messages") == 0


def test_without_constraints_messages_of_a_missing_conversation_load_are_reported_and_count_later(schema: str) -> None:
    metrics, crm = crm_database(schema, SCHEMAS["no-constraints"], rollup=True)
    with metrics, crm:
        report = metrics.store.load_rows("messages", messages())
        assert (report.orphan_messages, report.orphan_conversations, report.orphan_examples) == (48, 12, ("c0", "c1", "c10"))
        assert answers(metrics)["summary"]["total_messages"] == 0
        metrics.store.load_rows("conversations", conversations("resolved"))
        assert answers(metrics)["summary"]["total_messages"] == 48


@pytest.mark.parametrize("rollup", [False, True], ids=["seed-tables", "rollup"])
def test_upper_case_ids_written_by_other_applications_answer_lowercase_requests(schema: str, rollup: bool) -> None:
    metrics, crm = crm_database(schema, SCHEMAS["cascading-fk"], rollup=rollup)
    with metrics, crm:
        metrics.store.load_rows("conversations", conversations("resolved"))
        metrics.store.load_rows("messages", messages())
        expected = {
            "tenant": answers(metrics),
            "outlet": metrics.summary(TENANT, "2025-11-01", "2025-11-03", outlet_id=OUTLET, tz="UTC").to_dict(),
        }
        # The CRM rewrites its rows with upper-case UUIDs, and names the tenant likewise.
        crm.execute("UPDATE conversations SET tenant_id = upper(tenant_id), outlet_id = upper(outlet_id)")
        crm.execute("CREATE TABLE IF NOT EXISTS tenants (id text NOT NULL, name text NOT NULL, timezone text)")
        crm.execute("INSERT INTO tenants VALUES (%s, 'Acme', 'UTC')", (TENANT.upper(),))
        if rollup:
            metrics.store.refresh()
        assert answers(metrics)["dashboard"] == expected["tenant"]["dashboard"]
        summary = metrics.summary(TENANT, "2025-11-01", "2025-11-03", tz="UTC").to_dict()
        assert {**summary, "tenant_name": None} == expected["tenant"]["summary"] and summary["tenant_name"] == "Acme"
        outlet = metrics.summary(TENANT.upper(), "2025-11-01", "2025-11-03", outlet_id=OUTLET.upper(), tz="UTC").to_dict()
        assert {**outlet, "tenant_name": None} == expected["outlet"]


def test_a_role_that_may_write_but_not_own_loads_and_a_missing_privilege_is_named(schema: str, tmp_path: Path) -> None:
    # The CRM's tables belong to the CRM; the analytics role was granted what loads need.
    metrics, crm = crm_database(schema, SCHEMAS["cascading-fk"])
    role = f"crm_test_writer_{secrets.token_hex(3)}"
    with metrics, crm:
        crm.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        try:
            crm.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
            crm.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
            crm.execute(sql.SQL("REVOKE UPDATE ON messages FROM {}").format(sql.Identifier(role)))
            url = with_option(POSTGRES_URL.replace("postgres@", f"{role}@"), f"-csearch_path={schema}")
            path = tmp_path / "conversations.jsonl"
            path.write_text("".join(json.dumps(row) + "\n" for row in conversations("resolved")), encoding="utf-8")
            assert main(["load", "conversations", str(path), "--database-url", url]) == 0
            assert count(crm, "SELECT count(*) FROM conversations") == 12
            path = tmp_path / "messages.jsonl"
            path.write_text("".join(json.dumps(row) + "\n" for row in messages()), encoding="utf-8")
            # A load updates rows in place: PostgreSQL asks for UPDATE even when every row is new.
            with Metrics.connect(settings=Settings(database_url=url)) as writer:
                with pytest.raises(ConfigError, match="refused: permission denied for table messages .*docs/postgres.md"):
                    writer.store.load(table="messages", path=path)
            assert count(crm, "SELECT count(*) FROM messages") == 0
            crm.execute(sql.SQL("GRANT UPDATE ON messages TO {}").format(sql.Identifier(role)))
            assert main(["load", "messages", str(path), "--database-url", url]) == 0
            assert count(crm, "SELECT count(*) FROM messages") == 48
        finally:
            crm.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(role), sql.Identifier(role)))
