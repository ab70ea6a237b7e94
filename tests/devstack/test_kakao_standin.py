"""The Kakao stand-in answers the way Kakao Login does, refusals included."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from devstack import kakao
from devstack.settings import KAKAO_CLIENT_ID, StackSettings

pytestmark = pytest.mark.filterwarnings("ignore::devstack.kakao.KakaoStandInWarning")

ALL_SCOPES = "openid profile_nickname profile_image account_email"
VERIFIER = "v" * 43 + "-._~0123456789"
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest())
    .rstrip(b"=")
    .decode()
)


class FakeClock:
    def __init__(self) -> None:
        import time

        # An hour in the past, so PyJWT (on real time) accepts tokens after advance().
        self.now = time.time() - 3600

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def kakao_signing_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One RSA key for the module: generating one per test dominates the runtime."""
    state_dir = tmp_path_factory.mktemp("kakao-key")
    kakao.create_app(StackSettings(state_dir=state_dir), env={})
    return (state_dir / kakao.SIGNING_KEY_FILE).read_text()


@pytest.fixture
def kakao_settings(tmp_path: Path, kakao_signing_key: str) -> StackSettings:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    key_file = state_dir / kakao.SIGNING_KEY_FILE
    key_file.write_text(kakao_signing_key)
    key_file.chmod(0o600)
    # Ports no real stack uses: only URLs are built from them, nothing listens.
    return StackSettings(state_dir=state_dir, kakao_port=19230, cognito_port=19229)


@pytest.fixture
def kakao_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def kakao_env() -> dict[str, str]:
    return {}


@pytest.fixture
def kakao_app(
    kakao_settings: StackSettings, kakao_clock: FakeClock, kakao_env: dict[str, str]
) -> Flask:
    return kakao.create_app(kakao_settings, clock=kakao_clock, env=kakao_env)


@pytest.fixture
def kakao_client(kakao_app: Flask) -> Iterator[FlaskClient]:
    with kakao_app.test_client() as client:
        yield client


@pytest.fixture
def kakao_registration(
    kakao_app: Flask, kakao_settings: StackSettings
) -> kakao.KakaoRegistration:
    return kakao.ensure_registration(kakao_settings)


def authorize_query(
    reg: kakao.KakaoRegistration, **overrides: str | None
) -> dict[str, str]:
    query: dict[str, str | None] = {
        "response_type": "code",
        "client_id": reg.client_id,
        "redirect_uri": reg.redirect_uris[0],
        "scope": ALL_SCOPES,
        "state": "state-123",
        "nonce": "nonce-456",
        **overrides,
    }
    return {name: value for name, value in query.items() if value is not None}


def redirect_params(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 302
    return {
        name: values[0]
        for name, values in parse_qs(urlsplit(response.location).query).items()
    }


def login(
    client: FlaskClient,
    reg: kakao.KakaoRegistration,
    user_id: str = "4000000001",
    share_email: bool = True,
    **overrides: str | None,
) -> str:
    """Agree on the consent page; the authorization code from the redirect."""
    fields = kakao.consent_form_fields(
        authorize_query(reg, **overrides), user_id, share_email
    )
    response = client.post("/oauth/authorize", data=fields)
    assert response.location.startswith(reg.redirect_uris[0] + "?")
    return redirect_params(response)["code"]


def exchange(
    client: FlaskClient,
    reg: kakao.KakaoRegistration,
    code: str,
    **overrides: str | None,
) -> TestResponse:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "client_id": reg.client_id,
        "client_secret": reg.client_secret,
        "code": code,
        "redirect_uri": reg.redirect_uris[0],
        **overrides,
    }
    return client.post(
        "/oauth/token",
        data={name: value for name, value in form.items() if value is not None},
    )


def verified_claims(
    client: FlaskClient, reg: kakao.KakaoRegistration, id_token: str, issuer: str
) -> dict[str, Any]:
    keys = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json)
    key = keys[jwt.get_unverified_header(id_token)["kid"]]
    return jwt.decode(
        id_token, key.key, algorithms=["RS256"], audience=reg.client_id, issuer=issuer
    )


# -- discovery and keys ------------------------------------------------------


def test_discovery_document_names_kakao_endpoints_on_the_stand_in(
    kakao_client: FlaskClient, kakao_settings: StackSettings
) -> None:
    # given the stand-in for http://localhost:19230
    base = "http://localhost:19230"

    # when a relying party reads the discovery document
    doc = kakao_client.get("/.well-known/openid-configuration").json

    # then it reads Kakao's keys, pointing at the stand-in
    assert doc["issuer"] == base == kakao_settings.kakao_url
    assert doc["authorization_endpoint"] == f"{base}/oauth/authorize"
    assert doc["token_endpoint"] == f"{base}/oauth/token"
    assert doc["userinfo_endpoint"] == f"{base}/v1/oidc/userinfo"
    assert doc["jwks_uri"] == f"{base}/.well-known/jwks.json"
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_post"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"sub", "nonce", "nickname", "picture", "email"} <= set(
        doc["claims_supported"]
    )


def test_issued_id_token_verifies_against_the_published_jwks(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_settings: StackSettings,
) -> None:
    # given Minji agreed to every consent item
    code = login(kakao_client, kakao_registration)

    # when the code is exchanged
    body = exchange(kakao_client, kakao_registration, code).json

    # then the ID token verifies with the JWKS and carries her consented claims
    claims = verified_claims(
        kakao_client, kakao_registration, body["id_token"], kakao_settings.kakao_url
    )
    assert claims["iss"] == "http://localhost:19230"
    assert claims["aud"] == KAKAO_CLIENT_ID
    assert claims["nonce"] == "nonce-456"
    assert claims["sub"] == "4000000001"
    assert claims["nickname"] == "Minji Kim"
    assert claims["email"] == "minji@example.com"
    assert claims["picture"] == "http://localhost:19230/avatars/4000000001.svg"
    assert claims["auth_time"] <= claims["iat"] < claims["exp"]
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0 and body["refresh_token_expires_in"] > 0
    assert body["scope"].split() == ALL_SCOPES.split()


def test_signing_key_survives_a_restart_and_is_private(
    tmp_path: Path, kakao_clock: FakeClock
) -> None:
    # given a stand-in on a fresh state folder issued an ID token, then stopped
    kakao_settings = StackSettings(state_dir=tmp_path / "fresh", kakao_port=19230)
    first = kakao.create_app(kakao_settings, clock=kakao_clock, env={}).test_client()
    reg = kakao.ensure_registration(kakao_settings)
    id_token = exchange(first, reg, login(first, reg)).json["id_token"]

    # when a new stand-in starts on the same state folder
    second = kakao.create_app(kakao_settings, clock=kakao_clock, env={}).test_client()

    # then it publishes the same key, and the old token still verifies
    assert (
        second.get("/.well-known/jwks.json").json
        == first.get("/.well-known/jwks.json").json
    )
    assert (
        verified_claims(second, reg, id_token, kakao_settings.kakao_url)["sub"]
        == "4000000001"
    )
    key_file = kakao_settings.state_dir / kakao.SIGNING_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    published = second.get("/.well-known/jwks.json").json["keys"][0]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(published)


# -- registration -------------------------------------------------------------


def test_registration_is_idempotent_and_readable_only_by_its_owner(
    kakao_settings: StackSettings,
) -> None:
    # given no registration yet
    # when provisioning asks twice
    first = kakao.ensure_registration(kakao_settings)
    second = kakao.ensure_registration(kakao_settings)

    # then both calls agree, and the file is private
    assert first == second
    assert first.client_id == KAKAO_CLIENT_ID
    assert len(first.client_secret) >= 32
    assert first.redirect_uris == ("http://localhost:19229/oauth2/idpresponse",)
    path = kakao_settings.kakao_registration_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["client_secret"] == first.client_secret


def test_stand_in_follows_a_reprovisioned_secret_without_a_restart(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_settings: StackSettings,
) -> None:
    # given a code, then re-provisioning replaced the registration
    code = login(kakao_client, kakao_registration)
    kakao_settings.kakao_registration_file.unlink()
    renewed = kakao.ensure_registration(kakao_settings)

    # when the old secret is used, then the new one
    old = exchange(kakao_client, kakao_registration, code)
    new = exchange(kakao_client, renewed, code)

    # then only the new secret is accepted
    assert renewed.client_secret != kakao_registration.client_secret
    assert old.status_code == 401 and old.json["error_code"] == "KOE010"
    assert new.status_code == 200


# -- authorize: refusals ---------------------------------------------------------


def test_unknown_client_gets_a_koe101_page_and_no_redirect(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given an app key nobody registered
    query = authorize_query(kakao_registration, client_id="someone-elses-key")

    # when the browser is sent to authorize
    response = kakao_client.get("/oauth/authorize", query_string=query)

    # then Kakao shows an error page and sends nobody anywhere
    assert response.status_code == 401
    assert response.location is None
    assert "KOE101" in response.get_data(as_text=True)


def test_unregistered_redirect_uri_gets_a_koe006_page_and_no_redirect(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given an attacker's redirect URI
    query = authorize_query(
        kakao_registration, redirect_uri="http://localhost:6666/steal"
    )

    # when the browser is sent to authorize, or the form is posted directly
    shown = kakao_client.get("/oauth/authorize", query_string=query)
    posted = kakao_client.post(
        "/oauth/authorize", data=kakao.consent_form_fields(query, "4000000001")
    )

    # then neither redirects, and both name KOE006
    for response in (shown, posted):
        assert response.status_code == 400
        assert response.location is None
        assert "KOE006" in response.get_data(as_text=True)
        assert "steal" not in response.headers.get("Location", "")


@pytest.mark.parametrize(
    "scope", ["profile_nickname account_email", "", "openid email"]
)
def test_scope_without_openid_or_with_a_non_kakao_scope_is_redirected_as_invalid_scope(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration, scope: str
) -> None:
    # given a scope Kakao cannot serve an ID token for
    query = authorize_query(kakao_registration, scope=scope)

    # when the browser is sent to authorize
    response = kakao_client.get("/oauth/authorize", query_string=query)

    # then it goes back to the client with invalid_scope and the state
    params = redirect_params(response)
    assert response.location.startswith(kakao_registration.redirect_uris[0])
    assert params["error"] == "invalid_scope"
    assert params["state"] == "state-123"
    assert "code" not in params


def test_repeated_parameter_gets_a_page_not_a_redirect(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given a redirect_uri given twice (RFC 6749 section 3.1)
    query = list(authorize_query(kakao_registration).items())
    query.append(("redirect_uri", "http://localhost:6666/steal"))

    # when the browser is sent to authorize
    response = kakao_client.get("/oauth/authorize", query_string=query)

    # then it is refused on the spot
    assert response.status_code == 400
    assert response.location is None
    assert "KOE001" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://localhost:6666"}, 403),
        ({"Origin": "null"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "http://localhost:19230", "Sec-Fetch-Site": "same-origin"}, 302),
        ({}, 302),
    ],
    ids=["foreign", "opaque", "cross-site", "same-site", "the-page-itself", "script"],
)
def test_consent_post_is_accepted_only_from_the_page_itself_or_a_script(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    headers: dict[str, str],
    status: int,
) -> None:
    # given the consent form's fields, submitted by some page or by a script
    fields = kakao.consent_form_fields(
        authorize_query(kakao_registration), "4000000001"
    )

    # when the browser posts it, naming where the submission came from
    response = kakao_client.post("/oauth/authorize", data=fields, headers=headers)

    # then only the stand-in's own page (or a script, which names nothing) logs in
    assert response.status_code == status
    if status == 403:
        assert response.location is None
    else:
        assert "code" in redirect_params(response)


def test_prompt_none_answers_login_required(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given a silent login attempt (the stand-in keeps no Kakao session)
    query = authorize_query(kakao_registration, prompt="none")

    # when the browser is sent to authorize
    params = redirect_params(kakao_client.get("/oauth/authorize", query_string=query))

    # then the client hears login_required
    assert params["error"] == "login_required"
    assert params["state"] == "state-123"


# -- authorize: the consent page ------------------------------------------------


def test_consent_page_offers_test_users_and_carries_no_secret(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given a valid authorize request
    query = authorize_query(kakao_registration)

    # when the browser is sent to authorize
    response = kakao_client.get("/oauth/authorize", query_string=query)

    # then a phone-sized page offers each test user, the email choice and cancel
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    # Under no-referrer Chromium posts the form with "Origin: null", refused as CSRF.
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert 'name="viewport"' in page
    for testid in (
        "user-4000000001",
        "user-4000000002",
        "user-4000000003",
        "share-email",
        "cancel",
        "custom-nickname",
        "custom-email",
        "custom-agree",
    ):
        assert f'data-testid="{testid}"' in page
    assert "Minji Kim" in page and "Joon Park" in page
    assert kakao_registration.client_secret not in page
    assert 'value="state-123"' in page and 'value="nonce-456"' in page


def test_cancel_redirects_with_access_denied(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given the consent page
    query = authorize_query(kakao_registration)

    # when the person presses Cancel
    fields = kakao.consent_form_fields(query, "4000000001", decision="cancel")
    params = redirect_params(kakao_client.post("/oauth/authorize", data=fields))

    # then the client hears access_denied with its state, and no code
    assert params == {
        "error": "access_denied",
        "error_description": "User denied access",
        "state": "state-123",
    }


def test_typed_in_user_gets_a_stable_numeric_sub(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_settings: StackSettings,
) -> None:
    # given someone types a nickname and email, twice
    fields = kakao.consent_form_fields(authorize_query(kakao_registration), "custom")
    fields |= {"custom_nickname": "Dana Choi", "custom_email": "dana@example.com"}
    subs = []
    for _ in range(2):
        code = redirect_params(kakao_client.post("/oauth/authorize", data=fields))[
            "code"
        ]
        id_token = exchange(kakao_client, kakao_registration, code).json["id_token"]
        claims = verified_claims(
            kakao_client, kakao_registration, id_token, kakao_settings.kakao_url
        )
        subs.append(claims["sub"])

    # then both logins are the same numeric member
    assert subs[0] == subs[1] and subs[0].isdigit() and len(subs[0]) == 10
    assert claims["nickname"] == "Dana Choi" and claims["email"] == "dana@example.com"


def test_typed_in_user_without_a_nickname_sees_the_page_again(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given the custom form with an email but no nickname
    fields = kakao.consent_form_fields(authorize_query(kakao_registration), "custom")
    fields["custom_email"] = "dana@example.com"

    # when it is submitted
    response = kakao_client.post("/oauth/authorize", data=fields)

    # then the page comes back with a message and the typed email kept
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert response.location is None
    assert 'data-testid="consent-error"' in page
    assert 'value="dana@example.com"' in page


# -- email consent -------------------------------------------------------------


def test_declined_email_leaves_no_email_claim(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_settings: StackSettings,
) -> None:
    # given Minji (who has an email) unticks "Share email"
    code = login(kakao_client, kakao_registration, share_email=False)

    # when the code is exchanged and userinfo is read
    body = exchange(kakao_client, kakao_registration, code).json
    claims = verified_claims(
        kakao_client, kakao_registration, body["id_token"], kakao_settings.kakao_url
    )
    info = kakao_client.get(
        "/v1/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json

    # then neither names her email, and the granted scope says so
    assert "email" not in claims and "email" not in info
    assert "account_email" not in body["scope"].split()
    assert claims["nickname"] == info["nickname"] == "Minji Kim"


def test_account_without_email_has_no_email_claim_even_when_shared(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_settings: StackSettings,
) -> None:
    # given Joon, whose account has no email, leaves "Share email" ticked
    code = login(
        kakao_client, kakao_registration, user_id="4000000002", share_email=True
    )

    # when the code is exchanged and userinfo is read
    body = exchange(kakao_client, kakao_registration, code).json
    claims = verified_claims(
        kakao_client, kakao_registration, body["id_token"], kakao_settings.kakao_url
    )
    info = kakao_client.get(
        "/v1/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json

    # then there is still no email
    assert claims["sub"] == info["sub"] == "4000000002"
    assert (
        "email" not in claims and "email" not in info and "email_verified" not in info
    )


def test_userinfo_is_flat_and_follows_consent(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given Minji consented to nickname and email only
    code = login(
        kakao_client, kakao_registration, scope="openid profile_nickname account_email"
    )
    token = exchange(kakao_client, kakao_registration, code).json["access_token"]

    # when userinfo is read with the access token
    response = kakao_client.get(
        "/v1/oidc/userinfo", headers={"Authorization": f"Bearer {token}"}
    )

    # then it is flat, without the picture she was not asked for
    assert response.json == {
        "sub": "4000000001",
        "nickname": "Minji Kim",
        "email": "minji@example.com",
        "email_verified": True,
    }


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-token", "Basic Zm9vOmJhcg=="]
)
def test_userinfo_refuses_a_bad_token_in_kakaos_api_shape(
    kakao_client: FlaskClient, authorization: str | None
) -> None:
    # given no valid access token
    headers = {"Authorization": authorization} if authorization else {}

    # when userinfo is read
    response = kakao_client.get("/v1/oidc/userinfo", headers=headers)

    # then Kakao's API error comes back
    assert response.status_code == 401
    assert response.json == {"msg": "this access token does not exist", "code": -401}


# -- auto-login ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "sub", "has_email"),
    [("4000000001", "4000000001", True), ("4000000001:noemail", "4000000001", False)],
)
def test_auto_login_setting_logs_the_user_in_without_the_page(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_env: dict[str, str],
    kakao_settings: StackSettings,
    setting: str,
    sub: str,
    has_email: bool,
) -> None:
    # given DEVSTACK_KAKAO_AUTO_LOGIN is set after the stand-in started
    kakao_env["DEVSTACK_KAKAO_AUTO_LOGIN"] = setting

    # when the browser is sent to authorize
    response = kakao_client.get(
        "/oauth/authorize", query_string=authorize_query(kakao_registration)
    )

    # then it comes straight back with a code for that user
    params = redirect_params(response)
    assert params["state"] == "state-123"
    body = exchange(kakao_client, kakao_registration, params["code"]).json
    claims = verified_claims(
        kakao_client, kakao_registration, body["id_token"], kakao_settings.kakao_url
    )
    assert claims["sub"] == sub
    assert ("email" in claims) is has_email


def test_auto_login_still_refuses_an_unregistered_redirect_uri(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_env: dict[str, str],
) -> None:
    # given auto-login is on
    kakao_env["DEVSTACK_KAKAO_AUTO_LOGIN"] = "4000000001"

    # when an unregistered redirect URI asks
    query = authorize_query(
        kakao_registration, redirect_uri="http://localhost:6666/steal"
    )
    response = kakao_client.get("/oauth/authorize", query_string=query)

    # then no code leaves
    assert response.status_code == 400 and response.location is None


def test_auto_login_naming_no_test_user_is_a_clear_error(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_env: dict[str, str],
) -> None:
    # given a typo in the setting
    kakao_env["DEVSTACK_KAKAO_AUTO_LOGIN"] = "40000000001"

    # when the browser is sent to authorize
    response = kakao_client.get(
        "/oauth/authorize", query_string=authorize_query(kakao_registration)
    )

    # then the page says which ids exist, and nobody is logged in
    assert response.status_code == 500 and response.location is None
    assert "4000000001" in response.get_data(as_text=True)


# -- token endpoint --------------------------------------------------------------


@pytest.mark.parametrize("with_body_credentials", [False, True])
def test_token_request_with_http_basic_is_refused_koe010(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    with_body_credentials: bool,
) -> None:
    # given a client that authenticates with client_secret_basic (and, at worst,
    # with the body too: RFC 6749 section 2.3 allows one method per request)
    code = login(kakao_client, kakao_registration)
    basic = base64.b64encode(
        f"{kakao_registration.client_id}:{kakao_registration.client_secret}".encode()
    ).decode()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": kakao_registration.redirect_uris[0],
    }
    if with_body_credentials:
        form["client_id"] = kakao_registration.client_id
        form["client_secret"] = kakao_registration.client_secret

    # when it exchanges the code
    response = kakao_client.post(
        "/oauth/token", data=form, headers={"Authorization": f"Basic {basic}"}
    )

    # then Kakao refuses the client and says how to authenticate
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert response.json["error_code"] == "KOE010"
    assert "client_secret_basic" in response.json["error_description"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_secret": "wrong"},
        {"client_id": "someone-elses-key"},
        {"client_secret": None},
    ],
)
def test_wrong_or_missing_client_credentials_are_refused_koe010(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    overrides: dict[str, str | None],
) -> None:
    # given a valid code
    code = login(kakao_client, kakao_registration)

    # when it is exchanged with bad credentials
    response = exchange(kakao_client, kakao_registration, code, **overrides)

    # then the client is refused without echoing what it sent
    assert response.status_code == 401
    assert response.json == {
        "error": "invalid_client",
        "error_description": "Bad client credentials",
        "error_code": "KOE010",
    }


def test_reused_code_is_rejected_koe320_and_revokes_the_first_tokens(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given a code that was already exchanged
    code = login(kakao_client, kakao_registration)
    first = exchange(kakao_client, kakao_registration, code).json

    # when it is exchanged again
    again = exchange(kakao_client, kakao_registration, code)

    # then it is refused, and the tokens from the first use stop working
    assert again.status_code == 400
    assert (
        again.json["error"] == "invalid_grant" and again.json["error_code"] == "KOE320"
    )
    assert code not in again.get_data(as_text=True)
    info = kakao_client.get(
        "/v1/oidc/userinfo",
        headers={"Authorization": f"Bearer {first['access_token']}"},
    )
    assert info.status_code == 401
    refreshed = kakao_client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": kakao_registration.client_id,
            "client_secret": kakao_registration.client_secret,
            "refresh_token": first["refresh_token"],
        },
    )
    assert refreshed.json["error_code"] == "KOE322"


@pytest.mark.parametrize(("wait", "status"), [(299, 200), (300, 400)])
def test_code_expires_after_five_minutes_koe320(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_clock: FakeClock,
    wait: int,
    status: int,
) -> None:
    # given a code
    code = login(kakao_client, kakao_registration)

    # when it is exchanged `wait` seconds later
    kakao_clock.advance(wait)
    response = exchange(kakao_client, kakao_registration, code)

    # then it works just inside five minutes and is KOE320 at five minutes
    assert response.status_code == status
    if status == 400:
        assert response.json["error"] == "invalid_grant"
        assert response.json["error_code"] == "KOE320"


def test_unknown_code_is_rejected_koe320(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    response = exchange(kakao_client, kakao_registration, "made-up-code")

    assert response.status_code == 400
    assert response.json["error_code"] == "KOE320"
    assert "made-up-code" not in response.get_data(as_text=True)


def test_redirect_uri_differing_from_authorize_is_rejected_koe006(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    # given a code issued for the registered redirect URI
    code = login(kakao_client, kakao_registration)

    # when it is exchanged naming another one
    response = exchange(
        kakao_client,
        kakao_registration,
        code,
        redirect_uri="http://localhost:6666/steal",
    )

    # then it is refused as invalid_grant KOE006
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    assert response.json["error_code"] == "KOE006"


@pytest.mark.parametrize(
    ("challenge", "verifier", "status"),
    [
        (CHALLENGE, VERIFIER, 200),
        (CHALLENGE, "w" * 43, 400),
        (CHALLENGE, None, 400),
        (None, VERIFIER, 400),
    ],
    ids=[
        "matching",
        "wrong-verifier",
        "missing-verifier",
        "verifier-without-challenge",
    ],
)
def test_pkce_verifier_must_match_the_challenge(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    challenge: str | None,
    verifier: str | None,
    status: int,
) -> None:
    # given a code issued with (or without) an S256 challenge
    method = "S256" if challenge else None
    code = login(
        kakao_client,
        kakao_registration,
        code_challenge=challenge,
        code_challenge_method=method,
    )

    # when it is exchanged with the verifier
    response = exchange(kakao_client, kakao_registration, code, code_verifier=verifier)

    # then only the matching verifier gets tokens (RFC 7636 section 4.6)
    assert response.status_code == status
    if status == 400:
        assert response.json["error"] == "invalid_grant"
        assert response.json["error_code"] == "KOE320"


@pytest.mark.parametrize(
    ("challenge", "method"),
    [(CHALLENGE, "plain"), (CHALLENGE, None), ("short", "S256"), (None, "S256")],
)
def test_authorize_refuses_pkce_other_than_s256(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    challenge: str | None,
    method: str | None,
) -> None:
    query = authorize_query(
        kakao_registration, code_challenge=challenge, code_challenge_method=method
    )

    params = redirect_params(kakao_client.get("/oauth/authorize", query_string=query))

    assert params["error"] == "invalid_request"
    assert "code" not in params


def test_refresh_grant_returns_new_tokens_without_nonce(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_settings: StackSettings,
    kakao_clock: FakeClock,
) -> None:
    # given tokens from a login with a nonce
    first = exchange(
        kakao_client, kakao_registration, login(kakao_client, kakao_registration)
    ).json
    kakao_clock.advance(60)

    # when the refresh token is used
    response = kakao_client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": kakao_registration.client_id,
            "client_secret": kakao_registration.client_secret,
            "refresh_token": first["refresh_token"],
        },
    )

    # then new access and ID tokens come back; the ID token has no nonce, and the
    # refresh token is kept (Kakao renews it only in its last month)
    body = response.json
    assert response.status_code == 200
    assert body["access_token"] != first["access_token"]
    claims = verified_claims(
        kakao_client, kakao_registration, body["id_token"], kakao_settings.kakao_url
    )
    assert "nonce" not in claims
    assert claims["sub"] == "4000000001" and claims["email"] == "minji@example.com"
    assert "refresh_token" not in body
    info = kakao_client.get(
        "/v1/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert info.json["sub"] == "4000000001"


def test_refresh_token_in_its_last_month_is_renewed_and_retired(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    kakao_clock: FakeClock,
) -> None:
    # given a refresh token with under a month left
    first = exchange(
        kakao_client, kakao_registration, login(kakao_client, kakao_registration)
    ).json
    kakao_clock.advance(kakao.REFRESH_TOKEN_SECONDS - 7 * 24 * 3600)
    form = {
        "grant_type": "refresh_token",
        "client_id": kakao_registration.client_id,
        "client_secret": kakao_registration.client_secret,
        "refresh_token": first["refresh_token"],
    }

    # when it is used twice
    renewed = kakao_client.post("/oauth/token", data=form)
    again = kakao_client.post("/oauth/token", data=form)

    # then the first use hands out a new refresh token and the old one stops
    assert renewed.json["refresh_token"] != first["refresh_token"]
    assert renewed.json["refresh_token_expires_in"] == kakao.REFRESH_TOKEN_SECONDS
    assert again.status_code == 400 and again.json["error_code"] == "KOE322"


def test_unsupported_grant_type_is_refused(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    response = kakao_client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": kakao_registration.client_id,
            "client_secret": kakao_registration.client_secret,
        },
    )

    assert response.status_code == 400
    assert response.json["error"] == "unsupported_grant_type"


# -- logout and the rest -----------------------------------------------------------


def test_logout_redirects_to_the_logout_redirect_uri_with_state(
    kakao_client: FlaskClient, kakao_registration: kakao.KakaoRegistration
) -> None:
    response = kakao_client.get(
        "/oauth/logout",
        query_string={
            "client_id": kakao_registration.client_id,
            "logout_redirect_uri": "http://localhost:13001/",
            "state": "bye",
        },
    )

    assert response.status_code == 302
    assert response.location == "http://localhost:13001/?state=bye"


@pytest.mark.parametrize(
    ("client_id", "target", "code"),
    [
        ("someone-elses-key", "http://localhost:13001/", "KOE101"),
        (KAKAO_CLIENT_ID, "https://evil.example/", "KOE007"),
    ],
)
def test_logout_refuses_unknown_clients_and_foreign_targets(
    kakao_client: FlaskClient,
    kakao_registration: kakao.KakaoRegistration,
    client_id: str,
    target: str,
    code: str,
) -> None:
    response = kakao_client.get(
        "/oauth/logout",
        query_string={"client_id": client_id, "logout_redirect_uri": target},
    )

    assert response.location is None
    assert code in response.get_data(as_text=True)


def test_unknown_path_answers_json(kakao_client: FlaskClient) -> None:
    response = kakao_client.get("/v2/user/me")

    assert response.status_code == 404
    assert response.json["error"] == "not_found"


def test_known_limitations_are_warned_at_creation(
    kakao_settings: StackSettings,
) -> None:
    with pytest.warns(kakao.KakaoStandInWarning) as caught:
        kakao.create_app(kakao_settings, env={})

    message = str(caught[0].message)
    assert kakao.KNOWN_LIMITATIONS and all(
        gap in message for gap in kakao.KNOWN_LIMITATIONS
    )


def test_consent_form_fields_mirror_the_page_form() -> None:
    query = {
        "client_id": "k",
        "redirect_uri": "r",
        "scope": "openid",
        "state": "s",
        "x": "y",
    }

    agree = kakao.consent_form_fields(query, "4000000002", share_email=False)
    cancel = kakao.consent_form_fields(query, "4000000002", decision="cancel")

    assert agree == {
        "client_id": "k",
        "redirect_uri": "r",
        "scope": "openid",
        "state": "s",
        "decision": "agree",
        "user_id": "4000000002",
    }
    assert cancel == {
        "client_id": "k",
        "redirect_uri": "r",
        "scope": "openid",
        "state": "s",
        "decision": "cancel",
    }
    with pytest.raises(ValueError):
        kakao.consent_form_fields(query, "4000000001", decision="maybe")
