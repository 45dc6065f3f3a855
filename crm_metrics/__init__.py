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
    UnknownMetric,
)
from crm_metrics.models import (
    CostFigures,
    Costs,
    MarketCosts,
    PricedCostMetrics,
    Change,
    CustomAnswer,
    ComparedSummary,
    ConversationMetrics,
    CostMetrics,
    Dashboard,
    HandoffMetrics,
    Heatmap,
    HeatmapCell,
    MessageMetrics,
    OutcomeFigures,
    OutcomeMetrics,
    Outcomes,
    OutletBreakdown,
    OutletFigures,
    Outlets,
    PeriodFigures,
    ResponseMetrics,
    ResponseTimes,
    Responses,
    StoredTenant,
    Summary,
)
from crm_metrics.output import to_csv, to_json
from crm_metrics.service import Metrics

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "Change",
    "ComparedSummary",
    "ConfigError",
    "ConversationMetrics",
    "CostLimitExceeded",
    "CostMetrics",
    "CustomAnswer",
    "Dashboard",
    "HandoffMetrics",
    "CostFigures",
    "Costs",
    "Heatmap",
    "HeatmapCell",
    "MarketCosts",
    "PricedCostMetrics",
    "InvalidEvent",
    "InvalidParameter",
    "LoadError",
    "MessageMetrics",
    "Metrics",
    "MetricsError",
    "OutcomeFigures",
    "OutcomeMetrics",
    "Outcomes",
    "OutletBreakdown",
    "OutletFigures",
    "Outlets",
    "PeriodFigures",
    "QueryTimeout",
    "ResponseMetrics",
    "ResponseTimes",
    "Responses",
    "Settings",
    "StoredTenant",
    "Summary",
    "TemplateError",
    "TenantNotFound",
    "UnknownMetric",
    "to_csv",
    "to_json",
    "__version__",
]
