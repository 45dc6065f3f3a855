"""`crm-metrics load TABLE FILE` (crm_metrics/loader.py): CSV, JSON Lines and Parquet, all or nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot

from crm_metrics import ConfigError, InvalidParameter, LoadError, Metrics
from crm_metrics.query import CompiledQuery, Field
from crm_metrics.schema import TABLES

TENANT = "7a1e3c1e-0000-4000-8000-000000000001"
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


#: Rows already in the database before each test's load.
BEFORE = [
    {
        "id": "conv-1",
        "tenant_id": TENANT,
        "outlet_id": None,
        "customer_phone": "+6281100000001",
        "status": "active",
        "started_at": at("2025-03-01T02:00:00+00:00"),
        "ended_at": None,
        "last_message_at": at("2025-03-01T02:05:00+00:00"),
    },
    {
        "id": "conv-2",
        "tenant_id": TENANT,
        "outlet_id": "0b1e7000-0000-4000-8000-00000000000a",
        "customer_phone": "+6281100000002",
        "status": "resolved",
        "started_at": at("2025-03-01T03:00:00+00:00"),
        "ended_at": at("2025-03-01T03:30:00+00:00"),
        "last_message_at": at("2025-03-01T03:29:00+00:00"),
    },
]

CONVERSATION = {
    "id": "conv-3",
    "tenant_id": TENANT,
    "outlet_id": "",
    "customer_phone": "+6281100000003",
    "status": "handed_off",
    "started_at": "2025-03-02T09:00:00+07:00",
    "ended_at": "2025-03-02T02:40:00Z",
    "last_message_at": "2025-03-02 02:39:00",
}
STORED_CONVERSATION = {
    **CONVERSATION,
    "outlet_id": None,
    "started_at": at("2025-03-02T02:00:00+00:00"),
    "ended_at": at("2025-03-02T02:40:00+00:00"),
    "last_message_at": at("2025-03-02T02:39:00+00:00"),
}
METADATA = {"tokens_used": 120, "handoff_requested": True, "trigger": "keyword", "note": "café ☕"}


def stored(metrics: Metrics, table: str) -> list[dict[str, Any]]:
    """Every row of a table, by id, read back through the executor (JSON as its text)."""
    columns = TABLES[table]
    names = ", ".join(f'"{c.name}"' for c in columns)
    sql = f"SELECT {names} FROM {table} ORDER BY id"
    query = CompiledQuery(
        name=f"read {table}",
        dialect=metrics.executor.dialect,
        sql=sql,
        params=(),
        columns=tuple(Field(c.name, "STRING" if c.type == "JSON" else c.type, "") for c in columns),
        tree=sqlglot.parse_one(sql, read=metrics.executor.dialect),
    )
    return [dict(zip((c.name for c in columns), row, strict=True)) for row in metrics.executor.fetch(query, {})]


def write_csv(path: Path, rows: Sequence[dict[str, Any]], *, encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([{k: "" if v is None else v for k, v in row.items()} for row in rows])
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, columns: dict[str, pa.Array]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    with Metrics.connect("duckdb:///:memory:") as metrics:
        metrics.store.init_db()
        metrics.store.load_rows("conversations", BEFORE)
        yield metrics


# -- each format loads ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".ndjson", ".CSV"])
def test_text_formats_load(metrics: Metrics, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"conversations{suffix}"
    if suffix.lower() == ".csv":
        write_csv(path, [CONVERSATION])
    else:
        write_jsonl(path, [CONVERSATION])

    assert metrics.store.load("conversations", path).rows == 1
    assert stored(metrics, "conversations") == [*BEFORE, STORED_CONVERSATION]


def test_parquet_loads(metrics: Metrics, tmp_path: Path) -> None:
    path = write_parquet(
        tmp_path / "conversations.parquet",
        {
            "id": pa.array(["conv-3"]),
            "tenant_id": pa.array([TENANT]),
            "outlet_id": pa.array([None], pa.string()),
            "customer_phone": pa.array(["+6281100000003"]),
            "status": pa.array(["handed_off"]),
            # Timestamps as Parquet timestamps: with a zone, naive (= UTC), and as ISO text.
            "started_at": pa.array([dt.datetime(2025, 3, 2, 9, tzinfo=dt.timezone(dt.timedelta(hours=7)))], pa.timestamp("us", tz="+07:00")),
            "ended_at": pa.array([dt.datetime(2025, 3, 2, 2, 40)], pa.timestamp("ms")),
            "last_message_at": pa.array(["2025-03-02 02:39:00"]),
        },
    )

    assert metrics.store.load("conversations", path).rows == 1
    assert stored(metrics, "conversations") == [*BEFORE, STORED_CONVERSATION]


def test_parquet_nanosecond_timestamps_load_to_the_microsecond(metrics: Metrics, tmp_path: Path) -> None:
    # pandas writes timestamp[ns]; every engine stores microseconds, so the rest is cut (floor).
    ns = 1_740_880_800_123_456_789  # 2025-03-02T02:00:00.123456789Z
    path = write_parquet(
        tmp_path / "c.parquet",
        {
            "id": ["conv-3", "conv-4"],
            "tenant_id": [TENANT, TENANT],
            "customer_phone": ["1", "2"],
            "status": ["active", "active"],
            "started_at": pa.array([ns, -1], pa.timestamp("ns")),
            "ended_at": pa.array([ns, None], pa.timestamp("ns", tz="Asia/Jakarta")),
        },
    )

    assert metrics.store.load("conversations", path).rows == 2

    rows = {row["id"]: row for row in stored(metrics, "conversations")}
    assert rows["conv-3"]["started_at"] == rows["conv-3"]["ended_at"] == at("2025-03-02T02:00:00.123456+00:00")
    assert rows["conv-4"]["started_at"] == at("1969-12-31T23:59:59.999999+00:00")


def message(id: str, metadata: Any, **fields: Any) -> dict[str, Any]:
    return {
        "id": id,
        "conversation_id": "conv-1",
        "sender_type": "llm",
        "sender_id": None,
        "content": "Halo, ada yang bisa dibantu?",
        "timestamp": "2025-03-01T02:01:00Z",
        "metadata": metadata,
        **fields,
    }


def test_metadata_as_object_or_json_string_stores_the_same_json(metrics: Metrics, tmp_path: Path) -> None:
    text = json.dumps(METADATA)
    write_jsonl(tmp_path / "objects.jsonl", [message("m-1", METADATA), message("m-2", text), message("m-3", None)])
    write_csv(tmp_path / "strings.csv", [message("m-4", text), message("m-5", None)])
    write_parquet(
        tmp_path / "strings.parquet",
        {"id": ["m-6"], "conversation_id": ["conv-1"], "sender_type": ["llm"], "content": ["x"], "timestamp": ["2025-03-01T02:01:00Z"], "metadata": [text]},
    )
    write_parquet(
        tmp_path / "structs.parquet",
        {"id": ["m-7"], "conversation_id": ["conv-1"], "sender_type": ["llm"], "content": ["x"], "timestamp": ["2025-03-01T02:01:00Z"], "metadata": [METADATA]},
    )

    for name in ("objects.jsonl", "strings.csv", "strings.parquet", "structs.parquet"):
        metrics.store.load("messages", tmp_path / name)

    metadata = {row["id"]: row["metadata"] for row in stored(metrics, "messages")}
    assert metadata.pop("m-3") is None
    assert metadata.pop("m-5") is None
    assert {key: json.loads(value) for key, value in metadata.items()} == dict.fromkeys(["m-1", "m-2", "m-4", "m-6", "m-7"], METADATA)
    # The same object is stored as the same text, whichever way it came in.
    assert len(set(metadata.values())) == 1


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2025-03-01T10:00:00+07:00", "2025-03-01T03:00:00+00:00"),
        ("2025-03-01T10:00:00-03:30", "2025-03-01T13:30:00+00:00"),
        ("2025-03-01T10:00:00Z", "2025-03-01T10:00:00+00:00"),
        ("2025-03-01T10:00:00", "2025-03-01T10:00:00+00:00"),
        ("2025-03-01 10:00:00.250", "2025-03-01T10:00:00.250+00:00"),
        ("2025-03-01T00:30:00+05:45", "2025-02-28T18:45:00+00:00"),
    ],
)
def test_timestamps_are_stored_as_utc_instants(metrics: Metrics, tmp_path: Path, text: str, instant: str) -> None:
    metrics.store.load("messages", write_jsonl(tmp_path / "m.jsonl", [message("m-1", None, timestamp=text)]))

    (row,) = stored(metrics, "messages")
    assert row["timestamp"] == at(instant)
    assert row["timestamp"].utcoffset() == dt.timedelta(0)


def test_tenants_load_with_an_iana_timezone_or_none(metrics: Metrics, tmp_path: Path) -> None:
    rows = [{"id": TENANT, "name": "Acme", "timezone": "Asia/Jakarta"}, {"id": "00000000-0000-4000-8000-0000000000a2", "name": "Beta", "timezone": None}]

    assert metrics.store.load("tenants", write_csv(tmp_path / "tenants.csv", rows)).rows == 2
    assert stored(metrics, "tenants") == sorted(rows, key=lambda row: row["id"])
    assert metrics.tenant(TENANT) == ("Acme", "Asia/Jakarta")


def test_csv_with_a_byte_order_mark_and_crlf_lines(metrics: Metrics, tmp_path: Path) -> None:
    path = tmp_path / "tenants.csv"
    path.write_bytes("id,name,timezone\r\n00000000-0000-4000-8000-0000000000a1,Café Bandung,Asia/Jakarta\r\n".encode("utf-8-sig"))

    assert metrics.store.load("tenants", path).rows == 1
    assert stored(metrics, "tenants") == [{"id": "00000000-0000-4000-8000-0000000000a1", "name": "Café Bandung", "timezone": "Asia/Jakarta"}]


def test_jsonl_skips_blank_lines_and_numbers_rows_and_lines(metrics: Metrics, tmp_path: Path) -> None:
    path = tmp_path / "tenants.jsonl"
    path.write_text('\n{"id": "00000000-0000-4000-8000-0000000000a1", "name": "A"}\r\n\n   \n{"id": "00000000-0000-4000-8000-0000000000a2", "name": ""}\n', encoding="utf-8")

    with pytest.raises(LoadError, match=r"row 2 \(line 5\), column name: must not be empty"):
        metrics.store.load("tenants", path)


def test_empty_text_is_null_in_optional_columns_and_kept_in_required_ones(metrics: Metrics, tmp_path: Path) -> None:
    # A media message without a caption has empty content; CSV cannot tell "" from null, so
    # every format reads "" as null where null is allowed and as "" where it is not.
    row = message("m-1", "", sender_id="", content="")
    write_csv(tmp_path / "m.csv", [row])
    write_jsonl(tmp_path / "m.jsonl", [{**row, "id": "m-2"}])
    write_parquet(tmp_path / "m.parquet", {k: [v] for k, v in {**row, "id": "m-3"}.items()})

    for name in ("m.csv", "m.jsonl", "m.parquet"):
        metrics.store.load("messages", tmp_path / name)

    rows = stored(metrics, "messages")
    assert [(r["id"], r["sender_id"], r["content"], r["metadata"]) for r in rows] == [
        ("m-1", None, "", None),
        ("m-2", None, "", None),
        ("m-3", None, "", None),
    ]


def test_a_multi_line_csv_field_loads(metrics: Metrics, tmp_path: Path) -> None:
    rows = [message("m-1", None, content="line one\nline two, with a comma and \"quotes\"")]

    metrics.store.load("messages", write_csv(tmp_path / "m.csv", rows))

    assert stored(metrics, "messages")[0]["content"] == rows[0]["content"]


# -- reloading ----------------------------------------------------------------------------------


def test_loading_the_same_ids_again_replaces_the_rows(metrics: Metrics, tmp_path: Path) -> None:
    changed = {**CONVERSATION, "id": "conv-1", "status": "resolved", "ended_at": "2025-03-01T02:10:00Z"}
    path = write_jsonl(tmp_path / "c.jsonl", [changed, CONVERSATION])

    assert metrics.store.load("conversations", path).rows == 2
    assert metrics.store.load("conversations", path).rows == 2

    rows = stored(metrics, "conversations")
    assert [row["id"] for row in rows] == ["conv-1", "conv-2", "conv-3"]
    assert rows[0]["status"] == "resolved"
    assert rows[0]["ended_at"] == at("2025-03-01T02:10:00+00:00")
    assert rows[1] == BEFORE[1]


# -- empty, unknown, missing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.csv", ""), ("header-only.csv", "id,name,timezone\n"), ("empty.jsonl", ""), ("blank.ndjson", "\n  \n")],
)
def test_an_empty_file_loads_nothing(metrics: Metrics, tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    assert metrics.store.load("tenants", path).rows == 0
    assert stored(metrics, "tenants") == []
    assert stored(metrics, "conversations") == BEFORE


def test_an_empty_parquet_file_loads_nothing(metrics: Metrics, tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "t.parquet", {"id": pa.array([], pa.string()), "name": pa.array([], pa.string())})

    assert metrics.store.load("tenants", path).rows == 0
    assert stored(metrics, "tenants") == []


@pytest.mark.parametrize("name", ["conversations.json", "conversations.txt", "conversations", "conversations.csv.gz"])
def test_an_unknown_file_type_is_refused(metrics: Metrics, tmp_path: Path, name: str) -> None:
    path = write_csv(tmp_path / name, [CONVERSATION])

    with pytest.raises(LoadError) as caught:
        metrics.store.load("conversations", path)

    assert str(path) in str(caught.value)
    assert "use .csv, .jsonl, .ndjson or .parquet" in str(caught.value)
    assert stored(metrics, "conversations") == BEFORE


def test_a_missing_file_is_refused(metrics: Metrics, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"

    with pytest.raises(LoadError, match=f"^{path}: no such file$"):
        metrics.store.load("conversations", path)
    (tmp_path / "folder.jsonl").mkdir()
    with pytest.raises(LoadError, match="folder.jsonl: no such file"):
        metrics.store.load("conversations", tmp_path / "folder.jsonl")


def test_an_unknown_table_is_refused(metrics: Metrics, tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="Unknown table 'users'. Known: tenants, conversations, messages"):
        metrics.store.load("users", write_csv(tmp_path / "u.csv", [{"id": "u"}]))


def test_a_file_that_is_not_parquet_is_refused(metrics: Metrics, tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    path.write_text("id,name\n", encoding="utf-8")

    with pytest.raises(LoadError, match="c.parquet: not a readable Parquet file"):
        metrics.store.load("conversations", path)
    assert stored(metrics, "conversations") == BEFORE


# -- all or nothing ---------------------------------------------------------------------------

#: (case, table, file name, content, the error's "where, column: what").
#: Row 1 of each file is valid and reuses an id already stored (conv-1 / an existing tenant)
#: with new values, so a partial load would show as a changed row.
CONV_1_CHANGED = {**CONVERSATION, "id": "conv-1", "status": "resolved"}


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: "" if v is None else v for k, v in row.items()} for row in rows])
    return buffer.getvalue()


def jsonl_text(rows: Sequence[Any]) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n" for row in rows)


BAD_FILES = [
    (
        "bad timestamp",
        "conversations",
        "c.csv",
        csv_text([CONV_1_CHANGED, {**CONVERSATION, "started_at": "yesterday at noon"}]),
        "row 2 (line 3), column started_at: not an ISO-8601 timestamp with a time: 'yesterday at noon'",
    ),
    (
        "date without a time",
        "conversations",
        "c.jsonl",
        jsonl_text([CONV_1_CHANGED, {**CONVERSATION, "ended_at": "2025-03-02"}]),
        "row 2 (line 2), column ended_at: not an ISO-8601 timestamp with a time: '2025-03-02'",
    ),
    (
        "impossible timestamp",
        "conversations",
        "c.jsonl",
        jsonl_text([CONV_1_CHANGED, {**CONVERSATION, "started_at": "2025-02-30T10:00:00Z"}]),
        "row 2 (line 2), column started_at: not an ISO-8601 timestamp: '2025-02-30T10:00:00Z'",
    ),
    (
        "timestamp whose UTC instant is out of range",
        "conversations",
        "c.jsonl",
        jsonl_text([CONV_1_CHANGED, {**CONVERSATION, "started_at": "0001-01-01T00:30:00+01:00"}]),
        "row 2 (line 2), column started_at: out of range in UTC: '0001-01-01T00:30:00+01:00'",
    ),
    (
        "missing required column",
        "conversations",
        "c.csv",
        csv_text([{k: v for k, v in row.items() if k != "customer_phone"} for row in (CONV_1_CHANGED, CONVERSATION)]),
        "line 1: required column(s) 'customer_phone' missing from the header; conversations has id,",
    ),
    (
        "empty required value",
        "conversations",
        "c.csv",
        csv_text([CONV_1_CHANGED, {**CONVERSATION, "status": None}]),
        "row 2 (line 3), column status: must not be empty",
    ),
    (
        "empty required timestamp",
        "conversations",
        "c.jsonl",
        jsonl_text([CONV_1_CHANGED, {**CONVERSATION, "started_at": ""}]),
        "row 2 (line 2), column started_at: is required",
    ),
    (
        "non-JSON metadata",
        "messages",
        "m.csv",
        csv_text([message("m-1", '{"a": 1}'), message("m-2", "{tokens_used: 5}")]),
        "row 2 (line 3), column metadata: not valid JSON",
    ),
    (
        "NaN in metadata",
        "messages",
        "m.jsonl",
        jsonl_text([message("m-1", None), message("m-2", '{"tokens_used": NaN}')]),
        "row 2 (line 2), column metadata: not valid JSON: NaN is not JSON",
    ),
    (
        "metadata nested too deep",
        "messages",
        "m.csv",
        csv_text([message("m-1", None), message("m-2", "[" * 50_000 + "]" * 50_000)]),
        "row 2 (line 3), column metadata: not valid JSON: nested too deep",
    ),
    (
        "line nested too deep",
        "messages",
        "m.jsonl",
        jsonl_text([message("m-1", None), '{"metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"]),
        "row 2 (line 2): not valid JSON: nested too deep",
    ),
    (
        "unknown column",
        "conversations",
        "c.jsonl",
        jsonl_text([CONV_1_CHANGED, {**CONVERSATION, "colour": "red"}]),
        "row 2 (line 2): unknown column(s) 'colour'; conversations has id, tenant_id, outlet_id,",
    ),
    (
        "duplicate id in the file",
        "conversations",
        "c.csv",
        csv_text([CONV_1_CHANGED, CONVERSATION, CONVERSATION]),
        "row 3 (line 4), column id: 'conv-3' appears twice (first at row 2 (line 3))",
    ),
    (
        "number for a string in JSON Lines",
        "conversations",
        "c.jsonl",
        jsonl_text([CONV_1_CHANGED, {**CONVERSATION, "customer_phone": 6281100000003}]),
        "row 2 (line 2), column customer_phone: must be a string, got 6281100000003",
    ),
    (
        "number for a timestamp in JSON Lines",
        "conversations",
        "c.jsonl",
        jsonl_text([CONV_1_CHANGED, {**CONVERSATION, "started_at": 1740880800}]),
        "row 2 (line 2), column started_at: not a timestamp: 1740880800",
    ),
    (
        "bad tenant timezone",
        "tenants",
        "t.csv",
        csv_text([{"id": "00000000-0000-4000-8000-0000000000a1", "name": "Acme", "timezone": "Asia/Jakarta"}, {"id": "00000000-0000-4000-8000-0000000000a2", "name": "Beta", "timezone": "Asia/Jakata"}]),
        "row 2 (line 3), column timezone: unknown timezone 'Asia/Jakata'. Did you mean 'Asia/Jakarta'?",
    ),
    (
        "line that is not JSON",
        "conversations",
        "c.ndjson",
        jsonl_text([CONV_1_CHANGED, '{"id": "conv-3",']),
        "row 2 (line 2): not valid JSON",
    ),
    (
        "line that is not an object",
        "conversations",
        "c.jsonl",
        jsonl_text([CONV_1_CHANGED, '["conv-3"]']),
        "row 2 (line 2): each line must be a JSON object",
    ),
    (
        "more fields than the header",
        "conversations",
        "c.csv",
        csv_text([CONV_1_CHANGED, CONVERSATION]) + "conv-4,x,,1,active,2025-03-01T00:00:00Z,,,extra\n",
        "row 3 (line 4): more fields than the header has",
    ),
    (
        "CSV cut off inside a quoted field",
        "tenants",
        "t.csv",
        'id,name\n00000000-0000-4000-8000-0000000000a1,New name\n00000000-0000-4000-8000-0000000000a2,"Beta\n',
        "row 2 (line 3): not valid CSV: unexpected end of data",
    ),
    (
        "CSV with text after a closing quote",
        "tenants",
        "t.csv",
        'id,name\n00000000-0000-4000-8000-0000000000a1,New name\n00000000-0000-4000-8000-0000000000a2,"Beta"x\n',
        "row 2 (line 3): not valid CSV: ',' expected after '\"'",
    ),
    (
        "CSV header naming a column twice",
        "tenants",
        "t.csv",
        "id,name,name\n00000000-0000-4000-8000-0000000000a1,New name,Other name\n",
        "line 1: column 'name' appears twice in the header",
    ),
]


@pytest.fixture
def filled(metrics: Metrics) -> Metrics:
    metrics.store.load_rows("tenants", [{"id": "00000000-0000-4000-8000-0000000000a1", "name": "Old name", "timezone": "UTC"}])
    metrics.store.load_rows("messages", [message("m-1", {"tokens_used": 1}, content="old")])
    return metrics


@pytest.mark.parametrize(("table", "name", "content", "error"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_a_bad_row_loads_nothing_and_names_file_row_line_and_column(
    filled: Metrics, tmp_path: Path, table: str, name: str, content: str, error: str
) -> None:
    before = {t: stored(filled, t) for t in TABLES}
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    with pytest.raises(LoadError) as caught:
        filled.store.load(table, path)

    assert str(caught.value).startswith(f"{path}: {error}")
    assert {t: stored(filled, t) for t in TABLES} == before


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl"])
def test_a_file_that_is_not_utf8_loads_nothing_and_names_the_line(filled: Metrics, tmp_path: Path, name: str) -> None:
    before = stored(filled, "tenants")
    rows = [{"id": "00000000-0000-4000-8000-0000000000a1", "name": "New name"}, {"id": "00000000-0000-4000-8000-0000000000a2", "name": "Café"}]
    path = tmp_path / name
    path.write_bytes((csv_text(rows) if name.endswith(".csv") else jsonl_text(rows)).encode("latin-1"))
    line = 3 if name.endswith(".csv") else 2

    with pytest.raises(LoadError, match=rf"^{path}: line {line}: not UTF-8 text \(byte 0xe9\); save the file as UTF-8$"):
        filled.store.load("tenants", path)
    assert stored(filled, "tenants") == before


def test_a_bad_parquet_row_loads_nothing(filled: Metrics, tmp_path: Path) -> None:
    before = stored(filled, "conversations")
    path = write_parquet(
        tmp_path / "c.parquet",
        {
            "id": ["conv-1", "conv-3"],
            "tenant_id": [TENANT, TENANT],
            "customer_phone": ["1", "2"],
            "status": ["resolved", "active"],
            "started_at": pa.array([dt.datetime(2025, 3, 1, 2), dt.datetime(2025, 3, 1, 3)], pa.timestamp("us")),
            "ended_at": pa.array([None, dt.date(2025, 3, 1)], pa.date32()),
        },
    )

    with pytest.raises(LoadError, match=rf"^{path}: row 2, column ended_at: not a timestamp: datetime.date\(2025, 3, 1\)$"):
        filled.store.load("conversations", path)
    assert stored(filled, "conversations") == before


# -- ids that requests name (issue: ids that load but can never be read) -------------------------


def test_tenant_and_outlet_ids_are_stored_lowercase_and_answer_requests(metrics: Metrics) -> None:
    upper = {**CONVERSATION, "id": "conv-9", "tenant_id": TENANT.upper(), "outlet_id": "0B1E7000-0000-4000-8000-00000000000A"}
    metrics.store.load_rows("conversations", [upper])
    metrics.store.load_rows("tenants", [{"id": TENANT.upper(), "name": "Acme", "timezone": "Asia/Jakarta"}])

    (row,) = [r for r in stored(metrics, "conversations") if r["id"] == "conv-9"]
    assert (row["tenant_id"], row["outlet_id"]) == (TENANT, "0b1e7000-0000-4000-8000-00000000000a")
    summary = metrics.summary(TENANT.upper(), "2025-03-02", "2025-03-02", outlet_id="0B1E7000-0000-4000-8000-00000000000A")
    assert (summary.tenant_name, summary.timezone, summary.total_conversations) == ("Acme", "Asia/Jakarta", 1)


@pytest.mark.parametrize(
    ("table", "row", "column"),
    [
        ("conversations", {**CONVERSATION, "tenant_id": "acme"}, "tenant_id"),
        ("conversations", {**CONVERSATION, "outlet_id": "jakarta-1"}, "outlet_id"),
        ("tenants", {"id": "acme", "name": "Acme"}, "id"),
    ],
)
def test_ids_that_requests_name_must_be_uuids(metrics: Metrics, tmp_path: Path, table: str, row: dict[str, Any], column: str) -> None:
    path = write_csv(tmp_path / f"{table}.csv", [row])
    message = rf"^{path}: row 1 \(line 2\), column {column}: must be a UUID like 123e4567-e89b-12d3-a456-426614174000, got '{row[column]}'$"
    with pytest.raises(LoadError, match=message):
        metrics.store.load(table, path)


# -- CSV headers and fields --------------------------------------------------------------------------


def test_csv_fields_have_no_128_kib_limit(metrics: Metrics, tmp_path: Path) -> None:
    content = "x" * 300_000
    path = write_csv(tmp_path / "m.csv", [message("m-big", json.dumps({"note": "y" * 200_000}), content=content)])

    assert metrics.store.load("messages", path).rows == 1
    (row,) = stored(metrics, "messages")
    assert row["content"] == content and len(row["metadata"]) > 200_000


HEADERS = [
    ("spaces around a name", "id, name\n", "line 1: unknown column(s) ' name' (remove the spaces around ' name'); tenants has id, name, timezone"),
    ("unnamed index column", ",id,name\n0,00000000-0000-4000-8000-0000000000a1,A\n", "line 1: column 1 of the header has no name (an index written by pandas? save with index=False); tenants has"),
    ("semicolons", "id;name;timezone\n00000000-0000-4000-8000-0000000000a1;A;UTC\n", "line 1: unknown column(s) 'id;name;timezone' (the header looks separated by ';': save the file with commas (RFC 4180 CSV)); tenants has"),
    ("missing required column", "id,timezone\n00000000-0000-4000-8000-0000000000a1,UTC\n00000000-0000-4000-8000-0000000000a2,UTC\n", "line 1: required column(s) 'name' missing from the header; tenants has"),
]


@pytest.mark.parametrize(("header", "error"), [case[1:] for case in HEADERS], ids=[case[0] for case in HEADERS])
def test_header_problems_are_the_headers_named_once_at_line_1(metrics: Metrics, tmp_path: Path, header: str, error: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(header, encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        metrics.store.load("tenants", path)
    assert str(caught.value).startswith(f"{path}: {error}")


def test_a_parquet_schema_is_checked_like_a_header(metrics: Metrics, tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "t.parquet", {"__index_level_0__": [0], "id": [TENANT], "name": ["A"]})
    with pytest.raises(LoadError, match=rf"^{path}: schema: unknown column\(s\) '__index_level_0__'; tenants has"):
        metrics.store.load("tenants", path)


# -- timestamps without an offset -----------------------------------------------------------------


def test_naive_timestamps_are_utc_by_default_and_counted(metrics: Metrics, tmp_path: Path) -> None:
    row = {**CONVERSATION, "id": "conv-9", "started_at": "2025-03-02 09:00:00", "ended_at": "2025-03-02T09:30:00Z", "last_message_at": None}
    report = metrics.store.load("conversations", write_csv(tmp_path / "c.csv", [row]))

    assert report.naive_timestamps == 1
    assert report.lines()[1] == "note: 1 timestamps had no UTC offset and were read in UTC (--assume-tz ZONE reads them in another timezone)"
    (stored_row,) = [r for r in stored(metrics, "conversations") if r["id"] == "conv-9"]
    assert stored_row["started_at"] == at("2025-03-02T09:00:00+00:00")


def test_assume_tz_reads_naive_timestamps_in_that_zone(metrics: Metrics, tmp_path: Path) -> None:
    # A São Paulo export in local wall time: 09:00 there is 12:00 UTC. Values with an offset keep it.
    row = {**CONVERSATION, "id": "conv-9", "started_at": "2025-03-02 09:00:00", "ended_at": "2025-03-02T09:30:00-03:00", "last_message_at": None}
    report = metrics.store.load("conversations", write_csv(tmp_path / "c.csv", [row]), assume_tz="America/Sao_Paulo")

    assert (report.naive_timestamps, report.assumed_tz) == (1, "America/Sao_Paulo")
    (stored_row,) = [r for r in stored(metrics, "conversations") if r["id"] == "conv-9"]
    assert (stored_row["started_at"], stored_row["ended_at"]) == (at("2025-03-02T12:00:00+00:00"), at("2025-03-02T12:30:00+00:00"))


def test_assume_tz_refuses_a_wall_time_that_never_happened(metrics: Metrics, tmp_path: Path) -> None:
    # New York skipped 02:00-03:00 on 2025-03-09.
    row = {**CONVERSATION, "id": "conv-9", "started_at": "2025-03-09 02:30:00", "ended_at": None, "last_message_at": None}
    path = write_csv(tmp_path / "c.csv", [row])
    with pytest.raises(LoadError, match=r"row 1 \(line 2\), column started_at: 2025-03-09 02:30:00 never happened in America/New_York"):
        metrics.store.load("conversations", path, assume_tz="America/New_York")


def test_assume_tz_must_be_a_timezone(metrics: Metrics, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="assume_tz: unknown timezone 'America/Sao_Paolo'. Did you mean 'America/Sao_Paulo'"):
        metrics.store.load("conversations", write_csv(tmp_path / "c.csv", [CONVERSATION]), assume_tz="America/Sao_Paolo")


# -- what a load reports ----------------------------------------------------------------------------


def test_a_load_reports_new_changed_and_unchanged_rows(metrics: Metrics) -> None:
    changed = {**CONVERSATION, "id": "conv-1", "status": "resolved"}
    same = {**BEFORE[1], "started_at": BEFORE[1]["started_at"].isoformat(), "ended_at": BEFORE[1]["ended_at"].isoformat(), "last_message_at": BEFORE[1]["last_message_at"].isoformat()}
    report = metrics.store.load_rows("conversations", [changed, same, CONVERSATION], "c.jsonl")

    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1)
    assert report.lines()[0] == "loaded 3 rows into conversations from c.jsonl: 1 new, 1 changed, 1 unchanged"


def test_messages_without_a_stored_conversation_are_reported_then_count_once_it_arrives(metrics: Metrics) -> None:
    report = metrics.store.load_rows("messages", [
        message("m-1", None, conversation_id="conv-1"),
        *[message(f"m-{n}", None, conversation_id="conv-8") for n in range(2, 5)],
        message("m-5", None, conversation_id="conv-9"),
    ])
    assert (report.orphan_messages, report.orphan_conversations, report.orphan_examples) == (4, 2, ("conv-8", "conv-9"))
    assert report.lines()[-1] == (
        "warning: 4 messages belong to 2 conversations that are not stored (conv-8, conv-9):"
        " no answer counts them until those conversations are loaded"
    )
    before = metrics.summary(TENANT, "2025-03-01", "2025-03-02", tz="UTC").total_messages

    metrics.store.load_rows("conversations", [{**CONVERSATION, "id": "conv-8"}])

    assert metrics.summary(TENANT, "2025-03-01", "2025-03-02", tz="UTC").total_messages == before + 3


def test_a_read_only_library_refuses_writes_with_a_metrics_error(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    with Metrics.connect(url) as metrics:
        metrics.store.init_db()
    with Metrics.connect(url, read_only=True) as metrics:
        for write in (
            lambda: metrics.store.load_rows("tenants", [{"id": TENANT, "name": "Acme"}]),
            lambda: metrics.store.init_db(),
            lambda: metrics.store.refresh(),
        ):
            with pytest.raises(ConfigError, match="is opened read-only"):
                write()
