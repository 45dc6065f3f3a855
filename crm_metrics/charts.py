"""What the dashboard page and the PDF report show, defined once: the headline figures, the
charts (Vega-Lite specs: the page draws them with vega-embed, the report with vl-convert)
and the tables. Each view names the answer it reads (`dashboard`, `summary`, ...) and where
its rows are in that answer's JSON, so showing one more answer is one more `Chart`, `Table`
or `Totals` here.

    spec = CHARTS[0].spec(dashboard.to_dict()["conversations"], width=480)
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

#: The Vega-Lite version the specs are written for: the vendored vega-lite the page loads
#: (server/static/vendor/) and the one vl-convert renders with are of this major version.
VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
#: The Vega-Lite version vl-convert renders the report's charts with (server/static/vendor/
#: holds the same major.minor for the page).
VEGA_LITE_VERSION = "6.4"
#: How a figure reads (the page formats with Intl.NumberFormat, the report in Python):
#: count (1,234), number (6.9), rate (82.9%), seconds (16.7 s), minutes (8.8 min), money
#: ($32.11); and the
#: columns that name a row: date (2026-11-01), weekday (Monday), hour (09:00), outlet (its
#: id, "no outlet" for null).
UNITS = ("count", "number", "rate", "seconds", "minutes", "money", "date", "weekday", "hour", "outlet")
#: What a chart with no value to draw shows instead (`Chart.drawable`); its table still lists the rows.
NOTHING_DRAWN = "Nothing to draw: none of this chart's figures has a value in this period."
#: ISO weekdays 1-7.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: How a headline's change against the previous period is said: relative (+3.2%) or, for a
#: rate, in percentage points (+1.5 pts).
CHANGES = ("relative", "points")


@dataclass(frozen=True)
class Measure:
    field: str
    title: str
    unit: str = "count"
    #: Headlines only: how the change against the previous period is given, and which way
    #: is good news (up, down, or "": neither, the change is not coloured).
    change: str = "relative"
    better: str = ""

    def __post_init__(self) -> None:
        if self.unit not in UNITS or self.change not in CHANGES or self.better not in ("up", "down", ""):
            raise ValueError(f"no such measure: {self}")


@dataclass(frozen=True)
class Table:
    """A table of rows of an answer: the columns that name a row (`keys`: the bucket's date,
    the outlet, the heat map's weekday and hour) and then its figures."""

    id: str
    title: str
    #: The answer it reads (the API's /api/v1/metrics/<answer>) and the key of its rows there.
    answer: str
    rows: str
    #: The columns after the keys: the figures, drawn or not.
    table: tuple[Measure, ...]
    #: What it shows, in words (a chart's accessible description, a table's caption).
    description: str
    keys: tuple[Measure, ...] = (Measure("date", "Date", "date"),)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Chart(Table):
    """A chart of rows of an answer, and its table view (`table`: every figure of those rows)."""

    #: bar (stacked, one band per bucket), line (one per figure), or rect (the heat map: hour
    #: across, weekday down, the first drawn figure as colour).
    mark: str = "bar"
    #: The figures drawn, one colour each (rect: the one coloured).
    drawn: tuple[Measure, ...] = ()
    y_title: str = ""
    y_unit: str = "count"

    def __post_init__(self) -> None:
        if self.mark not in ("bar", "line", "rect") or not self.drawn:
            raise ValueError(f"no such chart: {self}")

    def drawable(self, rows: list[dict[str, Any]]) -> bool:
        """Whether a drawn figure has a value in any row: with none (no reply in the period: no
        median) the scale has no extent, so the page and the report say NOTHING_DRAWN instead."""
        return any(row[m.field] is not None for row in rows for m in self.drawn)

    def spec(self, rows: list[dict[str, Any]] | None = None, *, width: int | str = "container", height: int = 220) -> dict[str, Any]:
        """The Vega-Lite spec over `rows` (the page passes none and inserts the rows it got)."""
        body = self._heatmap() if self.mark == "rect" else self._series()
        return {
            "$schema": VEGA_LITE_SCHEMA,
            "description": self.description,
            "width": width,
            "height": height,
            "autosize": {"type": "fit", "contains": "padding"},
            "data": {"name": "rows", "values": copy.deepcopy(rows or [])},
            **body,
            "config": {"font": "DejaVu Sans, Verdana, sans-serif", "view": {"stroke": None}},
        }

    def _series(self) -> dict[str, Any]:
        titles = {m.field: m.title for m in self.drawn}
        stacked = self.mark == "bar"
        return {
            "transform": [
                {"fold": [m.field for m in self.drawn], "as": ["measure", "value"]},
                {
                    "lookup": "measure",
                    "from": {"data": {"values": [{"measure": f, "series": t, "order": i} for i, (f, t) in enumerate(titles.items())]}, "key": "measure", "fields": ["series", "order"]},
                },
            ],
            "mark": {"type": self.mark, "tooltip": True, **({} if stacked else {"point": True, "strokeWidth": 2})},
            "encoding": {
                # Buckets are labelled by their first date: one band per bucket, whatever the granularity.
                "x": {"field": "date", "type": "ordinal", "title": None, "axis": {"labelAngle": -40, "labelOverlap": True}},
                "y": {"field": "value", "type": "quantitative", "title": self.y_title, "stack": "zero" if stacked else None, "axis": {"format": D3_FORMATS[self.y_unit]}},
                "color": {"field": "series", "type": "nominal", "title": None, "sort": list(titles.values()), "legend": {"orient": "bottom"}},
                # Bars stack in the order drawn lists them, the first at the bottom (a line's
                # order is its x).
                **({"order": {"field": "order", "type": "quantitative", "sort": "ascending"}} if stacked else {}),
                "tooltip": [
                    {"field": "date", "type": "ordinal", "title": "Date"},
                    {"field": "series", "type": "nominal", "title": "Series"},
                    {"field": "value", "type": "quantitative", "title": self.y_title, "format": D3_FORMATS[self.y_unit]},
                ],
            },
        }

    def _heatmap(self) -> dict[str, Any]:
        coloured = self.drawn[0]
        return {
            "transform": [{"calculate": f"{list(WEEKDAYS)}[datum.weekday - 1]", "as": "day"}],
            "mark": {"type": "rect", "tooltip": True},
            "encoding": {
                "x": {"field": "hour", "type": "ordinal", "title": "Hour (local time)", "axis": {"labelAngle": 0, "labelOverlap": True}},
                # Sorted by the ISO weekday, labelled by its name: Monday on top.
                "y": {"field": "weekday", "type": "ordinal", "title": None, "axis": {"labelExpr": f"{[d[:3] for d in WEEKDAYS]}[datum.value - 1]"}},
                # Five steps of colour rather than a gradient: a legend of swatches reads
                # better, and the report's PDF renderer draws no SVG gradients.
                "color": {
                    "field": coloured.field,
                    "type": "quantitative",
                    "title": coloured.title,
                    "scale": {"type": "quantize", "nice": True, "scheme": {"name": "blues", "count": 5}},
                    "legend": {"orient": "bottom", "direction": "horizontal", "format": D3_FORMATS[coloured.unit]},
                },
                "tooltip": [
                    {"field": "day", "type": "nominal", "title": "Weekday"},
                    {"field": "hour", "type": "ordinal", "title": "Hour"},
                    *({"field": m.field, "type": "quantitative", "title": m.title, "format": D3_FORMATS[m.unit]} for m in self.table),
                ],
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """What the page needs: the definition and its spec without rows."""
        return {**asdict(self), "spec": self.spec()}


@dataclass(frozen=True)
class Totals:
    """Figures over the whole range, from an answer's `totals` (docs/metrics.md §7.1-7.2)."""

    answer: str
    measures: tuple[Measure, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: d3-format strings (Vega's axis formats) per unit.
D3_FORMATS = {"count": ",~r", "number": ",.1~f", "rate": ".0%", "seconds": ",.1~f", "minutes": ",.1~f", "money": "$,.2f"}

CONVERSATIONS, MESSAGES, HANDOFFS, COSTS = "conversations", "messages", "handoffs", "costs"

#: The summary's figures, as the page's and the report's headlines show them, each with its
#: change against the previous period (the summary's `compare=previous`, docs/metrics.md §7.3).
HEADLINES: tuple[Measure, ...] = (
    Measure("total_conversations", "Conversations"),
    Measure("total_messages", "Messages"),
    Measure("average_response_time_seconds", "Average response time", "seconds", better="down"),
    Measure("resolution_rate", "Resolution rate", "rate", "points", better="up"),
    Measure("handoff_rate", "Handoff rate", "rate", "points", better="down"),
    Measure("total_cost", "Total cost", "money"),
)

#: The analyst figures under the headlines: response times (§7.1) and outcomes (§7.2) of the
#: whole range (computed from raw rows, never from the buckets).
TOTALS: tuple[Totals, ...] = (
    Totals(
        "responses",
        (
            Measure("median_response_time_seconds", "Median response time", "seconds"),
            Measure("p90_response_time_seconds", "90th percentile response time", "seconds"),
            Measure("median_first_response_seconds", "Median first response", "seconds"),
            Measure("median_human_response_seconds", "Median wait for a human", "seconds"),
        ),
    ),
    Totals(
        "outcomes",
        (
            Measure("containment_rate", "Bot containment", "rate"),
            Measure("cost_per_resolved_conversation", "Cost per resolved conversation", "money"),
        ),
    ),
)

CHARTS: tuple[Chart, ...] = (
    Chart(
        id="conversations",
        title="Conversations by status",
        answer="dashboard",
        rows=CONVERSATIONS,
        mark="bar",
        drawn=(
            Measure("resolved_conversations", "Resolved"),
            Measure("handed_off_conversations", "Handed off"),
            Measure("active_conversations", "Active"),
        ),
        table=(
            Measure("total_conversations", "Conversations"),
            Measure("resolved_conversations", "Resolved"),
            Measure("handed_off_conversations", "Handed off"),
            Measure("active_conversations", "Active"),
            Measure("resolution_rate", "Resolution rate", "rate"),
            Measure("average_duration_minutes", "Average duration", "minutes"),
        ),
        description="Conversations started in each period, stacked by their current status.",
        y_title="Conversations",
    ),
    Chart(
        id="messages",
        title="Messages by sender",
        answer="dashboard",
        rows=MESSAGES,
        mark="line",
        drawn=(
            Measure("customer_messages", "Customer"),
            Measure("llm_messages", "LLM"),
            Measure("agent_messages", "Agent"),
        ),
        table=(
            Measure("total_messages", "Messages"),
            Measure("customer_messages", "Customer"),
            Measure("llm_messages", "LLM"),
            Measure("agent_messages", "Agent"),
            Measure("average_response_time_seconds", "Average response time", "seconds"),
        ),
        description="Messages sent in each period, one line per sender type.",
        y_title="Messages",
    ),
    Chart(
        id="handoffs",
        title="Handoffs by trigger",
        answer="dashboard",
        rows=HANDOFFS,
        mark="bar",
        drawn=(
            Measure("keyword_triggered", "Keyword"),
            Measure("confidence_triggered", "Confidence"),
        ),
        table=(
            Measure("total_handoffs", "Handoffs"),
            Measure("keyword_triggered", "Keyword"),
            Measure("confidence_triggered", "Confidence"),
            Measure("handoff_rate", "Handoff rate", "rate"),
            Measure("average_time_to_handoff_minutes", "Average time to handoff", "minutes"),
        ),
        description="Conversations started in each period with a handoff request, stacked by what triggered it.",
        y_title="Handoffs",
    ),
    Chart(
        id="costs",
        title="Costs",
        answer="dashboard",
        rows=COSTS,
        mark="bar",
        drawn=(
            Measure("total_llm_cost", "LLM", "money"),
            Measure("total_whatsapp_cost", "WhatsApp", "money"),
        ),
        table=(
            Measure("total_cost", "Total cost", "money"),
            Measure("total_llm_cost", "LLM", "money"),
            Measure("total_whatsapp_cost", "WhatsApp", "money"),
            Measure("total_llm_calls", "LLM calls"),
            Measure("total_tokens_used", "Tokens"),
            Measure("cost_per_conversation", "Cost per conversation", "money"),
        ),
        description="Cost of each period in dollars, stacked: LLM tokens and WhatsApp messages.",
        y_title="Dollars",
        y_unit="money",
    ),
    Chart(
        id="responses",
        title="Response times",
        answer="responses",
        rows="series",
        mark="line",
        # Short names: the legend is one line under the chart.
        drawn=(
            Measure("median_response_time_seconds", "Median", "seconds"),
            Measure("p90_response_time_seconds", "90th percentile", "seconds"),
            Measure("median_first_response_seconds", "First reply", "seconds"),
        ),
        table=(
            Measure("customer_turns", "Customer turns"),
            Measure("answered_turns", "Answered"),
            Measure("median_response_time_seconds", "Median reply", "seconds"),
            Measure("p90_response_time_seconds", "90th percentile reply", "seconds"),
            Measure("first_responses", "First responses"),
            Measure("average_first_response_seconds", "Average first response", "seconds"),
            Measure("median_first_response_seconds", "Median first response", "seconds"),
            Measure("answered_handoffs", "Handoffs answered"),
            Measure("unanswered_handoffs", "Handoffs unanswered"),
            Measure("average_human_response_seconds", "Average wait for a human", "seconds"),
            Measure("median_human_response_seconds", "Median wait for a human", "seconds"),
        ),
        description=(
            "Seconds until a reply to a customer's turn (the median and the slowest tenth) and until"
            " a conversation's first reply, for turns and conversations starting in each period."
        ),
        y_title="Seconds",
        y_unit="seconds",
    ),
    Chart(
        id="outcomes",
        title="Bot containment",
        answer="outcomes",
        rows="series",
        mark="bar",
        drawn=(
            Measure("contained_conversations", "Bot alone"),
            Measure("agent_involved_conversations", "With an agent"),
        ),
        table=(
            Measure("total_conversations", "Conversations"),
            Measure("contained_conversations", "Resolved by the bot alone"),
            Measure("containment_rate", "Bot containment", "rate"),
            Measure("agent_involved_conversations", "An agent took part"),
            Measure("cohort_messages", "Their messages"),
            Measure("messages_per_conversation", "Messages per conversation", "number"),
            Measure("cohort_cost", "Their cost", "money"),
            Measure("cost_per_resolved_conversation", "Cost per resolved conversation", "money"),
        ),
        description=(
            "Conversations started in each period that the bot resolved without a handoff or an agent,"
            " and those an agent wrote in, stacked (the rest had neither)."
        ),
        y_title="Conversations",
    ),
    Chart(
        id="heatmap",
        title="Busy hours",
        answer="heatmap",
        rows="cells",
        mark="rect",
        keys=(Measure("weekday", "Weekday", "weekday"), Measure("hour", "Hour", "hour")),
        drawn=(Measure("customer_messages", "Customer messages"),),
        table=(
            Measure("customer_messages", "Customer messages"),
            Measure("conversations_started", "Conversations started"),
            Measure("average_response_time_seconds", "Average response time", "seconds"),
        ),
        description="Customer messages in each hour of each weekday over the whole period, in local time: the darker, the more.",
    ),
)

#: The outlet table (docs/metrics.md §7.4): the summary's figures for each outlet, from one
#: query; the page and the report show it when all outlets are shown.
OUTLETS = Table(
    id="outlets",
    title="Outlets",
    answer="outlets",
    rows="outlets",
    keys=(Measure("outlet_id", "Outlet", "outlet"),),
    table=HEADLINES,
    description="The headline figures of each outlet's conversations and their messages; they add up to the headlines above.",
)
TABLES: tuple[Table, ...] = (OUTLETS,)


def formatted(value: Any, unit: str) -> str:
    """A figure as the page shows it (server/static/page.js `formatted`, Intl.NumberFormat
    "en"): 1,234 / 6.9 / 82.9% / 16.7 s / 8.8 min / $32.11 / Monday / 09:00; no value is a dash
    (a null outlet: "no outlet")."""
    if unit == "outlet":
        return "no outlet" if value is None else str(value)
    if value is None:
        return "–"
    if unit == "date":
        return str(value)
    if unit == "weekday":
        return WEEKDAYS[value - 1]
    if unit == "hour":
        return f"{value:02d}:00"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "number":
        return f"{value:,.1f}"
    if unit == "rate":
        return f"{value * 100:,.1f}%"
    if unit == "money":
        return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"
    return f"{value:,.1f} {'s' if unit == 'seconds' else 'min'}"


def change(value: float | None, before: float | None, relative: float | None, measure: Measure) -> tuple[str, str]:
    """How a headline moved against the previous period, as the page says it (page.js
    `change`), and whether that is good or bad news ("" when neither): ("▲ +9.3%", "").
    `before` and `relative` are the summary's `previous` figure and `change` (compare=previous):
    a rate's change is said in percentage points (value - before), any other the API's relative
    change."""
    if value is None or before is None:
        return "nothing to compare", ""
    if measure.change == "points":
        moved = value - before
    elif relative is None:
        # The API has no relative change from 0.
        return ("no change" if value == before else "new: none before"), ""
    else:
        moved = relative
    direction = "up" if moved > 0 else "down" if moved < 0 else ""
    arrow = {"up": "▲ ", "down": "▼ ", "": ""}[direction]
    mood = ("good" if direction == measure.better else "bad") if direction and measure.better else ""
    if measure.change == "points":
        return f"{arrow}{'+' if moved >= 0 else '-'}{abs(moved) * 100:,.1f} pts", mood
    return f"{arrow}{'+' if moved >= 0 else '-'}{abs(moved) * 100:,.1f}%", mood


def page_views() -> dict[str, Any]:
    """Everything the page draws, as JSON: the headlines, the totals, the charts with their
    specs and the tables."""
    return {
        "headlines": [asdict(m) for m in HEADLINES],
        "totals": [totals.to_dict() for totals in TOTALS],
        "charts": [chart.to_dict() for chart in CHARTS],
        "tables": [table.to_dict() for table in TABLES],
        "answers": list(answers()),
        "units": list(UNITS),
        "weekdays": list(WEEKDAYS),
        "nothing_drawn": NOTHING_DRAWN,
    }


def answers() -> tuple[str, ...]:
    """The answers the page and the report read, in a stable order (the summary first)."""
    needed = ["summary", *(t.answer for t in TOTALS), *(c.answer for c in CHARTS), *(t.answer for t in TABLES)]
    return tuple(dict.fromkeys(needed))
