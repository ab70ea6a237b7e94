"""The Cognito hosted-UI stand-in rejects what Cognito rejects, and logs people in.

The stand-in is served on its own port (Kakao redirects the browser to it);
direct calls to its endpoints use the same app's test client, so both see the
same codes and refresh tokens.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from devstack.aws import aws_client
from devstack.flows import authorize_url, pkce_pair, scripted_login
from devstack.kakao import ensure_registration
from devstack.settings import StackSettings
from tests.devstack.conftest import ShiftableClock

pytestmark = pytest.mark.filterwarnings(
    "ignore::devstack.cognito.StandInWarning",
    "ignore::devstack.kakao.KakaoStandInWarning",
)

MINJI = "4000000001"
JOON = "4000000002"


@pytest.fixture
def ui(hosted_ui: Flask, hosted_ui_clock: ShiftableClock) -> Iterator[FlaskClient]:
    yield hosted_ui.test_client()
    hosted_ui_clock.offset = 0.0


@pytest.fixture
def app_client(provisioned: dict[str, Any]) -> dict[str, str]:
    return {
        "id": provisioned["app_client_id"],
        "secret": provisioned["app_client_secret"],
        "pool_id": provisioned["user_pool_id"],
        "issuer": provisioned["cognito_issuer"],
        "jwks_url": provisioned["jwks_url"],
    }


@pytest.fixture
def make_client(
    provisioned: dict[str, Any], stack_settings: StackSettings
) -> Iterator[Callable[..., dict[str, str]]]:
    """Another app client in the pool, like the provisioned one but for overrides."""
    cognito = aws_client("cognito-idp", stack_settings)
    pool_id = provisioned["user_pool_id"]
    made: list[str] = []

    def make(**overrides: Any) -> dict[str, str]:
        described = cognito.describe_user_pool_client(
            UserPoolId=pool_id, ClientId=provisioned["app_client_id"]
        )["UserPoolClient"]
        wanted = {
            key: described[key]
            for key in (
                "AllowedOAuthFlows",
                "AllowedOAuthFlowsUserPoolClient",
                "AllowedOAuthScopes",
                "CallbackURLs",
                "LogoutURLs",
                "SupportedIdentityProviders",
                "EnableTokenRevocation",
                "RefreshTokenRotation",
            )
        }
        created = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=f"test-{len(made)}",
            GenerateSecret=True,
            **{**wanted, **overrides},
        )["UserPoolClient"]
        made.append(created["ClientId"])
        return {"id": created["ClientId"], "secret": created["ClientSecret"]}

    yield make
    for client_id in made:
        cognito.delete_user_pool_client(UserPoolId=pool_id, ClientId=client_id)


# --- helpers


def authorize_query(
    settings: StackSettings, client_id: str, **overrides: str | None
) -> str:
    query: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": settings.callback_url,
        "scope": "openid email profile",
        "state": "app-state",
        "identity_provider": "Kakao",
        **overrides,
    }
    present = {name: value for name, value in query.items() if value is not None}
    return "/oauth2/authorize?" + urlencode(present)


def redirect_params(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return {name: items[0] for name, items in query.items()}


def login(
    settings: StackSettings,
    client_id: str,
    user_id: str = MINJI,
    **options: Any,
) -> dict[str, str]:
    """A full federated login over HTTP; the query the app's callback receives."""
    url = authorize_url(settings, client_id, settings.callback_url, **options)
    landed = scripted_login(url, user_id=user_id)
    assert landed.startswith(settings.callback_url + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}


def basic(client: dict[str, str], secret: str | None = None) -> dict[str, str]:
    raw = f"{client['id']}:{client['secret'] if secret is None else secret}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


def redeem(
    ui: FlaskClient,
    settings: StackSettings,
    client: dict[str, str],
    code: str,
    **fields: str,
) -> TestResponse:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": settings.callback_url,
        **fields,
    }
    return ui.post("/oauth2/token", data=form, headers=basic(client))


def refresh(
    ui: FlaskClient, client: dict[str, str], refresh_token: str
) -> TestResponse:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return ui.post("/oauth2/token", data=form, headers=basic(client))


def error_of(response: TestResponse, status: int = 400) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    return str(response.get_json()["error"])


def tokens_for(
    ui: FlaskClient, settings: StackSettings, client: dict[str, str], **options: Any
) -> dict[str, Any]:
    code = login(settings, client["id"], **options)["code"]
    response = redeem(ui, settings, client, code)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def verified(token: str, app_client: dict[str, str], **options: Any) -> dict[str, Any]:
    """Claims verified with the key moto publishes for the pool."""
    key = jwt.PyJWKClient(app_client["jwks_url"]).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        issuer=app_client["issuer"],
        **options,
    )
    return claims


# --- /oauth2/authorize


def test_unknown_client_gets_an_error_page_and_no_redirect(
    ui: FlaskClient, stack_settings: StackSettings
) -> None:
    # when
    response = ui.get(authorize_query(stack_settings, "unknownclient123"))

    # then
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "invalid_request" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://attacker.example/callback",
        "http://localhost:{api}/auth/callback/",
        "http://127.0.0.1:{api}/auth/callback",
        "http://localhost:{api}/auth/callback?next=x",
    ],
)
def test_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(
    ui: FlaskClient,
    stack_settings: StackSettings,
    app_client: dict[str, str],
    redirect_uri: str,
) -> None:
    # given a redirect URI that differs from the registered one
    uri = redirect_uri.format(api=stack_settings.api_port)

    # when
    response = ui.get(
        authorize_query(stack_settings, app_client["id"], redirect_uri=uri)
    )

    # then
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "redirect_mismatch" in response.get_data(as_text=True)


def test_implicit_response_type_is_redirected_as_unauthorized_client(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    response = ui.get(
        authorize_query(stack_settings, app_client["id"], response_type="token")
    )

    params = redirect_params(response)
    assert params["error"] == "unauthorized_client"
    assert params["state"] == "app-state"
    assert response.headers["Location"].startswith(stack_settings.callback_url + "?")


def test_client_without_the_code_flow_is_redirected_as_unauthorized_client(
    ui: FlaskClient,
    stack_settings: StackSettings,
    make_client: Callable[..., dict[str, str]],
) -> None:
    # given a client that only allows the implicit flow
    client = make_client(AllowedOAuthFlows=["implicit"])

    # when
    response = ui.get(authorize_query(stack_settings, client["id"]))

    # then
    assert redirect_params(response)["error"] == "unauthorized_client"


def test_scope_the_client_does_not_allow_is_redirected_as_invalid_scope(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    response = ui.get(
        authorize_query(
            stack_settings,
            app_client["id"],
            scope="openid aws.cognito.signin.user.admin",
        )
    )

    params = redirect_params(response)
    assert params["error"] == "invalid_scope"
    assert params["state"] == "app-state"


def test_identity_provider_not_enabled_on_the_client_is_invalid_request(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    response = ui.get(
        authorize_query(stack_settings, app_client["id"], identity_provider="Google")
    )

    assert redirect_params(response)["error"] == "invalid_request"


def test_plain_pkce_method_is_invalid_request(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    response = ui.get(
        authorize_query(
            stack_settings,
            app_client["id"],
            code_challenge="x" * 43,
            code_challenge_method="plain",
        )
    )

    assert redirect_params(response)["error"] == "invalid_request"


def test_authorize_sends_the_browser_to_kakao_with_the_providers_own_values(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    # when
    response = ui.get(
        authorize_query(stack_settings, app_client["id"], nonce="app-nonce")
    )

    # then
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{stack_settings.kakao_url}/oauth/authorize?")
    params = redirect_params(response)
    registration = ensure_registration(stack_settings)
    assert params["client_id"] == registration.client_id
    assert params["redirect_uri"] == f"{stack_settings.cognito_url}/oauth2/idpresponse"
    assert params["scope"] == "openid profile_nickname account_email"
    assert params["state"] != "app-state"
    assert params["nonce"] != "app-nonce"
    assert app_client["secret"] not in location


def test_client_with_several_providers_gets_a_page_listing_them(
    ui: FlaskClient,
    stack_settings: StackSettings,
    make_client: Callable[..., dict[str, str]],
) -> None:
    client = make_client(SupportedIdentityProviders=["Kakao", "COGNITO"])

    response = ui.get(
        authorize_query(stack_settings, client["id"], identity_provider=None)
    )

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "identity_provider=Kakao" in page
    assert "identity_provider=COGNITO" in page


def test_kakao_as_the_only_provider_needs_no_identity_provider_parameter(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    response = ui.get(
        authorize_query(stack_settings, app_client["id"], identity_provider=None)
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith(stack_settings.kakao_url)


def test_idpresponse_with_an_unknown_state_gets_an_error_page_and_no_redirect(
    ui: FlaskClient,
) -> None:
    response = ui.get("/oauth2/idpresponse?code=abc&state=forged")

    assert response.status_code == 400
    assert "Location" not in response.headers


# --- the whole federated login


def test_federated_login_gives_tokens_that_motos_jwks_verifies(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    # given a login with state, nonce and PKCE
    verifier, challenge = pkce_pair()
    landed = login(
        stack_settings,
        app_client["id"],
        state="s-123",
        nonce="n-456",
        code_challenge=challenge,
    )
    assert landed["state"] == "s-123"

    # when the app redeems the code
    response = redeem(
        ui, stack_settings, app_client, landed["code"], code_verifier=verifier
    )

    # then
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"]
    id_claims = verified(body["id_token"], app_client, audience=app_client["id"])
    assert id_claims["token_use"] == "id"
    assert id_claims["cognito:username"] == f"Kakao_{MINJI}"
    assert id_claims["nonce"] == "n-456"
    assert id_claims["email"] == "minji@example.com"
    assert id_claims["nickname"] == "Minji Kim"
    [identity] = id_claims["identities"]
    assert identity["providerName"] == "Kakao"
    assert identity["userId"] == MINJI
    assert identity["providerType"] == "OIDC"
    access = verified(body["access_token"], app_client)
    assert access["token_use"] == "access"
    assert "aud" not in access
    assert access["client_id"] == app_client["id"]
    assert access["username"] == f"Kakao_{MINJI}"
    assert access["scope"] == "openid email profile"
    assert access["sub"] == id_claims["sub"]


def test_user_without_an_email_gets_no_email_claim(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    body = tokens_for(ui, stack_settings, app_client, user_id=JOON)

    claims = verified(body["id_token"], app_client, audience=app_client["id"])
    assert claims["cognito:username"] == f"Kakao_{JOON}"
    assert claims["nickname"] == "Joon Park"
    assert "email" not in claims
    user = aws_client("cognito-idp", stack_settings).admin_get_user(
        UserPoolId=app_client["pool_id"], Username=f"Kakao_{JOON}"
    )
    assert "email" not in {item["Name"] for item in user["UserAttributes"]}


def test_cancel_at_kakao_reaches_the_app_as_access_denied(
    stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    url = authorize_url(
        stack_settings, app_client["id"], stack_settings.callback_url, state="s-9"
    )

    landed = scripted_login(url, decision="cancel")

    params = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
    assert params["error"] == "access_denied"
    assert params["state"] == "s-9"
    assert "code" not in params


def test_userinfo_answers_the_users_attributes_for_a_valid_access_token(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    body = tokens_for(ui, stack_settings, app_client)

    response = ui.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )

    assert response.status_code == 200
    info = response.get_json()
    assert info["username"] == f"Kakao_{MINJI}"
    assert info["email"] == "minji@example.com"
    assert info["nickname"] == "Minji Kim"


# --- /oauth2/token


@pytest.mark.parametrize("how", ["basic", "body", "missing"])
def test_wrong_or_missing_client_secret_is_invalid_client(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str], how: str
) -> None:
    # given a real code, so only client authentication can fail
    code = login(stack_settings, app_client["id"])["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": stack_settings.callback_url,
    }

    # when
    if how == "basic":
        response = ui.post(
            "/oauth2/token", data=form, headers=basic(app_client, "wrong-secret")
        )
    elif how == "body":
        form |= {"client_id": app_client["id"], "client_secret": "wrong-secret"}
        response = ui.post("/oauth2/token", data=form)
    else:
        response = ui.post("/oauth2/token", data=form | {"client_id": app_client["id"]})

    # then
    assert error_of(response) == "invalid_client"
    assert app_client["secret"] not in response.get_data(as_text=True)


def test_client_secret_in_the_body_is_accepted(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    code = login(stack_settings, app_client["id"])["code"]

    response = ui.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": stack_settings.callback_url,
            "client_id": app_client["id"],
            "client_secret": app_client["secret"],
        },
    )

    assert response.status_code == 200


def test_reused_code_is_rejected_and_revokes_what_it_gave(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    # given a code already redeemed once
    code = login(stack_settings, app_client["id"])["code"]
    first = redeem(ui, stack_settings, app_client, code).get_json()

    # when
    second = redeem(ui, stack_settings, app_client, code)

    # then
    assert error_of(second) == "invalid_grant"
    assert error_of(refresh(ui, app_client, first["refresh_token"])) == "invalid_grant"


def test_code_older_than_five_minutes_is_rejected(
    ui: FlaskClient,
    stack_settings: StackSettings,
    app_client: dict[str, str],
    hosted_ui_clock: ShiftableClock,
) -> None:
    code = login(stack_settings, app_client["id"])["code"]

    hosted_ui_clock.advance(301)
    response = redeem(ui, stack_settings, app_client, code)

    assert error_of(response) == "invalid_grant"


def test_code_just_under_five_minutes_old_is_accepted(
    ui: FlaskClient,
    stack_settings: StackSettings,
    app_client: dict[str, str],
    hosted_ui_clock: ShiftableClock,
) -> None:
    code = login(stack_settings, app_client["id"])["code"]

    hosted_ui_clock.advance(295)
    response = redeem(ui, stack_settings, app_client, code)

    assert response.status_code == 200


@pytest.mark.parametrize("verifier", ["wrong", "w" * 43, None])
def test_wrong_or_missing_code_verifier_is_invalid_grant(
    ui: FlaskClient,
    stack_settings: StackSettings,
    app_client: dict[str, str],
    verifier: str | None,
) -> None:
    _, challenge = pkce_pair()
    code = login(stack_settings, app_client["id"], code_challenge=challenge)["code"]

    fields = {} if verifier is None else {"code_verifier": verifier}
    response = redeem(ui, stack_settings, app_client, code, **fields)

    assert error_of(response) == "invalid_grant"


def test_redirect_uri_differing_from_authorize_is_invalid_grant(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    # given a code issued for the API's callback
    code = login(stack_settings, app_client["id"])["code"]

    # when redeemed for the front end's (also registered) callback
    response = redeem(
        ui,
        stack_settings,
        app_client,
        code,
        redirect_uri=stack_settings.frontend_url + "/",
    )

    # then
    assert error_of(response) == "invalid_grant"


def test_code_issued_to_another_client_is_invalid_grant(
    ui: FlaskClient,
    stack_settings: StackSettings,
    app_client: dict[str, str],
    make_client: Callable[..., dict[str, str]],
) -> None:
    other = make_client()
    code = login(stack_settings, app_client["id"])["code"]

    response = redeem(ui, stack_settings, other, code)

    assert error_of(response) == "invalid_grant"


def test_unknown_grant_type_is_unsupported_grant_type(
    ui: FlaskClient, app_client: dict[str, str]
) -> None:
    response = ui.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": "a", "password": "b"},
        headers=basic(app_client),
    )

    assert error_of(response) == "unsupported_grant_type"


def test_client_credentials_on_a_user_client_is_unauthorized_client(
    ui: FlaskClient, app_client: dict[str, str]
) -> None:
    response = ui.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic(app_client),
    )

    assert error_of(response) == "unauthorized_client"


# --- refresh and revocation


def test_refresh_rotates_and_the_old_token_works_only_for_the_grace_period(
    ui: FlaskClient,
    stack_settings: StackSettings,
    app_client: dict[str, str],
    hosted_ui_clock: ShiftableClock,
) -> None:
    # given
    old = tokens_for(ui, stack_settings, app_client)["refresh_token"]

    # when
    rotated = refresh(ui, app_client, old)

    # then a new refresh token and fresh tokens come back
    assert rotated.status_code == 200
    body = rotated.get_json()
    assert body["refresh_token"] not in (None, old)
    claims = verified(body["id_token"], app_client, audience=app_client["id"])
    assert claims["cognito:username"] == f"Kakao_{MINJI}"
    assert "nonce" not in claims
    # the old one still works inside the grace period, not after it
    assert refresh(ui, app_client, old).status_code == 200
    hosted_ui_clock.advance(stack_settings.refresh_rotation_grace_seconds + 1)
    assert error_of(refresh(ui, app_client, old)) == "invalid_grant"
    assert refresh(ui, app_client, body["refresh_token"]).status_code == 200


def test_refresh_token_of_another_client_is_invalid_grant(
    ui: FlaskClient,
    stack_settings: StackSettings,
    app_client: dict[str, str],
    make_client: Callable[..., dict[str, str]],
) -> None:
    other = make_client()
    token = tokens_for(ui, stack_settings, app_client)["refresh_token"]

    assert error_of(refresh(ui, other, token)) == "invalid_grant"


def test_revoked_refresh_token_is_rejected_and_its_access_token_too(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    # given
    body = tokens_for(ui, stack_settings, app_client)

    # when
    revoked = ui.post(
        "/oauth2/revoke",
        data={"token": body["refresh_token"]},
        headers=basic(app_client),
    )

    # then
    assert revoked.status_code == 200
    assert revoked.get_data() == b""
    assert error_of(refresh(ui, app_client, body["refresh_token"])) == "invalid_grant"
    info = ui.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert error_of(info, 401) == "invalid_token"


def test_revoking_an_access_token_is_unsupported_token_type(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    body = tokens_for(ui, stack_settings, app_client)

    response = ui.post(
        "/oauth2/revoke",
        data={"token": body["access_token"]},
        headers=basic(app_client),
    )

    assert error_of(response) == "unsupported_token_type"


def test_revoke_with_a_wrong_secret_is_invalid_client(
    ui: FlaskClient, app_client: dict[str, str]
) -> None:
    response = ui.post(
        "/oauth2/revoke", data={"token": "anything"}, headers=basic(app_client, "nope")
    )

    assert error_of(response) == "invalid_client"


def test_revoke_on_a_client_without_revocation_is_refused(
    ui: FlaskClient, make_client: Callable[..., dict[str, str]]
) -> None:
    client = make_client(EnableTokenRevocation=False)

    response = ui.post("/oauth2/revoke", data={"token": "x"}, headers=basic(client))

    assert error_of(response) == "unauthorized_client"


# --- /logout and /oauth2/userInfo


def test_logout_redirects_to_a_registered_sign_out_url(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    query = urlencode(
        {"client_id": app_client["id"], "logout_uri": stack_settings.sign_out_url}
    )

    response = ui.get(f"/logout?{query}")

    assert response.status_code == 302
    assert response.headers["Location"] == stack_settings.sign_out_url


@pytest.mark.parametrize(
    "logout_uri", ["https://attacker.example/", "http://localhost:{port}"]
)
def test_unregistered_logout_uri_gets_an_error_page_and_no_redirect(
    ui: FlaskClient,
    stack_settings: StackSettings,
    app_client: dict[str, str],
    logout_uri: str,
) -> None:
    uri = logout_uri.format(port=stack_settings.frontend_port)
    query = urlencode({"client_id": app_client["id"], "logout_uri": uri})

    response = ui.get(f"/logout?{query}")

    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize("header", [None, "Bearer not-a-jwt", "Basic abc"])
def test_userinfo_without_a_valid_access_token_is_invalid_token(
    ui: FlaskClient, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}

    response = ui.get("/oauth2/userInfo", headers=headers)

    assert error_of(response, 401) == "invalid_token"


def test_userinfo_refuses_an_expired_access_token(
    ui: FlaskClient,
    stack_settings: StackSettings,
    app_client: dict[str, str],
    hosted_ui_clock: ShiftableClock,
) -> None:
    body = tokens_for(ui, stack_settings, app_client)

    hosted_ui_clock.advance(3601)
    response = ui.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )

    assert error_of(response, 401) == "invalid_token"


def test_userinfo_refuses_an_id_token(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    body = tokens_for(ui, stack_settings, app_client)

    response = ui.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {body['id_token']}"}
    )

    assert error_of(response, 401) == "invalid_token"


# --- discovery


def test_discovery_names_the_current_pool_and_the_same_key_as_moto(
    ui: FlaskClient, stack_settings: StackSettings, app_client: dict[str, str]
) -> None:
    document = ui.get("/.well-known/openid-configuration").get_json()
    own_keys = ui.get("/.well-known/jwks.json").get_json()["keys"]
    moto_keys = requests.get(app_client["jwks_url"], timeout=5).json()["keys"]

    assert document["issuer"] == app_client["issuer"]
    assert document["token_endpoint"] == f"{stack_settings.cognito_url}/oauth2/token"
    assert [(k["kid"], k["n"]) for k in own_keys] == [
        (k["kid"], k["n"]) for k in moto_keys
    ]
