"""What the dashboard page and the PDF report show, defined once: the headline figures, the
charts (Vega-Lite specs: the page draws them with vega-embed, the report with vl-convert)
and the tables. Each view names the answer it reads (`dashboard`, `summary`, ...) and where
its rows are in that answer's JSON, so showing one more answer is one more `Chart` here.

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
#: count (1,234), rate (82.9%), seconds (16.7 s), minutes (8.8 min), money ($32.11).
UNITS = ("count", "rate", "seconds", "minutes", "money")
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
class Chart:
    """A chart of rows of an answer, and its table view (every column of those rows)."""

    id: str
    title: str
    #: The answer it reads (the API's /api/v1/metrics/<answer>) and the key of its rows there.
    answer: str
    rows: str
    #: bar (stacked) or line.
    mark: str
    #: The figures drawn, one colour each.
    drawn: tuple[Measure, ...]
    #: The table view's columns after the date: the drawn figures and what explains them.
    table: tuple[Measure, ...]
    #: What the chart shows, in words (the chart's accessible description).
    description: str
    y_title: str
    y_unit: str = "count"

    def spec(self, rows: list[dict[str, Any]] | None = None, *, width: int | str = "container", height: int = 220) -> dict[str, Any]:
        """The Vega-Lite spec over `rows` (the page passes none and inserts the rows it got)."""
        titles = {m.field: m.title for m in self.drawn}
        stacked = self.mark == "bar"
        return {
            "$schema": VEGA_LITE_SCHEMA,
            "description": self.description,
            "width": width,
            "height": height,
            "autosize": {"type": "fit", "contains": "padding"},
            "data": {"name": "rows", "values": copy.deepcopy(rows or [])},
            "transform": [
                {"fold": [m.field for m in self.drawn], "as": ["measure", "value"]},
                {"lookup": "measure", "from": {"data": {"values": [{"measure": f, "series": t} for f, t in titles.items()]}, "key": "measure", "fields": ["series"]}},
            ],
            "mark": {"type": self.mark, "tooltip": True, **({} if stacked else {"point": True, "strokeWidth": 2})},
            "encoding": {
                # Buckets are labelled by their first date: one band per bucket, whatever the granularity.
                "x": {"field": "date", "type": "ordinal", "title": None, "axis": {"labelAngle": -40, "labelOverlap": True}},
                "y": {"field": "value", "type": "quantitative", "title": self.y_title, "stack": "zero" if stacked else None, "axis": {"format": D3_FORMATS[self.y_unit]}},
                "color": {"field": "series", "type": "nominal", "title": None, "sort": list(titles.values()), "legend": {"orient": "bottom"}},
                "tooltip": [
                    {"field": "date", "type": "ordinal", "title": "Date"},
                    {"field": "series", "type": "nominal", "title": "Series"},
                    {"field": "value", "type": "quantitative", "title": self.y_title, "format": D3_FORMATS[self.y_unit]},
                ],
            },
            "config": {"font": "DejaVu Sans, Verdana, sans-serif", "view": {"stroke": None}},
        }

    def to_dict(self) -> dict[str, Any]:
        """What the page needs: the definition and its spec without rows."""
        return {**asdict(self), "spec": self.spec()}


#: d3-format strings (Vega's axis formats) per unit.
D3_FORMATS = {"count": ",~r", "rate": ".0%", "seconds": ",.1~f", "minutes": ",.1~f", "money": "$,.2f"}

CONVERSATIONS, MESSAGES, HANDOFFS, COSTS = "conversations", "messages", "handoffs", "costs"

#: The summary's figures, as the page's and the report's headlines show them.
HEADLINES: tuple[Measure, ...] = (
    Measure("total_conversations", "Conversations"),
    Measure("total_messages", "Messages"),
    Measure("average_response_time_seconds", "Average response time", "seconds", better="down"),
    Measure("resolution_rate", "Resolution rate", "rate", "points", better="up"),
    Measure("handoff_rate", "Handoff rate", "rate", "points", better="down"),
    Measure("total_cost", "Total cost", "money"),
)

CHARTS: tuple[Chart, ...] = (
    Chart(
        "conversations",
        "Conversations by status",
        "dashboard",
        CONVERSATIONS,
        "bar",
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
        "messages",
        "Messages by sender",
        "dashboard",
        MESSAGES,
        "line",
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
        "handoffs",
        "Handoffs by trigger",
        "dashboard",
        HANDOFFS,
        "bar",
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
        "costs",
        "Costs",
        "dashboard",
        COSTS,
        "bar",
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
)

#: The report's table of outlets: one summary per outlet, these figures.
OUTLET_COLUMNS: tuple[Measure, ...] = HEADLINES


def formatted(value: float | None, unit: str) -> str:
    """A figure as the page shows it (server/static/page.js `formatted`, Intl.NumberFormat
    "en"): 1,234 / 82.9% / 16.7 s / 8.8 min / $32.11; no value is a dash."""
    if value is None:
        return "–"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "rate":
        return f"{value * 100:,.1f}%"
    if unit == "money":
        return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"
    return f"{value:,.1f} {'s' if unit == 'seconds' else 'min'}"


def change(value: float | None, before: float | None, measure: Measure) -> tuple[str, str]:
    """How a headline moved against the previous period, as the page says it (page.js
    `change`), and whether that is good or bad news ("" when neither): ("▲ +9.3%", "")."""
    if value is None or before is None:
        return "nothing to compare", ""
    direction = "up" if value > before else "down" if value < before else ""
    arrow = {"up": "▲ ", "down": "▼ ", "": ""}[direction]
    mood = ("good" if direction == measure.better else "bad") if direction and measure.better else ""
    if measure.change == "points":
        points = (value - before) * 100
        return f"{arrow}{'+' if points >= 0 else '-'}{abs(points):,.1f} pts", mood
    if before == 0:
        return ("no change" if value == 0 else "new: none before"), mood
    relative = (value - before) / abs(before)
    return f"{arrow}{'+' if relative >= 0 else '-'}{abs(relative) * 100:,.1f}%", mood


def page_views() -> dict[str, Any]:
    """Everything the page draws, as JSON: the headlines and the charts with their specs."""
    return {
        "headlines": [asdict(m) for m in HEADLINES],
        "charts": [chart.to_dict() for chart in CHARTS],
        "units": list(UNITS),
    }
