"""The dashboard page in a real browser: Debian's Chromium (/usr/bin/chromium), headless,
driven by Playwright's Python package (its own browser downloads are never used). One page
load on demo data, several checks: no console errors, the headline numbers in the DOM are the
summary API's (with its compare=previous figures), the response-time and outcome totals and the
outlet table are their answers', every chart (the heat map too) drew marks, each table view
holds its chart's data, changing the range by keyboard updates the numbers and the URL, and the
page fits a phone's width. The screenshots stay in test-artifacts/ (gitignored) after the run;
docs/dashboard.png is the desktop one (copied there by hand when the page changes)."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from crm_metrics import Metrics, demo
from crm_metrics.charts import CHARTS, HEADLINES, OUTLETS, TOTALS, Table, change, formatted
from server import ServerConfig, create_app

from tests.support.engines import unavailable
from tests.support.live import served

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: Flags for this machine: no sandbox (root), no GPU, and no background connections (this
#: network refuses them, which would be console noise).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOW = dt.datetime(2026, 11, 8, 6, 0, tzinfo=dt.UTC)
TENANT = demo.TENANTS[0]  # Acme Corp, Asia/Jakarta
HEATMAP = next(chart for chart in CHARTS if chart.mark == "rect")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with Metrics.connect("duckdb:///:memory:", clock=lambda: NOW) as metrics:
        demo.write(metrics, days=70)
        with served(create_app(metrics, ServerConfig())) as url:
            yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed (make test installs it: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is missing (pip install -e '.[dev]')")
    # A new, empty profile: nothing of an earlier run (cache, storage) plays a part.
    profile = tempfile.mkdtemp(prefix="crm-metrics-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), args=FLAGS, viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def api(base_url: str, kind: str, **params: str) -> dict[str, Any]:
    response = httpx2.get(f"{base_url}/api/v1/metrics/{kind}", params=params, headers={"X-Tenant-Id": TENANT.id}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def headlines(page: Any) -> dict[str, Any]:
    """field -> the raw value the page shows (data-value), checking it also shows text."""
    found = page.eval_on_selector_all(
        "#headlines .value", "nodes => nodes.map(n => [n.dataset.field, JSON.parse(n.dataset.value), n.textContent])"
    )
    assert all(text.strip() for _, _, text in found)
    return {field: value for field, value, _ in found}


def table_of(page: Any, view: Table) -> list[list[Any]]:
    """A table's cells as the values they show (data-value), row by row."""
    return page.eval_on_selector_all(
        f"table[data-view={view.id}] tbody tr",
        "rows => rows.map(r => [...r.children].map(c => JSON.parse(c.dataset.value)))",
    )


def as_table(view: Table, rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [[row[c.field] for c in (*view.keys, *view.table)] for row in rows]


def wait_ready(page: Any) -> None:
    page.wait_for_selector("body[data-state=ready], body[data-state=error]", timeout=60_000)
    assert page.evaluate("document.body.dataset.state") == "ready", page.inner_text("#status")


def test_the_page(base_url: str, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}") if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    external: list[str] = []
    page.on("request", lambda request: external.append(request.url) if not request.url.startswith((base_url, "data:", "blob:")) else None)

    page.goto(f"{base_url}/?tenant_id={TENANT.id}&start_date=2026-10-01&end_date=2026-10-31&granularity=week")
    wait_ready(page)

    # The headline numbers are the summary API's, their change its compare=previous; the
    # tenant's name heads the page.
    october = {"start_date": "2026-10-01", "end_date": "2026-10-31"}
    summary = api(base_url, "summary", **october, compare="previous")
    assert summary["total_conversations"] > 0 and summary["previous"]["period_start"] == "2026-08-31"
    assert headlines(page) == {m.field: summary[m.field] for m in HEADLINES}
    assert page.inner_text("h1") == "Acme Corp"
    shown_before = page.eval_on_selector_all("#headlines .change", "nodes => nodes.map(n => [JSON.parse(n.dataset.previous), JSON.parse(n.dataset.change)])")
    assert shown_before == [[summary["previous"][m.field], summary["change"][m.field]] for m in HEADLINES]
    # ...and read as the report says them (page.js and charts.py format alike).
    said = page.eval_on_selector_all("#headlines dd", "nodes => nodes.map(n => [...n.children].map(c => c.textContent))")
    assert said == [[formatted(summary[m.field], m.unit), change(summary[m.field], summary["previous"][m.field], summary["change"][m.field], m)[0]] for m in HEADLINES]

    # The response-time and outcome figures are those answers' totals.
    answers = {kind: api(base_url, kind, **october, granularity="week") for kind in ("dashboard", "responses", "outcomes")}
    answers |= {kind: api(base_url, kind, **october) for kind in ("heatmap", "outlets")}
    shown = page.eval_on_selector_all("#totals .value", "nodes => nodes.map(n => [n.dataset.answer, n.dataset.field, JSON.parse(n.dataset.value), n.textContent])")
    expected = [(t.answer, m, answers[t.answer]["totals"][m.field]) for t in TOTALS for m in t.measures]
    assert shown == [[answer, m.field, value, formatted(value, m.unit)] for answer, m, value in expected]

    # Every chart drew marks (the heat map one per cell), and its table view holds the rows the
    # chart drew, which are the API's.
    for chart in CHARTS:
        marks = page.locator(f"#chart-{chart.id} .plot svg .role-mark path").count()
        assert marks > 0, f"{chart.id} drew nothing"
        drawn = page.evaluate(f"window.crmDashboard.charts[{chart.id!r}].view.data('rows').map(r => ({{...r}}))")
        assert drawn == answers[chart.answer][chart.rows], chart.id
        assert table_of(page, chart) == as_table(chart, drawn), chart.id
    assert [row[0] for row in table_of(page, CHARTS[0])] == ["2026-10-01", "2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26"]
    assert page.locator("#chart-heatmap .plot svg .role-mark path").count() == 168

    # The outlet table is the outlets answer (one row per outlet, the null row last).
    assert len(answers["outlets"]["outlets"]) > 1
    assert table_of(page, OUTLETS) == as_table(OUTLETS, answers["outlets"]["outlets"])
    cells = page.eval_on_selector_all("table[data-view=outlets] tbody tr", "rows => rows.map(r => [...r.children].map(c => c.textContent))")
    assert cells == [[formatted(value, c.unit) for value, c in zip(row, (*OUTLETS.keys, *OUTLETS.table), strict=True)] for row in table_of(page, OUTLETS)]

    # A table view opens from the keyboard.
    page.focus("#chart-heatmap summary")
    page.keyboard.press("Enter")
    assert page.locator("table[data-view=heatmap]").is_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # Changing the range (typed, then Enter) updates the numbers and the URL.
    page.fill("#start_date", "2026-10-15")
    page.fill("#end_date", "2026-10-21")
    page.focus("#end_date")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "start_date=2026-10-15" in url, timeout=30_000)
    wait_ready(page)
    query = parse_qs(urlsplit(page.url).query)
    assert (query["start_date"], query["end_date"], query["tenant_id"], query["granularity"]) == (["2026-10-15"], ["2026-10-21"], [TENANT.id], ["week"])
    week = api(base_url, "summary", start_date="2026-10-15", end_date="2026-10-21")
    assert week["total_conversations"] != summary["total_conversations"]
    assert headlines(page) == {m.field: week[m.field] for m in HEADLINES}
    week_cells = api(base_url, "heatmap", start_date="2026-10-15", end_date="2026-10-21")["cells"]
    assert table_of(page, HEATMAP) == as_table(HEATMAP, week_cells)
    assert page.get_attribute("#headlines .value", "data-value") == str(week["total_conversations"])

    # On a phone: nothing wider than the screen, the charts drawn to its width.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)  # vega-embed redraws on the resize event
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)

    assert problems == []
    assert external == [], "the page loaded something from elsewhere"


@pytest.fixture(scope="module")
def priced_url() -> Iterator[str]:
    """The demo served under COST_MODEL=priced with the example tables (as `make run`)."""
    from crm_metrics import Settings

    examples = Path(__file__).resolve().parents[2] / "examples" / "prices"
    settings = Settings(
        database_url="duckdb:///:memory:", cost_model="priced",
        whatsapp_prices=str(examples / "whatsapp.csv"), llm_prices=str(examples / "llm.csv"),
    )
    with Metrics.connect(settings.database_url, settings=settings, clock=lambda: NOW) as metrics:
        demo.write(metrics, days=70)
        with served(create_app(metrics, ServerConfig())) as url:
            yield url


def test_the_page_shows_priced_costs_under_the_priced_model(base_url: str, priced_url: str, browser: Any) -> None:
    """Under COST_MODEL=priced the page's cost figures are the priced answers' (docs/costs.md):
    the headline total cost is the priced summary's, the costs chart and its table the priced
    dashboard's series, and they differ from the flat model's."""
    page = browser.new_page()
    page.goto(f"{priced_url}/?tenant_id={TENANT.id}&start_date=2026-10-01&end_date=2026-10-31&granularity=week")
    wait_ready(page)
    october = {"start_date": "2026-10-01", "end_date": "2026-10-31"}
    summary = api(priced_url, "summary", **october, compare="previous")
    assert summary["total_cost"] != api(base_url, "summary", **october)["total_cost"]
    assert headlines(page)["total_cost"] == summary["total_cost"]
    costs = next(chart for chart in CHARTS if chart.id == "costs")
    priced = api(priced_url, costs.answer, **october, granularity="week")[costs.rows]
    assert "whatsapp_charged_messages" in priced[0]  # the §8 fields: the priced series
    drawn = page.evaluate("window.crmDashboard.charts['costs'].view.data('rows').map(r => ({...r}))")
    assert drawn == priced
    assert table_of(page, costs) == as_table(costs, priced)
    assert page.locator("#chart-costs .plot svg .role-mark path").count() > 0
    flat = api(base_url, costs.answer, **october, granularity="week")[costs.rows]
    assert [row["total_cost"] for row in drawn] != [row["total_cost"] for row in flat]
