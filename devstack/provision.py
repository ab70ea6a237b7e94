"""Create in moto what ``infra/terraform`` creates in AWS, and write its outputs.

Every decision the Terraform makes is a named constant below, so a contract test
can hold the two side by side. A run is idempotent: resources are found by name,
settings are corrected in place, and nothing is written that already holds the
wanted value (same ids, same SSM versions). ``recreate=True`` replaces the
Cognito resources, as a forced replacement in Terraform would: new pool id, new
client id and secret, and SSM and outputs follow.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from chalicelib.config import PARAMETERS

from devstack.aws import aws_client
from devstack.kakao import KakaoRegistration, ensure_registration
from devstack.settings import KAKAO_PROVIDER_NAME, StackSettings
from scripts.outputs import render

logger = logging.getLogger(__name__)

# --- The decisions of infra/terraform (cognito.tf, kakao_idp.tf, dynamodb.tf,
# --- ssm.tf, kms.tf), for the offline stage.

POOL_NAME = "{project}-{stage}"
# Kakao users sign in as Kakao_<sub>: no UsernameAttributes/AliasAttributes,
# and email is not required because Kakao sends it only with consent.
POOL_FORBIDDEN_SETTINGS = ("UsernameAttributes", "AliasAttributes")
POOL_USERNAME_CONFIGURATION = {"CaseSensitive": False}
POOL_DELETION_PROTECTION = "ACTIVE"
POOL_SCHEMA = tuple(
    {
        "Name": name,
        "AttributeDataType": "String",
        "Mutable": True,
        "Required": False,
    }
    for name in ("email", "nickname", "picture")
)
POOL_ADMIN_CREATE_USER_CONFIG = {"AllowAdminCreateUserOnly": True}
POOL_PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireLowercase": True,
    "RequireUppercase": True,
    "RequireNumbers": True,
    "RequireSymbols": False,
    "TemporaryPasswordValidityDays": 3,
}
POOL_ACCOUNT_RECOVERY = {"RecoveryMechanisms": [{"Name": "admin_only", "Priority": 1}]}
DOMAIN_MANAGED_LOGIN_VERSION = 1

KAKAO_PROVIDER_TYPE = "OIDC"
KAKAO_AUTHORIZE_SCOPES = "openid profile_nickname account_email"
KAKAO_ATTRIBUTES_REQUEST_METHOD = "GET"
KAKAO_ATTRIBUTE_MAPPING = {
    "username": "sub",
    "nickname": "nickname",
    "email": "email",
    "picture": "picture",
}

CLIENT_NAME = "{project}-{stage}-web"
CLIENT_GENERATE_SECRET = True
CLIENT_ALLOWED_OAUTH_FLOWS = ("code",)
CLIENT_ALLOWED_OAUTH_SCOPES = ("openid", "email", "profile")
# Cognito rejects ALLOW_REFRESH_TOKEN_AUTH on a client with refresh-token
# rotation, and an empty list would switch on its default set, which has it.
CLIENT_EXPLICIT_AUTH_FLOWS = ("ALLOW_USER_SRP_AUTH",)
ACCESS_TOKEN_VALIDITY_MINUTES = 60
ID_TOKEN_VALIDITY_MINUTES = 60
REFRESH_TOKEN_VALIDITY_DAYS = 1
TOKEN_VALIDITY_UNITS = {
    "AccessToken": "minutes",
    "IdToken": "minutes",
    "RefreshToken": "days",
}
REFRESH_TOKEN_ROTATION_FEATURE = "ENABLED"
ENABLE_TOKEN_REVOCATION = True
PREVENT_USER_EXISTENCE_ERRORS = "ENABLED"
COGNITO_PROVIDER_NAME = "COGNITO"

SESSIONS_HASH_KEY = "pk"
SESSIONS_TTL_ATTRIBUTE = "expires_at"
SESSIONS_BILLING_MODE = "PAY_PER_REQUEST"
SESSIONS_POINT_IN_TIME_RECOVERY = True
SESSIONS_DELETION_PROTECTION = True

KMS_ALIAS = "alias/{project}-{stage}"
DEFAULT_TOKEN_DELIVERY = "bff"

# The offline stage has no Lambda; this ARN is well-formed but names no role.
OFFLINE_LAMBDA_ROLE_ARN = "arn:aws:iam::123456789012:role/{project}-{stage}-api"
OUTPUTS_FILE_MODE = 0o600


class ProvisionError(Exception):
    """The resources in moto cannot be brought to the wanted state as they are."""


def provision(
    settings: StackSettings,
    *,
    recreate: bool = False,
    enable_cognito_login: bool = False,
    token_delivery: str = DEFAULT_TOKEN_DELIVERY,
    app_public_config: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Bring moto to the Terraform's state; return and write the outputs.

    The outputs are in ``terraform output -json`` shape, written to
    ``settings.outputs_file`` with mode 0600 because they hold the client secret.
    """
    registration = ensure_registration(settings)
    cognito = aws_client("cognito-idp", settings)

    if recreate:
        _destroy_cognito(cognito, settings)

    pool_id = _ensure_pool(cognito, settings)
    _ensure_domain(cognito, settings, pool_id)
    _ensure_kakao_provider(cognito, settings, pool_id, registration)
    providers = identity_providers(enable_cognito_login)
    client = _ensure_client(cognito, settings, pool_id, providers)

    key_arn = _ensure_key(aws_client("kms", settings), settings)
    _ensure_sessions_table(aws_client("dynamodb", settings), settings, key_arn)

    public_config = app_public_config or default_app_public_config(settings)
    values = parameter_values(
        settings, pool_id, client, providers, token_delivery, public_config
    )
    _ensure_parameters(aws_client("ssm", settings), settings, values, key_arn)

    outputs = render(
        _output_values(settings, pool_id, client, providers, values, public_config)
    )
    write_outputs(settings.outputs_file, outputs)
    return outputs


def identity_providers(enable_cognito_login: bool = False) -> list[str]:
    """Kakao first: the API's default provider is the first one listed."""
    extra = [COGNITO_PROVIDER_NAME] if enable_cognito_login else []
    return [KAKAO_PROVIDER_NAME, *extra]


def cognito_issuer(settings: StackSettings, pool_id: str) -> str:
    return f"https://cognito-idp.{settings.region}.amazonaws.com/{pool_id}"


def default_app_public_config(settings: StackSettings) -> dict[str, str]:
    return {
        "app_api_url": settings.api_url,
        "websocket_url": settings.api_url.replace("http://", "ws://", 1) + "/ws",
    }


def callback_urls(settings: StackSettings) -> list[str]:
    """The API's callback first (the API sends it), then the front end's page."""
    return [settings.callback_url, settings.frontend_url + "/"]


def sign_out_urls(settings: StackSettings) -> list[str]:
    return [settings.sign_out_url]


def user_pool_settings() -> dict[str, Any]:
    """What UpdateUserPool can change (it resets whatever it is not given)."""
    return {
        "DeletionProtection": POOL_DELETION_PROTECTION,
        "AdminCreateUserConfig": dict(POOL_ADMIN_CREATE_USER_CONFIG),
        "Policies": {"PasswordPolicy": dict(POOL_PASSWORD_POLICY)},
        "AccountRecoverySetting": POOL_ACCOUNT_RECOVERY,
    }


def kakao_provider_details(
    settings: StackSettings, registration: KakaoRegistration
) -> dict[str, str]:
    return {
        "client_id": registration.client_id,
        "client_secret": registration.client_secret,
        "oidc_issuer": settings.kakao_url,
        "authorize_scopes": KAKAO_AUTHORIZE_SCOPES,
        "attributes_request_method": KAKAO_ATTRIBUTES_REQUEST_METHOD,
    }


def app_client_settings(
    settings: StackSettings, providers: list[str]
) -> dict[str, Any]:
    """Everything UpdateUserPoolClient takes (it resets what it is not given)."""
    return {
        "ClientName": CLIENT_NAME.format(
            project=settings.project, stage=settings.stage
        ),
        "AllowedOAuthFlows": list(CLIENT_ALLOWED_OAUTH_FLOWS),
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthScopes": list(CLIENT_ALLOWED_OAUTH_SCOPES),
        "CallbackURLs": callback_urls(settings),
        "LogoutURLs": sign_out_urls(settings),
        "SupportedIdentityProviders": list(providers),
        "ExplicitAuthFlows": list(CLIENT_EXPLICIT_AUTH_FLOWS),
        "AccessTokenValidity": ACCESS_TOKEN_VALIDITY_MINUTES,
        "IdTokenValidity": ID_TOKEN_VALIDITY_MINUTES,
        "RefreshTokenValidity": REFRESH_TOKEN_VALIDITY_DAYS,
        "TokenValidityUnits": dict(TOKEN_VALIDITY_UNITS),
        "RefreshTokenRotation": {
            "Feature": REFRESH_TOKEN_ROTATION_FEATURE,
            "RetryGracePeriodSeconds": settings.refresh_rotation_grace_seconds,
        },
        "EnableTokenRevocation": ENABLE_TOKEN_REVOCATION,
        "PreventUserExistenceErrors": PREVENT_USER_EXISTENCE_ERRORS,
    }


def parameter_values(
    settings: StackSettings,
    pool_id: str,
    client: dict[str, Any],
    providers: list[str],
    token_delivery: str,
    public_config: dict[str, str],
) -> dict[str, str]:
    """Every SSM value the API reads, keyed by short name (config.PARAMETERS)."""
    values = {
        "user_pool_id": pool_id,
        "client_id": client["ClientId"],
        "client_secret": client["ClientSecret"],
        "cognito_domain_url": settings.cognito_url,
        "issuer": cognito_issuer(settings, pool_id),
        # Offline, moto serves the pool's keys; a deployed stage uses the issuer's.
        "jwks_url": f"{settings.aws_url}/{pool_id}/.well-known/jwks.json",
        "callback_url": settings.callback_url,
        "logout_redirect_url": settings.sign_out_url,
        "frontend_url": settings.frontend_url + "/",
        "allowed_origins": settings.frontend_url,
        "identity_providers": ",".join(providers),
        "token_delivery": token_delivery,
        "session_idle_timeout_seconds": str(settings.session_idle_timeout_seconds),
        "session_absolute_timeout_seconds": str(
            settings.session_absolute_timeout_seconds
        ),
        "app_public_config": json.dumps(public_config, sort_keys=True),
    }
    if set(values) != set(PARAMETERS):
        raise ProvisionError("SSM values do not match chalicelib.config.PARAMETERS")
    return values


def write_outputs(path: Path, outputs: dict[str, Any]) -> None:
    """Write atomically with mode 0600: the file holds the client secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".outputs-")
    try:
        os.fchmod(descriptor, OUTPUTS_FILE_MODE)
        with os.fdopen(descriptor, "w") as stream:
            json.dump(outputs, stream, indent=2)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- Cognito


def _changed(action: str, resource: str) -> None:
    logger.info("provision: %s %s", action, resource)


def _find_pool(cognito: Any, name: str) -> str | None:
    pages = cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
    ids = [
        pool["Id"]
        for page in pages
        for pool in page["UserPools"]
        if pool["Name"] == name
    ]
    if len(ids) > 1:
        raise ProvisionError(
            f"{len(ids)} user pools are named {name}; delete the extra ones "
            "or reset moto, then provision again"
        )
    return ids[0] if ids else None


def _ensure_pool(cognito: Any, settings: StackSettings) -> str:
    name = POOL_NAME.format(project=settings.project, stage=settings.stage)
    pool_id = _find_pool(cognito, name)
    if pool_id is None:
        created = cognito.create_user_pool(
            PoolName=name,
            UsernameConfiguration=POOL_USERNAME_CONFIGURATION,
            Schema=[dict(attribute) for attribute in POOL_SCHEMA],
            **user_pool_settings(),
        )
        _changed("created user pool", name)
        return str(created["UserPool"]["Id"])

    current = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    forced = [key for key in POOL_FORBIDDEN_SETTINGS if current.get(key)]
    if forced:
        raise ProvisionError(
            f"user pool {name} has {', '.join(forced)}, which cannot be removed "
            "in place; run `python -m devstack provision --recreate`"
        )
    if _differs(user_pool_settings(), current):
        cognito.update_user_pool(UserPoolId=pool_id, **user_pool_settings())
        _changed("updated user pool", name)
    return pool_id


def _ensure_domain(cognito: Any, settings: StackSettings, pool_id: str) -> None:
    prefix = settings.cognito_domain_prefix
    current = cognito.describe_user_pool_domain(Domain=prefix)["DomainDescription"]
    if current.get("UserPoolId") == pool_id:
        return
    if current.get("UserPoolId"):
        # The prefix still points at a pool that was deleted or replaced.
        cognito.delete_user_pool_domain(Domain=prefix, UserPoolId=current["UserPoolId"])
    cognito.create_user_pool_domain(
        Domain=prefix,
        UserPoolId=pool_id,
        ManagedLoginVersion=DOMAIN_MANAGED_LOGIN_VERSION,
    )
    _changed("created domain", prefix)


def _ensure_kakao_provider(
    cognito: Any,
    settings: StackSettings,
    pool_id: str,
    registration: KakaoRegistration,
) -> None:
    details = kakao_provider_details(settings, registration)
    try:
        current = cognito.describe_identity_provider(
            UserPoolId=pool_id, ProviderName=KAKAO_PROVIDER_NAME
        )["IdentityProvider"]
    except cognito.exceptions.ResourceNotFoundException:
        current = None

    if current is not None and current.get("ProviderType") != KAKAO_PROVIDER_TYPE:
        # The type cannot change in place (Terraform replaces the provider).
        cognito.delete_identity_provider(
            UserPoolId=pool_id, ProviderName=KAKAO_PROVIDER_NAME
        )
        current = None
    if current is None:
        cognito.create_identity_provider(
            UserPoolId=pool_id,
            ProviderName=KAKAO_PROVIDER_NAME,
            ProviderType=KAKAO_PROVIDER_TYPE,
            ProviderDetails=details,
            AttributeMapping=KAKAO_ATTRIBUTE_MAPPING,
        )
        _changed("created identity provider", KAKAO_PROVIDER_NAME)
        return

    # Cognito writes derived endpoints back into ProviderDetails: compare only
    # what we set, as the Terraform's ignore_changes does.
    mapping = current.get("AttributeMapping")
    if _differs({"ProviderDetails": details}, current) or (
        mapping != KAKAO_ATTRIBUTE_MAPPING
    ):
        cognito.update_identity_provider(
            UserPoolId=pool_id,
            ProviderName=KAKAO_PROVIDER_NAME,
            ProviderDetails=details,
            AttributeMapping=KAKAO_ATTRIBUTE_MAPPING,
        )
        _changed("updated identity provider", KAKAO_PROVIDER_NAME)


def _ensure_client(
    cognito: Any, settings: StackSettings, pool_id: str, providers: list[str]
) -> dict[str, Any]:
    wanted = app_client_settings(settings, providers)
    name = wanted["ClientName"]
    pages = cognito.get_paginator("list_user_pool_clients").paginate(
        UserPoolId=pool_id, MaxResults=60
    )
    ids = [
        client["ClientId"]
        for page in pages
        for client in page["UserPoolClients"]
        if client["ClientName"] == name
    ]
    if len(ids) > 1:
        raise ProvisionError(f"{len(ids)} app clients are named {name}")
    if not ids:
        created = cognito.create_user_pool_client(
            UserPoolId=pool_id, GenerateSecret=CLIENT_GENERATE_SECRET, **wanted
        )
        _changed("created app client", name)
        return dict(created["UserPoolClient"])

    current = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=ids[0])
    client = dict(current["UserPoolClient"])
    if not client.get("ClientSecret"):
        raise ProvisionError(
            f"app client {name} has no secret and one cannot be added in place; "
            "run `python -m devstack provision --recreate`"
        )
    if _differs(wanted, client):
        updated = cognito.update_user_pool_client(
            UserPoolId=pool_id, ClientId=ids[0], **wanted
        )
        _changed("updated app client", name)
        client = dict(updated["UserPoolClient"])
    return client


def _destroy_cognito(cognito: Any, settings: StackSettings) -> None:
    """Delete client, domain, provider and pool, as a forced replacement would."""
    name = POOL_NAME.format(project=settings.project, stage=settings.stage)
    pool_id = _find_pool(cognito, name)
    domain = cognito.describe_user_pool_domain(Domain=settings.cognito_domain_prefix)
    domain_pool = domain["DomainDescription"].get("UserPoolId")
    if domain_pool:
        cognito.delete_user_pool_domain(
            Domain=settings.cognito_domain_prefix, UserPoolId=domain_pool
        )
        _changed("deleted domain", settings.cognito_domain_prefix)
    if pool_id is None:
        return

    pages = cognito.get_paginator("list_user_pool_clients").paginate(
        UserPoolId=pool_id, MaxResults=60
    )
    for page in pages:
        for client in page["UserPoolClients"]:
            cognito.delete_user_pool_client(
                UserPoolId=pool_id, ClientId=client["ClientId"]
            )
            _changed("deleted app client", client["ClientName"])
    try:
        cognito.delete_identity_provider(
            UserPoolId=pool_id, ProviderName=KAKAO_PROVIDER_NAME
        )
        _changed("deleted identity provider", KAKAO_PROVIDER_NAME)
    except cognito.exceptions.ResourceNotFoundException:
        pass
    cognito.update_user_pool(
        UserPoolId=pool_id, **{**user_pool_settings(), "DeletionProtection": "INACTIVE"}
    )
    cognito.delete_user_pool(UserPoolId=pool_id)
    _changed("deleted user pool", name)


# --- KMS, DynamoDB, SSM


def _ensure_key(kms: Any, settings: StackSettings) -> str:
    alias = KMS_ALIAS.format(project=settings.project, stage=settings.stage)
    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    except kms.exceptions.NotFoundException:
        pass
    key = kms.create_key(
        Description=f"{settings.project}-{settings.stage}: SSM client secret and "
        "sessions table"
    )["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    _changed("created KMS key", alias)
    return str(key["Arn"])


def _ensure_sessions_table(
    dynamodb: Any, settings: StackSettings, key_arn: str
) -> None:
    name = settings.sessions_table
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        table = None

    if table is None:
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": SESSIONS_HASH_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": SESSIONS_HASH_KEY, "AttributeType": "S"}
            ],
            BillingMode=SESSIONS_BILLING_MODE,
            SSESpecification={
                "Enabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": key_arn,
            },
            DeletionProtectionEnabled=SESSIONS_DELETION_PROTECTION,
        )
        _changed("created table", name)
    else:
        key_schema = [
            (key["AttributeName"], key["KeyType"]) for key in table["KeySchema"]
        ]
        if key_schema != [(SESSIONS_HASH_KEY, "HASH")]:
            raise ProvisionError(
                f"table {name} has key {key_schema}; delete it (it holds only "
                "sessions) and provision again"
            )
        billing = table.get("BillingModeSummary", {}).get("BillingMode")
        if billing != SESSIONS_BILLING_MODE:
            dynamodb.update_table(TableName=name, BillingMode=SESSIONS_BILLING_MODE)
            _changed("updated table billing", name)

    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if (ttl.get("TimeToLiveStatus"), ttl.get("AttributeName")) != (
        "ENABLED",
        SESSIONS_TTL_ATTRIBUTE,
    ):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "Enabled": True,
                "AttributeName": SESSIONS_TTL_ATTRIBUTE,
            },
        )
        _changed("enabled TTL on", name)

    backups = dynamodb.describe_continuous_backups(TableName=name)
    recovery = backups["ContinuousBackupsDescription"].get(
        "PointInTimeRecoveryDescription", {}
    )
    if recovery.get("PointInTimeRecoveryStatus") != "ENABLED":
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": SESSIONS_POINT_IN_TIME_RECOVERY
            },
        )
        _changed("enabled point-in-time recovery on", name)


def _ensure_parameters(
    ssm: Any, settings: StackSettings, values: dict[str, str], key_arn: str
) -> None:
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=settings.ssm_prefix, Recursive=True, WithDecryption=True
    )
    current = {
        parameter["Name"]: (parameter["Type"], parameter["Value"])
        for page in pages
        for parameter in page["Parameters"]
    }
    for short_name, value in values.items():
        name = settings.ssm_prefix + short_name
        kind = "SecureString" if PARAMETERS[short_name] else "String"
        if current.get(name) == (kind, value):
            continue
        extra = {"KeyId": key_arn} if kind == "SecureString" else {}
        ssm.put_parameter(
            Name=name, Value=value, Type=kind, Overwrite=True, Tier="Standard", **extra
        )
        _changed("wrote parameter", name)


def _output_values(
    settings: StackSettings,
    pool_id: str,
    client: dict[str, Any],
    providers: list[str],
    values: dict[str, str],
    public_config: dict[str, str],
) -> dict[str, Any]:
    return {
        "project": settings.project,
        "stage": settings.stage,
        "region": settings.region,
        "user_pool_id": pool_id,
        "app_client_id": client["ClientId"],
        "app_client_secret": client["ClientSecret"],
        "cognito_domain_url": values["cognito_domain_url"],
        "cognito_issuer": values["issuer"],
        "jwks_url": values["jwks_url"],
        "identity_providers": list(providers),
        "callback_urls": list(client.get("CallbackURLs", [])),
        "sign_out_urls": list(client.get("LogoutURLs", [])),
        "api_callback_url": settings.callback_url,
        "frontend_url": values["frontend_url"],
        "api_base_url": settings.api_url,
        "allowed_origins": values["allowed_origins"].split(","),
        "ssm_prefix": settings.ssm_prefix,
        "sessions_table_name": settings.sessions_table,
        "lambda_role_arn": OFFLINE_LAMBDA_ROLE_ARN.format(
            project=settings.project, stage=settings.stage
        ),
        "token_delivery": values["token_delivery"],
        "app_public_config": dict(public_config),
    }


def _differs(wanted: Any, current: Any) -> bool:
    """True when ``current`` lacks a value of ``wanted`` (dicts compare by subset)."""
    if isinstance(wanted, dict):
        if not isinstance(current, dict):
            return True
        return any(
            key not in current or _differs(value, current[key])
            for key, value in wanted.items()
        )
    return bool(wanted != current)
