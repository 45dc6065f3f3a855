"""Settings, read from the environment with a cast and a default.

`SETTINGS` is the table the README's configuration section documents (a test holds the two
together). Errors name the variable and its value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any

from crm_metrics.errors import ConfigError

DEFAULT_DATABASE_URL = "duckdb:///crm_metrics.duckdb"
#: What messages call the database URL: the variable, or the CLI's option while it holds the
#: URL the user gave (errors must name what the user wrote, not a variable they never set).
URL_SETTING: ContextVar[str] = ContextVar("url_setting", default="DATABASE_URL")


def url_setting(value: str | None = None) -> str:
    """The database URL's setting as messages name it, given `value` if any:
    `DATABASE_URL=bigquery://...`, or `--database-url bigquery://...` from the CLI."""
    name = URL_SETTING.get()
    if value is None:
        return name
    return f"{name} {value}" if name.startswith("--") else f"{name}={value}"


def read_env(table: Mapping[str, Setting], environ: Mapping[str, str] | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of `table` found in the environment, cast, then the non-None overrides.
    An empty variable counts as unset; a value that does not cast names the variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, setting in table.items():
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            continue
        try:
            values[name] = setting.cast(raw)
        except ValueError:
            raise ConfigError(f"Config '{setting.env}' has value {raw!r}: {setting.help}.") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return values


@dataclass(frozen=True)
class Setting:
    env: str
    default: Any
    cast: Callable[[str], Any]
    help: str


def _amount(high: float) -> Callable[[str], float]:
    """A cast to a finite float in [0, high]. `float()` also reads 'inf', 'nan' and 1e308, which
    pass start-up and then fail every request (a cost of inf is not JSON; a timeout of inf
    overflows PostgreSQL's statement_timeout): refuse them here, where the message names the
    variable."""

    def cast(text: str) -> float:
        value = float(text)
        if not (math.isfinite(value) and 0 <= value <= high):
            raise ValueError
        return value

    return cast


#: Upper bounds of the float settings. Prices: far above any real price, and low enough that no
#: cost (an int64 count of messages or tokens times a price) can overflow to inf. Durations: a
#: day; PostgreSQL's statement_timeout stops at about 24.8 days.
MAX_PRICE = 1_000_000.0
MAX_SECONDS = 86_400.0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError
    return value


#: 10 GiB: a dashboard of a large tenant over a year scans far less from the partitioned,
#: clustered tables; a query over that is a mistake worth stopping (about $0.06 on demand).
DEFAULT_MAXIMUM_BYTES_BILLED = 10 * 2**30


SETTINGS: dict[str, Setting] = {
    "database_url": Setting("DATABASE_URL", DEFAULT_DATABASE_URL, str, "Where the data is: duckdb:///file.duckdb, duckdb:///:memory:, postgresql://user:pass@host:port/db or bigquery://PROJECT/DATASET"),
    "llm_price_per_million_tokens": Setting("LLM_PRICE_PER_MILLION_TOKENS", 0.15, _amount(MAX_PRICE), "LLM price in dollars per million tokens (GPT-4o-mini input price); 0 to 1,000,000"),
    "whatsapp_price_per_message": Setting("WHATSAPP_PRICE_PER_MESSAGE", 0.01, _amount(MAX_PRICE), "WhatsApp price in dollars per message; 0 to 1,000,000"),
    "max_range_days": Setting("MAX_RANGE_DAYS", 366, _positive_int, "Longest accepted date range, counted inclusively"),
    "query_timeout_seconds": Setting("QUERY_TIMEOUT_SECONDS", 30.0, _amount(MAX_SECONDS), "A query running longer is cancelled (0 = no limit; at most 86,400: a day)"),
    "tenant_cache_seconds": Setting("TENANT_CACHE_SECONDS", 60.0, _amount(MAX_SECONDS), "How long a tenant's name and timezone are remembered (0 = look up every request; at most 86,400: a day)"),
    "bigquery_project_id": Setting("BIGQUERY_PROJECT_ID", None, str, "BigQuery project, for a DATABASE_URL of bigquery:// that names none; set without DATABASE_URL, it selects BigQuery"),
    "bigquery_dataset": Setting("BIGQUERY_DATASET", None, str, "BigQuery dataset holding the tables, for a DATABASE_URL that names none"),
    "google_application_credentials": Setting("GOOGLE_APPLICATION_CREDENTIALS", None, str, "Google credentials file (a service-account key) for BigQuery; unset: Application Default Credentials"),
    "bigquery_api_endpoint": Setting("BIGQUERY_API_ENDPOINT", None, str, "BigQuery REST endpoint instead of Google's, e.g. an emulator at http://127.0.0.1:9050 (plain http: anonymous credentials)"),
    "bigquery_maximum_bytes_billed": Setting("BIGQUERY_MAXIMUM_BYTES_BILLED", DEFAULT_MAXIMUM_BYTES_BILLED, _non_negative_int, "A BigQuery query that would bill more bytes fails before it runs, at no cost (0 = no limit)"),
}


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    llm_price_per_million_tokens: float = 0.15
    whatsapp_price_per_message: float = 0.01
    max_range_days: int = 366
    query_timeout_seconds: float = 30.0
    tenant_cache_seconds: float = 60.0
    bigquery_project_id: str | None = None
    bigquery_dataset: str | None = None
    google_application_credentials: str | None = None
    bigquery_api_endpoint: str | None = None
    bigquery_maximum_bytes_billed: int = DEFAULT_MAXIMUM_BYTES_BILLED

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        values = read_env(SETTINGS, environ, overrides)
        if "database_url" not in values and (values.get("bigquery_project_id") or values.get("bigquery_dataset")):
            # The seed configured BigQuery with these two alone: honour them rather than
            # quietly serving the default DuckDB file (the seed's "mock data" trap).
            values["database_url"] = "bigquery://"
        return cls(**values)


assert {f.name for f in fields(Settings)} == SETTINGS.keys()
