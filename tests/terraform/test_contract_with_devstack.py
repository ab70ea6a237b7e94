"""The offline stack provisions in moto what ``infra/terraform`` declares.

``devstack.provision`` stands in for ``terraform apply`` offline, so every
decision the API depends on must be the same on both sides: flows, scopes,
providers, attribute mapping, token lifetimes and units, how the callback and
sign-out URLs are derived, SSM names and types, the sessions table's key and
TTL attribute, and the output names. URLs differ (loopback offline), so the
Terraform derivations are evaluated with the offline stack's inputs and the
results compared with what moto holds.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from devstack.aws import aws_client
from devstack.provision import provision
from devstack.settings import BIND_HOST, StackSettings
from tests.terraform.structure import TERRAFORM_DIR, Body, Stack, block

# A stage name of its own: moto's state is shared by the whole test process.
STAGE = "tfcontract"
UNITS = {
    "access_token": "AccessToken",
    "id_token": "IdToken",
    "refresh_token": "RefreshToken",
}
VALIDITY = {
    "access_token_validity": "AccessTokenValidity",
    "id_token_validity": "IdTokenValidity",
    "refresh_token_validity": "RefreshTokenValidity",
}


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((BIND_HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack.load(TERRAFORM_DIR)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    aws, cognito, kakao, api, frontend = _free_ports(5)
    server = ThreadedMotoServer(ip_address=BIND_HOST, port=aws, verbose=False)
    server.start()
    try:
        yield StackSettings(
            aws_port=aws,
            cognito_port=cognito,
            kakao_port=kakao,
            api_port=api,
            frontend_port=frontend,
            stage=STAGE,
            state_dir=tmp_path_factory.mktemp("devstack"),
        )
    finally:
        server.stop()


def _redacted(values: dict[str, Any], secret: str) -> dict[str, Any]:
    # Fixtures show up in failure reports: never let a secret reach one.
    return {**values, secret: "<redacted>"} if values.get(secret) else dict(values)


@pytest.fixture(scope="module")
def outputs(settings: StackSettings) -> dict[str, Any]:
    written = provision(settings)
    secret = written["app_client_secret"]
    return {**written, "app_client_secret": _redacted(secret, "value")}


@pytest.fixture(scope="module")
def client(settings: StackSettings, outputs: dict[str, Any]) -> Body:
    described = aws_client("cognito-idp", settings).describe_user_pool_client(
        UserPoolId=outputs["user_pool_id"]["value"],
        ClientId=outputs["app_client_id"]["value"],
    )
    found: Body = _redacted(described["UserPoolClient"], "ClientSecret")
    return found


class Derivation:
    """Evaluates the Terraform's string and URL-list locals for given inputs.

    It knows the few forms ``locals.tf`` uses; any other form fails the test,
    which is the cue to teach it the new derivation rather than to skip it.
    """

    def __init__(self, stack: Stack, inputs: dict[str, Any], ids: dict[str, str]):
        defaults = {n: b.get("default") for n, b in stack.variables.items()}
        self.variables = {**defaults, **inputs}
        self.locals = stack.locals
        self.ids = ids

    def string(self, template: str) -> str:
        return re.sub(r"\$\{([^{}]*)\}", lambda m: self._segment(m.group(1)), template)

    def url_list(self, local: str) -> list[str]:
        expression = str(self.locals[local])
        shape = re.fullmatch(
            r"\$\{distinct\(concat\(\[([^\]]*)\], var\.(\w+)\)\)\}", expression
        )
        assert shape, f"local.{local} has a new shape: teach Derivation about it"
        items = [self._segment(item.strip()) for item in shape.group(1).split(",")]
        extra = list(self.variables[shape.group(2)])
        return list(dict.fromkeys(items + extra))

    def _segment(self, expression: str) -> str:
        if expression.startswith("local."):
            return self.string(str(self.locals[expression.removeprefix("local.")]))
        if expression.startswith("var."):
            return str(self.variables[expression.removeprefix("var.")])
        first = re.fullmatch(r"coalesce\((var\.\w+), (local\.\w+)\)", expression)
        if first:
            given = self.variables[first.group(1).removeprefix("var.")]
            return str(given) if given else self._segment(first.group(2))
        if expression in self.ids:
            return self.ids[expression]
        trimmed = re.fullmatch(r'trimsuffix\((var\.\w+), "(.*)"\)', expression)
        if trimmed:
            return self._segment(trimmed.group(1)).removesuffix(trimmed.group(2))
        number = re.fullmatch(r"tostring\((var\.\w+)\)", expression)
        if number:
            return self._segment(number.group(1))
        raise AssertionError(f"unknown expression {expression!r}: teach Derivation")


@pytest.fixture(scope="module")
def derivation(
    stack: Stack, settings: StackSettings, outputs: dict[str, Any]
) -> Derivation:
    offline_inputs = {
        "project": settings.project,
        "stage": settings.stage,
        "region": settings.region,
        "api_base_url": settings.api_url,
        "frontend_url": settings.frontend_url,
    }
    ids = {
        "aws_cognito_user_pool.this.id": outputs["user_pool_id"]["value"],
        "aws_cognito_user_pool_client.web.id": outputs["app_client_id"]["value"],
    }
    return Derivation(stack, offline_inputs, ids)


def _client_hcl(stack: Stack) -> Body:
    return stack.resource("aws_cognito_user_pool_client", "web")


def _default(stack: Stack, reference: Any) -> Any:
    """A literal, or the default of the variable it names."""
    match = re.fullmatch(r"\$\{var\.(\w+)\}", str(reference))
    return stack.variables[match.group(1)]["default"] if match else reference


def test_callback_urls_are_derived_alike(
    derivation: Derivation, client: Body, settings: StackSettings
) -> None:
    expected = derivation.url_list("callback_urls")

    assert client["CallbackURLs"] == expected
    assert expected[0] == f"{settings.api_url}/auth/callback"


def test_sign_out_urls_are_derived_alike(derivation: Derivation, client: Body) -> None:
    assert client["LogoutURLs"] == derivation.url_list("sign_out_urls")


def test_app_client_flows_scopes_and_guards_match(stack: Stack, client: Body) -> None:
    hcl = _client_hcl(stack)
    rotation = block(hcl, "refresh_token_rotation")

    assert client["AllowedOAuthFlows"] == hcl["allowed_oauth_flows"]
    assert (
        client["AllowedOAuthFlowsUserPoolClient"]
        is hcl["allowed_oauth_flows_user_pool_client"]
    )
    assert sorted(client["AllowedOAuthScopes"]) == sorted(hcl["allowed_oauth_scopes"])
    assert client["ExplicitAuthFlows"] == hcl["explicit_auth_flows"]
    assert bool(client.get("ClientSecret")) is hcl["generate_secret"]
    assert client["EnableTokenRevocation"] is hcl["enable_token_revocation"]
    assert client["PreventUserExistenceErrors"] == hcl["prevent_user_existence_errors"]
    assert client["RefreshTokenRotation"] == {
        "Feature": rotation["feature"],
        "RetryGracePeriodSeconds": _default(
            stack, rotation["retry_grace_period_seconds"]
        ),
    }


def test_token_validity_and_units_match(stack: Stack, client: Body) -> None:
    hcl = _client_hcl(stack)
    units = block(hcl, "token_validity_units")

    assert client["TokenValidityUnits"] == {UNITS[k]: v for k, v in units.items()}
    for attribute, field in VALIDITY.items():
        assert client[field] == _default(stack, hcl[attribute]), attribute


def test_identity_providers_match(
    stack: Stack, client: Body, outputs: dict[str, Any]
) -> None:
    kakao = stack.resource("aws_cognito_identity_provider", "kakao")
    cognito_by_default = stack.variables["enable_cognito_login"]["default"]
    expected = [kakao["provider_name"], *(["COGNITO"] if cognito_by_default else [])]

    assert client["SupportedIdentityProviders"] == expected
    assert outputs["identity_providers"]["value"] == expected


def test_kakao_provider_matches(
    stack: Stack, settings: StackSettings, outputs: dict[str, Any]
) -> None:
    hcl = stack.resource("aws_cognito_identity_provider", "kakao")
    details = hcl["provider_details"]

    provider = aws_client("cognito-idp", settings).describe_identity_provider(
        UserPoolId=outputs["user_pool_id"]["value"], ProviderName=hcl["provider_name"]
    )["IdentityProvider"]

    assert provider["ProviderType"] == hcl["provider_type"]
    assert provider["AttributeMapping"] == hcl["attribute_mapping"]
    for key in ("authorize_scopes", "attributes_request_method"):
        assert provider["ProviderDetails"][key] == details[key], key
    # The issuer is the Kakao stand-in offline, Kakao itself in AWS.
    assert provider["ProviderDetails"]["oidc_issuer"] == settings.kakao_url


def test_pool_guards_match(
    stack: Stack, settings: StackSettings, outputs: dict[str, Any]
) -> None:
    hcl = stack.resource("aws_cognito_user_pool", "this")

    pool = aws_client("cognito-idp", settings).describe_user_pool(
        UserPoolId=outputs["user_pool_id"]["value"]
    )["UserPool"]

    assert pool["DeletionProtection"] == hcl["deletion_protection"]
    assert not pool.get("UsernameAttributes")
    assert not pool.get("AliasAttributes")
    assert pool["UsernameConfiguration"] == {
        "CaseSensitive": block(hcl, "username_configuration")["case_sensitive"]
    }


def test_ssm_parameters_have_the_same_names_and_types(
    stack: Stack, settings: StackSettings
) -> None:
    from tests.terraform.structure import ssm_parameters

    expected = {
        f"{settings.ssm_prefix}{name}": kind
        for name, (kind, _) in ssm_parameters(stack).items()
    }

    pages = (
        aws_client("ssm", settings)
        .get_paginator("get_parameters_by_path")
        .paginate(Path=settings.ssm_prefix, Recursive=True)
    )
    actual = {p["Name"]: p["Type"] for page in pages for p in page["Parameters"]}

    assert actual == expected


@pytest.mark.parametrize(
    "name",
    [
        "user_pool_id",
        "client_id",
        "issuer",
        "callback_url",
        "logout_redirect_url",
        "frontend_url",
        "token_delivery",
        "session_idle_timeout_seconds",
        "session_absolute_timeout_seconds",
    ],
)
def test_ssm_values_are_derived_alike(
    stack: Stack, settings: StackSettings, derivation: Derivation, name: str
) -> None:
    template = stack.locals["ssm_string_parameters"][name]

    value = aws_client("ssm", settings).get_parameter(Name=settings.ssm_prefix + name)[
        "Parameter"
    ]["Value"]

    assert value == derivation.string(template)


def test_sessions_table_key_and_ttl_match(
    stack: Stack, settings: StackSettings
) -> None:
    hcl = stack.resource("aws_dynamodb_table", "sessions")
    dynamodb = aws_client("dynamodb", settings)

    table = dynamodb.describe_table(TableName=settings.sessions_table)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=settings.sessions_table)[
        "TimeToLiveDescription"
    ]

    assert table["KeySchema"] == [{"AttributeName": hcl["hash_key"], "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": a["name"], "AttributeType": a["type"]}
        for a in hcl["attribute"]
    ]
    assert table["BillingModeSummary"]["BillingMode"] == hcl["billing_mode"]
    assert ttl == {
        "TimeToLiveStatus": "ENABLED" if block(hcl, "ttl")["enabled"] else "DISABLED",
        "AttributeName": block(hcl, "ttl")["attribute_name"],
    }


def test_outputs_have_the_same_names_and_secrecy(
    stack: Stack, outputs: dict[str, Any]
) -> None:
    declared = {
        name: body.get("sensitive") is True for name, body in stack.outputs.items()
    }

    written = {name: output["sensitive"] for name, output in outputs.items()}

    assert written == declared


def test_names_follow_the_terraform_naming(
    stack: Stack,
    derivation: Derivation,
    settings: StackSettings,
    outputs: dict[str, Any],
) -> None:
    assert derivation.string(stack.locals["ssm_prefix"]) == settings.ssm_prefix
    assert (
        derivation.string(stack.locals["sessions_table_name"])
        == (outputs["sessions_table_name"]["value"])
    )
    assert derivation.string(stack.locals["cognito_domain_prefix"]) == (
        settings.cognito_domain_prefix
    )


def test_the_offline_state_directory_is_the_one_given(
    settings: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Guards the fixture itself: provisioning must never touch the default
    # .devstack folder of a stack someone else is running.
    assert settings.outputs_file.is_file()
    assert Path(tmp_path_factory.getbasetemp()) in settings.outputs_file.parents
