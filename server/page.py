"""The dashboard page at `/` and `/dashboard`, and its files under `/static/`.

The page is static: one HTML file with the view definitions of `crm_metrics.charts` embedded
as JSON, its script and style, and the chart libraries vendored from the npm registry
(server/static/vendor/, with their licences). It reads the same JSON API as any client, with
the selection in its URL (`/?tenant_id=...&start_date=...&end_date=...&tz=...&granularity=...
&outlet_id=...`). Nothing is loaded from another origin: the Content-Security-Policy says so.
"""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from crm_metrics import charts

from server.params import ACCEPTS

STATIC = Path(__file__).parent / "static"
#: Same origin only. Vega compiles its expressions with `new Function` ('unsafe-eval') and
#: sets inline styles on what it draws ('unsafe-inline' styles); no inline script runs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def html() -> bytes:
    """The page, with what it draws (and what each answer's endpoint accepts) inside."""
    views = {**charts.page_views(), "accepts": ACCEPTS}
    # `</` cannot end the script element it sits in.
    embedded = json.dumps(views, separators=(",", ":")).replace("</", "<\\/")
    return (STATIC / "index.html").read_text(encoding="utf-8").replace("__VIEWS__", embedded).encode()


async def page(request: Request) -> Response:
    return Response(request.app.state.page, media_type="text/html; charset=utf-8", headers=HEADERS)


class _Static(StaticFiles):
    """The page's files, revalidated on every load (an upgrade must not mix old and new)."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers.update({"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
        return response


PAGE_ROUTES: list[BaseRoute] = [
    Route("/", page, methods=["GET"]),
    Route("/dashboard", page, methods=["GET"]),
    Mount("/static", app=_Static(directory=STATIC), name="static"),
]
