"""The formats a metrics answer is sent in: JSON (the default) or CSV, chosen by `?format=`
or else by the `Accept` header (RFC 9110 §12.5.1). Both are renderings of one answer: the
CSV is `crm_metrics.to_csv` of the JSON body, so the two cannot disagree, and the cache holds
the JSON once for both."""

from __future__ import annotations

import json
from dataclasses import dataclass

from crm_metrics import to_csv

FORMATS = ("json", "csv")


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str


MEDIA: dict[str, Format] = {
    "json": Format("json", "application/json"),
    "csv": Format("csv", "text/csv; charset=utf-8"),
}


def negotiated(given: str | None, accept: str | None) -> Format:
    """`?format=` when given (validated by server.params), else the type the Accept header
    prefers: text/csv only when it ranks above application/json; anything else is JSON (an
    Accept the API cannot meet still gets JSON rather than 406, as most APIs do)."""
    if given:
        return MEDIA[given]
    ranks = _ranks(accept or "")
    csv_rank, json_rank = ranks.get("text/csv", 0.0), ranks.get("application/json", ranks.get("*/*", 0.0))
    return MEDIA["csv"] if csv_rank > 0 and csv_rank > json_rank else MEDIA["json"]


def _ranks(accept: str) -> dict[str, float]:
    ranks: dict[str, float] = {}
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranks[media.lower()] = max(quality, ranks.get(media.lower(), 0.0))
    return ranks


def rendered(json_body: bytes, fmt: Format, kind: str) -> tuple[bytes, dict[str, str]]:
    """The body in `fmt`, and the headers that go with it (CSV: a file name in
    Content-Disposition: kind, tenant and the period, as the answer states them)."""
    if fmt.name == "json":
        return json_body, {}
    answer = json.loads(json_body)
    name = f"{kind}-{answer['tenant_id']}-{answer['period_start']}-{answer['period_end']}.csv"
    return to_csv(answer).encode(), {"Content-Disposition": f'attachment; filename="{name}"'}
