"""Price tables of the priced cost model (COST_MODEL=priced, docs/costs.md).

Two CSV files, read and checked once at start; an error names the file and the line:
- WHATSAPP_PRICES: `prefix,category,price,valid_from` (dollars per charged message);
- LLM_PRICES: `model,input_per_million,output_per_million,valid_from` (dollars per million tokens).

The tables reach SQL as data: each column is one bound array parameter (`planning.values`),
unnested into a table by sql/macros/costs.sql. No price, prefix or model is ever SQL text.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from crm_metrics.errors import ConfigError

WHATSAPP_COLUMNS = ("prefix", "category", "price", "valid_from")
LLM_COLUMNS = ("model", "input_per_million", "output_per_million", "valid_from")
#: The prefix that matches every number, used only where no other prefix does.
ANY = "*"
#: Far above any real price (dollars per message or per million tokens): a typo such as a
#: price in cents times a year of messages must still be a finite float.
MAX_PRICE = 1_000_000.0
_PREFIX = re.compile(r"^[0-9]{1,15}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class WhatsAppPrice:
    prefix: str
    category: str
    price: float
    valid_from: dt.date


@dataclass(frozen=True)
class LLMPrice:
    model: str
    input_per_million: float
    output_per_million: float
    valid_from: dt.date


_Row = TypeVar("_Row", WhatsAppPrice, LLMPrice)


@dataclass(frozen=True)
class PriceTables:
    whatsapp: tuple[WhatsAppPrice, ...] = ()
    llm: tuple[LLMPrice, ...] = ()

    def parameters(self) -> dict[str, list[object]]:
        """The tables as the templates' array parameters (sql/macros/costs.sql), one per column:
        fresh lists for each request, from columns built once."""
        return {name: list(values) for name, values in self._columns.items()}

    def stored(self) -> dict[str, dict[str, tuple[object, ...]]]:
        """The tables as the priced rollup stores them, column by column: the rows the
        templates read (sql/derived/slot_prices.sql), named as sql/schema/*-rollup.sql names them."""
        c = self._columns
        return {
            "crm_metrics_whatsapp_prices": {
                "low": c["whatsapp_lows"], "high": c["whatsapp_highs"], "market": c["whatsapp_markets"], "category": c["whatsapp_categories"],
                "price": c["whatsapp_prices"], "valid_from": c["whatsapp_valid_from"], "valid_to": c["whatsapp_valid_to"],
            },
            "crm_metrics_llm_prices": {
                "model": c["llm_models"], "input_price": c["llm_input_prices"], "output_price": c["llm_output_prices"],
                "valid_from": c["llm_valid_from"], "valid_to": c["llm_valid_to"],
            },
        }

    @functools.cached_property
    def fingerprint(self) -> str:
        """12 hex digits that change with any row of either table."""
        return hashlib.sha256(repr((self.whatsapp, self.llm)).encode()).hexdigest()[:12]

    @functools.cached_property
    def _columns(self) -> dict[str, tuple[object, ...]]:
        # Built once per table (a rate card has hundreds of rows), not per request.
        whatsapp = whatsapp_rows(self.whatsapp)
        llm = _with_ends([(row.model, row) for row in self.llm])
        return {
            "whatsapp_lows": tuple(row.low for row in whatsapp),
            "whatsapp_highs": tuple(row.high for row in whatsapp),
            "whatsapp_markets": tuple(row.market for row in whatsapp),
            "whatsapp_categories": tuple(row.category for row in whatsapp),
            "whatsapp_prices": tuple(row.price for row in whatsapp),
            "whatsapp_valid_from": tuple(row.valid_from for row in whatsapp),
            "whatsapp_valid_to": tuple(row.valid_to for row in whatsapp),
            "llm_models": tuple(row.model for row, _ in llm),
            "llm_input_prices": tuple(row.input_per_million for row, _ in llm),
            "llm_output_prices": tuple(row.output_per_million for row, _ in llm),
            "llm_valid_from": tuple(row.valid_from for row, _ in llm),
            "llm_valid_to": tuple(end for _, end in llm),
            "llm_named_models": tuple(sorted({row.model for row in self.llm} - {ANY})),
        }


#: A row's end of validity where no later row of its key takes over (BigQuery arrays hold no
#: NULL): after any date a message can have.
NO_END = dt.date(9999, 12, 31)
#: A range of numbers without an upper end (its `high`): '' is never one, ranges start above it.
NO_HIGH = ""


@dataclass(frozen=True)
class WhatsAppRow:
    """A row of WHATSAPP_PRICES as SQL reads it (sql/macros/costs.sql): the numbers it prices
    as a range in byte order, low <= number < high ('' no end), the numbers whose market (the
    longest prefix of the table they start with, '*' where none does) is `market`; a row of
    the table with its end of validity (the next valid_from of its prefix and category)."""

    low: str
    high: str
    market: str
    category: str
    price: float
    valid_from: dt.date
    valid_to: dt.date


def _with_ends(keyed: list[tuple[object, _Row]]) -> list[tuple[_Row, dt.date]]:
    """Each row with the valid_from of the next row of its key (NO_END: none), in key order."""
    groups: dict[object, list[_Row]] = {}
    for key, row in keyed:
        groups.setdefault(key, []).append(row)
    ended = []
    for rows in groups.values():
        rows.sort(key=lambda row: row.valid_from)
        ended += [(row, rows[i + 1].valid_from if i + 1 < len(rows) else NO_END) for i, row in enumerate(rows)]
    return ended


def _after(prefix: str) -> str:
    """The first string in byte order after every string that starts with `prefix` (digits)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def market_ranges(prefixes: set[str]) -> list[tuple[str, str, str]]:
    """(low, high, market) ranges in byte order that partition every string: a number in a
    range starts with `market` and with no longer prefix of `prefixes`, or, for '*', with none
    (a string starts with p exactly when p <= it < _after(p), so the ranges' bounds are the
    prefixes and their _after). The '*' ranges only where `prefixes` holds '*'."""
    digits = sorted(prefixes - {ANY})
    bounds = sorted({NO_HIGH, *digits, *map(_after, digits)})
    ranges: list[tuple[str, str, str]] = []
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else NO_HIGH
        market = max((p for p in digits if low.startswith(p)), key=len, default=ANY)
        if ranges and ranges[-1][2] == market:
            ranges[-1] = (ranges[-1][0], high, market)
        else:
            ranges.append((low, high, market))
    return [r for r in ranges if r[2] != ANY or ANY in prefixes]


def whatsapp_rows(table: tuple[WhatsAppPrice, ...]) -> tuple[WhatsAppRow, ...]:
    """The WhatsApp table as SQL reads it: each row once per range of numbers of its market."""
    ended = _with_ends([((row.prefix, row.category), row) for row in table])
    return tuple(
        WhatsAppRow(low, high, market, row.category, row.price, row.valid_from, end)
        for low, high, market in market_ranges({row.prefix for row in table})
        for row, end in ended
        if row.prefix == market
    )

def _rows(path: Path, setting: str, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ConfigError(f"Config '{setting}': cannot read {str(path)!r}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text ({setting})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise ConfigError(f"{path}:1: empty file; expected the header {','.join(columns)} ({setting})")
    header = [name.strip() for name in header]
    if unknown := [name for name in header if name not in columns]:
        raise ConfigError(f"{path}:1: unknown column {unknown[0]!r}; expected {','.join(columns)} ({setting})")
    if missing := [name for name in columns if name not in header]:
        raise ConfigError(f"{path}:1: missing column {missing[0]!r}; expected {','.join(columns)} ({setting})")
    if len(set(header)) != len(header):
        raise ConfigError(f"{path}:1: a column is named twice ({setting})")
    rows = []
    for line, values in enumerate(reader, 2):
        if not values or all(not v.strip() for v in values) or values[0].lstrip().startswith("#"):
            continue  # blank lines and comment lines (the example tables' notes)
        if len(values) != len(header):
            raise ConfigError(f"{path}:{line}: {len(values)} fields, expected {len(header)} ({setting})")
        rows.append((line, {name: value.strip() for name, value in zip(header, values, strict=True)}))
    return rows


def _price(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= MAX_PRICE) or not text:
        raise ConfigError(f"{path}:{line}: {column} {text!r} is not a price (a number from 0 to 1,000,000)")
    return value


def _date(path: Path, line: int, text: str) -> dt.date:
    try:
        if not _DATE.match(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{path}:{line}: valid_from {text!r} is not a date YYYY-MM-DD") from None


def _text(path: Path, line: int, column: str, text: str) -> str:
    if not text:
        raise ConfigError(f"{path}:{line}: {column} is empty")
    return text


def read_whatsapp(path: str | Path, setting: str = "WHATSAPP_PRICES") -> tuple[WhatsAppPrice, ...]:
    """The WhatsApp table at `path`: prefixes of digits or `*`, one row per
    (prefix, category, valid_from)."""
    path = Path(path)
    table, seen = [], {}
    for line, row in _rows(path, setting, WHATSAPP_COLUMNS):
        prefix = row["prefix"]
        if prefix != ANY and not _PREFIX.match(prefix):
            raise ConfigError(f"{path}:{line}: prefix {prefix!r} is not a calling-code prefix (1 to 15 digits, no '+') or '*'")
        price = WhatsAppPrice(prefix, _text(path, line, "category", row["category"]), _price(path, line, "price", row["price"]), _date(path, line, row["valid_from"]))
        key = (price.prefix, price.category, price.valid_from)
        if key in seen:
            raise ConfigError(f"{path}:{line}: duplicate row for prefix {prefix!r}, category {price.category!r}, valid_from {price.valid_from} (first on line {seen[key]})")
        seen[key] = line
        table.append(price)
    return tuple(table)


def read_llm(path: str | Path, setting: str = "LLM_PRICES") -> tuple[LLMPrice, ...]:
    """The LLM table at `path`: one row per (model, valid_from); `*` prices other models."""
    path = Path(path)
    table, seen = [], {}
    for line, row in _rows(path, setting, LLM_COLUMNS):
        price = LLMPrice(
            _text(path, line, "model", row["model"]),
            _price(path, line, "input_per_million", row["input_per_million"]),
            _price(path, line, "output_per_million", row["output_per_million"]),
            _date(path, line, row["valid_from"]),
        )
        key = (price.model, price.valid_from)
        if key in seen:
            raise ConfigError(f"{path}:{line}: duplicate row for model {price.model!r}, valid_from {price.valid_from} (first on line {seen[key]})")
        seen[key] = line
        table.append(price)
    return tuple(table)


def load(whatsapp_path: str | None, llm_path: str | None) -> PriceTables:
    """Both tables (a table not set is empty: nothing it would price is priced)."""
    return PriceTables(
        read_whatsapp(whatsapp_path) if whatsapp_path else (),
        read_llm(llm_path) if llm_path else (),
    )
