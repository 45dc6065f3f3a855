"""A compiled query: SQL for one driver plus the typed parameters and columns it carries.

Shared by the compiler (which makes them) and the executors (which run them), so that neither
imports the other. Result rows are normalised here, in one place, from the column types of the
template header: no `Decimal`, `numpy` or naive/aware surprises reach the models or JSON.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlglot import exp



@dataclass(frozen=True)
class Field:
    """A typed name from a template header: a parameter or an output column."""

    name: str
    type: str
    doc: str


@dataclass(frozen=True)
class CompiledQuery:
    name: str
    dialect: str
    sql: str
    params: tuple[Field, ...]
    columns: tuple[Field, ...]
    #: The rewritten syntax tree, parameters still as nodes (for inlining). Never mutated.
    tree: exp.Expression = field(repr=False, compare=False)

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values this query uses, by name; a missing one is a programming error."""
        missing = [p.name for p in self.params if p.name not in values]
        if missing:
            raise KeyError(f"{self.name}: no value for parameter(s) {', '.join(missing)}")
        return {p.name: values[p.name] for p in self.params}

    def normalise(self, rows: Iterable[Iterable[Any]]) -> list[tuple[Any, ...]]:
        """Rows as plain Python values of the header's types."""
        rows = list(rows)
        if not rows:
            return []
        if any(len(row) != len(self.columns) for row in rows):
            raise ValueError(f"{self.name}: rows do not have the header's {len(self.columns)} columns")
        # Column by column: one cast per column, mapped in C (a dashboard's 700 values per request).
        columns = [list(map(_CASTS[c.type], values)) for c, values in zip(self.columns, zip(*rows), strict=True)]
        return list(zip(*columns))


def _to_date(value: Any) -> dt.date | None:
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _to_timestamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value))
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _to_int(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    if isinstance(value, (float, Decimal)) and value != int(value):
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(value)


def _to_float(value: Any) -> float | None:
    # 12 significant digits: far inside the contract's 1e-9 tolerance, and float noise such
    # as 2.5086250000000003 (or a Decimal's 28 digits) never reaches a user.
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else float("%.12g" % number)


def _optional(cast: Any) -> Any:
    return lambda value: None if value is None else cast(value)


_CASTS = {
    "STRING": _optional(str),
    "DATE": _to_date,
    "TIMESTAMP": _to_timestamp,
    "INT64": _to_int,
    "FLOAT64": _to_float,
    "BOOL": _optional(bool),
}
