"""The Terraform outputs the config generator reads: names, types, secrecy.

``infra/terraform/outputs.tf`` declares exactly these, and the offline stack's
provisioning writes them in the shape ``terraform output -json`` prints::

    {"<name>": {"sensitive": false, "type": "string", "value": "..."}}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STRING: Any = "string"
STRING_LIST: Any = ["list", "string"]
STRING_MAP: Any = ["map", "string"]


@dataclass(frozen=True)
class OutputSpec:
    type: Any
    sensitive: bool = False


OUTPUTS: dict[str, OutputSpec] = {
    "project": OutputSpec(STRING),
    "stage": OutputSpec(STRING),
    "region": OutputSpec(STRING),
    "user_pool_id": OutputSpec(STRING),
    "app_client_id": OutputSpec(STRING),
    "app_client_secret": OutputSpec(STRING, sensitive=True),
    "cognito_domain_url": OutputSpec(STRING),
    "cognito_issuer": OutputSpec(STRING),
    "jwks_url": OutputSpec(STRING),
    "identity_providers": OutputSpec(STRING_LIST),
    "callback_urls": OutputSpec(STRING_LIST),
    "sign_out_urls": OutputSpec(STRING_LIST),
    "api_callback_url": OutputSpec(STRING),
    "frontend_url": OutputSpec(STRING),
    "api_base_url": OutputSpec(STRING),
    "allowed_origins": OutputSpec(STRING_LIST),
    "ssm_prefix": OutputSpec(STRING),
    "sessions_table_name": OutputSpec(STRING),
    "lambda_role_arn": OutputSpec(STRING),
    "token_delivery": OutputSpec(STRING),
    "app_public_config": OutputSpec(STRING_MAP),
}


def render(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Values keyed by output name, in ``terraform output -json`` shape."""
    unknown = sorted(set(values) - set(OUTPUTS))
    missing = sorted(set(OUTPUTS) - set(values))
    if unknown or missing:
        raise ValueError(f"outputs unknown {unknown}, missing {missing}")
    return {
        name: {"sensitive": spec.sensitive, "type": spec.type, "value": values[name]}
        for name, spec in OUTPUTS.items()
    }
