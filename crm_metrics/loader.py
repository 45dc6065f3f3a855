"""Data in: CSV, JSON Lines and Parquet files for the seed's three tables.

A file loads whole or not at all: the header (CSV) or schema (Parquet) is checked first,
then every row; the first problem raises `LoadError` naming the file, the row (and line) and
the column, and nothing is written. The same id twice in one file is an error; ids already
stored are updated in place (the write is the executor's, see `executors.base.upsert`).

Values, in every format:
- an empty string is null in a column that allows null (CSV cannot tell the two apart);
- tenant and outlet ids must be UUIDs and are stored in lowercase, the form requests take;
- timestamps are ISO-8601; one without a UTC offset is read in `assume_tz` (default UTC),
  and the batch counts them so that the caller can say so.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from crm_metrics.errors import InvalidParameter, LoadError, shown
from crm_metrics.request import UUID, timezone
from crm_metrics.schema import TABLES, Column

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
#: Columns that identify something may not be empty strings.
NON_EMPTY = {"id", "tenant_id", "conversation_id", "name", "status", "sender_type"}
ARROW_TYPES = {"STRING": pa.string(), "JSON": pa.string(), "TIMESTAMP": pa.timestamp("us", tz="UTC")}
#: The csv module refuses fields over 128 KiB by default; a message's content or metadata may
#: be longer, and JSON Lines and Parquet have no such limit. The C long limits it.
_CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


@dataclass(frozen=True)
class Batch:
    """Rows checked for `table` and converted to the schema's columns, ready to write."""

    table: str
    rows: pa.Table
    source: str
    #: Timestamps that had no UTC offset, read in `assumed_tz`.
    naive_timestamps: int = 0
    assumed_tz: str = "UTC"


class _BadValue(ValueError):
    pass


def read_file(table: str, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) pairs, `where` like 'row 3 (line 4)', after the header's check."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise LoadError(f"{path}: unknown file type {path.suffix!r}; use .csv, .jsonl, .ndjson or .parquet")
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    if kind == "parquet":
        yield from _parquet_rows(table, path)
    elif kind == "csv":
        yield from _csv_rows(table, path, _text(path))
    else:
        yield from _jsonl_rows(path, _text(path))


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise LoadError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8") from None


def check_header(table: str, names: Sequence[str], where: str) -> None:
    """A file's column names (a CSV header, a Parquet schema) against the table's columns:
    every problem is the header's, reported once at `where` rather than on every row."""
    columns = {c.name: c for c in TABLES[table]}
    listing = ", ".join(columns)
    for index, name in enumerate(names, 1):
        if not name:
            raise LoadError(
                f"{where}: column {index} of the header has no name (an index written by pandas? "
                f"save with index=False); {table} has {listing}"
            )
        if names.count(name) > 1:
            raise LoadError(f"{where}: column {name!r} appears twice in the header")
    if unknown := [name for name in names if name not in columns]:
        hints = []
        if len(names) == 1 and (separator := next((s for s in ";\t|" if s in names[0]), None)):
            hints.append(f"the header looks separated by {separator!r}: save the file with commas (RFC 4180 CSV)")
        elif spaced := [name for name in unknown if name.strip() in columns]:
            hints.append(f"remove the spaces around {', '.join(repr(n) for n in spaced)}")
        hint = f" ({'; '.join(hints)})" if hints else ""
        raise LoadError(f"{where}: unknown column(s) {', '.join(repr(n) for n in unknown)}{hint}; {table} has {listing}")
    if missing := [c.name for c in columns.values() if c.required and c.name not in names]:
        raise LoadError(f"{where}: required column(s) {', '.join(repr(n) for n in missing)} missing from the header; {table} has {listing}")


def _parquet_rows(table: str, path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        data = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise LoadError(f"{path}: not a readable Parquet file: {error}") from error
    check_header(table, data.schema.names, f"{path}: schema")
    for index, field in enumerate(data.schema):
        # pandas writes nanoseconds, which Python's datetime cannot hold; every engine stores
        # microseconds, so cut to them (floor) before converting.
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns":
            micros = pc.floor_temporal(data.column(index), unit="microsecond").cast(pa.timestamp("us", field.type.tz))
            data = data.set_column(index, field.name, micros)
    for number, row in enumerate(data.to_pylist(), 1):
        yield f"row {number}", row


def _csv_rows(table: str, path: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    # strict: a quote left open (a file cut short) or text after a closing quote is an
    # error, where the lenient default would load a silently different value.
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    number = last_line = 0
    try:
        header = reader.fieldnames
        if header is None:
            return
        check_header(table, header, f"{path}: line 1")
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
            row = parse_json(line)
        except ValueError as error:
            raise LoadError(f"{path}: {where}: not valid JSON: {error}") from None
        if not isinstance(row, dict):
            raise LoadError(f"{path}: {where}: each line must be a JSON object")
        yield where, row


def prepare(
    table: str,
    rows: Iterable[tuple[str, Mapping[str, Any]]],
    source: str = "rows",
    *,
    assume_tz: str | None = None,
) -> Batch:
    """Check and convert rows to an Arrow table of the schema's columns."""
    if table not in TABLES:
        raise LoadError(f"Unknown table {table!r}. Known: {', '.join(TABLES)}")
    zone = _zone(assume_tz)
    columns = TABLES[table]
    known = {c.name for c in columns}
    data: dict[str, list[Any]] = {c.name: [] for c in columns}
    seen: dict[str, str] = {}
    naive = 0
    for where, row in rows:
        if unknown := sorted(set(row) - known):
            names = ", ".join(c.name for c in columns)
            raise LoadError(f"{source}: {where}: unknown column(s) {', '.join(repr(n) for n in unknown)}; {table} has {names}")
        try:
            values, was_naive = checked_row(table, row, zone)
        except BadValue as error:
            raise LoadError(f"{source}: {where}, column {error.column}: {error}") from None
        for name, value in values.items():
            data[name].append(value)
        naive += was_naive
        row_id = data["id"][-1]
        if row_id in seen:
            raise LoadError(f"{source}: {where}, column id: {shown(row_id)} appears twice (first at {seen[row_id]})")
        seen[row_id] = where
    arrow = pa.table({c.name: pa.array(data[c.name], ARROW_TYPES[c.type]) for c in columns})
    return Batch(table, arrow, source, naive, assume_tz or "UTC")


class BadValue(ValueError):
    """A row's value that the table cannot take; `column` names it."""

    def __init__(self, column: str, message: str) -> None:
        self.column = column
        super().__init__(message)


def checked_row(table: str, row: Mapping[str, Any], zone: zoneinfo.ZoneInfo | None = None) -> tuple[dict[str, Any], int]:
    """One row's values, checked and converted for `table` (its known columns only: the
    caller refuses others), and how many of its timestamps had no UTC offset."""
    values: dict[str, Any] = {}
    naive = 0
    for column in TABLES[table]:
        values[column.name], was_naive = checked_value(column, row.get(column.name), zone)
        naive += was_naive
    return values, naive


def checked_value(column: Column, value: Any, zone: zoneinfo.ZoneInfo | None = None) -> tuple[Any, bool]:
    """One value checked and converted for `column`, and whether it was a timestamp without a
    UTC offset; BadValue names the column."""
    try:
        return _value(column, value, zone)
    except _BadValue as error:
        raise BadValue(column.name, str(error)) from None


def arrow_rows(table: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows made by `checked_row`, as the Arrow table a write takes."""
    return pa.table({c.name: pa.array([row[c.name] for row in rows], ARROW_TYPES[c.type]) for c in TABLES[table]})


def prepare_rows(table: str, rows: Iterable[Mapping[str, Any]], source: str = "rows", *, assume_tz: str | None = None) -> Batch:
    """Check rows (dicts) for `table`; `Metrics.load_rows` writes them."""
    return prepare(table, ((f"row {n}", row) for n, row in enumerate(rows, 1)), source, assume_tz=assume_tz)


def prepare_file(table: str, path: str | Path, *, assume_tz: str | None = None) -> Batch:
    """Check a CSV, JSON Lines or Parquet file for `table`; `Metrics.load` writes it."""
    if table not in TABLES:
        raise LoadError(f"Unknown table {table!r}. Known: {', '.join(TABLES)}")
    path = Path(path)
    return prepare(table, read_file(table, path), str(path), assume_tz=assume_tz)


def _zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    zone = timezone("assume_tz", name)
    return zoneinfo.ZoneInfo(zone) if zone else None


def parse_json(text: str) -> Any:
    """Strict JSON (no NaN or Infinity); every failure is a ValueError."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deep") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _value(column: Column, value: Any, zone: zoneinfo.ZoneInfo | None) -> tuple[Any, bool]:
    """The stored value, and whether it was a timestamp without a UTC offset."""
    # CSV cannot tell an empty field from a missing one, so in every format an empty string
    # is null where null is allowed, and stays "" in required text (a media message without
    # a caption has empty content); NON_EMPTY columns then refuse it.
    if value == "" and (not column.required or column.type != "STRING"):
        value = None
    if value is None:
        if column.required:
            raise _BadValue("is required")
        return None, False
    if column.type == "STRING":
        return _string(column, value), False
    if column.type == "TIMESTAMP":
        return _timestamp(value, zone)
    return _json(value), False


def _string(column: Column, value: Any) -> str:
    if not isinstance(value, str):
        raise _BadValue(f"must be a string, got {shown(value)}")
    if column.name in NON_EMPTY and not value:
        raise _BadValue("must not be empty")
    if column.uuid:
        # Requests name tenants and outlets by UUID, in lowercase: an id of another form, or
        # in another case, would load and never be found.
        if not UUID.fullmatch(value):
            raise _BadValue(f"must be a UUID like 123e4567-e89b-12d3-a456-426614174000, got {shown(value)}")
        return value.lower()
    if column.name == "timezone":
        try:
            timezone(column.name, value)
        except InvalidParameter as error:
            raise _BadValue(error.message) from None
    return value


def _timestamp(value: Any, zone: zoneinfo.ZoneInfo | None) -> tuple[dt.datetime, bool]:
    given = value
    if isinstance(value, str):
        text = value.strip()
        if len(text) < 11 or text[10] not in "Tt ":
            raise _BadValue(f"not an ISO-8601 timestamp with a time: {shown(value)}")
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _BadValue(f"not an ISO-8601 timestamp: {shown(value)}") from None
    if not isinstance(value, dt.datetime):
        raise _BadValue(f"not a timestamp: {shown(value)}")
    naive = value.tzinfo is None
    if naive:
        # docs/metrics.md §1: a naive timestamp is UTC, unless the load says where it was written.
        value = value.replace(tzinfo=zone or dt.UTC)
        if zone is not None and _skipped(value, zone):
            raise _BadValue(f"{value.replace(tzinfo=None).isoformat(sep=' ')} never happened in {zone.key} (a clock change skipped it)")
    try:
        return value.astimezone(dt.UTC), naive
    except OverflowError:
        raise _BadValue(f"out of range in UTC: {shown(given)}") from None


def _skipped(local: dt.datetime, zone: zoneinfo.ZoneInfo) -> bool:
    """Whether a wall time falls in a gap of `zone` (it does not survive a round trip).
    A repeated wall time reads as its first occurrence (fold=0)."""
    try:
        back = local.astimezone(dt.UTC).astimezone(zone)
    except OverflowError:
        return False
    return back.replace(tzinfo=None) != local.replace(tzinfo=None)


def _json(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = parse_json(value)
        except ValueError as error:
            raise _BadValue(f"not valid JSON: {error}") from None
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise _BadValue(f"cannot be stored as JSON: {error}") from None


@dataclass(frozen=True)
class LoadReport:
    """What a load did, for the caller to show: `crm-metrics load` prints `lines()`."""

    table: str
    source: str
    rows: int
    inserted: int
    updated: int
    naive_timestamps: int = 0
    assumed_tz: str = "UTC"
    #: Loaded messages whose conversation is not stored: no answer counts them until it is.
    orphan_messages: int = 0
    orphan_conversations: int = 0
    orphan_examples: tuple[str, ...] = ()

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated

    def lines(self) -> list[str]:
        """The summary line, then a note per thing the user should know."""
        lines = [
            f"loaded {self.rows:,} rows into {self.table} from {self.source}: "
            f"{self.inserted:,} new, {self.updated:,} changed, {self.unchanged:,} unchanged"
        ]
        if self.naive_timestamps:
            other = "" if self.assumed_tz != "UTC" else " (--assume-tz ZONE reads them in another timezone)"
            lines.append(f"note: {self.naive_timestamps:,} timestamps had no UTC offset and were read in {self.assumed_tz}{other}")
        if self.orphan_messages:
            examples = ", ".join(self.orphan_examples)
            more = ", ..." if self.orphan_conversations > len(self.orphan_examples) else ""
            lines.append(
                f"warning: {self.orphan_messages:,} messages belong to {self.orphan_conversations:,} conversations that are not"
                f" stored ({examples}{more}): no answer counts them until those conversations are loaded"
            )
        return lines
