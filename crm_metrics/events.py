"""Events: rows pushed one change at a time by the CRM's services (docs/events.md).

    {"type": "conversation" | "message" | "tenant", "op": "upsert" | "delete", "version": 7, "data": {...}}

`op` defaults to `upsert`; `data` is one row with the columns `crm-metrics load` takes for that
table, checked by the loader's rules (crm_metrics/loader.py), and for `delete` only `{"id": ...}`.
A batch is checked whole before anything is written (`check`), then applied in one transaction
(`apply`): all or nothing.

Order. Events of one row are ordered by their `version` (a whole number the producer raises
with every change: a counter, or the row's update time in microseconds), else by arrival (last
write wins). An event applies when it carries no version, when the row's last applied event
carried none, or when its version is at least that one; so replays and duplicates change nothing
and an older version arriving late is dropped. A delete is remembered (a tombstone with its
version), so a late upsert older than the delete does not bring the row back. Deleting a
conversation deletes its messages; a message arriving for a deleted conversation is dropped
(the delete is final for it until the conversation is upserted again by a newer version).
Events of several tables in one batch apply tenants first, then conversations, then messages.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from crm_metrics import loader
from crm_metrics.derived import Refresh
from crm_metrics.errors import ConfigError, InvalidEvent, shown
from crm_metrics.executors import Executor
from crm_metrics.executors.base import STAGING, Session, Transactional
from crm_metrics.schema import TABLES

#: An event's `type` -> its table, in the order a batch applies them.
TYPES = {"tenant": "tenants", "conversation": "conversations", "message": "messages"}
OPS = ("upsert", "delete")
FIELDS = ("type", "op", "version", "data")
#: The largest version: PostgreSQL's and DuckDB's BIGINT.
MAX_VERSION = 2**63 - 1

#: Each row's last applied event: its version (null: none) and whether it deleted the row.
VERSIONS = "crm_metrics_versions"
VERSIONS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {VERSIONS} (table_name TEXT NOT NULL, id TEXT NOT NULL, version BIGINT,"
    " deleted BOOLEAN NOT NULL, PRIMARY KEY (table_name, id))"
)


@dataclass(frozen=True)
class Event:
    """One checked event: its table, op, the row's id, version and (for an upsert) its values
    as the loader converts them."""

    table: str
    op: str
    id: str
    version: int | None
    row: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Applied:
    """What a batch did: events accepted, changes applied (after the version rule and
    duplicates), and the tenants whose answers may have changed (their cached answers are stale)."""

    accepted: int
    applied: int
    tenants: frozenset[str] = field(default_factory=frozenset)


def decode(body: bytes, *, ndjson: bool) -> list[Any]:
    """The items of an HTTP body: a JSON array of events, or NDJSON (one event per line)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidEvent("body", "not UTF-8 text") from None
    if not ndjson:
        try:
            items = loader.parse_json(text) if text.strip() else None
        except ValueError as error:
            raise InvalidEvent("body", f"not valid JSON: {error}") from None
        if not isinstance(items, list):
            raise InvalidEvent("body", "must be a JSON array of events (or NDJSON with Content-Type: application/x-ndjson)")
        return items
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(loader.parse_json(line))
        except ValueError as error:
            raise InvalidEvent(f"events[{len(items)}]", f"line {number} is not valid JSON: {error}") from None
    return items


def loads(raw: bytes | str, where: str) -> Any:
    """One strict JSON value (no NaN); InvalidEvent names `where`."""
    try:
        return loader.parse_json(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidEvent(where, f"not valid JSON: {error}") from None


def check(items: Sequence[Any], *, max_events: int | None = None) -> list[Event]:
    """Every item checked as an event (InvalidEvent names the first bad one, by index and
    field); nothing is written here."""
    if max_events is not None and len(items) > max_events:
        raise InvalidEvent("events", f"{len(items):,} events in one batch; at most {max_events:,} (send several batches)")
    return [event(item, f"events[{index}]") for index, item in enumerate(items)]


def event(item: Any, where: str = "event") -> Event:
    """One item checked as an event; `where` prefixes the field an error names."""
    if not isinstance(item, dict):
        raise InvalidEvent(where, f"must be a JSON object {{type, op, version, data}}, got {shown(item)}")
    if unknown := sorted(set(item) - set(FIELDS)):
        raise InvalidEvent(f"{where}.{unknown[0]}", f"unknown field; an event has {', '.join(FIELDS)}")
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        raise InvalidEvent(f"{where}.type", f"must be one of {', '.join(TYPES)}, got {shown(kind)}")
    op = item.get("op", "upsert")
    if op not in OPS:
        raise InvalidEvent(f"{where}.op", f"must be upsert or delete, got {shown(op)}")
    version = item.get("version")
    if version is not None and (type(version) is not int or not 0 <= version <= MAX_VERSION):
        raise InvalidEvent(f"{where}.version", f"must be a whole number from 0 to {MAX_VERSION}, got {shown(version)}")
    data = item.get("data")
    if not isinstance(data, dict):
        raise InvalidEvent(f"{where}.data", f"must be a JSON object (one row), got {shown(data)}")
    table = TYPES[kind]
    if op == "delete":
        if extra := sorted(set(data) - {"id"}):
            raise InvalidEvent(f"{where}.data.{extra[0]}", "a delete takes only the row's id")
        row, _ = _checked(table, {"id": data.get("id")}, where, only_id=True)
        return Event(table, op, row["id"], version)
    columns = [c.name for c in TABLES[table]]
    if unknown := sorted(set(data) - set(columns)):
        raise InvalidEvent(f"{where}.data.{unknown[0]}", f"unknown column; {table} has {', '.join(columns)}")
    row, _ = _checked(table, data, where)
    return Event(table, op, row["id"], version, row)


def _checked(table: str, data: Mapping[str, Any], where: str, *, only_id: bool = False) -> tuple[dict[str, Any], int]:
    try:
        if only_id:
            # A delete names its row by id alone, checked as the id column (a tenant's is a UUID).
            value, _ = loader.checked_value(TABLES[table][0], data.get("id"))
            return {"id": value}, 0
        return loader.checked_row(table, data)
    except loader.BadValue as error:
        raise InvalidEvent(f"{where}.data.{error.column}", str(error)) from None


@dataclass
class _Winner:
    """The event that decides a row in a batch; `forced` when an event without a version came
    at or before it in the batch (it then applies whatever is stored)."""

    event: Event
    forced: bool


def _newer(event: Event, version: int | None) -> bool:
    return event.version is None or version is None or event.version >= version


def winners(events: Iterable[Event]) -> dict[str, dict[str, _Winner]]:
    """Per table and id, the event that applying the batch in order would leave: the version
    rule within the batch, before the stored versions are looked at."""
    found: dict[str, dict[str, _Winner]] = {table: {} for table in TYPES.values()}
    for event in events:
        rows = found[event.table]
        current = rows.get(event.id)
        if current is None:
            rows[event.id] = _Winner(event, event.version is None)
        elif _newer(event, current.event.version):
            rows[event.id] = _Winner(event, current.forced or event.version is None)
    return found


class Writer:
    """Applies batches of events to one store, one batch at a time."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self._lock = threading.Lock()
        self._ready = False

    def check_engine(self) -> None:
        """ConfigError unless the store takes events (BigQuery does not)."""
        if not isinstance(self.executor, Transactional):
            raise ConfigError(
                f"{self.executor.description} does not take events: BigQuery's copy is synced by the CRM's pipeline;"
                " ingest events into DuckDB or PostgreSQL"
            )

    def apply(self, events: Sequence[Event], refresh: Refresh | None) -> Applied:
        """Apply checked events in one transaction, keeping the derived tables (`refresh`) exact."""
        self.check_engine()
        if not events:
            return Applied(0, 0)
        with self._lock:
            if not self._ready:
                if not self.executor.has_table(VERSIONS):
                    self.executor.run_script(VERSIONS_DDL)
                self._ready = True
            with self.executor.session(refresh) as session:
                return _apply(session, winners(events), len(events), refresh)


def _apply(session: Session, found: dict[str, dict[str, _Winner]], accepted: int, refresh: Refresh | None) -> Applied:
    # The stored state of every row the batch names, and of the conversations its messages name.
    keys = {(table, row_id) for table, rows in found.items() for row_id in rows}
    keys |= {("conversations", w.event.row["conversation_id"]) for w in found["messages"].values() if w.event.row}
    stored = _stored(session, keys)

    applying: dict[str, list[Event]] = {}
    for table, rows in found.items():
        applying[table] = [
            w.event for row_id, w in rows.items() if w.forced or _newer(w.event, stored.get((table, row_id), (None, False))[0])
        ]
    # Conversations deleted once this batch's conversations are applied: their messages are dropped.
    deleted = {row_id for (table, row_id), (_, gone) in stored.items() if table == "conversations" and gone}
    for event in applying["conversations"]:
        (deleted.add if event.op == "delete" else deleted.discard)(event.id)
    applying["messages"] = [e for e in applying["messages"] if e.op == "delete" or e.row["conversation_id"] not in deleted]  # type: ignore[index]

    touched = {e.id for e in applying["conversations"]} | {e.row["conversation_id"] for e in applying["messages"] if e.row}
    message_ids = [e.id for e in applying["messages"]]
    tenants: set[str] = {e.id for e in applying["tenants"]}
    if touched or message_ids:
        # Before the writes: a message may move or go, and its conversation's tenant with it.
        session.stage("crm_metrics_event_ids", _strings(id=message_ids))
        session.stage("crm_metrics_event_conversations", _strings(conversation_id=sorted(touched)))
        session.rows(
            "CREATE TEMP TABLE crm_metrics_touched AS SELECT conversation_id FROM crm_metrics_event_conversations"
            " UNION SELECT conversation_id FROM messages WHERE id IN (SELECT id FROM crm_metrics_event_ids)"
        )
        if refresh:
            _moved(session, applying)
        session.unstage("crm_metrics_event_ids")
        session.unstage("crm_metrics_event_conversations")
        tenants |= _tenants(session)
        if refresh:
            # What the touched conversations add to the rollup before the writes (a refresh
            # by difference, crm_metrics/derived.py `events`).
            session.prepare(refresh)

    for table in TYPES.values():
        upserts = [e.row for e in applying[table] if e.op == "upsert" and e.row is not None]
        if upserts:
            session.stage(STAGING, loader.arrow_rows(table, upserts), like=table)
            session.upsert(table, [c.name for c in TABLES[table]])
            session.unstage(STAGING)
        if deletes := [e.id for e in applying[table] if e.op == "delete"]:
            session.stage("crm_metrics_event_deletes", _strings(id=deletes))
            session.rows(f"DELETE FROM {table} WHERE id IN (SELECT id FROM crm_metrics_event_deletes)")
            if table == "conversations":
                session.rows("DELETE FROM messages WHERE conversation_id IN (SELECT id FROM crm_metrics_event_deletes)")
            session.unstage("crm_metrics_event_deletes")

    changed = [e for events in applying.values() for e in events]
    if changed:
        _remember(session, changed)
    if touched or message_ids:
        tenants |= _tenants(session)
        if refresh:
            session.refresh(refresh)
            session.rows("DROP TABLE crm_metrics_moved")
        else:
            session.rows("DROP TABLE crm_metrics_touched")
    return Applied(accepted, len(changed), frozenset(tenants))


def _moved(session: Session, applying: dict[str, list[Event]]) -> None:
    """List in `crm_metrics_moved` (conversation_id, ts) where the batch changes each touched
    conversation's messages: every message it writes or deletes, at its stored timestamp and
    at its new one, and a null ts for a conversation the batch writes itself (its facts are
    recomputed whole). The refresh recomputes the facts from there on (derived.events)."""
    session.rows(
        'CREATE TEMP TABLE crm_metrics_moved AS SELECT conversation_id, "timestamp" AS ts FROM messages'
        " WHERE id IN (SELECT id FROM crm_metrics_event_ids)"
    )
    if upserts := [e.row for e in applying["messages"] if e.op == "upsert" and e.row is not None]:
        session.stage("crm_metrics_event_positions", loader.arrow_rows("messages", upserts).select(["conversation_id", "timestamp"]), like="messages")
        session.rows('INSERT INTO crm_metrics_moved SELECT conversation_id, "timestamp" FROM crm_metrics_event_positions')
        session.unstage("crm_metrics_event_positions")
    if whole := sorted({e.id for e in applying["conversations"]}):
        session.stage("crm_metrics_event_whole", _strings(conversation_id=whole))
        session.rows("INSERT INTO crm_metrics_moved SELECT conversation_id, NULL FROM crm_metrics_event_whole")
        session.unstage("crm_metrics_event_whole")


def _strings(**columns: list[str]) -> pa.Table:
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def _stored(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int | None, bool]]:
    ordered = sorted(keys)
    session.stage("crm_metrics_event_keys", _strings(table_name=[t for t, _ in ordered], id=[i for _, i in ordered]))
    rows = session.rows(
        f"SELECT v.table_name, v.id, v.version, v.deleted FROM {VERSIONS} AS v"
        " JOIN crm_metrics_event_keys AS k ON v.table_name = k.table_name AND v.id = k.id"
    )
    session.unstage("crm_metrics_event_keys")
    return {(table, row_id): (None if version is None else int(version), bool(gone)) for table, row_id, version, gone in rows}


def _remember(session: Session, changed: Sequence[Event]) -> None:
    """Record each changed row's version and whether it is deleted."""
    rows = pa.table(
        {
            "table_name": pa.array([e.table for e in changed], pa.string()),
            "id": pa.array([e.id for e in changed], pa.string()),
            "version": pa.array([e.version for e in changed], pa.int64()),
            "deleted": pa.array([e.op == "delete" for e in changed], pa.bool_()),
        }
    )
    session.stage("crm_metrics_event_versions", rows)
    session.rows(
        f"DELETE FROM {VERSIONS} WHERE EXISTS (SELECT 1 FROM crm_metrics_event_versions AS s"
        f" WHERE s.table_name = {VERSIONS}.table_name AND s.id = {VERSIONS}.id)"
    )
    session.rows(f"INSERT INTO {VERSIONS} (table_name, id, version, deleted) SELECT table_name, id, version, deleted FROM crm_metrics_event_versions")
    session.unstage("crm_metrics_event_versions")


def _tenants(session: Session) -> set[str]:
    rows = session.rows(
        "SELECT DISTINCT tenant_id FROM conversations WHERE id IN (SELECT conversation_id FROM crm_metrics_touched)"
    )
    return {str(tenant) for (tenant,) in rows if tenant is not None}
