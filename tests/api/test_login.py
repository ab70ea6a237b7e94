"""Login: start, callback, /auth/token, state binding, ID token verification."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import (
    CLIENT_ID,
    CONFIG_VALUES,
    DOMAIN,
    FRONTEND,
    ISSUER,
    POOL_ID,
    TABLE,
    Grant,
    Stack,
    body,
    cookie_value,
    set_cookies,
)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_login_redirects_to_cognito_with_pkce_state_nonce_and_provider(
    stack: Stack,
) -> None:
    # when
    response = stack.start("?return_to=/inbox")

    # then
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(DOMAIN + "/oauth2/authorize?")
    params = _query(location)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "https://api.example.test/auth/callback"
    assert params["scope"] == "openid email profile"
    assert params["code_challenge_method"] == "S256"
    assert params["identity_provider"] == "Kakao"
    assert len(params["state"]) >= 22 and len(params["nonce"]) >= 22
    assert response.headers["Cache-Control"] == "no-store"
    binding = set_cookies(response)["__Host-kl_login"]
    assert "HttpOnly" in binding and "Secure" in binding and "SameSite=Lax" in binding


def test_login_uses_the_current_client_id_from_ssm(stack: Stack) -> None:
    # given a redeploy changed the client id, within the config cache's minute
    stack.client.http.get("/api/config")
    new_client = {**stack.app_clients.clients[(POOL_ID, CLIENT_ID)]}
    stack.app_clients.clients[(POOL_ID, "new-client-id")] = new_client
    stack.put_config(client_id="new-client-id")

    # when
    response = stack.start()

    # then
    assert _query(response.headers["Location"])["client_id"] == "new-client-id"


def _stale_redirect(response: Any) -> bool:
    location = response.headers["Location"]
    return response.status_code == 302 and location == (
        "https://app.example.test/?login_error=config_stale"
    )


def test_client_id_cognito_no_longer_has_stops_the_login_on_our_page(
    stack: Stack,
) -> None:
    # given SSM names an app client that a redeploy deleted
    stack.put_config(client_id="deleted-client-id")

    # when
    response = stack.start()

    # then the browser never reaches Cognito's error page
    assert _stale_redirect(response)
    assert sum(stack.cognito.calls.values()) == 0
    assert "__Host-kl_login" not in set_cookies(response)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("CallbackURLs", ["https://elsewhere.example.test/auth/callback"]),
        ("LogoutURLs", []),
        ("SupportedIdentityProviders", ["COGNITO"]),
    ],
)
def test_config_naming_what_the_live_client_lacks_is_stale(
    stack: Stack, setting: str, value: list[str]
) -> None:
    stack.app_clients.clients[(POOL_ID, CLIENT_ID)][setting] = value

    assert _stale_redirect(stack.start())


def test_front_end_with_a_stale_config_fingerprint_is_refused(stack: Stack) -> None:
    response = stack.start("?fingerprint=0123456789abcdef")

    assert _stale_redirect(response)


def test_front_end_with_the_current_fingerprint_logs_in(stack: Stack) -> None:
    current = stack.client.http.get("/api/config").json_body["fingerprint"]

    response = stack.start(f"?fingerprint={current}")

    assert response.headers["Location"].startswith(f"{DOMAIN}/oauth2/authorize?")


def test_app_client_is_looked_up_once_a_minute(stack: Stack) -> None:
    stack.start()
    stack.start()
    assert stack.app_clients.calls == 1

    stack.clock.advance(61)
    stack.start()

    assert stack.app_clients.calls == 2


def test_app_client_look_up_failure_does_not_block_logins(stack: Stack) -> None:
    def throttled(**_: Any) -> Any:
        error = {"Error": {"Code": "TooManyRequestsException", "Message": "-"}}
        raise ClientError(error, "DescribeUserPoolClient")  # type: ignore[arg-type]

    clients: Any = stack.app_clients
    clients.describe_user_pool_client = throttled

    response = stack.start()

    assert response.headers["Location"].startswith(f"{DOMAIN}/oauth2/authorize?")


def test_two_tabs_share_the_binding_cookie_and_both_logins_succeed(
    stack: Stack,
) -> None:
    # given two logins started in one browser
    first = stack.start()
    binding = cookie_value(first, "__Host-kl_login")
    second = stack.start(cookie=f"__Host-kl_login={binding}")
    assert cookie_value(second, "__Host-kl_login") == binding

    # when both finish
    code1, state1 = stack.cognito.authorize(first.headers["Location"])
    code2, state2 = stack.cognito.authorize(second.headers["Location"])
    done1 = stack.callback(code1, state1, f"__Host-kl_login={binding}")
    done2 = stack.callback(code2, state2, f"__Host-kl_login={binding}")

    # then
    assert done1.headers["Location"] == FRONTEND + "/"
    assert done2.headers["Location"] == FRONTEND + "/"


def test_callback_creates_a_session_and_returns_to_the_local_path(stack: Stack) -> None:
    # given
    started = stack.start("?return_to=/inbox%3Fx%3D1")
    binding = cookie_value(started, "__Host-kl_login")
    code, state = stack.cognito.authorize(started.headers["Location"])
    stack.aws.reset()

    # when
    done = stack.callback(code, state, f"__Host-kl_login={binding}")

    # then
    assert done.status_code == 302
    assert done.headers["Location"] == FRONTEND + "/inbox?x=1"
    cookie = set_cookies(done)["__Host-kl_session"]
    attributes = [part.strip() for part in cookie.split(";")]
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/"} <= set(attributes)
    assert not any(part.lower().startswith("domain") for part in attributes)
    max_age = int(next(p for p in attributes if p.startswith("Max-Age="))[8:])
    assert 0 < max_age <= 28800
    assert len(cookie_value(done, "__Host-kl_session")) >= 43
    assert stack.cognito.calls["token:authorization_code"] == 1
    assert stack.aws.calls == {"DeleteItem": 1, "PutItem": 1}


def test_session_item_stores_times_as_numbers_and_the_id_hashed(stack: Stack) -> None:
    # when
    session_id = stack.login()

    # then
    item = stack.session_item(session_id)
    assert item is not None
    assert (
        item["pk"]["S"] == "session#" + hashlib.sha256(session_id.encode()).hexdigest()
    )
    for name in (
        "access_expires_at",
        "created_at",
        "idle_expires_at",
        "absolute_expires_at",
        "expires_at",
    ):
        assert "N" in item[name], name
    assert "id_token" not in item


def test_user_info_after_login_costs_one_get_item(stack: Stack) -> None:
    # given
    session_id = stack.login()
    stack.aws.reset()

    # when
    response = stack.client.http.get(
        "/api/user-info", headers={"Cookie": f"__Host-kl_session={session_id}"}
    )

    # then
    assert response.status_code == 200
    assert body(response) == {
        "sub": "user-1",
        "name": "Ryan",
        "email": "ryan@example.test",
        "identity_provider": "Kakao",
        "session_expires_in": 1800,
        "absolute_expires_at": int(stack.clock.now()) + 28800,
    }
    assert stack.aws.calls == {"GetItem": 1}
    assert stack.cognito.calls["jwks"] == 1


def test_user_without_shared_email_gets_null_email(stack: Stack) -> None:
    session_id = stack.login(email=None)

    response = stack.client.http.get(
        "/api/user-info", headers={"Cookie": f"__Host-kl_session={session_id}"}
    )

    assert body(response)["email"] is None


def test_a_new_login_replaces_the_previous_session(stack: Stack) -> None:
    # given a browser with a session
    old = stack.login()
    started = stack.start(cookie=f"__Host-kl_session={old}")
    binding = cookie_value(started, "__Host-kl_login")
    code, state = stack.cognito.authorize(started.headers["Location"])

    # when it logs in again
    done = stack.callback(
        code, state, f"__Host-kl_login={binding}; __Host-kl_session={old}"
    )

    # then it gets a new id and the old one is gone
    new = cookie_value(done, "__Host-kl_session")
    assert new != old
    assert stack.session_item(old) is None
    assert stack.session_item(new) is not None


@pytest.mark.parametrize(
    "return_to",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "evil",
        "/a\\b",
        "/a%0d%0aSet-Cookie:x=1",
        "/" + "a" * 2048,
    ],
)
def test_return_to_outside_the_app_is_refused(stack: Stack, return_to: str) -> None:
    from urllib.parse import quote

    response = stack.start("?return_to=" + quote(return_to, safe="%"))

    assert response.status_code == 400
    assert body(response)["error"] == "invalid_return_to"


def test_unknown_identity_provider_is_refused(stack: Stack) -> None:
    response = stack.start("?idp=Google")

    assert response.status_code == 400
    assert body(response)["error"] == "unsupported_identity_provider"


def test_frontend_flow_redirects_to_the_frontend_then_token_opens_a_session(
    stack: Stack,
) -> None:
    # given
    started = stack.start("?flow=frontend&return_to=/x")
    binding = cookie_value(started, "__Host-kl_login")
    assert _query(started.headers["Location"])["redirect_uri"] == FRONTEND + "/"
    code, state = stack.cognito.authorize(started.headers["Location"])

    # when
    response = stack.post(
        "/auth/token",
        {"code": code, "state": state},
        Cookie=f"__Host-kl_login={binding}",
        Origin=FRONTEND,
    )

    # then
    assert response.status_code == 200
    assert body(response) == {"success": True, "expires_in": 3600}
    assert "__Host-kl_session" in set_cookies(response)
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND


def test_token_mediating_mode_returns_only_the_access_token(stack: Stack) -> None:
    # given
    stack.put_config(token_delivery="token-mediating")
    started = stack.start("?flow=frontend")
    binding = cookie_value(started, "__Host-kl_login")
    code, state = stack.cognito.authorize(started.headers["Location"])

    # when
    response = stack.post(
        "/auth/token",
        {"code": code, "state": state},
        Cookie=f"__Host-kl_login={binding}",
    )

    # then
    payload = body(response)
    assert payload["access_token"].startswith("at-")
    assert "refresh_token" not in payload and "id_token" not in payload


# --- state ---------------------------------------------------------------------


def _started(stack: Stack) -> tuple[str, str, str]:
    started = stack.start()
    binding = cookie_value(started, "__Host-kl_login")
    code, state = stack.cognito.authorize(started.headers["Location"])
    return code, state, binding


def _login_error(response: Any) -> str:
    assert response.status_code == 302
    return _query(response.headers["Location"])["login_error"]


def test_reused_state_is_rejected_without_calling_cognito(stack: Stack) -> None:
    code, state, binding = _started(stack)
    assert stack.callback(code, state, f"__Host-kl_login={binding}").status_code == 302
    calls = stack.cognito.calls["token:authorization_code"]

    again = stack.callback(code, state, f"__Host-kl_login={binding}")

    assert _login_error(again) == "invalid_state"
    assert "Set-Cookie" not in again.headers
    assert stack.cognito.calls["token:authorization_code"] == calls


def test_unknown_state_is_rejected(stack: Stack) -> None:
    code, _, binding = _started(stack)

    response = stack.callback(code, "forged-state", f"__Host-kl_login={binding}")

    assert _login_error(response) == "invalid_state"
    assert stack.cognito.calls["token:authorization_code"] == 0


def test_state_from_another_browser_is_rejected_and_burnt(stack: Stack) -> None:
    # given the victim's state replayed by an attacker's browser
    code, state, binding = _started(stack)

    # when
    attacker = stack.callback(code, state, "__Host-kl_login=" + "A" * 43)
    victim = stack.callback(code, state, f"__Host-kl_login={binding}")

    # then
    assert _login_error(attacker) == "invalid_state"
    assert _login_error(victim) == "invalid_state"
    assert stack.cognito.calls["token:authorization_code"] == 0


def test_state_without_binding_cookie_is_rejected(stack: Stack) -> None:
    code, state, _ = _started(stack)

    response = stack.callback(code, state)

    assert _login_error(response) == "invalid_state"


def test_expired_state_is_rejected(stack: Stack) -> None:
    code, state, binding = _started(stack)
    stack.clock.advance(601)

    response = stack.callback(code, state, f"__Host-kl_login={binding}")

    assert _login_error(response) == "invalid_state"
    assert stack.cognito.calls["token:authorization_code"] == 0


def test_token_endpoint_answers_json_for_a_bad_state(stack: Stack) -> None:
    response = stack.post("/auth/token", {"code": "c", "state": "nope"})

    assert response.status_code == 400
    assert body(response)["error"] == "invalid_state"
    assert set(body(response)) == {"error", "message", "request_id"}


def test_api_flow_state_cannot_be_finished_through_the_token_endpoint(
    stack: Stack,
) -> None:
    code, state, binding = _started(stack)

    response = stack.post(
        "/auth/token",
        {"code": code, "state": state},
        Cookie=f"__Host-kl_login={binding}",
    )

    assert body(response)["error"] == "invalid_state"


@pytest.mark.parametrize(
    ("cognito_error", "reported"),
    [
        ("access_denied", "access_denied"),
        ("invalid_request", "login_failed"),
        ("<script>", "login_failed"),
    ],
)
def test_cognito_error_on_callback_redirects_with_an_allowlisted_code(
    stack: Stack, cognito_error: str, reported: str
) -> None:
    # given
    _, state, binding = _started(stack)

    # when
    response = stack.client.http.get(
        f"/auth/callback?error={cognito_error}&state={state}",
        headers={"Cookie": f"__Host-kl_login={binding}"},
    )

    # then the state is burnt and no token was requested
    assert response.headers["Location"] == f"{FRONTEND}/?login_error={reported}"
    assert stack.cognito.calls["token:authorization_code"] == 0
    assert stack.aws.calls["DeleteItem"] == 1


def test_rejected_code_reports_login_failed(stack: Stack) -> None:
    _, state, binding = _started(stack)

    response = stack.callback("wrong-code", state, f"__Host-kl_login={binding}")

    assert _login_error(response) == "login_failed"


@pytest.mark.parametrize("fault", ["timeout", "500", "html", "malformed"])
def test_failing_token_endpoint_during_login_reports_login_failed(
    stack: Stack, fault: str
) -> None:
    code, state, binding = _started(stack)
    stack.cognito.token_fault = fault

    response = stack.callback(code, state, f"__Host-kl_login={binding}")

    assert _login_error(response) == "login_failed"
    assert stack.dynamodb.scan(TableName=TABLE)["Count"] == 0


# --- ID token verification ---------------------------------------------------------


def _forged(stack: Stack, make: Any) -> Any:
    stack.cognito.id_token_override = make
    code, state, binding = _started(stack)
    return stack.callback(code, state, f"__Host-kl_login={binding}")


def _claims(grant: Grant, now: int, **overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        "nonce": grant.nonce,
        "sub": "user-1",
        **overrides,
    }
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/other"},
        {"aud": "another-client"},
        {"token_use": "access"},
        {"nonce": "other-nonce"},
        {"nonce": None},
        {"exp": -100},
        {"iat": 3600},
        {"sub": None},
    ],
    ids=str,
)
def test_id_token_with_wrong_claims_is_rejected(
    stack: Stack, overrides: dict[str, Any]
) -> None:
    def make(grant: Grant) -> str:
        now = int(stack.clock.now())
        relative = {
            k: now + v if k in {"exp", "iat"} else v for k, v in overrides.items()
        }
        return stack.cognito.id_token(grant, **relative)

    response = _forged(stack, make)

    assert _login_error(response) == "invalid_id_token"
    assert "Set-Cookie" not in response.headers
    assert stack.aws.calls["PutItem"] == 1  # the transaction only, no session


def test_id_token_signed_by_another_key_is_rejected(
    stack: Stack, other_key: Any
) -> None:
    def make(grant: Grant) -> str:
        claims = _claims(grant, int(stack.clock.now()))
        return jwt.encode(
            claims, other_key, algorithm="RS256", headers={"kid": "kid-1"}
        )

    assert _login_error(_forged(stack, make)) == "invalid_id_token"


def test_unsigned_id_token_is_rejected(stack: Stack) -> None:
    def make(grant: Grant) -> str:
        claims = _claims(grant, int(stack.clock.now()))
        return jwt.encode(claims, None, algorithm="none", headers={"kid": "kid-1"})

    assert _login_error(_forged(stack, make)) == "invalid_id_token"


def test_hs256_token_keyed_with_the_public_key_is_rejected(stack: Stack) -> None:
    import hmac
    import json
    from base64 import urlsafe_b64encode

    from cryptography.hazmat.primitives import serialization

    pem = stack.cognito.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(raw: bytes) -> str:
        return urlsafe_b64encode(raw).rstrip(b"=").decode()

    def make(grant: Grant) -> str:
        header = b64(json.dumps({"alg": "HS256", "kid": "kid-1"}).encode())
        payload = b64(json.dumps(_claims(grant, int(stack.clock.now()))).encode())
        signature = hmac.new(pem, f"{header}.{payload}".encode(), "sha256").digest()
        return f"{header}.{payload}.{b64(signature)}"

    assert _login_error(_forged(stack, make)) == "invalid_id_token"


def test_jku_header_is_ignored(stack: Stack, other_key: Any) -> None:
    def make(grant: Grant) -> str:
        claims = _claims(grant, int(stack.clock.now()))
        headers = {"kid": "kid-1", "jku": "https://evil.example/jwks.json"}
        return jwt.encode(claims, other_key, algorithm="RS256", headers=headers)

    assert _login_error(_forged(stack, make)) == "invalid_id_token"
    assert stack.cognito.calls["jwks"] == 1


def test_unknown_kids_refetch_the_jwks_at_most_once_a_minute(stack: Stack) -> None:
    # given a warm container whose keys were fetched over a minute ago
    stack.login()
    assert stack.cognito.calls["jwks"] == 1
    stack.clock.advance(61)

    # when many tokens name unknown keys within a minute
    def make(grant: Grant) -> str:
        claims = _claims(grant, int(stack.clock.now()))
        return jwt.encode(
            claims, stack.cognito.key, algorithm="RS256", headers={"kid": "x"}
        )

    for _ in range(5):
        assert _login_error(_forged(stack, make)) == "invalid_id_token"

    # then one refetch; after a minute, a rotated key is picked up
    assert stack.cognito.calls["jwks"] == 2
    stack.clock.advance(61)
    stack.cognito.kid = "kid-2"
    stack.cognito.id_token_override = None
    stack.login()
    assert stack.cognito.calls["jwks"] == 3


def test_each_flow_is_checked_against_the_live_client_within_the_minute(
    stack: Stack,
) -> None:
    # given the API flow checked a moment ago, and the front-end callback since
    # removed from the app client
    stack.start()
    client = stack.app_clients.clients[(POOL_ID, CLIENT_ID)]
    client["CallbackURLs"] = [CONFIG_VALUES["callback_url"]]
    stack.clock.advance(61)
    stack.start()

    # when a front-end flow login starts within the same minute
    response = stack.start("?flow=frontend")

    # then the cached client is still compared with the redirect URI in use
    assert _stale_redirect(response)
    assert stack.app_clients.calls == 2
