"""The HTTP server: the seed's endpoints on Starlette, over `crm_metrics.Metrics`.

    crm-metrics serve --port 3007

or, to embed it:

    from crm_metrics import Metrics
    from server import create_app, ServerConfig
    app = create_app(Metrics.connect(read_only=True), ServerConfig.from_env())
"""

from __future__ import annotations

from server.app import create_app
from server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
