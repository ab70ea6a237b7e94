"""Provisioning creates in moto what the Terraform creates, once, and reports it."""

from __future__ import annotations

import json
import logging
import stat
from dataclasses import replace
from typing import Any

import pytest
from chalicelib.config import PARAMETERS, AppConfig

from devstack import provision as prov
from devstack.aws import NotLoopbackError, aws_client
from devstack.kakao import ensure_registration
from devstack.settings import StackSettings
from scripts.outputs import OUTPUTS


@pytest.fixture
def settings(
    aws_server: object, stack_settings: StackSettings, tmp_path_factory: Any
) -> StackSettings:
    """A stage of its own on the session's moto, so recreating touches no other test."""
    return replace(
        stack_settings, stage="provtest", state_dir=tmp_path_factory.mktemp("prov")
    )


def values(outputs: dict[str, Any]) -> dict[str, Any]:
    return {name: item["value"] for name, item in outputs.items()}


def ssm_parameters(settings: StackSettings) -> dict[str, dict[str, Any]]:
    ssm = aws_client("ssm", settings)
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=settings.ssm_prefix, Recursive=True, WithDecryption=True
    )
    return {
        item["Name"].removeprefix(settings.ssm_prefix): item
        for page in pages
        for item in page["Parameters"]
    }


def provision_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "devstack.provision"]


def describe_client(settings: StackSettings, outputs: dict[str, Any]) -> dict[str, Any]:
    found = aws_client("cognito-idp", settings).describe_user_pool_client(
        UserPoolId=outputs["user_pool_id"], ClientId=outputs["app_client_id"]
    )
    return dict(found["UserPoolClient"])


def test_outputs_file_has_terraform_shape_and_only_its_owner_may_read_it(
    settings: StackSettings,
) -> None:
    # given / when
    outputs = prov.provision(settings)

    # then
    on_disk = json.loads(settings.outputs_file.read_text())
    assert on_disk == outputs
    assert set(on_disk) == set(OUTPUTS)
    for name, spec in OUTPUTS.items():
        assert on_disk[name]["sensitive"] is spec.sensitive, name
        assert on_disk[name]["type"] == spec.type, name
    assert [name for name, item in on_disk.items() if item["sensitive"]] == [
        "app_client_secret"
    ]
    assert stat.S_IMODE(settings.outputs_file.stat().st_mode) == 0o600
    assert on_disk["app_client_secret"]["value"]
    assert on_disk["callback_urls"]["value"] == [
        settings.callback_url,
        settings.frontend_url + "/",
    ]
    assert on_disk["sign_out_urls"]["value"] == [settings.sign_out_url]
    assert on_disk["identity_providers"]["value"] == ["Kakao"]
    assert on_disk["lambda_role_arn"]["value"].startswith("arn:aws:iam::")
    assert isinstance(on_disk["app_public_config"]["value"], dict)


def test_second_run_finds_everything_and_changes_nothing(
    settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    first = values(prov.provision(settings))
    versions = {
        name: item["Version"] for name, item in ssm_parameters(settings).items()
    }

    # when
    with caplog.at_level(logging.INFO, logger="devstack.provision"):
        second = values(prov.provision(settings))

    # then
    assert second == first
    assert provision_log(caplog) == []
    after = {name: item["Version"] for name, item in ssm_parameters(settings).items()}
    assert after == versions
    pools = aws_client("cognito-idp", settings).list_user_pools(MaxResults=60)
    named = [p for p in pools["UserPools"] if p["Name"] == "kakao-login-provtest"]
    assert len(named) == 1


def test_recreate_replaces_pool_and_client_and_ssm_follows(
    settings: StackSettings,
) -> None:
    # given
    before = values(prov.provision(settings))

    # when
    after = values(prov.provision(settings, recreate=True))

    # then
    assert after["user_pool_id"] != before["user_pool_id"]
    assert after["app_client_id"] != before["app_client_id"]
    assert after["app_client_secret"] != before["app_client_secret"]
    parameters = ssm_parameters(settings)
    assert parameters["user_pool_id"]["Value"] == after["user_pool_id"]
    assert parameters["client_id"]["Value"] == after["app_client_id"]
    assert parameters["client_secret"]["Value"] == after["app_client_secret"]
    assert parameters["issuer"]["Value"].endswith("/" + after["user_pool_id"])
    cognito = aws_client("cognito-idp", settings)
    domain = cognito.describe_user_pool_domain(Domain=settings.cognito_domain_prefix)
    assert domain["DomainDescription"]["UserPoolId"] == after["user_pool_id"]
    with pytest.raises(cognito.exceptions.ResourceNotFoundException):
        cognito.describe_user_pool(UserPoolId=before["user_pool_id"])


def test_every_api_parameter_is_written_with_its_type(settings: StackSettings) -> None:
    # given / when
    outputs = values(prov.provision(settings))

    # then
    parameters = ssm_parameters(settings)
    assert set(parameters) == set(PARAMETERS)
    for name, secret in PARAMETERS.items():
        wanted = "SecureString" if secret else "String"
        assert parameters[name]["Type"] == wanted, name
    assert parameters["client_secret"]["Type"] == "SecureString"
    short = {name: item["Value"] for name, item in parameters.items()}
    config = AppConfig.from_parameters(settings.region, short)
    assert config.issuer == (
        f"https://cognito-idp.{settings.region}.amazonaws.com/{outputs['user_pool_id']}"
    )
    assert config.jwks_url == (
        f"{settings.aws_url}/{outputs['user_pool_id']}/.well-known/jwks.json"
    )
    assert config.callback_url == settings.callback_url
    assert config.logout_redirect_url == settings.sign_out_url
    assert config.frontend_url == settings.frontend_url + "/"
    assert config.allowed_origins == (settings.frontend_url,)
    assert config.identity_providers == ("Kakao",)
    assert config.token_delivery == "bff"
    assert config.all_loopback


def test_sessions_table_is_keyed_by_pk_on_demand_with_ttl(
    settings: StackSettings,
) -> None:
    # given / when
    prov.provision(settings)

    # then
    dynamodb = aws_client("dynamodb", settings)
    table = dynamodb.describe_table(TableName=settings.sessions_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"}
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=settings.sessions_table)
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires_at",
    }


def test_app_client_allows_only_the_code_flow_to_registered_urls(
    settings: StackSettings,
) -> None:
    # given / when
    client = describe_client(settings, values(prov.provision(settings)))

    # then
    assert client["ClientName"] == "kakao-login-provtest-web"
    assert client["ClientSecret"]
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    assert client["CallbackURLs"] == [
        settings.callback_url,
        settings.frontend_url + "/",
    ]
    assert client["LogoutURLs"] == [settings.sign_out_url]
    assert client["SupportedIdentityProviders"] == ["Kakao"]
    assert "ALLOW_REFRESH_TOKEN_AUTH" not in client["ExplicitAuthFlows"]
    assert client["RefreshTokenRotation"] == {
        "Feature": "ENABLED",
        "RetryGracePeriodSeconds": settings.refresh_rotation_grace_seconds,
    }
    assert client["EnableTokenRevocation"] is True
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert (
        client["AccessTokenValidity"],
        client["IdTokenValidity"],
        client["RefreshTokenValidity"],
    ) == (60, 60, 1)
    assert client["TokenValidityUnits"] == {
        "AccessToken": "minutes",
        "IdToken": "minutes",
        "RefreshToken": "days",
    }


def test_default_stack_registers_the_exact_local_callback_urls() -> None:
    # given the default ports
    settings = StackSettings()

    # then
    assert prov.callback_urls(settings) == [
        "http://localhost:8000/auth/callback",
        "http://localhost:3001/",
    ]


def test_pool_names_users_by_provider_and_sub_and_resists_deletion(
    settings: StackSettings,
) -> None:
    # given / when
    outputs = values(prov.provision(settings))

    # then
    cognito = aws_client("cognito-idp", settings)
    pool = cognito.describe_user_pool(UserPoolId=outputs["user_pool_id"])["UserPool"]
    assert pool["Name"] == "kakao-login-provtest"
    assert not pool.get("UsernameAttributes")
    assert not pool.get("AliasAttributes")
    assert pool["DeletionProtection"] == "ACTIVE"
    schema = {item["Name"]: item for item in pool["SchemaAttributes"]}
    assert schema["email"]["Required"] is False
    assert schema["email"]["Mutable"] is True
    assert schema["nickname"]["Required"] is False
    assert schema["picture"]["Required"] is False


def test_kakao_is_an_oidc_provider_with_the_registered_app_key(
    settings: StackSettings,
) -> None:
    # given / when
    outputs = values(prov.provision(settings))

    # then
    registration = ensure_registration(settings)
    provider = aws_client("cognito-idp", settings).describe_identity_provider(
        UserPoolId=outputs["user_pool_id"], ProviderName="Kakao"
    )["IdentityProvider"]
    assert provider["ProviderType"] == "OIDC"
    assert provider["ProviderDetails"] == {
        "client_id": registration.client_id,
        "client_secret": registration.client_secret,
        "oidc_issuer": settings.kakao_url,
        "authorize_scopes": "openid profile_nickname account_email",
        "attributes_request_method": "GET",
    }
    assert provider["AttributeMapping"] == {
        "username": "sub",
        "nickname": "nickname",
        "email": "email",
        "picture": "picture",
    }


def test_drifted_client_setting_is_corrected_in_place(
    settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # given someone allowed the implicit flow by hand
    outputs = values(prov.provision(settings))
    aws_client("cognito-idp", settings).update_user_pool_client(
        UserPoolId=outputs["user_pool_id"],
        ClientId=outputs["app_client_id"],
        AllowedOAuthFlows=["code", "implicit"],
    )

    # when
    with caplog.at_level(logging.INFO, logger="devstack.provision"):
        again = values(prov.provision(settings))

    # then
    assert again["app_client_id"] == outputs["app_client_id"]
    assert describe_client(settings, again)["AllowedOAuthFlows"] == ["code"]
    assert any("updated app client" in line for line in provision_log(caplog))


def test_cognito_login_flag_adds_the_password_provider_after_kakao(
    settings: StackSettings,
) -> None:
    # when
    outputs = values(prov.provision(settings, enable_cognito_login=True))

    # then
    assert outputs["identity_providers"] == ["Kakao", "COGNITO"]
    client = describe_client(settings, outputs)
    assert client["SupportedIdentityProviders"] == ["Kakao", "COGNITO"]
    assert ssm_parameters(settings)["identity_providers"]["Value"] == "Kakao,COGNITO"


def test_a_non_loopback_aws_endpoint_is_refused() -> None:
    # given settings whose AWS URL is not loopback
    class Remote(StackSettings):
        @property
        def aws_url(self) -> str:
            return "https://ssm.ap-northeast-2.amazonaws.com"

    # when / then
    with pytest.raises(NotLoopbackError):
        aws_client("ssm", Remote())
