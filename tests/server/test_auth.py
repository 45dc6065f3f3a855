"""Bearer-token auth with real signed tokens (HS256 secrets, RS256 keys made here)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from crm_metrics import ConfigError, Metrics
from server import ServerConfig, create_app

from tests.support.api import TENANT_A, TENANT_B, assert_error

SUMMARY = "/api/v1/metrics/summary"
SECRET = "s" * 64
OTHER_SECRET = "t" * 64


def _token(key: Any, algorithm: str = "HS256", expires_in: float = 300, **claims: Any) -> str:
    payload = {"tenant_id": TENANT_A, "exp": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires_in), **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm=algorithm)


def _get(client: TestClient, token: str | None, tenant: str = TENANT_A, scheme: str = "Bearer") -> Any:
    headers = {"X-Tenant-Id": tenant}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}".strip()
    return client.get(SUMMARY, headers=headers)


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[Any, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public_pem


@pytest.fixture
def hs256(connect: Callable[..., TestClient]) -> TestClient:
    return connect(ServerConfig(jwt_secret=SECRET))


def test_hs256_token_for_the_tenant(hs256: TestClient) -> None:
    response = _get(hs256, _token(SECRET))
    assert response.status_code == 200
    assert response.json()["tenant_id"] == TENANT_A


def test_tenant_compared_as_uuid(hs256: TestClient) -> None:
    assert _get(hs256, _token(SECRET, tenant_id=TENANT_A.upper())).status_code == 200
    assert _get(hs256, _token(SECRET), tenant=TENANT_A.upper()).status_code == 200


def test_token_for_another_tenant(hs256: TestClient) -> None:
    """A token for tenant A cannot read tenant B."""
    assert_error(_get(hs256, _token(SECRET), tenant=TENANT_B), 403, "forbidden", "X-Tenant-Id")


def test_token_without_tenant_claim(hs256: TestClient) -> None:
    assert_error(_get(hs256, _token(SECRET, tenant_id=None)), 403, "forbidden", "Authorization")


@pytest.mark.parametrize(
    ("token", "scheme"),
    [
        (None, "Bearer"),  # no Authorization header
        ("", "Bearer"),
        (_token(SECRET), "Basic"),
        ("not-a-jwt", "Bearer"),
        (_token(OTHER_SECRET), "Bearer"),  # wrong signature
        (_token(SECRET, expires_in=-60), "Bearer"),  # expired
        (_token(SECRET, exp=None), "Bearer"),  # no expiry: would be valid forever
        (_token(SECRET, algorithm="HS512"), "Bearer"),  # not the configured algorithm
        (jwt.encode({"tenant_id": TENANT_A, "exp": 4102444800}, None, algorithm="none"), "Bearer"),
    ],
)
def test_unauthorized(hs256: TestClient, token: str | None, scheme: str) -> None:
    response = _get(hs256, token, scheme=scheme)
    assert_error(response, 401, "unauthorized", "Authorization")
    assert response.headers["www-authenticate"].startswith('Bearer realm="crm-metrics"')


def test_expired_token_says_so(hs256: TestClient) -> None:
    error = assert_error(_get(hs256, _token(SECRET, expires_in=-60)), 401, "unauthorized", "Authorization")
    assert "expired" in error["message"]


def test_auth_comes_before_validation(hs256: TestClient) -> None:
    assert_error(hs256.get(SUMMARY + "?tz=Nowhere"), 401, "unauthorized", "Authorization")
    authorized = {"Authorization": f"Bearer {_token(SECRET)}"}
    assert_error(hs256.get(SUMMARY, headers=authorized), 400, "invalid_parameter", "X-Tenant-Id")
    assert_error(hs256.get(SUMMARY, headers={**authorized, "X-Tenant-Id": "acme"}), 400, "invalid_parameter", "X-Tenant-Id")


def test_health_and_openapi_are_open(hs256: TestClient) -> None:
    assert hs256.get("/health").status_code == 200
    assert hs256.get("/openapi.json").status_code == 200


def test_custom_claim_audience_and_issuer(connect: Callable[..., TestClient]) -> None:
    client = connect(ServerConfig(jwt_secret=SECRET, jwt_tenant_claim="org", jwt_audience="crm", jwt_issuer="https://auth.example"))
    good = dict(tenant_id=None, org=TENANT_A, aud="crm", iss="https://auth.example")
    assert _get(client, _token(SECRET, **good)).status_code == 200
    assert_error(_get(client, _token(SECRET, **{**good, "aud": "billing"})), 401, "unauthorized", "Authorization")
    assert_error(_get(client, _token(SECRET, **{**good, "iss": "https://evil.example"})), 401, "unauthorized", "Authorization")
    assert_error(_get(client, _token(SECRET, **{**good, "org": None, "tenant_id": TENANT_A})), 403, "forbidden", "Authorization")


def test_rs256(connect: Callable[..., TestClient], rsa_keys: tuple[Any, str], tmp_path: Path) -> None:
    private, public_pem = rsa_keys
    key_file = tmp_path / "public.pem"
    key_file.write_text(public_pem)
    for configured in (public_pem, public_pem.replace("\n", "\\n"), str(key_file)):
        client = connect(ServerConfig(jwt_public_key=configured))
        assert _get(client, _token(private, "RS256")).status_code == 200
        assert_error(_get(client, _token(private, "RS256"), tenant=TENANT_B), 403, "forbidden", "X-Tenant-Id")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_error(_get(client, _token(stranger, "RS256")), 401, "unauthorized", "Authorization")


def test_rs256_rejects_algorithm_confusion(connect: Callable[..., TestClient], rsa_keys: tuple[Any, str]) -> None:
    """An HS256 token whose 'secret' is the public key (which anyone has) is refused."""
    _, public_pem = rsa_keys
    client = connect(ServerConfig(jwt_public_key=public_pem))
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps({"tenant_id": TENANT_A, "exp": 4102444800}).encode())
    signature = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + b64(signature)
    assert_error(_get(client, forged), 401, "unauthorized", "Authorization")


@pytest.mark.parametrize(
    ("config", "says"),
    [
        (ServerConfig(environment="production"), "ALLOW_UNAUTHENTICATED=true"),
        (ServerConfig(jwt_secret="short"), "at least 32 bytes"),
        (ServerConfig(jwt_secret="s" * 48, jwt_algorithm="HS512"), "at least 64 bytes"),
        (ServerConfig(jwt_secret=SECRET, jwt_algorithm="RS256"), "JWT_ALGORITHM"),
        (ServerConfig(jwt_secret=SECRET, jwt_algorithm="none"), "JWT_ALGORITHM"),
        (ServerConfig(jwt_secret=SECRET, jwt_public_key="x"), "both set"),
        (ServerConfig(jwt_public_key="/no/such/key.pem"), "JWT_PUBLIC_KEY"),
        (ServerConfig(jwt_public_key="-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----"), "JWT_PUBLIC_KEY"),
    ],
)
def test_refuses_unsafe_configuration(metrics: Metrics, config: ServerConfig, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        create_app(metrics, config)


def test_production_with_auth_or_explicit_opt_out(metrics: Metrics) -> None:
    create_app(metrics, ServerConfig(environment="production", jwt_secret=SECRET))
    create_app(metrics, ServerConfig(environment="production", allow_unauthenticated=True))


def test_serve_refuses_to_start_in_production_without_auth(tmp_path: Path) -> None:
    env = {"ENVIRONMENT": "production", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "crm_metrics", "serve", "--database-url", "duckdb:///:memory:", "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to serve" in result.stderr and "ALLOW_UNAUTHENTICATED=true" in result.stderr
