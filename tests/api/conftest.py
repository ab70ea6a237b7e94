"""Fixtures for the API tests: moto in-process, a Cognito double, a fake clock.

The Cognito double is a ``requests`` adapter mounted on a real session: it
answers the token, revoke and JWKS endpoints, checks PKCE and client
authentication like Cognito does, and mints ID tokens signed with an RSA key
made here, so each test controls claims, ``kid``, algorithm and nonce.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import jwt
import pytest
import requests
from botocore.exceptions import ClientError
from chalice.test import Client
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws
from requests.adapters import BaseAdapter

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "chalice_app"))

from chalicelib.runtime import Runtime, set_runtime

REGION = "ap-northeast-2"
PREFIX = "/kakao-login/test/"
TABLE = "kakao-login-test-sessions"
POOL_ID = f"{REGION}_TestPool"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
DOMAIN = f"https://kl-test.auth.{REGION}.amazoncognito.com"
CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-value"
API = "https://api.example.test"
FRONTEND = "https://app.example.test"
START = 1_800_000_000.0

CONFIG_VALUES: dict[str, str] = {
    "user_pool_id": POOL_ID,
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "cognito_domain_url": DOMAIN,
    "issuer": ISSUER,
    "jwks_url": ISSUER + "/.well-known/jwks.json",
    "callback_url": API + "/auth/callback",
    "logout_redirect_url": FRONTEND + "/",
    "frontend_url": FRONTEND + "/",
    "allowed_origins": FRONTEND,
    "identity_providers": "Kakao,COGNITO",
    "token_delivery": "bff",
    "session_idle_timeout_seconds": "1800",
    "session_absolute_timeout_seconds": "28800",
    "app_public_config": '{"title": "Test"}',
}
LOOPBACK_VALUES = {
    "cognito_domain_url": "http://localhost:19229",
    "jwks_url": "http://localhost:15100/pool/.well-known/jwks.json",
    "callback_url": "http://localhost:18000/auth/callback",
    "logout_redirect_url": "http://localhost:13001/",
    "frontend_url": "http://localhost:13001/",
    "allowed_origins": "http://localhost:13001",
}


class FakeClock:
    def __init__(self) -> None:
        self.t = START

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def advance(self, seconds: float) -> None:
        self.t += seconds


class RealClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class Grant:
    redirect_uri: str
    code_challenge: str
    nonce: str
    claims: dict[str, Any]
    used: bool = False


@dataclass
class CognitoDouble:
    """Cognito's /oauth2/token, /oauth2/revoke and the pool's JWKS."""

    key: rsa.RSAPrivateKey
    clock: Any
    kid: str = "kid-1"
    calls: Counter[str] = field(default_factory=Counter)
    grants: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    rotate: bool = False
    token_fault: str | None = None  # "timeout", "500", "html", "invalid_grant"...
    revoke_fault: bool = False
    refresh_delay: float = 0.0
    access_lifetime: int = 3600
    id_token_override: Callable[[Grant], str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def authorize(self, authorize_url: str, **claims: Any) -> tuple[str, str]:
        """What the hosted UI does: remember the request, return (code, state)."""
        params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        assert params["response_type"] == "code"
        assert params["client_id"] == CLIENT_ID
        assert params["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        base = {"sub": "user-1", "nickname": "Ryan", "email": "ryan@example.test"}
        self.grants[code] = Grant(
            redirect_uri=params["redirect_uri"],
            code_challenge=params["code_challenge"],
            nonce=params["nonce"],
            claims={**base, **claims},
        )
        return code, params["state"]

    def id_token(self, grant: Grant, **overrides: Any) -> str:
        now = int(self.clock.now())
        claims = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "token_use": "id",
            "iat": now,
            "exp": now + 3600,
            "nonce": grant.nonce,
            "cognito:username": "Kakao_1",
            "identities": [{"providerName": "Kakao", "userId": "1"}],
            **grant.claims,
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(
            claims, self.key, algorithm="RS256", headers={"kid": self.kid}
        )

    # -- the adapter's view ----------------------------------------------------

    def answer(self, request: requests.PreparedRequest) -> tuple[int, Any, str]:
        url = request.url or ""
        if url == ISSUER + "/.well-known/jwks.json":
            self.calls["jwks"] += 1
            return 200, {"keys": [_jwk(self.key, self.kid)]}, "application/json"
        form = {k: v[0] for k, v in parse_qs(str(request.body or "")).items()}
        if url == DOMAIN + "/oauth2/revoke":
            self.calls["revoke"] += 1
            if self.revoke_fault:
                return 503, "<html>down</html>", "text/html"
            self.refresh_tokens.discard(form.get("token", ""))
            return 200, "", "application/json"
        if url == DOMAIN + "/oauth2/token":
            return self._token(request, form)
        return 404, {"error": "not_found"}, "application/json"

    def _token(self, request: requests.PreparedRequest, form: dict[str, str]) -> Any:
        grant_type = form.get("grant_type", "")
        self.calls[f"token:{grant_type}"] += 1
        if grant_type == "refresh_token" and self.refresh_delay:
            time.sleep(self.refresh_delay)
        fault = self._fault()
        if fault is not None:
            return fault
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return 400, {"error": "invalid_client"}, "application/json"
        if grant_type == "authorization_code":
            return self._code_grant(form)
        if grant_type == "refresh_token":
            return self._refresh_grant(form)
        return 400, {"error": "unsupported_grant_type"}, "application/json"

    def _fault(self) -> tuple[int, Any, str] | None:
        if self.token_fault is None:
            return None
        if self.token_fault == "timeout":
            raise requests.exceptions.ReadTimeout("read timed out")
        if self.token_fault == "500":
            return 500, {"error": "internal"}, "application/json"
        if self.token_fault == "html":
            return 200, "<html>maintenance</html>", "text/html"
        if self.token_fault == "malformed":
            return 200, "{not json", "application/json"
        return 400, {"error": self.token_fault}, "application/json"

    def _code_grant(self, form: dict[str, str]) -> tuple[int, Any, str]:
        grant = self.grants.get(form.get("code", ""))
        if (
            grant is None
            or grant.used
            or grant.redirect_uri != form.get("redirect_uri")
        ):
            return 400, {"error": "invalid_grant"}, "application/json"
        grant.used = True
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != grant.code_challenge:
            return 400, {"error": "invalid_grant"}, "application/json"
        refresh_token = "rt-" + secrets.token_urlsafe(16)
        self.refresh_tokens.add(refresh_token)
        id_token = (
            self.id_token_override(grant)
            if self.id_token_override
            else self.id_token(grant)
        )
        return (
            200,
            {
                "access_token": "at-" + secrets.token_urlsafe(16),
                "id_token": id_token,
                "refresh_token": refresh_token,
                "expires_in": self.access_lifetime,
                "token_type": "Bearer",
            },
            "application/json",
        )

    def _refresh_grant(self, form: dict[str, str]) -> tuple[int, Any, str]:
        with self.lock:
            token = form.get("refresh_token", "")
            if token not in self.refresh_tokens:
                return 400, {"error": "invalid_grant"}, "application/json"
            body: dict[str, Any] = {
                "access_token": "at-" + secrets.token_urlsafe(16),
                "expires_in": self.access_lifetime,
                "token_type": "Bearer",
            }
            if self.rotate:
                self.refresh_tokens.discard(token)
                body["refresh_token"] = "rt-" + secrets.token_urlsafe(16)
                self.refresh_tokens.add(body["refresh_token"])
            return 200, body, "application/json"


class DoubleAdapter(BaseAdapter):
    def __init__(self, double: CognitoDouble) -> None:
        super().__init__()
        self.double = double

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        assert kwargs.get("timeout"), "every upstream call needs a timeout"
        status, body, content_type = self.double.answer(request)
        response = requests.Response()
        response.status_code = status
        response.headers["Content-Type"] = content_type
        raw = body if isinstance(body, str) else json.dumps(body)
        response._content = raw.encode()
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


class AwsCalls:
    """Counts every AWS API call a boto3 client makes (paginated pages too)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-call.*.*", self._count)
        return client

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def reset(self) -> None:
        self.calls.clear()


class AtomicClient:
    """moto's in-process DynamoDB checks a condition and writes in two steps, so
    threads can interleave; real DynamoDB applies each conditional write
    atomically. One lock around every call restores that guarantee."""

    _lock = threading.Lock()

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name == "meta" or not callable(attribute):
            return attribute

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return locked


class AppClients:
    """Cognito's control plane for the one app client the tests register.

    moto cannot create a pool with a chosen id, so the look-up the API makes
    before a login (``DescribeUserPoolClient``) is answered here, in boto3's
    shapes, with ClientError for a client that does not exist.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.clients: dict[tuple[str, str], dict[str, Any]] = {
            (POOL_ID, CLIENT_ID): {
                "UserPoolId": POOL_ID,
                "ClientId": CLIENT_ID,
                "CallbackURLs": [
                    CONFIG_VALUES["callback_url"],
                    CONFIG_VALUES["frontend_url"],
                    LOOPBACK_VALUES["callback_url"],
                    LOOPBACK_VALUES["frontend_url"],
                ],
                "LogoutURLs": [
                    CONFIG_VALUES["logout_redirect_url"],
                    LOOPBACK_VALUES["logout_redirect_url"],
                ],
                "SupportedIdentityProviders": ["Kakao", "COGNITO"],
            }
        }

    def describe_user_pool_client(self, UserPoolId: str, ClientId: str) -> Any:
        self.calls += 1
        client = self.clients.get((UserPoolId, ClientId))
        if client is None:
            error = {"Error": {"Code": "ResourceNotFoundException", "Message": "-"}}
            raise ClientError(error, "DescribeUserPoolClient")  # type: ignore[arg-type]
        return {"UserPoolClient": client}


@dataclass
class Stack:
    client: Client
    runtime: Runtime
    cognito: CognitoDouble
    clock: Any
    aws: AwsCalls
    dynamodb: Any
    ssm: Any
    app_clients: AppClients

    def put_config(self, **values: str) -> None:
        for name, value in values.items():
            self.ssm.put_parameter(
                Name=PREFIX + name,
                Value=value,
                Type="SecureString" if name == "client_secret" else "String",
                Overwrite=True,
            )

    # -- browser helpers ----------------------------------------------------------

    def start(self, query: str = "", cookie: str = "") -> Any:
        headers = {"Cookie": cookie} if cookie else {}
        return self.client.http.get("/auth/login" + query, headers=headers)

    def login(self, query: str = "", **claims: Any) -> str:
        """A full login through the callback; returns the session cookie value."""
        started = self.start(query)
        binding = cookie_value(started, "__Host-kl_login")
        code, state = self.cognito.authorize(started.headers["Location"], **claims)
        done = self.callback(code, state, f"__Host-kl_login={binding}")
        assert done.status_code == 302, done.body
        return cookie_value(done, "__Host-kl_session")

    def callback(self, code: str, state: str, cookie: str = "") -> Any:
        headers = {"Cookie": cookie} if cookie else {}
        return self.client.http.get(
            f"/auth/callback?code={code}&state={state}", headers=headers
        )

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        sent = {"X-CSRF": "1", "Content-Type": "application/json", **headers}
        raw = b"" if body is None else json.dumps(body).encode()
        return self.client.http.post(path, headers=sent, body=raw)

    def session_item(self, session_id: str) -> dict[str, Any] | None:
        key = "session#" + hashlib.sha256(session_id.encode()).hexdigest()
        item = self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": key}})
        return item.get("Item")


def set_cookies(response: Any) -> dict[str, str]:
    raw = response.headers.get("Set-Cookie") or response.headers.get("set-cookie") or []
    lines = [raw] if isinstance(raw, str) else list(raw)
    return {line.split("=", 1)[0]: line for line in lines}


def cookie_value(response: Any, name: str) -> str:
    line = set_cookies(response)[name]
    return line.split(";", 1)[0].split("=", 1)[1]


def body(response: Any) -> Any:
    return json.loads(response.body)


_BOTO = boto3.session.Session(region_name=REGION)


def aws_client(service: str) -> Any:
    """Clients share one botocore session: its model cache keeps set-up fast."""
    return _BOTO.client(service)  # type: ignore[call-overload]


def make_stack(
    signing_key: rsa.RSAPrivateKey,
    tmp_path: Path,
    clock: Any,
    *,
    allow_insecure_cookies: bool = False,
    dynamodb: Any = None,
) -> Stack:
    aws = AwsCalls()
    real_dynamodb = aws_client("dynamodb")
    ssm = aws_client("ssm")
    real_dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    cognito = CognitoDouble(key=signing_key, clock=clock)
    app_clients = AppClients()
    http = requests.Session()
    http.mount("https://", DoubleAdapter(cognito))
    http.mount("http://", DoubleAdapter(cognito))
    runtime = Runtime(
        region=REGION,
        ssm_prefix=PREFIX,
        sessions_table=TABLE,
        clock=clock,
        http=http,
        dynamodb=dynamodb or AtomicClient(aws.attach(aws_client("dynamodb"))),
        ssm=aws.attach(aws_client("ssm")),
        cognito=app_clients,
        allow_insecure_cookies=allow_insecure_cookies,
    )
    from app import app

    stack = Stack(
        client=Client(app, project_dir=str(tmp_path)),
        runtime=runtime,
        cognito=cognito,
        clock=clock,
        aws=aws,
        dynamodb=real_dynamodb,
        ssm=ssm,
        app_clients=app_clients,
    )
    stack.put_config(**CONFIG_VALUES)
    set_runtime(runtime)
    return stack


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield
    set_runtime(None)


@pytest.fixture
def stack(aws_env: None, signing_key: rsa.RSAPrivateKey, tmp_path: Path) -> Stack:
    return make_stack(signing_key, tmp_path, FakeClock())
