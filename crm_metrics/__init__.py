"""crm-metrics: SQL-first metrics for WhatsApp customer-conversation CRMs.

    from crm_metrics import Metrics
    with Metrics.connect("duckdb:///crm_metrics.duckdb") as metrics:
        print(metrics.summary("00000000-0000-0000-0000-000000000001").to_dict())
"""

from __future__ import annotations

from crm_metrics.config import Settings
from crm_metrics.errors import (
    BackendUnavailable,
    ConfigError,
    CostLimitExceeded,
    InvalidEvent,
    InvalidParameter,
    LoadError,
    MetricsError,
    QueryTimeout,
    TemplateError,
    TenantNotFound,
)
from crm_metrics.models import (
    ConversationMetrics,
    CostMetrics,
    Dashboard,
    HandoffMetrics,
    MessageMetrics,
    Outlets,
    StoredTenant,
    Summary,
)
from crm_metrics.output import to_csv, to_json
from crm_metrics.service import Metrics

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "ConfigError",
    "ConversationMetrics",
    "CostLimitExceeded",
    "CostMetrics",
    "Dashboard",
    "HandoffMetrics",
    "InvalidEvent",
    "InvalidParameter",
    "LoadError",
    "MessageMetrics",
    "Metrics",
    "MetricsError",
    "Outlets",
    "QueryTimeout",
    "Settings",
    "StoredTenant",
    "Summary",
    "TemplateError",
    "TenantNotFound",
    "__version__",
    "to_csv",
    "to_json",
]
