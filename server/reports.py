"""GET /api/v1/reports/summary.pdf: the summary report (crm_metrics/report.py) of a tenant and
range, with the summary endpoint's parameters. Rendered for each request (seconds: not cached;
the ETag still lets a client revalidate)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_metrics import Metrics, report

from server import params
from server.auth import request_tenant
from server.etag import etag, not_modified

#: The summary's parameters (its `format` is the answer's JSON or CSV: not here).
ACCEPTS = tuple(name for name in params.ACCEPTS["summary"] if name != "format")


def _pdf(metrics: Metrics, query: params.Query) -> tuple[bytes, str]:
    gathered = report.gather(metrics, query)
    return report.pdf(gathered), report.filename(gathered.summary, "pdf")


async def summary_pdf(request: Request) -> Response:
    query = params.query(request_tenant(request), params.given(ACCEPTS, request.query_params))
    body, name = await run_in_threadpool(_pdf, request.app.state.metrics, query)
    tag = etag(body)
    headers = {"ETag": tag, "Cache-Control": "private, no-cache", "Vary": "Authorization, X-Tenant-Id"}
    if not_modified(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/pdf", headers={**headers, "Content-Disposition": f'attachment; filename="{name}"'})
