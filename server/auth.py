"""Optional bearer-token auth: a JWT whose tenant claim must equal `X-Tenant-Id`.

Without a key the server trusts `X-Tenant-Id`, as the seed does behind a gateway; in
production it refuses to start that way unless told to (`ALLOW_UNAUTHENTICATED=true`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms

from crm_metrics import ConfigError
from crm_metrics.errors import SHOWN_CHARS, cut

from starlette.requests import Request

from server import params
from server.config import ServerConfig
from server.errors import ApiError

#: Algorithms per kind of key. "none" is never accepted, and a key of one kind never verifies
#: a token of the other (the classic RS256 -> HS256 confusion).
SECRET_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class Authenticator:
    def __init__(self, key: Any, algorithm: str, tenant_claim: str, audience: str = "", issuer: str = "") -> None:
        self.key = key
        self.algorithm = algorithm
        self.tenant_claim = tenant_claim
        self.audience = audience or None
        self.issuer = issuer or None

    def claimed_tenant(self, authorization: str | None) -> str:
        """The tenant a valid `Authorization: Bearer <jwt>` grants, lowercase; else 401/403."""
        if not authorization:
            raise _unauthorized("the Authorization header is required: Bearer <token>")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("the Authorization header must be: Bearer <token>", invalid=True)
        try:
            claims = jwt.decode(
                token.strip(),
                self.key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                # A token without an expiry would be valid forever once leaked.
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("the token has expired", invalid=True) from None
        except jwt.InvalidTokenError as error:
            # PyJWT's reasons may quote the token's header ("Unsupported critical extension: ..."):
            # cut, as every echoed value is.
            raise _unauthorized(f"the token is not valid: {cut(str(error), 2 * SHOWN_CHARS)}", invalid=True) from None
        tenant = claims.get(self.tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            raise ApiError("forbidden", f"the token carries no {self.tenant_claim!r} claim", "Authorization")
        return tenant.lower()


def request_tenant(request: Request) -> str:
    """The tenant a request reads: its X-Tenant-Id, which must equal the token's tenant claim
    when auth is on (else 401/403). Noted on the request for the access log."""
    auth = request.app.state.auth
    claimed = auth.claimed_tenant(request.headers.get("authorization")) if auth else None
    tenant = params.tenant(request.headers)
    if claimed is not None and claimed != tenant:
        raise ApiError("forbidden", f"the token does not grant access to tenant {tenant}", params.TENANT_HEADER)
    request.state.tenant_id = tenant
    return tenant


def _unauthorized(message: str, *, invalid: bool = False) -> ApiError:
    # RFC 6750 §3: the challenge, with error="invalid_token" when a token was sent but failed.
    challenge = 'Bearer realm="crm-metrics"' + (', error="invalid_token"' if invalid else "")
    return ApiError("unauthorized", message, "Authorization", headers={"WWW-Authenticate": challenge})


def authenticator(config: ServerConfig) -> Authenticator | None:
    """The configured authenticator, or None when auth is off; refuses unsafe configurations."""
    if config.jwt_secret and config.jwt_public_key:
        raise ConfigError("Config 'JWT_SECRET' and 'JWT_PUBLIC_KEY' are both set: set one (HS256 secret or RS256 public key).")
    if not (config.jwt_secret or config.jwt_public_key):
        if config.environment == "production" and not config.allow_unauthenticated:
            raise ConfigError(
                "ENVIRONMENT=production and neither JWT_SECRET nor JWT_PUBLIC_KEY is set: refusing to serve "
                "tenant data to any caller who sends an X-Tenant-Id header. Configure JWT auth, or set "
                "ALLOW_UNAUTHENTICATED=true if a gateway in front authenticates callers."
            )
        return None
    allowed: tuple[str, ...]
    if config.jwt_secret:
        source, algorithm = "JWT_SECRET", config.jwt_algorithm or "HS256"
        allowed, key = SECRET_ALGORITHMS, config.jwt_secret
    else:
        source, algorithm = "JWT_PUBLIC_KEY", config.jwt_algorithm or "RS256"
        allowed, key = PUBLIC_KEY_ALGORITHMS, _pem(config.jwt_public_key)
    if algorithm not in allowed:
        raise ConfigError(f"Config 'JWT_ALGORITHM' has value {algorithm!r}: with {source} use one of {', '.join(allowed)}.")
    if config.jwt_secret and len(key.encode()) < int(algorithm[2:]) // 8:
        # RFC 7518 §3.2: the HMAC key must be at least as long as the hash output.
        raise ConfigError(f"Config 'JWT_SECRET' is too short for {algorithm}: use at least {int(algorithm[2:]) // 8} bytes.")
    try:
        prepared = get_default_algorithms()[algorithm].prepare_key(key)
    except (jwt.InvalidKeyError, ValueError, TypeError) as error:
        raise ConfigError(f"Config '{source}' is not a usable {algorithm} key: {error}") from None
    return Authenticator(prepared, algorithm, config.jwt_tenant_claim, config.jwt_audience, config.jwt_issuer)


def _pem(value: str) -> str:
    """PEM text, or the path of a PEM file; escaped newlines (one-line env vars) are unescaped."""
    if "-----BEGIN" in value:
        return value.replace("\\n", "\n")
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"Config 'JWT_PUBLIC_KEY' has value {value!r}: neither PEM text nor a readable file.")
    return path.read_text(encoding="utf-8")
