"""PostgreSQL's live rollup (crm_metrics/changes.py, sql/schema/postgres-live.sql): writes of any
client reach the rollup with no command run by hand, through crashes of the process that
applies them; installing it needs a table owner's privileges only, and goes whole or not at all.

The conformance suite runs the layout too (tests/support/engines.py: `postgres-live`)."""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from crm_metrics import ConfigError, Metrics, Settings
from crm_metrics.cli import main
from tests.support.api import free_port
from tests.support.compare import assert_same
from tests.support.engines import FIXED_NOW, POSTGRES_URL, PostgresEngine, with_option

TENANTS = ["7a1e3c1e-0000-4000-8000-0000000000a1", "7a1e3c1e-0000-4000-8000-0000000000a2", "7a1e3c1e-0000-4000-8000-0000000000a3"]
OUTLETS = [None, "0b1e7000-0000-4000-8000-00000000000a", "0b1e7000-0000-4000-8000-00000000000b"]
FIRST_DAY = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
DAYS = 10
MESSAGE_COLUMNS = ("id", "conversation_id", "sender_type", "sender_id", "content", "timestamp", "metadata")


@pytest.fixture
def schema() -> Iterator[str]:
    engine = PostgresEngine()
    engine.start()  # a schema of its own with the seed's tables
    engine.executor.close()
    yield engine.schema
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(engine.schema)))


def _url(schema: str, user: str = "postgres") -> str:
    return with_option(POSTGRES_URL.replace("postgres@", f"{user}@"), f"-csearch_path={schema}")


class Writer(threading.Thread):
    """One of the CRM's services writing with plain SQL: conversations with their messages
    (now and then the messages first), messages by COPY into any writer's conversations,
    status changes, messages moved, deleted; each statement's latency is kept."""

    def __init__(self, url: str, number: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.number, self.stop = url, number, stop
        self.random = random.Random(number)
        self.conversations: list[str] = []
        self.messages: list[str] = []
        self.latencies: list[float] = []
        self.error: BaseException | None = None

    def instant(self) -> dt.datetime:
        return FIRST_DAY + dt.timedelta(seconds=self.random.uniform(0, DAYS * 86_400))

    def message(self, conversation: str) -> tuple:
        self.messages.append(f"w{self.number}-m{len(self.messages)}")
        sender = self.random.choice(["customer", "customer", "llm", "agent", "system"])
        metadata = self.random.choice([None, '{"tokens_used": 120}', '{"handoff_requested": true, "trigger": "keyword"}'])
        return (self.messages[-1], conversation, sender, None, "hi", self.instant(), metadata)

    def timed(self, conn: psycopg.Connection, statement: str, params: object = None) -> None:
        started = time.perf_counter()
        conn.execute(statement, params)
        self.latencies.append(time.perf_counter() - started)

    def step(self, conn: psycopg.Connection) -> None:
        r = self.random
        action = r.choice(["conversation", "conversation", "copy", "status", "move", "delete"]) if self.conversations else "conversation"
        if action == "conversation":
            conversation = f"w{self.number}-c{len(self.conversations)}"
            tenant = r.choice(TENANTS)
            row = (conversation, tenant.upper() if r.random() < 0.2 else tenant, r.choice(OUTLETS), "+1555", r.choice(["active", "resolved", "handed_off"]), self.instant())
            insert = "INSERT INTO conversations (id, tenant_id, outlet_id, customer_phone, status, started_at) VALUES (%s, %s, %s, %s, %s, %s)"
            with conn.transaction():
                if r.random() < 0.3:  # its messages before it
                    for _ in range(r.randint(1, 4)):
                        self.timed(conn, "INSERT INTO messages VALUES (%s, %s, %s, %s, %s, %s, %s)", self.message(conversation))
                self.timed(conn, insert, row)
            self.conversations.append(conversation)
        elif action == "copy":
            started = time.perf_counter()
            with conn.cursor().copy(f"COPY messages ({', '.join(MESSAGE_COLUMNS)}) FROM STDIN") as copy:
                for _ in range(r.randint(5, 30)):
                    # Any writer's conversations, some not written yet.
                    copy.write_row(self.message(f"w{r.randrange(4)}-c{r.randrange(len(self.conversations) + 3)}"))
            self.latencies.append(time.perf_counter() - started)
        elif action == "status":
            ended = self.instant() if r.random() < 0.5 else None
            self.timed(conn, "UPDATE conversations SET status = %s, ended_at = %s WHERE id = %s", (r.choice(["active", "resolved", "handed_off"]), ended, r.choice(self.conversations)))
        elif action == "move" and self.messages:
            self.timed(conn, "UPDATE messages SET conversation_id = %s WHERE id = %s", (r.choice(self.conversations), r.choice(self.messages)))
        elif action == "delete" and self.messages:
            self.timed(conn, "DELETE FROM messages WHERE id = %s", (r.choice(self.messages),))

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                while not self.stop.is_set():
                    self.step(conn)
                    time.sleep(0.005)
        except BaseException as error:  # reported by the test
            self.error = error


def _serve(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "ROLLUP_POLL_SECONDS": "0.01", "LOG_LEVEL": "warning"}
    return subprocess.Popen(
        [sys.executable, "-m", "crm_metrics", "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _applying(conn: psycopg.Connection, timeout: float) -> bool:
    """Wait until a transaction of the applier is open: it holds the lock on this schema's
    rollup that applying takes."""
    deadline = time.monotonic() + timeout
    held = "SELECT EXISTS (SELECT FROM pg_locks WHERE relation = 'metric_slots'::regclass AND mode = 'ShareRowExclusiveLock' AND granted)"
    while time.monotonic() < deadline:
        if conn.execute(held).fetchone()[0]:
            return True
        time.sleep(0.001)
    return False


def _drained(conn: psycopg.Connection, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while conn.execute("SELECT EXISTS (SELECT FROM crm_metrics_changes)").fetchone()[0]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _triggers(conn: psycopg.Connection, schema: str) -> int:
    """The live rollup's triggers on the tables of `schema`."""
    query = "SELECT count(*) FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid WHERE c.relnamespace = %s::regnamespace AND t.tgname LIKE 'crm_metrics_%%'"
    return conn.execute(query, (schema,)).fetchone()[0]


def _answers(metrics: Metrics) -> dict:
    start, end = FIRST_DAY.date() - dt.timedelta(days=1), FIRST_DAY.date() + dt.timedelta(days=DAYS)
    return {
        (tenant, outlet, tz): {
            "dashboard": metrics.dashboard(tenant, start, end, outlet_id=outlet, tz=tz).to_dict(),
            "summary": metrics.summary(tenant, start, end, outlet_id=outlet, tz=tz).to_dict(),
        }
        for tenant in TENANTS
        for outlet, tz in ((None, "UTC"), (OUTLETS[1], "America/New_York"))
    }


def test_concurrent_writers_and_a_killed_applier_lose_and_double_nothing(schema: str) -> None:
    url = _url(schema)
    settings = Settings(database_url=url)
    stop = threading.Event()
    writers = [Writer(url, n, stop) for n in range(4)]
    for writer in writers:
        writer.start()
    serve = None
    try:
        time.sleep(0.5)
        # Installed on rows already there while the CRM goes on writing.
        with Metrics.connect(settings=settings) as metrics:
            metrics.store.init_db(rollup=True)
            assert metrics.layout == "rollup"
        serve = _serve(url)
        with psycopg.connect(url, autocommit=True) as watch:
            assert _applying(watch, timeout=20), "crm-metrics serve never applied a change"
            serve.send_signal(signal.SIGKILL)  # mid-transaction
            serve.wait(timeout=10)
            time.sleep(0.3)  # writes queue meanwhile
            serve = _serve(url)
            assert _applying(watch, timeout=20)
            stop.set()
            for writer in writers:
                writer.join(timeout=10)
            assert _drained(watch, timeout=30), "the restarted applier did not catch up"
    finally:
        stop.set()
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=10)
    for writer in writers:
        assert writer.error is None, writer.error
        # The CRM's writes never waited for the analytics side (each is a few ms; the bound
        # leaves room for a busy machine, not for a lock held for the fill or an apply).
        assert max(writer.latencies) < 2.0, max(writer.latencies)
    assert sum(len(w.latencies) for w in writers) > 100
    with Metrics.connect(settings=Settings(database_url=url, tenant_cache_seconds=0), clock=lambda: FIXED_NOW) as live:
        assert live.layout == "rollup"
        rollup = _answers(live)
        live.store._layout = "seed"  # the same rows, read as the seed's tables
        seed = _answers(live)
    assert any(a["summary"]["total_conversations"] for a in rollup.values())
    assert_same(rollup, seed, "rollup vs seed")


def test_a_role_without_the_owners_privileges_is_told_what_is_missing_and_nothing_is_made(schema: str) -> None:
    role = f"crm_test_analytics_{secrets.token_hex(3)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as crm:
        crm.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        try:
            crm.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
            crm.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
            url = _url(schema, role)
            with Metrics.connect(settings=Settings(database_url=url)) as metrics:
                with pytest.raises(ConfigError) as refused:
                    metrics.store.init_db(rollup=True)
                assert metrics.layout == "seed"
            message = str(refused.value)
            assert f"for role {role}: ownership of table conversations, ownership of table messages, ownership of table tenants, CREATE on schema {schema}" in message
            assert "nothing was changed" in message
            found = _triggers(crm, schema)
            # crm_metrics_versions is the loader's (crm_metrics/events.py), not the rollup's.
            tables = crm.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename LIKE 'crm_metrics%%' AND tablename <> 'crm_metrics_versions'",
                (schema,),
            ).fetchone()[0]
            assert (found, tables) == (0, 0)
        finally:
            crm.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(role), sql.Identifier(role)))


def test_a_fill_that_is_interrupted_takes_the_triggers_away(schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _url(schema)
    with Metrics.connect(settings=Settings(database_url=url)) as metrics:
        def interrupted(*args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt  # Ctrl-C during the fill, after the triggers were installed

        monkeypatch.setattr(metrics.executor, "rebuild", interrupted)
        with pytest.raises(KeyboardInterrupt):
            metrics.store.init_db(rollup=True)
        assert (metrics.layout, metrics.changes()) == ("seed", None)
    with psycopg.connect(url, autocommit=True) as conn:
        assert _triggers(conn, schema) == 0


def test_drop_rollup_removes_it_and_answers_come_from_the_seeds_tables(schema: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = _url(schema)
    assert main(["init-db", "--rollup", "--database-url", url]) == 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO conversations VALUES ('c1', %s, NULL, '+1', 'active', %s, NULL, NULL)", (TENANTS[0], FIRST_DAY))
        with Metrics.connect(settings=Settings(database_url=url)) as metrics:
            assert (metrics.changes().pending, metrics.layout) == (1, "rollup")
        assert main(["drop-rollup", "--database-url", url]) == 0
        assert "live rollup and derived tables removed" in capsys.readouterr().out
        left = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relnamespace = %s::regnamespace AND relname ~ '^(crm_metrics_changes|conversation_facts|message_facts|metric_slots)'",
            (schema,),
        ).fetchone()[0]
        triggers = _triggers(conn, schema)
        functions = conn.execute("SELECT count(*) FROM pg_proc WHERE pronamespace = %s::regnamespace", (schema,)).fetchone()[0]
        assert (left, triggers, functions) == (0, 0, 0)
        # The CRM writes on as before.
        conn.execute("INSERT INTO messages VALUES ('m1', 'c1', 'customer', NULL, 'hi', %s, NULL)", (FIRST_DAY,))
        with Metrics.connect(settings=Settings(database_url=url), clock=lambda: FIXED_NOW) as metrics:
            assert metrics.layout == "seed"
            assert metrics.summary(TENANTS[0], FIRST_DAY.date(), FIRST_DAY.date()).total_messages == 1
    assert main(["drop-rollup", "--database-url", url]) == 0
    assert "no rollup to remove" in capsys.readouterr().out


def test_health_reports_the_rollups_lag(schema: str) -> None:
    from starlette.testclient import TestClient

    from crm_metrics import changes
    from server import ServerConfig, create_app

    url = _url(schema)
    with Metrics.connect(settings=Settings(database_url=url)) as metrics:
        with TestClient(create_app(metrics, ServerConfig())) as client:
            assert "rollup" not in client.get("/health").json()  # the seed's tables only
            metrics.store.init_db(rollup=True)
            assert client.get("/health").json()["rollup"] == {"pending_changes": 0, "lag_seconds": 0.0}
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("INSERT INTO conversations VALUES ('c1', %s, NULL, '+1', 'active', %s, NULL, NULL)", (TENANTS[0], FIRST_DAY))
                conn.execute("INSERT INTO messages VALUES ('m1', 'c1', 'customer', NULL, 'hi', %s, NULL)", (FIRST_DAY,))
                body = client.get("/health").json()
                assert (body["status"], body["rollup"]["pending_changes"]) == ("healthy", 2)
                assert 0 < body["rollup"]["lag_seconds"] < 60
                assert changes.apply(metrics.executor) == 1
                assert client.get("/health").json()["rollup"] == {"pending_changes": 0, "lag_seconds": 0.0}
                # A change left unapplied for minutes: no applier runs.
                conn.execute("INSERT INTO crm_metrics_changes VALUES ('c1', clock_timestamp() - interval '2 minutes')")
                body = client.get("/health").json()
                assert (body["status"], body["rollup"]["pending_changes"]) == ("degraded", 1)
                assert body["rollup"]["lag_seconds"] >= 120


def test_the_crms_own_role_needs_no_privilege_on_the_queue_and_truncate_is_applied(schema: str) -> None:
    url = _url(schema)
    role = f"crm_test_crm_{secrets.token_hex(3)}"
    with Metrics.connect(settings=Settings(database_url=url), clock=lambda: FIXED_NOW) as metrics:
        metrics.store.init_db(rollup=True)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            try:
                # What the CRM's service was granted: its own tables, nothing of crm-metrics'.
                admin.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
                admin.execute(
                    sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {}, {} TO {}").format(
                        sql.Identifier(schema, "conversations"), sql.Identifier(schema, "messages"), sql.Identifier(role)
                    )
                )
                with psycopg.connect(_url(schema, role), autocommit=True) as crm:
                    crm.execute("INSERT INTO conversations VALUES ('c1', %s, NULL, '+1', 'active', %s, NULL, NULL)", (TENANTS[0], FIRST_DAY))
                    crm.execute("INSERT INTO messages VALUES ('m1', 'c1', 'customer', NULL, 'hi', %s, NULL)", (FIRST_DAY,))
                    assert changes_applied(metrics) == 1
                    assert metrics.summary(TENANTS[0], FIRST_DAY.date(), FIRST_DAY.date()).total_messages == 1
                    crm.execute("TRUNCATE messages")
                    assert changes_applied(metrics) == 1
                    summary = metrics.summary(TENANTS[0], FIRST_DAY.date(), FIRST_DAY.date())
                    assert (summary.total_conversations, summary.total_messages) == (1, 0)
            finally:
                admin.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(role), sql.Identifier(role)))


def test_a_batch_takes_whole_conversations_however_many_rows_they_queued(schema: str) -> None:
    from crm_metrics import changes

    url = _url(schema)
    with Metrics.connect(settings=Settings(database_url=url), clock=lambda: FIXED_NOW) as metrics:
        metrics.store.init_db(rollup=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO conversations VALUES ('c1', %s, NULL, '+1', 'active', %s, NULL, NULL)", (TENANTS[0], FIRST_DAY))
            conn.execute("INSERT INTO conversations VALUES ('c2', %s, NULL, '+1', 'active', %s, NULL, NULL)", (TENANTS[0], FIRST_DAY))
            for number in range(4):  # the triggers queue one row per row written
                conn.execute("INSERT INTO messages VALUES (%s, %s, 'customer', NULL, 'hi', %s, NULL)", (f"m{number}", f"c{1 + number % 2}", FIRST_DAY))
            assert metrics.changes().pending == 6
            # Batches of one conversation: each takes every row its conversation queued.
            assert changes.apply(metrics.executor, limit=1) == 2
            assert metrics.changes().pending == 0
            assert metrics.summary(TENANTS[0], FIRST_DAY.date(), FIRST_DAY.date()).total_messages == 4


def test_a_live_rollup_made_before_the_priced_costs_table_keeps_applying(schema: str) -> None:
    url = _url(schema)
    with Metrics.connect(settings=Settings(database_url=url), clock=lambda: FIXED_NOW) as metrics:
        metrics.store.init_db(rollup=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE cost_slots")  # as a store of the release before it
            conn.execute("INSERT INTO conversations VALUES ('c1', %s, NULL, '+1', 'active', %s, NULL, NULL)", (TENANTS[0], FIRST_DAY))
            conn.execute("INSERT INTO messages VALUES ('m1', 'c1', 'customer', NULL, 'hi', %s, NULL)", (FIRST_DAY,))
        assert changes_applied(metrics) == 1
        assert metrics.changes().pending == 0
        metrics.store._layout = None
        assert metrics.layout == "facts"
        assert metrics.summary(TENANTS[0], FIRST_DAY.date(), FIRST_DAY.date()).total_messages == 1


def changes_applied(metrics: Metrics) -> int:
    from crm_metrics import changes

    return changes.apply(metrics.executor)
