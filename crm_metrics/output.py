"""Output formats of results: JSON (the HTTP body, byte for byte), CSV and a text table."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any


FORMATS = ("json", "csv", "table")


def to_json(result: Any) -> str:
    """The canonical JSON body: compact, keys in the seed's order, UTF-8, one trailing newline.
    The CLI prints exactly this and the server sends exactly this."""
    return json.dumps(result.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def _flat(data: Mapping[str, Any]) -> dict[str, Any]:
    """Nested objects as dotted names (a compared summary's `previous.total_cost`)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= {f"{key}.{name}": inner for name, inner in _flat(value).items()}
        else:
            flat[key] = value
    return flat


def rows(answer: Any) -> tuple[list[str], list[list[Any]]]:
    """An answer as one flat table, by its JSON shape: an answer without lists (the summary)
    is one row of its fields, nested objects as dotted names; an answer with lists of rows
    (the dashboard's series) is one row per list item, the lists side by side, the key they
    share first (`date`) written once; `totals` (§7.1, §7.2) is a last row whose key is
    `totals`; a list keyed otherwise (the costs' `markets`) follows, a row per item whose
    first field is `prefix 1242`. Takes a result or its JSON object (`to_dict()`, or the parsed HTTP body)."""
    data = answer.to_dict() if hasattr(answer, "to_dict") else dict(answer)
    if isinstance(data.get("columns"), list) and isinstance(data.get("rows"), list):
        # A custom metric names its columns: its rows under them, even when there are none.
        return list(data["columns"]), [[row[name] for name in data["columns"]] for row in data["rows"]]
    lists = [value for value in data.values() if isinstance(value, list)]
    if not lists:
        flat = _flat(data)
        return list(flat), [list(flat.values())]
    key = next(iter(lists[0][0])) if lists[0] else "date"
    # Lists keyed otherwise (the costs' `markets`, by prefix) come last, one row per item.
    others = [series for series in lists[1:] if series and next(iter(series[0])) != key]
    lists = [series for series in lists if not any(series is other for other in others)]
    header = [key]
    table: list[list[Any]] = [[row[key]] for row in lists[0]]
    for series in lists:
        for name in series[0] if series else []:
            if name == key:
                continue
            header.append(name)
            for out, row in zip(table, series, strict=True):
                out.append(row[name])
    if isinstance(data.get("totals"), dict):
        table.append(["totals", *(data["totals"][name] for name in header[1:])])
    for series in others:
        # `market 1242`: the item's key and value in the first column, its fields under theirs.
        inner = next(iter(series[0]))
        table += [[f"{inner} {row[inner]}", *(row.get(name) for name in header[1:])] for row in series]
    return header, table


def to_csv(answer: Any) -> str:
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


def to_table(result: Any) -> str:
    """Aligned text for a terminal: one block per list of rows (a dashboard's series, §7's
    series with their totals, outlets, cells), or an answer without lists as name/value."""
    data = result.to_dict()
    # Lists of rows (a custom metric's `columns` is a list of names, not rows).
    lists = {key: value for key, value in data.items() if isinstance(value, list) and key != "columns"}
    if not lists:
        flat = _flat(data)
        width = max(map(len, flat))
        return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in flat.items()) + "\n"
    title = (
        f"tenant {data['tenant_id']}"
        + (f", outlet {data['outlet_id']}" if data.get("outlet_id") else "")
        + f", {data['period_start']} .. {data['period_end']} ({data['timezone']}"
        + (f", by {data['granularity']})" if "granularity" in data else ")")
    )
    blocks = [title]
    # Figures beside the lists (the forecast's month, the anomalies' metric), name and value.
    shown = {"tenant_id", "outlet_id", "period_start", "period_end", "timezone", "granularity", "totals"}
    figures = _flat({k: v for k, v in data.items() if k not in shown and k not in lists})
    if figures:
        width = max(map(len, figures))
        blocks.append("\n" + "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in figures.items()))
    for key, series in lists.items():
        if not series:
            continue
        header = list(series[0])
        cells = [[_cell(row[h]) for h in header] for row in series]
        if isinstance(data.get("totals"), dict):
            cells.append(["totals", *(_cell(data["totals"][h]) for h in header[1:])])
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


def formatted(result: Any, fmt: str) -> str:
    """The result in an output format: json, csv or table."""
    return {"json": to_json, "csv": to_csv, "table": to_table}[fmt](result)
