"""Typed results. Field names and order are the seed's JSON; `to_dict()` is the JSON body.

Each series row type mirrors the `columns:` of its SQL template header (a test holds them
together), so adding a metric table means one `.sql` file and one dataclass here.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, fields
from typing import Any


def _plain(value: Any) -> Any:
    # By hand rather than dataclasses.asdict, which deep-copies every value: a heat map's 168
    # cells took longer to convert than a small tenant's query to run (bench/second_set.py).
    if isinstance(value, _Result):
        return {name: _plain(getattr(value, name)) for name in type(value).field_names()}
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class _Result:
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values: dates as YYYY-MM-DD, None as null."""
        return _plain(self)  # type: ignore[no-any-return]

    @classmethod
    @functools.cache
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Dated(_Result):
    """A bucket's row: its date first, then the figures of the type it extends (a dataclass's
    fields come base first, so `class Row(Figures, _Dated)` reads date, then Figures')."""

    date: dt.date


@dataclass(frozen=True)
class ConversationMetrics(_Result):
    date: dt.date
    total_conversations: int
    active_conversations: int
    resolved_conversations: int
    handed_off_conversations: int
    average_duration_minutes: float | None
    resolution_rate: float | None


@dataclass(frozen=True)
class MessageMetrics(_Result):
    date: dt.date
    total_messages: int
    customer_messages: int
    llm_messages: int
    agent_messages: int
    average_response_time_seconds: float | None


@dataclass(frozen=True)
class HandoffMetrics(_Result):
    date: dt.date
    total_handoffs: int
    keyword_triggered: int
    confidence_triggered: int
    average_time_to_handoff_minutes: float | None
    handoff_rate: float | None


@dataclass(frozen=True)
class CostMetrics(_Result):
    date: dt.date
    total_llm_calls: int
    total_tokens_used: int
    total_llm_cost: float
    total_whatsapp_cost: float
    total_cost: float
    cost_per_conversation: float | None


@dataclass(frozen=True)
class CostFigures(_Result):
    """Priced costs over a whole range: the `totals` of Costs."""

    total_llm_calls: int
    total_tokens_used: int
    llm_input_tokens: int
    llm_output_tokens: int
    total_llm_cost: float
    whatsapp_charged_messages: int
    whatsapp_free_messages: int
    whatsapp_unpriced_messages: int
    whatsapp_marketing_cost: float
    whatsapp_utility_cost: float
    whatsapp_authentication_cost: float
    total_whatsapp_cost: float
    total_cost: float
    cost_per_conversation: float | None


@dataclass(frozen=True)
class PricedCostMetrics(CostFigures, _Dated):
    """Priced costs of one bucket (docs/metrics.md §8, COST_MODEL=priced; sql/metrics/costs.sql):
    the dashboard's cost series under the priced model: `date`, then CostFigures' fields."""


@dataclass(frozen=True)
class MarketCosts(_Result):
    """WhatsApp costs of one market over the range (`group_by=market`): the prefix numbers matched."""

    prefix: str
    whatsapp_charged_messages: int
    whatsapp_free_messages: int
    whatsapp_unpriced_messages: int
    whatsapp_marketing_cost: float
    whatsapp_utility_cost: float
    whatsapp_authentication_cost: float
    total_whatsapp_cost: float


@dataclass(frozen=True)
class Costs(_Result):
    """Priced costs per bucket and over the range (docs/metrics.md §8); `markets` with
    group_by=market, else null."""

    tenant_id: str
    outlet_id: str | None
    period_start: dt.date
    period_end: dt.date
    timezone: str
    granularity: str
    series: list[PricedCostMetrics]
    totals: CostFigures
    markets: list[MarketCosts] | None = None


@dataclass(frozen=True)
class Dashboard(_Result):
    tenant_id: str
    outlet_id: str | None
    period_start: dt.date
    period_end: dt.date
    timezone: str
    granularity: str
    conversations: list[ConversationMetrics]
    messages: list[MessageMetrics]
    handoffs: list[HandoffMetrics]
    #: PricedCostMetrics under COST_MODEL=priced (docs/metrics.md §8).
    costs: list[CostMetrics] | list[PricedCostMetrics]


@dataclass(frozen=True)
class Summary(_Result):
    tenant_id: str
    tenant_name: str | None
    period_start: dt.date
    period_end: dt.date
    outlet_id: str | None
    timezone: str
    total_conversations: int
    total_messages: int
    average_response_time_seconds: float | None
    resolution_rate: float | None
    handoff_rate: float | None
    total_cost: float


@dataclass(frozen=True)
class Overview(Dashboard):
    """The dashboard and the summary of the same request from the dashboard's one statement
    (`Metrics.overview`): the dashboard's fields, then `summary`, the summary's figures added
    up from the buckets' counts and sums (docs/metrics.md §4: from raw rows, never a mean of
    the buckets' means)."""

    summary: Summary

    @property
    def dashboard(self) -> Dashboard:
        """What `Metrics.dashboard` answers for the same request."""
        return Dashboard(*(getattr(self, name) for name in Dashboard.field_names()))


#: Columns of the dashboard's statement that no series shows: the overview's summary adds
#: them up (the answered turns and their response times' sum, sql/macros/series.sql turn_sums).
DASHBOARD_SUMS = ("answered_turns", "response_us")


SUMMARY_FIGURES = (
    "total_conversations",
    "total_messages",
    "average_response_time_seconds",
    "resolution_rate",
    "handoff_rate",
    "total_cost",
)


@dataclass(frozen=True)
class PeriodFigures(_Result):
    """The summary's figures for another period (docs/metrics.md §7.3: `previous`)."""

    period_start: dt.date
    period_end: dt.date
    total_conversations: int
    total_messages: int
    average_response_time_seconds: float | None
    resolution_rate: float | None
    handoff_rate: float | None
    total_cost: float


@dataclass(frozen=True)
class Change(_Result):
    """(current - previous) / previous per summary figure; null when either is null or previous is 0."""

    total_conversations: float | None
    total_messages: float | None
    average_response_time_seconds: float | None
    resolution_rate: float | None
    handoff_rate: float | None
    total_cost: float | None


@dataclass(frozen=True)
class ComparedSummary(Summary):
    """The summary with the period just before it (docs/metrics.md §7.3, `compare=previous`)."""

    previous: PeriodFigures
    change: Change


@dataclass(frozen=True)
class ResponseTimes(_Result):
    """Response times over a whole range (docs/metrics.md §7.1): the `totals` of Responses."""

    customer_turns: int
    answered_turns: int
    median_response_time_seconds: float | None
    p90_response_time_seconds: float | None
    first_responses: int
    average_first_response_seconds: float | None
    median_first_response_seconds: float | None
    answered_handoffs: int
    unanswered_handoffs: int
    average_human_response_seconds: float | None
    median_human_response_seconds: float | None


@dataclass(frozen=True)
class ResponseMetrics(ResponseTimes, _Dated):
    """Response times of one bucket (sql/metrics/responses.sql): `date`, then ResponseTimes' fields."""


@dataclass(frozen=True)
class Responses(_Result):
    tenant_id: str
    outlet_id: str | None
    period_start: dt.date
    period_end: dt.date
    timezone: str
    granularity: str
    series: list[ResponseMetrics]
    totals: ResponseTimes


@dataclass(frozen=True)
class OutcomeFigures(_Result):
    """Outcomes of the conversations started in a whole range (docs/metrics.md §7.2): the `totals` of Outcomes."""

    total_conversations: int
    contained_conversations: int
    containment_rate: float | None
    agent_involved_conversations: int
    cohort_messages: int
    cohort_cost: float
    cost_per_resolved_conversation: float | None
    messages_per_conversation: float | None


@dataclass(frozen=True)
class OutcomeMetrics(OutcomeFigures, _Dated):
    """Outcomes of the conversations started in one bucket (sql/metrics/outcomes.sql): `date`,
    then OutcomeFigures' fields."""


@dataclass(frozen=True)
class Outcomes(_Result):
    tenant_id: str
    outlet_id: str | None
    period_start: dt.date
    period_end: dt.date
    timezone: str
    granularity: str
    series: list[OutcomeMetrics]
    totals: OutcomeFigures


@dataclass(frozen=True)
class OutletFigures(_Result):
    """The summary's figures for one outlet value (sql/metrics/outlets.sql)."""

    outlet_id: str | None
    total_conversations: int
    total_messages: int
    average_response_time_seconds: float | None
    resolution_rate: float | None
    handoff_rate: float | None
    total_cost: float


@dataclass(frozen=True)
class OutletBreakdown(_Result):
    """The summary per outlet (docs/metrics.md §7.4); the null outlet_id row last."""

    tenant_id: str
    period_start: dt.date
    period_end: dt.date
    timezone: str
    outlets: list[OutletFigures]


@dataclass(frozen=True)
class HeatmapCell(_Result):
    """One local weekday and hour (sql/metrics/heatmap.sql)."""

    weekday: int
    hour: int
    customer_messages: int
    conversations_started: int
    average_response_time_seconds: float | None


@dataclass(frozen=True)
class Heatmap(_Result):
    """168 cells, Monday 0h first (docs/metrics.md §7.5)."""

    tenant_id: str
    outlet_id: str | None
    period_start: dt.date
    period_end: dt.date
    timezone: str
    cells: list[HeatmapCell]


@dataclass(frozen=True)
class StoredTenant(_Result):
    """A row of the optional `tenants` table (sql/lookup/tenants.sql)."""

    id: str
    name: str
    timezone: str | None


@dataclass(frozen=True)
class Outlets(_Result):
    """The outlets of a tenant with conversations started in a period (sql/lookup/outlets.sql)."""

    tenant_id: str
    period_start: dt.date
    period_end: dt.date
    timezone: str
    outlet_ids: list[str]


@dataclass(frozen=True)
class Anomaly(_Result):
    """A day whose value left its band (docs/anomalies.md)."""

    date: dt.date
    value: float
    expected: float
    lower: float
    upper: float
    #: up or down
    direction: str
    #: (value - expected) / the robust standard deviation: how many it departs by, signed.
    score: float


@dataclass(frozen=True)
class Anomalies(_Result):
    tenant_id: str
    outlet_id: str | None
    metric: str
    period_start: dt.date
    period_end: dt.date
    timezone: str
    direction: str
    anomalies: list[Anomaly]


@dataclass(frozen=True)
class ForecastDay(_Result):
    """A day of the forecast month: its actual value once complete, else its projection."""

    date: dt.date
    actual: float | None
    expected: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class MonthActual(_Result):
    period_start: dt.date
    period_end: dt.date
    actual: float


@dataclass(frozen=True)
class Forecast(_Result):
    """The current calendar month: actual so far (complete days, to yesterday) plus the
    projection of the remaining days, today included (docs/anomalies.md)."""

    tenant_id: str
    outlet_id: str | None
    metric: str
    timezone: str
    period_start: dt.date
    period_end: dt.date
    as_of: dt.date
    actual_to_date: float
    projected: float
    lower: float
    upper: float
    previous_month: MonthActual
    days: list[ForecastDay]


#: The dashboard's series, their row types, and the template of each series alone.
SERIES: dict[str, type[_Result]] = {
    "conversations": ConversationMetrics,
    "messages": MessageMetrics,
    "handoffs": HandoffMetrics,
    "costs": CostMetrics,
}
#: The answers of docs/metrics.md §7 whose rows are one template's rows: template -> row type.
ROW_TYPES: dict[str, type[_Result]] = {
    "responses": ResponseMetrics,
    "outcomes": OutcomeMetrics,
    "outlets": OutletFigures,
    "heatmap": HeatmapCell,
    "costs": PricedCostMetrics,
    "cost_markets": MarketCosts,
}
SERIES_TEMPLATES = {
    "conversations": "conversation_metrics",
    "messages": "message_metrics",
    "handoffs": "handoff_metrics",
    "costs": "cost_metrics",
}


@dataclass(frozen=True)
class CustomAnswer(_Result):
    """A custom metric's answer (docs/custom-metrics.md): its rows typed by its header's
    columns, with the request they answer."""

    metric: str
    tenant_id: str
    outlet_id: str | None
    period_start: dt.date
    period_end: dt.date
    timezone: str
    #: day, week or month for a series; `range` for a metric of the whole range.
    granularity: str
    #: The declared extra parameters' values.
    params: dict[str, Any]
    #: The header's column names, in order (the CSV's header row, rows or none).
    columns: list[str]
    rows: list[dict[str, Any]]
