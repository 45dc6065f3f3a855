"""The answers the library gives: which metric template each runs and how its rows become a
typed result (crm_metrics/models.py). `Metrics.answer(kind, query)` looks them up here, so
the library, the CLI and the server offer the same kinds.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crm_metrics.models import (
    SERIES,
    SUMMARY_FIGURES,
    Change,
    ComparedSummary,
    CostFigures,
    Costs,
    MarketCosts,
    Dashboard,
    HeatmapCell,
    Heatmap,
    OutcomeFigures,
    OutcomeMetrics,
    Outcomes,
    OutletBreakdown,
    Overview,
    OutletFigures,
    PeriodFigures,
    PricedCostMetrics,
    ResponseMetrics,
    Responses,
    ResponseTimes,
    Summary,
)
from crm_metrics.request import Period, Query

Rows = Sequence[tuple[Any, ...]]
MICROS_PER_SECOND = 1_000_000


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
    #: Whether it reads local wall-clock times (weekday and hour): by the range's UTC offsets on
    #: every layout, the seed's too (BigQuery's emulator cannot run `EXTRACT(HOUR FROM ts AT
    #: TIME ZONE tz)`; integer arithmetic is also faster on every engine).
    wall_clock: bool = False
    #: Whether an outlet filter applies (the outlet breakdown covers every outlet).
    outlet: bool = True
    #: The template under COST_MODEL=priced where it is another (its cost columns differ).
    priced_template: str | None = None
    #: Whether it exists under COST_MODEL=priced only (the priced costs).
    priced_only: bool = False
    #: What it answers, as the catalogue says it (default: its template's header `table:`).
    description: str | None = None

    def template_for(self, priced: bool) -> str:
        return self.priced_template if priced and self.priced_template else self.template

    def granularity(self, query: Query) -> str:
        return query.granularity if self.series else "range"


def _dashboard(resolved: Resolved, names: Sequence[str], rows: Rows) -> Dashboard:
    position = {name: i for i, name in enumerate(names)}
    series = {}
    for key, row_type in SERIES.items():
        if key == "costs" and "llm_input_tokens" in position:
            row_type = PricedCostMetrics  # COST_MODEL=priced: sql/metrics/priced_dashboard.sql
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


def _overview(resolved: Resolved, names: Sequence[str], rows: Rows) -> Overview:
    """The dashboard, and the summary added up from its buckets' rows: counts and sums add up
    to the range's (every row of the range falls in exactly one bucket); rates and the mean
    response time are divided out of those totals, as the summary's statement divides them
    (docs/metrics.md §4). Costs: the buckets' costs added up (math.fsum, correctly rounded;
    a bucket's cost is linear in its rows, under either cost model)."""
    dashboard = _dashboard(resolved, names, rows)
    position = {name: i for i, name in enumerate(names)}

    def total(name: str) -> Any:
        return sum(row[position[name]] for row in rows)

    conversations, turns = total("total_conversations"), total("answered_turns")
    costs = [row[position["total_llm_cost"]] for row in rows] + [row[position["total_whatsapp_cost"]] for row in rows]
    query, period = resolved.query, resolved.period
    summary = Summary(
        query.tenant_id, resolved.tenant_name, period.start_date, period.end_date, query.outlet_id, period.tz,
        total_conversations=conversations,
        total_messages=total("total_messages"),
        # Integer microseconds over an integer count: one correctly rounded division.
        average_response_time_seconds=total("response_us") / (turns * MICROS_PER_SECOND) if turns else None,
        resolution_rate=total("resolved_conversations") / conversations if conversations else None,
        handoff_rate=total("total_handoffs") / conversations if conversations else None,
        total_cost=math.fsum(costs),
    )
    return Overview(**{name: getattr(dashboard, name) for name in dashboard.field_names()}, summary=summary)


def _summary(resolved: Resolved, names: Sequence[str], rows: Rows) -> Summary:
    (row,) = rows
    query, period = resolved.query, resolved.period
    return Summary(query.tenant_id, resolved.tenant_name, period.start_date, period.end_date, query.outlet_id, period.tz, *row)


def _series_and_totals(rows: Rows) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """A §7 series statement's rows: the buckets (in date order), then the totals row (date null)."""
    series = [row for row in rows if row[0] is not None]
    (totals,) = [row[1:] for row in rows if row[0] is None]
    return series, totals


def _series_answer(answer: type[Any], row: type[Any], figures: type[Any]) -> Callable[[Resolved, Sequence[str], Rows], Any]:
    """The builder of a §7/§8 series answer: `answer` of the request, its buckets as `row`s, the
    totals row as `figures` (responses, outcomes, costs)."""

    def build(resolved: Resolved, names: Sequence[str], rows: Rows) -> Any:
        series, totals = _series_and_totals(rows)
        query, period = resolved.query, resolved.period
        return answer(
            query.tenant_id, query.outlet_id, period.start_date, period.end_date, period.tz, query.granularity,
            [row(*values) for values in series], figures(*totals),
        )

    return build


def markets(rows: Rows) -> list[MarketCosts]:
    """The per-market rows of `group_by=market` (sql/metrics/cost_markets.sql)."""
    return [MarketCosts(*row) for row in rows]


def _outlets(resolved: Resolved, names: Sequence[str], rows: Rows) -> OutletBreakdown:
    period = resolved.period
    return OutletBreakdown(resolved.query.tenant_id, period.start_date, period.end_date, period.tz, [OutletFigures(*row) for row in rows])


def _heatmap(resolved: Resolved, names: Sequence[str], rows: Rows) -> Heatmap:
    query, period = resolved.query, resolved.period
    return Heatmap(query.tenant_id, query.outlet_id, period.start_date, period.end_date, period.tz, [HeatmapCell(*row) for row in rows])


def _daily_values(resolved: Resolved, names: Sequence[str], rows: Rows) -> dict[dt.date, dict[str, Any]]:
    """sql/metrics/daily_values.sql's rows by date: what anomalies and the forecast read."""
    return {row[0]: dict(zip(names, row, strict=True)) for row in rows}


#: The daily values of the watched metrics (docs/anomalies.md): read by the anomalies and
#: forecast answers, which are computed from them in Python (crm_metrics/anomalies.py).
DAILY_VALUES = Answer("daily_values", "daily_values", True, _daily_values)
#: The answers computed from the daily values rather than read from one statement.
COMPUTED = ("anomalies", "forecast")


def compared(current: Summary, previous: Summary) -> ComparedSummary:
    """The summary with `previous` (the period before it) and the relative change of each
    figure (docs/metrics.md §7.3): null when either value is null or the previous one is 0."""
    figures = {name: getattr(previous, name) for name in SUMMARY_FIGURES}
    change = {}
    for name in SUMMARY_FIGURES:
        now, before = getattr(current, name), figures[name]
        change[name] = None if now is None or before is None or before == 0 else (now - before) / before
    return ComparedSummary(
        **{name: getattr(current, name) for name in Summary.field_names()},
        previous=PeriodFigures(previous.period_start, previous.period_end, **figures),
        change=Change(**change),
    )


ANSWERS: dict[str, Answer] = {
    answer.kind: answer
    for answer in (
        Answer("dashboard", "dashboard", True, _dashboard, priced_template="priced_dashboard"),
        Answer("summary", "summary", False, _summary),
        Answer(
            "overview", "dashboard", True, _overview, priced_template="priced_dashboard",
            description="The dashboard and the summary of the same request, from the dashboard's one statement.",
        ),
        Answer("responses", "responses", True, _series_answer(Responses, ResponseMetrics, ResponseTimes)),
        Answer("outcomes", "outcomes", True, _series_answer(Outcomes, OutcomeMetrics, OutcomeFigures)),
        Answer("outlets", "outlets", False, _outlets, outlet=False),
        Answer("heatmap", "heatmap", False, _heatmap, wall_clock=True),
        Answer("costs", "costs", True, _series_answer(Costs, PricedCostMetrics, CostFigures), priced_only=True),
    )
}
