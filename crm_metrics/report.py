"""The summary report: a short document for people, as HTML or PDF.

    with Metrics.connect(read_only=True) as metrics:
        pdf = report.render(metrics, request.query(tenant_id, "2026-11-01", "2026-11-07"), "pdf")

It holds the tenant's name, the period in its timezone, the headline figures with their change
against the period of the same length just before (the summary's compare=previous), the
response-time and outcome figures, the charts (the heat map among them) and the outlet table
(the outlets answer: one query). The figures are the library's answers, as the API's JSON; the
charts and tables are the page's own definitions
(crm_metrics/charts.py) drawn by vl-convert as SVG, and WeasyPrint lays the HTML out as a PDF
with the system's DejaVu fonts embedded (its text can be selected and searched). Both come with
the `reports` extra; WeasyPrint needs Pango from the system (Debian: libpango-1.0-0).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from crm_metrics import charts, request
from crm_metrics.errors import ConfigError, InvalidParameter
from crm_metrics.models import ComparedSummary, Summary

if TYPE_CHECKING:
    from crm_metrics.service import Metrics

FORMATS = ("pdf", "html")
MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
#: At most this many outlets are listed (in the outlets answer's order); the report says how many more.
OUTLETS_LISTED = 50
#: The charts' buckets by the period's length in days: a day up to 45, a week up to 190, else a month.
GRANULARITY_BY_DAYS = ((45, "day"), (190, "week"))
CHART_WIDTH, CHART_HEIGHT = 300, 170


@dataclass(frozen=True)
class Report:
    #: The summary with `compare=previous`: its `previous` figures and `change` (docs/metrics.md §7.3).
    summary: ComparedSummary
    #: Every answer the views of crm_metrics/charts.py read, as JSON (the API's shapes) by its
    #: name; the outlets answer only when all outlets are shown.
    answers: dict[str, dict[str, Any]]
    granularity: str
    generated_at: dt.datetime

    @property
    def empty(self) -> bool:
        return self.summary.total_conversations == 0 and self.summary.total_messages == 0


def granularity(days: int) -> str:
    return next((grain for most, grain in GRANULARITY_BY_DAYS if days <= most), "month")


def gather(metrics: Metrics, query: request.Query) -> Report:
    """The report's figures: the summary with the previous period, and every other answer its
    views read (the dashboard, responses, outcomes, heat map; the outlets), one query each."""
    summary: ComparedSummary = metrics.answer("summary", dataclasses.replace(query, compare="previous"))
    start, end, tz = summary.period_start, summary.period_end, summary.timezone
    grain = granularity((end - start).days + 1)
    # The period as resolved, so every answer covers the same dates in the same timezone.
    period = dataclasses.replace(query, start_date=start, end_date=end, tz=tz, granularity=grain, compare=None)
    answers = {"summary": summary.to_dict()}
    for kind in charts.answers():
        # The outlet table covers every outlet: shown when all outlets are.
        if kind not in answers and not (kind == "outlets" and query.outlet_id is not None):
            answers[kind] = metrics.answer(kind, period).to_dict()
    return Report(summary, answers, grain, metrics.clock())


def html(report: Report) -> str:
    """The report as one self-contained HTML document (charts inline as SVG)."""
    answers = report.answers
    summary = answers["summary"]
    headlines = [
        (
            measure,
            charts.formatted(summary[measure.field], measure.unit),
            *charts.change(summary[measure.field], summary["previous"][measure.field], summary["change"][measure.field], measure),
        )
        for measure in charts.HEADLINES
    ]
    totals = [(measure, charts.formatted(answers[t.answer]["totals"][measure.field], measure.unit)) for t in charts.TOTALS for measure in t.measures]
    drawn = [(chart, _drawn(chart, answers[chart.answer][chart.rows])) for chart in charts.CHARTS]
    tables = [(table, *_rows(table, answers[table.answer][table.rows])) for table in charts.TABLES if table.answer in answers]
    return _template().render(
        report=report,
        summary=summary,
        days=(report.summary.period_end - report.summary.period_start).days + 1,
        headlines=headlines,
        totals=totals,
        charts=drawn,
        nothing_drawn=charts.NOTHING_DRAWN,
        tables=tables,
        generated=report.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _drawn(chart: charts.Chart, rows: list[dict[str, Any]]) -> str | None:
    """A chart as SVG; None when it has nothing to draw (`Chart.drawable`)."""
    if not chart.drawable(rows):
        return None
    # The heat map takes the page's width: 24 hours across.
    width = CHART_WIDTH * (2 if chart.mark == "rect" else 1)
    return _svg(chart.spec(rows, width=width, height=CHART_HEIGHT))


def _rows(table: charts.Table, rows: list[dict[str, Any]]) -> tuple[list[list[str]], int]:
    """A table's rows as text (at most OUTLETS_LISTED), and how many were left out."""
    columns = (*table.keys, *table.table)
    return [[charts.formatted(row[c.field], c.unit) for c in columns] for row in rows[:OUTLETS_LISTED]], max(0, len(rows) - OUTLETS_LISTED)


def pdf(report: Report) -> bytes:
    """The report as PDF (WeasyPrint)."""
    try:
        import weasyprint
    except (ImportError, OSError) as error:
        # OSError: WeasyPrint is there but the system's Pango is not.
        raise ConfigError(f"PDF reports need the reports extra and Pango: pip install 'crm-metrics[reports]' ({error})") from None
    return bytes(weasyprint.HTML(string=html(report)).write_pdf())


def render(metrics: Metrics, query: request.Query, fmt: str = "pdf") -> bytes:
    """The report of a request, in a format (pdf or html), as bytes."""
    if fmt not in FORMATS:
        raise InvalidParameter("format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    report = gather(metrics, query)
    return pdf(report) if fmt == "pdf" else html(report).encode()


def filename(summary: Summary, fmt: str) -> str:
    return f"report-{summary.tenant_id}-{summary.period_start}-{summary.period_end}.{fmt}"


def _svg(spec: dict[str, Any]) -> str:
    try:
        import vl_convert
    except ImportError as error:
        raise ConfigError(f"reports need the reports extra: pip install 'crm-metrics[reports]' ({error})") from None
    return str(vl_convert.vegalite_to_svg(spec, vl_version=charts.VEGA_LITE_VERSION))


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template("report.html")
