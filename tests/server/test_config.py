from __future__ import annotations

import pytest

from crm_metrics import ConfigError
from server.config import ServerConfig


def test_defaults() -> None:
    assert ServerConfig.from_env({}) == ServerConfig()
    assert (ServerConfig().port, ServerConfig().cache_ttl_seconds, ServerConfig().jwt_tenant_claim) == (3007, 300, "tenant_id")


def test_from_env() -> None:
    config = ServerConfig.from_env(
        {
            "PORT": "8080",
            "ENVIRONMENT": "production",
            "CORS_ORIGINS": "https://a.example, https://b.example,",
            "ALLOW_UNAUTHENTICATED": "TRUE",
            "CACHE_TTL_SECONDS": "0",
            "LOG_LEVEL": "debug",
            "REDIS_URL": "",
        },
        host="0.0.0.0",
        port=None,
    )
    assert (config.port, config.host, config.environment, config.allow_unauthenticated) == (8080, "0.0.0.0", "production", True)
    assert config.cors_origins == ("https://a.example", "https://b.example")
    assert (config.cache_ttl_seconds, config.log_level, config.redis_url) == (0, "DEBUG", "")


@pytest.mark.parametrize(
    ("env", "value"),
    [("PORT", "http"), ("PORT", "70000"), ("ENVIRONMENT", "prod"), ("ALLOW_UNAUTHENTICATED", "maybe"), ("CACHE_TTL_SECONDS", "-1"), ("LOG_LEVEL", "loud")],
)
def test_bad_values_name_the_variable(env: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"Config '{env}' has value '{value}'"):
        ServerConfig.from_env({env: value})
