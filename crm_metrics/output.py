"""Output formats of results: JSON (the HTTP body, byte for byte), CSV and a text table."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from crm_metrics.models import SERIES, Dashboard, Summary

FORMATS = ("json", "csv", "table")


def to_json(result: Dashboard | Summary) -> str:
    """The canonical JSON body: compact, keys in the seed's order, UTF-8, one trailing newline.
    The CLI prints exactly this and the server sends exactly this."""
    return json.dumps(result.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def rows(answer: Dashboard | Summary | Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """An answer as one flat table, by its JSON shape: an answer without lists (the summary)
    is one row of its fields; an answer with lists of rows (the dashboard's series) is one
    row per list item, the lists side by side, the key they share first (`date`) written
    once. Takes a result or its JSON object (`to_dict()`, or the parsed HTTP body)."""
    data = answer.to_dict() if isinstance(answer, (Dashboard, Summary)) else dict(answer)
    lists = [value for value in data.values() if isinstance(value, list)]
    if not lists:
        return list(data), [list(data.values())]
    key = next(iter(lists[0][0])) if lists[0] else "date"
    header = [key]
    table: list[list[Any]] = [[row[key]] for row in lists[0]]
    for series in lists:
        for name in series[0] if series else []:
            if name == key:
                continue
            header.append(name)
            for out, row in zip(table, series, strict=True):
                out.append(row[name])
    return header, table


def to_csv(answer: Dashboard | Summary | Mapping[str, Any]) -> str:
    """CSV (RFC 4180: CRLF line ends, fields quoted where needed): one header row of the
    JSON's field names, then `rows(answer)`; dates as in the JSON (YYYY-MM-DD), null as an
    empty field, numbers as the JSON writes them. `crm-metrics query --format csv` prints
    it and the HTTP server sends it for `?format=csv`, byte for byte."""
    header, table = rows(answer)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in table])
    return buffer.getvalue()


def to_table(result: Dashboard | Summary) -> str:
    """Aligned text for a terminal: one block per series, or the summary as name/value."""
    data = result.to_dict()
    if isinstance(result, Summary):
        width = max(map(len, data))
        return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in data.items()) + "\n"
    title = (
        f"tenant {data['tenant_id']}"
        + (f", outlet {data['outlet_id']}" if data["outlet_id"] else "")
        + f", {data['period_start']} .. {data['period_end']} ({data['timezone']}, by {data['granularity']})"
    )
    blocks = [title]
    for key in SERIES:
        series = data[key]
        if not series:
            continue
        header = list(series[0])
        cells = [[_cell(row[h]) for h in header] for row in series]
        widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
        blocks.append(f"\n{key}\n" + "\n".join(lines))
    return "\n".join(blocks) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def formatted(result: Dashboard | Summary, fmt: str) -> str:
    """The result in an output format: json, csv or table."""
    return {"json": to_json, "csv": to_csv, "table": to_table}[fmt](result)
