"""Output formats of results: JSON (the HTTP body, byte for byte), CSV and a text table."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from crm_metrics.models import SERIES, Dashboard, Summary

FORMATS = ("json", "csv", "table")


def to_json(result: Dashboard | Summary) -> str:
    """The canonical JSON body: compact, keys in the seed's order, UTF-8, one trailing newline.
    The CLI prints exactly this and the server sends exactly this."""
    return json.dumps(result.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def rows(result: Dashboard | Summary) -> tuple[list[str], list[list[Any]]]:
    """A flat table: the summary's one row, or one row per dashboard bucket with every series'
    fields side by side (series share their buckets)."""
    data = result.to_dict()
    if isinstance(result, Summary):
        return list(data), [list(data.values())]
    header = ["date"]
    table: list[list[Any]] = [[row["date"]] for row in data["conversations"]]
    for key in SERIES:
        for name in data[key][0] if data[key] else []:
            if name == "date":
                continue
            header.append(name)
            for out, row in zip(table, data[key], strict=True):
                out.append(row[name])
    return header, table


def to_csv(result: Dashboard | Summary) -> str:
    header, table = rows(result)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
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
