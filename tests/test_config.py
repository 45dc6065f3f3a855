"""The library's settings: every value that would fail later (a cost of inf is not JSON, a
timeout of inf overflows PostgreSQL's) is refused at start, naming the variable."""

from __future__ import annotations

import pytest

from crm_metrics import ConfigError, Settings

FLOATS = ("LLM_PRICE_PER_MILLION_TOKENS", "WHATSAPP_PRICE_PER_MESSAGE", "QUERY_TIMEOUT_SECONDS", "TENANT_CACHE_SECONDS")


@pytest.mark.parametrize("env", FLOATS)
@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "nan", "1e308", "-0.01", "ten", "1e400"])
def test_non_finite_negative_and_absurd_values_are_refused(env: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^Config '{env}' has value '{value}': .+\\.$"):
        Settings.from_env({env: value})


@pytest.mark.parametrize(("env", "highest"), [("LLM_PRICE_PER_MILLION_TOKENS", 1e6), ("WHATSAPP_PRICE_PER_MESSAGE", 1e6), ("QUERY_TIMEOUT_SECONDS", 86_400), ("TENANT_CACHE_SECONDS", 86_400)])
def test_the_documented_bounds(env: str, highest: float) -> None:
    name = env.lower()
    assert getattr(Settings.from_env({env: "0"}), name) == 0
    assert getattr(Settings.from_env({env: str(highest)}), name) == highest
    with pytest.raises(ConfigError, match=f"Config '{env}'"):
        Settings.from_env({env: str(highest * 1.001)})


def test_the_highest_prices_keep_every_cost_finite() -> None:
    """At the bounds, a year of a huge tenant's costs is still a finite JSON number."""
    from crm_metrics import Metrics, to_json

    settings = Settings.from_env({"LLM_PRICE_PER_MILLION_TOKENS": "1000000", "WHATSAPP_PRICE_PER_MESSAGE": "1000000"}, database_url="duckdb:///:memory:")
    with Metrics.connect(settings=settings) as metrics:
        metrics.store.init_db()
        metrics.store.load_rows("conversations", [{"id": "c", "tenant_id": "00000000-0000-0000-0000-000000000001", "outlet_id": None, "customer_phone": "+1", "status": "active", "started_at": "2025-11-01T00:00:00Z", "ended_at": None, "last_message_at": None}])
        metrics.store.load_rows("messages", [{"id": "m", "conversation_id": "c", "sender_type": "llm", "sender_id": None, "content": "x", "timestamp": "2025-11-01T00:00:01Z", "metadata": {"tokens_used": 10**17}}])
        summary = metrics.summary("00000000-0000-0000-0000-000000000001", "2025-11-01", "2025-11-01")
    assert summary.total_cost == 10**17 + 1e6
    assert "Infinity" not in to_json(summary)


@pytest.mark.parametrize("value", ["-1", "3661", "7.5", "a week"])
def test_the_lookaround_bound_is_whole_days_from_0_to_3660(value: str) -> None:
    assert Settings.from_env({}).lookaround_days == 0
    assert Settings.from_env({"LOOKAROUND_DAYS": "3660"}).lookaround_days == 3660
    with pytest.raises(ConfigError, match=f"^Config 'LOOKAROUND_DAYS' has value '{value}': .+\\.$"):
        Settings.from_env({"LOOKAROUND_DAYS": value})
