"""The errors crm-metrics raises. Catch `MetricsError` to catch them all."""

from __future__ import annotations


#: The longest echo of a caller's value in a message: errors reach HTTP bodies and logs,
#: and a 100 KB value must not come back as a 100 KB answer.
SHOWN_CHARS = 64


def shown(value: object) -> str:
    """`repr(value)` for an error message, a long one cut: `'Asia/Jakar'… (100,000 characters)`."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return f"{value[:SHOWN_CHARS]!r}… ({len(value):,} characters)"
    return cut(repr(value))


def cut(text: str, limit: int = SHOWN_CHARS) -> str:
    """`text`, or its first `limit` characters and an ellipsis."""
    return text if len(text) <= limit else f"{text[:limit]}…"


class MetricsError(Exception):
    """Root of every error crm-metrics raises on purpose."""


class InvalidParameter(MetricsError, ValueError):
    """A request value is invalid. `field` names it, as the caller spelled it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class InvalidEvent(InvalidParameter):
    """An event of a batch is invalid (crm_metrics/events.py); `field` names it by its index,
    as `events[3].data.started_at`. Nothing of the batch was written."""


class TenantNotFound(MetricsError, LookupError):
    """The tenant service does not know the tenant (with REQUIRE_KNOWN_TENANT=true)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        super().__init__(f"X-Tenant-Id: tenant {tenant_id} is not known to the tenant service")


class UnknownMetric(MetricsError, LookupError):
    """No metric of that name, or its file was refused when loaded (crm_metrics/custom.py).
    `name` is the name asked for."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(message)


class TemplateError(MetricsError):
    """A SQL template is missing, malformed, or disagrees with its header."""


class ConfigError(MetricsError):
    """A setting or a database URL is invalid."""


class LoadError(MetricsError):
    """A data file could not be loaded; nothing from it was written."""


class BackendUnavailable(MetricsError):
    """The database cannot be reached (or refused the connection)."""


class QueryTimeout(MetricsError):
    """A query ran longer than the configured limit and was cancelled."""


class CostLimitExceeded(MetricsError):
    """A BigQuery query would bill more bytes than BIGQUERY_MAXIMUM_BYTES_BILLED allows; it
    did not run and nothing was billed."""
