"""Warm latency and AWS calls per route, in one process, against moto in-process.

Each route is driven through the Lambda entry point (``app(event, context)``)
with a warm ``Runtime``; beside it the same AWS calls are made directly with
the same boto3 clients and the same HTTP session, so the difference is our own
overhead (routing, cookies, config, marshalling, JWT verification). The Cognito
token, revoke and JWKS endpoints are a ``requests`` adapter in this process for
both sides. Calls are counted on the event hooks of the runtime's clients and in
the adapter.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scripts.bench_cold import APP_DIR, SESSION_COOKIE, LambdaContext, api_event

REGION = "ap-northeast-2"
PREFIX = "/kakao-login/bench/"
TABLE = "kakao-login-bench-sessions"
DOMAIN = f"https://kl-bench.auth.{REGION}.amazoncognito.com"
API = "https://api.bench.example"
FRONTEND = "https://app.bench.example"
LOGIN_COOKIE = "__Host-kl_login"
KID = "bench-kid"
ROUTES = ("user_info", "config", "refresh", "code_exchange", "logout")
# The fewest calls the design allows for a warm container (config and keys
# cached): a session read, a lease and a save for a refresh, a single-use
# transaction delete and a session write for a code exchange, one delete
# (returning the old item) and a revocation for a logout.
MINIMUM_CALLS: dict[str, dict[str, int]] = {
    "user_info": {"dynamodb": 1, "ssm": 0, "cognito": 0, "jwks": 0},
    "config": {"dynamodb": 0, "ssm": 0, "cognito": 0, "jwks": 0},
    "refresh": {"dynamodb": 3, "ssm": 0, "cognito": 1, "jwks": 0},
    "code_exchange": {"dynamodb": 2, "ssm": 0, "cognito": 1, "jwks": 0},
    "logout": {"dynamodb": 1, "ssm": 0, "cognito": 1, "jwks": 0},
}
CATEGORIES = ("dynamodb", "ssm", "cognito", "jwks")
WARMUP = 20


class CallCounter:
    """AWS API calls (by service) and calls to the Cognito stand-in (by kind)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def on_aws_call(self, model: Any, **_: Any) -> None:
        service = str(model.service_model.service_name)
        self.calls["cognito" if service == "cognito-idp" else service] += 1

    def snapshot(self) -> dict[str, int]:
        return {name: self.calls[name] for name in CATEGORIES}


@dataclass
class CognitoStandIn:
    """The user pool's token, revoke and JWKS endpoints, in this process."""

    issuer: str
    counter: CallCounter
    signing_key: Any
    jwks: dict[str, Any]
    codes: dict[str, str] = field(default_factory=dict)

    def grant(self, client_id: str, nonce: str) -> str:
        """A code whose exchange returns an ID token for ``nonce`` (signed now)."""
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": client_id,
            "sub": "bench-user",
            "token_use": "id",
            "iat": now,
            "exp": now + 3600,
            "nonce": nonce,
            "nickname": "Bench",
            "identities": [{"providerName": "Kakao", "userId": "1"}],
        }
        code = secrets.token_urlsafe(16)
        self.codes[code] = jwt.encode(
            claims, self.signing_key, algorithm="RS256", headers={"kid": KID}
        )
        return code

    def answer(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if url.endswith("/.well-known/jwks.json"):
            self.counter.calls["jwks"] += 1
            return 200, self.jwks
        self.counter.calls["cognito"] += 1
        if url.endswith("/oauth2/revoke"):
            return 200, {}
        tokens: dict[str, Any] = {
            "access_token": "at-" + secrets.token_urlsafe(16),
            "expires_in": 3600,
            "token_type": "Bearer",
        }
        if form.get("grant_type") == "authorization_code":
            id_token = self.codes.pop(form.get("code", ""), None)
            if id_token is None:
                return 400, {"error": "invalid_grant"}
            tokens["id_token"] = id_token
            tokens["refresh_token"] = "rt-" + secrets.token_urlsafe(16)
        return 200, tokens


def _http_session(stand_in: CognitoStandIn) -> Any:
    import requests
    from requests.adapters import BaseAdapter

    class StandInAdapter(BaseAdapter):
        def send(  # type: ignore[override]
            self, request: Any, **_: Any
        ) -> Any:
            form = {k: v[0] for k, v in parse_qs(str(request.body or "")).items()}
            status, document = stand_in.answer(str(request.url), form)
            response = requests.Response()
            response.status_code = status
            response.headers["Content-Type"] = "application/json"
            response._content = json.dumps(document).encode()
            response.url = str(request.url)
            response.request = request
            return response

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://", StandInAdapter())
    return session


@contextlib.contextmanager
def _offline_aws() -> Iterator[None]:
    """moto in-process with fake credentials; the environment is restored after."""
    from moto import mock_aws

    names = (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
    )
    saved = {name: os.environ.get(name) for name in names}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION,
    )
    try:
        with mock_aws():
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _provision() -> tuple[dict[str, str], Any]:
    """A user pool, app client, table and SSM parameters; returns config values."""
    import boto3

    boto3.setup_default_session(region_name=REGION)
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool_id = cognito.create_user_pool(PoolName="kakao-login-bench")["UserPool"]["Id"]
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    client = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="kakao-login-bench-web",
        GenerateSecret=True,
        CallbackURLs=[API + "/auth/callback", FRONTEND + "/"],
        LogoutURLs=[FRONTEND + "/"],
        SupportedIdentityProviders=["Kakao"],
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email", "profile"],
        AllowedOAuthFlowsUserPoolClient=True,
    )["UserPoolClient"]
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    values = {
        "user_pool_id": pool_id,
        "client_id": client["ClientId"],
        "client_secret": client["ClientSecret"],
        "cognito_domain_url": DOMAIN,
        "issuer": issuer,
        "jwks_url": issuer + "/.well-known/jwks.json",
        "callback_url": API + "/auth/callback",
        "logout_redirect_url": FRONTEND + "/",
        "frontend_url": FRONTEND + "/",
        "allowed_origins": FRONTEND,
        "identity_providers": "Kakao",
        "token_delivery": "bff",
        "session_idle_timeout_seconds": "1800",
        "session_absolute_timeout_seconds": "28800",
        "app_public_config": '{"title": "Bench"}',
    }
    ssm = boto3.client("ssm", region_name=REGION)
    for name, value in values.items():
        ssm.put_parameter(
            Name=PREFIX + name,
            Value=value,
            Type="SecureString" if name == "client_secret" else "String",
        )
    return values, issuer


def _signing_material() -> tuple[Any, dict[str, Any]]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return key, {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}


# --- The two sides of each route ----------------------------------------------


@dataclass
class Bench:
    app: Any
    runtime: Any
    stand_in: CognitoStandIn
    config: dict[str, str]
    counter: CallCounter
    sequence: int = 0

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.sequence += 1
        event = api_event(method, path, request_id=f"bench-{self.sequence}", **kwargs)
        context = LambdaContext(f"bench-{self.sequence}")
        response: dict[str, Any] = self.app(event, context)
        return response

    def new_session(self, access_expires_in: int = 3600) -> str:
        from chalicelib.sessions import NewSession

        session_id, _ = self.runtime.sessions.create(
            NewSession(
                sub="bench-user",
                name="Bench",
                email=None,
                identity_provider="Kakao",
                access_token="at-" + secrets.token_urlsafe(16),
                refresh_token="rt-" + secrets.token_urlsafe(16),
                access_expires_at=int(time.time()) + access_expires_in,
            ),
            idle_timeout=1800,
            absolute_timeout=28800,
        )
        return str(session_id)

    def raw_item(self, pk: str) -> dict[str, Any]:
        now = int(time.time())
        return {
            "pk": {"S": pk},
            "sub": {"S": "bench-user"},
            "access_token": {"S": "at-" + secrets.token_urlsafe(16)},
            "refresh_token": {"S": "rt-" + secrets.token_urlsafe(16)},
            "access_expires_at": {"N": str(now + 3600)},
            "expires_at": {"N": str(now + 1800)},
        }


Step = Callable[[], Any]
# A route's setup (untimed) returns the timed step.
Case = Callable[[Bench], Step]


def _cookie(session_id: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={session_id}"}


def _post_headers(cookie: dict[str, str]) -> dict[str, str]:
    return {**cookie, "X-CSRF": "1", "Content-Type": "application/json"}


def _expect(response: dict[str, Any], status: int) -> None:
    if response["statusCode"] != status:
        raise RuntimeError(
            f"bench request answered {response['statusCode']}: {response['body']}"
        )


def ours_user_info(bench: Bench) -> Step:
    headers = _cookie(bench.new_session())
    return lambda: _expect(bench.call("GET", "/api/user-info", headers=headers), 200)


def direct_user_info(bench: Bench) -> Step:
    dynamodb = bench.runtime.dynamodb()
    key = {"pk": {"S": "session#direct"}}
    dynamodb.put_item(TableName=TABLE, Item=bench.raw_item("session#direct"))
    return lambda: dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)


def ours_config(bench: Bench) -> Step:
    return lambda: _expect(bench.call("GET", "/api/config"), 200)


def direct_config(bench: Bench) -> Step:
    return lambda: None


def ours_refresh(bench: Bench) -> Step:
    headers = _post_headers(_cookie(bench.new_session()))
    return lambda: _expect(bench.call("POST", "/auth/refresh", headers=headers), 200)


def direct_refresh(bench: Bench) -> Step:
    dynamodb, http = bench.runtime.dynamodb(), bench.runtime.http()
    key = {"pk": {"S": "session#direct-refresh"}}
    dynamodb.put_item(TableName=TABLE, Item=bench.raw_item("session#direct-refresh"))
    url = bench.config["cognito_domain_url"] + "/oauth2/token"
    auth = (bench.config["client_id"], bench.config["client_secret"])

    def step() -> None:
        item = dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
        seen = item["Item"]["access_token"]
        dynamodb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET refresh_lease_owner = :owner",
            ConditionExpression="attribute_exists(pk) AND access_token = :seen",
            ExpressionAttributeValues={":owner": {"S": "me"}, ":seen": seen},
        )
        tokens = http.post(
            url,
            data={"grant_type": "refresh_token", "refresh_token": "rt"},
            auth=auth,
            timeout=(3.05, 5.0),
        ).json()
        dynamodb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET access_token = :access REMOVE refresh_lease_owner",
            ConditionExpression="refresh_lease_owner = :owner",
            ExpressionAttributeValues={
                ":access": {"S": tokens["access_token"]},
                ":owner": {"S": "me"},
            },
        )

    return step


def ours_code_exchange(bench: Bench) -> Step:
    start = bench.call("GET", "/auth/login")
    _expect(start, 302)
    location = start["headers"]["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    set_cookies = start["multiValueHeaders"]["Set-Cookie"]
    binding = next(c for c in set_cookies if c.startswith(LOGIN_COOKIE + "="))
    code = bench.stand_in.grant(bench.config["client_id"], params["nonce"])
    query = {"code": code, "state": params["state"]}
    headers = {"Cookie": binding.split(";", 1)[0]}

    def step() -> None:
        response = bench.call("GET", "/auth/callback", headers=headers, query=query)
        _expect(response, 302)
        if "login_error" in response["headers"]["Location"]:
            raise RuntimeError("bench login failed: " + response["headers"]["Location"])

    return step


def direct_code_exchange(bench: Bench) -> Step:
    dynamodb, http = bench.runtime.dynamodb(), bench.runtime.http()
    pk = "txn#" + secrets.token_hex(16)
    dynamodb.put_item(TableName=TABLE, Item=bench.raw_item(pk))
    code = bench.stand_in.grant(bench.config["client_id"], "nonce")
    url = bench.config["cognito_domain_url"] + "/oauth2/token"
    auth = (bench.config["client_id"], bench.config["client_secret"])

    def step() -> None:
        dynamodb.delete_item(
            TableName=TABLE,
            Key={"pk": {"S": pk}},
            ConditionExpression="attribute_exists(pk)",
            ReturnValues="ALL_OLD",
        )
        form = {"grant_type": "authorization_code", "code": code}
        http.post(url, data=form, auth=auth, timeout=(3.05, 5.0)).json()
        dynamodb.put_item(
            TableName=TABLE, Item=bench.raw_item("session#" + secrets.token_hex(32))
        )

    return step


def ours_logout(bench: Bench) -> Step:
    headers = _post_headers(_cookie(bench.new_session()))
    return lambda: _expect(bench.call("POST", "/auth/logout", headers=headers), 200)


def direct_logout(bench: Bench) -> Step:
    dynamodb, http = bench.runtime.dynamodb(), bench.runtime.http()
    pk = "session#" + secrets.token_hex(32)
    dynamodb.put_item(TableName=TABLE, Item=bench.raw_item(pk))
    url = bench.config["cognito_domain_url"] + "/oauth2/revoke"
    auth = (bench.config["client_id"], bench.config["client_secret"])

    def step() -> None:
        dynamodb.delete_item(
            TableName=TABLE, Key={"pk": {"S": pk}}, ReturnValues="ALL_OLD"
        )
        http.post(url, data={"token": "rt"}, auth=auth, timeout=(3.05, 5.0))

    return step


CASES: dict[str, tuple[Case, Case]] = {
    "user_info": (ours_user_info, direct_user_info),
    "config": (ours_config, direct_config),
    "refresh": (ours_refresh, direct_refresh),
    "code_exchange": (ours_code_exchange, direct_code_exchange),
    "logout": (ours_logout, direct_logout),
}
# Routes whose request consumes what its setup made: set up once per request.
SINGLE_USE = frozenset({"code_exchange", "logout"})


# --- Measuring -------------------------------------------------------------------


def summarize(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(p99, 3),
        "n": len(ordered),
    }


def _time(bench: Bench, route: str, case: Case, requests: int) -> dict[str, Any]:
    samples: list[float] = []
    calls: Counter[str] = Counter()
    reusable = None if route in SINGLE_USE else case(bench)
    for index in range(WARMUP + requests):
        step = reusable or case(bench)
        before = bench.counter.snapshot()
        started = time.perf_counter()
        step()
        elapsed = (time.perf_counter() - started) * 1000
        after = bench.counter.snapshot()
        if index >= WARMUP:
            samples.append(elapsed)
            calls.update({k: after[k] - before[k] for k in CATEGORIES})
    summary: dict[str, Any] = summarize(samples)
    summary["calls_per_request"] = {
        k: round(calls[k] / requests, 3) for k in CATEGORIES
    }
    return summary


def _first_calls(bench: Bench, route: str) -> dict[str, int]:
    """Calls of the first request of a route in this container (cold caches)."""
    step = CASES[route][0](bench)
    before = bench.counter.snapshot()
    step()
    after = bench.counter.snapshot()
    return {k: after[k] - before[k] for k in CATEGORIES}


def run_warm(requests: int) -> dict[str, Any]:
    """Median and p99 per route (ours and direct), and AWS calls per request."""
    counter = CallCounter()
    signing_key, jwks = _signing_material()
    with _offline_aws():
        config, issuer = _provision()
        stand_in = CognitoStandIn(issuer, counter, signing_key, jwks)
        bench = _build_bench(config, stand_in, counter)

        first = {route: _first_calls(bench, route) for route in ROUTES}
        routes: dict[str, Any] = {}
        for route in ROUTES:
            ours_case, direct_case = CASES[route]
            ours = _time(bench, route, ours_case, requests)
            direct = _time(bench, route, direct_case, requests)
            routes[route] = {
                "ours": ours,
                "direct": direct,
                "overhead_median_ms": round(ours["median_ms"] - direct["median_ms"], 3),
                "calls_first_request": first[route],
                "calls_minimum": MINIMUM_CALLS[route],
            }
        _release_runtime()
    return {
        "backend": "moto in-process (mock_aws); Cognito endpoints: in-process "
        "requests adapter",
        "requests_per_route": requests,
        "warmup_per_route": WARMUP,
        "routes": routes,
    }


def _build_bench(
    config: dict[str, str], stand_in: CognitoStandIn, counter: CallCounter
) -> Bench:
    if str(APP_DIR) not in sys.path:
        sys.path.insert(0, str(APP_DIR))
    from app import app
    from chalicelib.runtime import Runtime, set_runtime

    runtime = Runtime(
        region=REGION,
        ssm_prefix=PREFIX,
        sessions_table=TABLE,
        http=_http_session(stand_in),
    )
    # Count every call of the runtime's own clients (built now, as it builds them).
    for name in ("dynamodb", "ssm", "cognito"):
        build = getattr(runtime, name, None)
        if callable(build):
            build().meta.events.register("before-call.*.*", counter.on_aws_call)
    set_runtime(runtime)
    return Bench(
        app=app, runtime=runtime, stand_in=stand_in, config=config, counter=counter
    )


def _release_runtime() -> None:
    from chalicelib.runtime import set_runtime

    set_runtime(None)
