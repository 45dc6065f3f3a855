"""The server's settings, read from the environment with a cast and a default.

`SETTINGS` is the table the README's configuration section documents, next to
`crm_metrics.config.SETTINGS` (the database, prices, range limit and query timeout, which the
library reads itself). Errors name the variable and its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from crm_metrics.config import Setting, read_env

ENVIRONMENTS = ("development", "staging", "production", "test")


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValueError
    return value


def _whole_seconds(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError
    return value


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError


def _environment(text: str) -> str:
    if text not in ENVIRONMENTS:
        raise ValueError
    return text


def _origins(text: str) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in text.split(",") if origin.strip())


def _level(text: str) -> str:
    level = text.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError
    return level


SETTINGS: dict[str, Setting] = {
    "host": Setting("HOST", "127.0.0.1", str, "Interface to listen on (0.0.0.0 in a container)"),
    "port": Setting("PORT", 3007, _port, "TCP port to listen on"),
    "environment": Setting("ENVIRONMENT", "development", _environment, f"One of {', '.join(ENVIRONMENTS)}; shown by /health. production refuses to start without auth unless ALLOW_UNAUTHENTICATED=true"),
    "redis_url": Setting("REDIS_URL", "", str, "Cache results in this Redis (redis://host:port/db); unset: an in-process cache"),
    "cache_ttl_seconds": Setting("CACHE_TTL_SECONDS", 300, _whole_seconds, "How long a cached result is served (0 = no caching)"),
    "cache_key_prefix": Setting("CACHE_KEY_PREFIX", "analytics", str, "First segment of every cache key, to keep deployments sharing one Redis apart"),
    "jwt_secret": Setting("JWT_SECRET", "", str, "HMAC secret (at least 32 bytes): /api requests then need a bearer JWT signed with it (HS256)"),
    "jwt_public_key": Setting("JWT_PUBLIC_KEY", "", str, "PEM public key, or the path of a PEM file: /api requests then need a bearer JWT signed with its private key (RS256)"),
    "jwt_algorithm": Setting("JWT_ALGORITHM", "", str, "The one accepted JWT algorithm (default: HS256 with JWT_SECRET, RS256 with JWT_PUBLIC_KEY)"),
    "jwt_tenant_claim": Setting("JWT_TENANT_CLAIM", "tenant_id", str, "Token claim that must equal X-Tenant-Id"),
    "jwt_audience": Setting("JWT_AUDIENCE", "", str, "If set, tokens must carry this `aud`"),
    "jwt_issuer": Setting("JWT_ISSUER", "", str, "If set, tokens must carry this `iss`"),
    "allow_unauthenticated": Setting("ALLOW_UNAUTHENTICATED", False, _bool, "Let ENVIRONMENT=production serve without JWT auth (when a gateway authenticates callers)"),
    "cors_origins": Setting("CORS_ORIGINS", (), _origins, "Comma-separated origins allowed to call the API from a browser (* for any); unset: CORS off"),
    "log_level": Setting("LOG_LEVEL", "INFO", _level, "DEBUG, INFO, WARNING or ERROR (JSON lines on stderr)"),
    "shutdown_timeout_seconds": Setting("SHUTDOWN_TIMEOUT_SECONDS", 30, _whole_seconds, "On SIGTERM, how long in-flight requests may finish before the server exits (0 = no limit)"),
}


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 3007
    environment: str = "development"
    redis_url: str = ""
    cache_ttl_seconds: int = 300
    cache_key_prefix: str = "analytics"
    jwt_secret: str = ""
    jwt_public_key: str = ""
    jwt_algorithm: str = ""
    jwt_tenant_claim: str = "tenant_id"
    jwt_audience: str = ""
    jwt_issuer: str = ""
    allow_unauthenticated: bool = False
    cors_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    shutdown_timeout_seconds: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerConfig:
        return cls(**read_env(SETTINGS, environ, overrides))


assert {f.name for f in fields(ServerConfig)} == SETTINGS.keys()
assert all(getattr(ServerConfig(), name) == s.default for name, s in SETTINGS.items())
