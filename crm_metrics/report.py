"""The summary report: a short document for people, as HTML or PDF.

    with Metrics.connect(read_only=True) as metrics:
        pdf = report.render(metrics, request.query(tenant_id, "2026-11-01", "2026-11-07"), "pdf")

It holds the tenant's name, the period in its timezone, the headline figures with their change
against the period of the same length just before, the charts and a table of the outlets. The
figures are the library's answers; the charts are the page's own definitions
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
from crm_metrics.models import Dashboard, Summary

if TYPE_CHECKING:
    from crm_metrics.service import Metrics

FORMATS = ("pdf", "html")
MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
#: At most this many outlets are listed (each is one summary query); the report says how many more.
OUTLETS_LISTED = 50
#: The charts' buckets by the period's length in days: a day up to 45, a week up to 190, else a month.
GRANULARITY_BY_DAYS = ((45, "day"), (190, "week"))
CHART_WIDTH, CHART_HEIGHT = 300, 170


@dataclass(frozen=True)
class Report:
    summary: Summary
    #: The same number of days just before; None when that would start before the calendar's start.
    previous: Summary | None
    dashboard: Dashboard
    #: One summary per outlet with conversations in the period (none with an outlet filter).
    outlets: list[Summary]
    #: Outlets left out past OUTLETS_LISTED.
    outlets_more: int
    generated_at: dt.datetime

    @property
    def empty(self) -> bool:
        return self.summary.total_conversations == 0 and self.summary.total_messages == 0


def granularity(days: int) -> str:
    return next((grain for most, grain in GRANULARITY_BY_DAYS if days <= most), "month")


def gather(metrics: Metrics, query: request.Query) -> Report:
    """The report's figures: the summary, the previous period's, the dashboard and the outlets."""
    summary: Summary = metrics.answer("summary", query)
    start, end, tz = summary.period_start, summary.period_end, summary.timezone
    days = (end - start).days + 1
    # The period as resolved, so every answer covers the same dates in the same timezone.
    period = dataclasses.replace(query, start_date=start, end_date=end, tz=tz)
    try:
        before = dataclasses.replace(period, start_date=start - dt.timedelta(days=days), end_date=start - dt.timedelta(days=1))
        previous: Summary | None = metrics.answer("summary", request.query(*_fields(before)))
    except InvalidParameter:
        previous = None
    dashboard: Dashboard = metrics.answer("dashboard", dataclasses.replace(period, granularity=granularity(days)))
    outlets: list[Summary] = []
    more = 0
    if query.outlet_id is None:
        ids = metrics.outlet_ids(period).outlet_ids
        more = max(0, len(ids) - OUTLETS_LISTED)
        outlets = [metrics.answer("summary", dataclasses.replace(period, outlet_id=outlet)) for outlet in ids[:OUTLETS_LISTED]]
    return Report(summary, previous, dashboard, outlets, more, metrics.clock())


def _fields(query: request.Query) -> tuple[Any, ...]:
    """A query's fields as `request.query` takes them (checked again: the dates may be out of bounds)."""
    return (query.tenant_id, query.start_date, query.end_date, query.outlet_id, query.tz, query.granularity)


def html(report: Report) -> str:
    """The report as one self-contained HTML document (charts inline as SVG)."""
    rows = report.dashboard.to_dict()
    drawn = [(chart, _svg(chart.spec(rows[chart.rows], width=CHART_WIDTH, height=CHART_HEIGHT))) for chart in charts.CHARTS]
    summary = report.summary.to_dict()
    previous = report.previous.to_dict() if report.previous else {}
    headlines = [
        (measure, charts.formatted(summary[measure.field], measure.unit), *charts.change(summary[measure.field], previous.get(measure.field), measure))
        for measure in charts.HEADLINES
    ]
    outlets = [(o.outlet_id, [charts.formatted(o.to_dict()[m.field], m.unit) for m in charts.OUTLET_COLUMNS]) for o in report.outlets]
    return _template().render(
        report=report,
        summary=summary,
        previous=report.previous,
        headlines=headlines,
        charts=drawn,
        outlet_columns=charts.OUTLET_COLUMNS,
        outlets=outlets,
        granularity=report.dashboard.granularity,
        generated=report.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


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
