"""Data in: CSV, JSON Lines and Parquet files for the seed's three tables.

A file loads whole or not at all: every row is checked first, the first bad one raises
`LoadError` naming the file, the row (and line) and the column, and nothing is written.
Rows whose `id` is already in the table replace the stored ones (a re-export of a day whose
conversations changed status updates them); the same id twice in one file is an error.
An empty string is null in a column that allows null, in every format (CSV cannot tell the
two apart).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from crm_metrics.errors import InvalidParameter, LoadError
from crm_metrics.request import timezone
from crm_metrics.schema import TABLES, Column

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
#: Columns that identify something may not be empty strings.
NON_EMPTY = {"id", "tenant_id", "conversation_id", "name", "status", "sender_type"}
ARROW_TYPES = {"STRING": pa.string(), "JSON": pa.string(), "TIMESTAMP": pa.timestamp("us", tz="UTC")}


class _BadValue(ValueError):
    pass


def read_file(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) pairs, `where` like 'row 3 (line 4)'."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise LoadError(f"{path}: unknown file type {path.suffix!r}; use .csv, .jsonl, .ndjson or .parquet")
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    if kind == "parquet":
        yield from _parquet_rows(path)
    elif kind == "csv":
        yield from _csv_rows(path, _text(path))
    else:
        yield from _jsonl_rows(path, _text(path))


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise LoadError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8") from None


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise LoadError(f"{path}: not a readable Parquet file: {error}") from error
    for index, field in enumerate(table.schema):
        # pandas writes nanoseconds, which Python's datetime cannot hold; every engine stores
        # microseconds, so cut to them (floor) before converting.
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
            micros = pc.floor_temporal(table.column(index), unit="microsecond").cast(pa.timestamp("us", field.type.tz))
            table = table.set_column(index, field.name, micros)
    for number, row in enumerate(table.to_pylist(), 1):
        yield f"row {number}", row


def _csv_rows(path: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    # strict: a quote left open (a file cut short) or text after a closing quote is an
    # error, where the lenient default would load a silently different value.
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    number = last_line = 0
    try:
        header = reader.fieldnames or []
        if twice := next((name for name in header if header.count(name) > 1), None):
            raise LoadError(f"{path}: line 1: column {twice!r} appears twice in the header")
        last_line = reader.line_num
        for number, row in enumerate(reader, 1):
            where = f"row {number} (line {reader.line_num})"
            if None in row:
                raise LoadError(f"{path}: {where}: more fields than the header has")
            last_line = reader.line_num
            yield where, row
    except csv.Error as error:
        # The record that failed starts on the line after the last good one.
        raise LoadError(f"{path}: row {number + 1} (line {last_line + 1}): not valid CSV: {error}") from None


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    number = 0
    for line_number, line in enumerate(io.StringIO(text, newline=""), 1):
        if not line.strip():
            continue
        number += 1
        where = f"row {number} (line {line_number})"
        try:
            row = _parse_json(line)
        except ValueError as error:
            raise LoadError(f"{path}: {where}: not valid JSON: {error}") from None
        if not isinstance(row, dict):
            raise LoadError(f"{path}: {where}: each line must be a JSON object")
        yield where, row


def prepare(table: str, rows: Iterable[tuple[str, Mapping[str, Any]]], source: str = "rows") -> pa.Table:
    """Check and convert rows to an Arrow table of the schema's columns."""
    if table not in TABLES:
        raise LoadError(f"Unknown table {table!r}. Known: {', '.join(TABLES)}")
    columns = TABLES[table]
    known = {c.name for c in columns}
    data: dict[str, list[Any]] = {c.name: [] for c in columns}
    seen: dict[str, str] = {}
    for where, row in rows:
        if unknown := sorted(set(row) - known):
            names = ", ".join(c.name for c in columns)
            raise LoadError(f"{source}: {where}: unknown column(s) {', '.join(unknown)}; {table} has {names}")
        for column in columns:
            try:
                data[column.name].append(_value(column, row.get(column.name)))
            except _BadValue as error:
                raise LoadError(f"{source}: {where}, column {column.name}: {error}") from None
        row_id = data["id"][-1]
        if row_id in seen:
            raise LoadError(f"{source}: {where}, column id: {row_id!r} appears twice (first at {seen[row_id]})")
        seen[row_id] = where
    return pa.table({c.name: pa.array(data[c.name], ARROW_TYPES[c.type]) for c in columns})


def prepare_rows(table: str, rows: Iterable[Mapping[str, Any]], source: str = "rows") -> pa.Table:
    """Check rows (dicts) for `table`; `Metrics.load_rows` writes them."""
    return prepare(table, ((f"row {n}", row) for n, row in enumerate(rows, 1)), source)


def prepare_file(table: str, path: str | Path) -> pa.Table:
    """Check a CSV, JSON Lines or Parquet file for `table`; `Metrics.load` writes it."""
    path = Path(path)
    return prepare(table, read_file(path), str(path))


def _parse_json(text: str) -> Any:
    """Strict JSON (no NaN or Infinity); every failure is a ValueError."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deep") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _value(column: Column, value: Any) -> Any:
    # CSV cannot tell an empty field from a missing one, so in every format an empty string
    # is null where null is allowed, and stays "" in required text (a media message without
    # a caption has empty content); NON_EMPTY columns then refuse it.
    if value == "" and (not column.required or column.type != "STRING"):
        value = None
    if value is None:
        if column.required:
            raise _BadValue("is required")
        return None
    if column.type == "STRING":
        return _string(column, value)
    if column.type == "TIMESTAMP":
        return _timestamp(value)
    return _json(value)


def _string(column: Column, value: Any) -> str:
    if not isinstance(value, str):
        raise _BadValue(f"must be a string, got {value!r}")
    if column.name in NON_EMPTY and not value:
        raise _BadValue("must not be empty")
    if column.name == "timezone":
        try:
            timezone(column.name, value)
        except InvalidParameter as error:
            raise _BadValue(error.message) from None
    return value


def _timestamp(value: Any) -> dt.datetime:
    given = value
    if isinstance(value, str):
        text = value.strip()
        if len(text) < 11 or text[10] not in "Tt ":
            raise _BadValue(f"not an ISO-8601 timestamp with a time: {value!r}")
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _BadValue(f"not an ISO-8601 timestamp: {value!r}") from None
    if not isinstance(value, dt.datetime):
        raise _BadValue(f"not a timestamp: {value!r}")
    # A naive timestamp is read as UTC (contract §1).
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise _BadValue(f"out of range in UTC: {given!r}") from None


def _json(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = _parse_json(value)
        except ValueError as error:
            raise _BadValue(f"not valid JSON: {error}") from None
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise _BadValue(f"cannot be stored as JSON: {error}") from None
