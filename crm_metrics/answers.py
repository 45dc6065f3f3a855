"""The answers the library gives: which metric template each runs and how its rows become a
typed result (crm_metrics/models.py). `Metrics.answer(kind, query)` looks them up here, so
the library, the CLI and the server offer the same kinds.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crm_metrics.models import SERIES, Dashboard, Summary
from crm_metrics.request import Period, Query

Rows = Sequence[tuple[Any, ...]]


@dataclass(frozen=True)
class Resolved:
    """A request with its defaults filled: the period in its timezone, the tenant's name."""

    query: Query
    period: Period
    tenant_name: str | None


@dataclass(frozen=True)
class Answer:
    kind: str
    #: The metric template (sql/metrics/) whose statement answers it.
    template: str
    #: Whether the request's granularity applies (a series) or the range is one bucket.
    series: bool
    build: Callable[[Resolved, Sequence[str], Rows], Any]

    def granularity(self, query: Query) -> str:
        return query.granularity if self.series else "range"


def _dashboard(resolved: Resolved, names: Sequence[str], rows: Rows) -> Dashboard:
    position = {name: i for i, name in enumerate(names)}
    series = {}
    for key, row_type in SERIES.items():
        # Every series has a date and more than one figure: itemgetter gives tuples.
        pick = operator.itemgetter(*[position[f] for f in row_type.field_names()])
        series[key] = [row_type(*pick(row)) for row in rows]
    query, period = resolved.query, resolved.period
    return Dashboard(
        tenant_id=query.tenant_id,
        outlet_id=query.outlet_id,
        period_start=period.start_date,
        period_end=period.end_date,
        timezone=period.tz,
        granularity=query.granularity,
        **series,
    )


def _summary(resolved: Resolved, names: Sequence[str], rows: Rows) -> Summary:
    (row,) = rows
    query, period = resolved.query, resolved.period
    return Summary(query.tenant_id, resolved.tenant_name, period.start_date, period.end_date, query.outlet_id, period.tz, *row)


ANSWERS: dict[str, Answer] = {
    answer.kind: answer
    for answer in (
        Answer("dashboard", "dashboard", True, _dashboard),
        Answer("summary", "summary", False, _summary),
    )
}
