"""Event histories for the ingestion tests: every table's rows as events, with older versions,
rows created then deleted (a conversation with its messages, a message alone) and duplicates,
shuffled; and the final rows they lead to (tests/support/api.py's ROWS)."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

from crm_metrics import Metrics, Settings

from tests.support.api import ROWS, TENANT_A

FINAL, DELETED = 10, 20


def event(table: str, data: dict[str, Any], version: int | None, op: str = "upsert") -> dict[str, Any]:
    item: dict[str, Any] = {"type": table[:-1], "data": data if op == "upsert" else {"id": data["id"]}}
    if op != "upsert":
        item["op"] = op
    if version is not None:
        item["version"] = version
    return item


def _older(table: str, row: dict[str, Any]) -> dict[str, Any]:
    if table == "tenants":
        return {**row, "name": "Old name", "timezone": "UTC"}
    if table == "conversations":
        return {**row, "status": "active", "outlet_id": None, "started_at": "2025-11-03T23:00:00Z"}
    return {**row, "sender_type": "llm", "metadata": {"tokens_used": 99_999, "handoff_requested": True}}


def history(seed: int, rows: dict[str, list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """Events leading to `rows` (default ROWS), shuffled by `seed`."""
    rows = rows or ROWS
    rng = random.Random(seed)
    items = []
    for table in ("tenants", "conversations", "messages"):
        for row in rows[table]:
            items.append(event(table, row, FINAL))
            if rng.random() < 0.5:
                items.append(event(table, _older(table, row), rng.randrange(FINAL)))
    gone = {**rows["conversations"][0], "id": "conv-gone", "tenant_id": TENANT_A}
    items += [event("conversations", gone, 1), event("conversations", gone, DELETED, "delete")]
    for n in range(3):
        items.append(event("messages", {**rows["messages"][0], "id": f"msg-gone-{n}", "conversation_id": "conv-gone"}, 1))
    extra = {**rows["messages"][1], "id": "msg-extra"}
    items += [event("messages", extra, 1), event("messages", extra, 2, "delete")]
    items += [copy.deepcopy(rng.choice(items)) for _ in range(6)]
    rng.shuffle(items)
    return items


def chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ndjson(items: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def loaded(rows: dict[str, list[dict[str, Any]]] | None = None) -> Metrics:
    """The final rows loaded as `crm-metrics load` loads them, in an in-memory DuckDB."""
    from tests.support.engines import FIXED_NOW

    metrics = Metrics.connect(settings=Settings(database_url="duckdb:///:memory:"), clock=lambda: FIXED_NOW)
    metrics.store.init_db()
    for table, table_rows in (rows or ROWS).items():
        metrics.store.load_rows(table, table_rows)
    return metrics
