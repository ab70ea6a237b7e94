"""Static checks of the Terraform stack, without a Terraform binary.

Each check takes a parsed ``Stack`` (any directory, so a test can run it on a
mutated copy) and returns the problems it finds; an empty list means the guard
holds. ``CHECKS`` names every check.
"""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from chalicelib.config import PARAMETERS

from scripts.outputs import OUTPUTS, STRING_LIST, STRING_MAP

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "infra" / "terraform"

_OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)

Body = dict[str, Any]

KAKAO_ISSUER = "https://kauth.kakao.com"
KAKAO_SCOPES = "openid profile_nickname account_email"
KAKAO_ATTRIBUTE_MAPPING = {
    "username": "sub",
    "nickname": "nickname",
    "email": "email",
    "picture": "picture",
}
# Keys Cognito derives from the issuer and writes back into provider_details.
DERIVED_PROVIDER_DETAILS = (
    "authorize_url",
    "token_url",
    "attributes_url",
    "jwks_uri",
    "attributes_url_add_attributes",
    "token_request_method",
)
CLIENT_SCOPES = ("openid", "email", "profile")
SESSION_ACTIONS = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
)
CONFIG_ACTIONS = frozenset(
    {"ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"}
)
# Cognito's bounds on token lifetimes, in minutes (developer guide, app clients).
TOKEN_BOUNDS_MINUTES = {
    "access_token": (5, 24 * 60),
    "id_token": (5, 24 * 60),
    "refresh_token": (60, 3650 * 24 * 60),
}
TOKEN_ATTRIBUTES = {
    "access_token": "access_token_validity",
    "id_token": "id_token_validity",
    "refresh_token": "refresh_token_validity",
}
MINUTES_PER_UNIT = {"seconds": 1 / 60, "minutes": 1, "hours": 60, "days": 24 * 60}
ROTATION_GRACE_SECONDS = (0, 60)
# Variables a wrong value can break: each needs a validation block.
VALIDATED_VARIABLES = (
    "project",
    "stage",
    "region",
    "api_base_url",
    "frontend_url",
    "extra_callback_urls",
    "extra_sign_out_urls",
    "allowed_origins",
    "kakao_client_id",
    "kakao_client_secret",
    "access_token_validity_minutes",
    "id_token_validity_minutes",
    "refresh_token_validity_days",
    "refresh_rotation_grace_seconds",
    "session_idle_timeout_seconds",
    "session_absolute_timeout_seconds",
    "token_delivery",
)
SECRET_VARIABLES = ("kakao_client_secret",)


@dataclass(frozen=True)
class Stack:
    """Every ``.tf`` file of one directory, parsed and merged by block kind."""

    directory: Path
    variables: dict[str, Body]
    outputs: dict[str, Body]
    locals: dict[str, Any]
    resources: dict[str, dict[str, Body]]
    data: dict[str, dict[str, Body]]
    providers: dict[str, Body]
    settings: list[Body]

    @classmethod
    def load(cls, directory: Path = TERRAFORM_DIR) -> Stack:
        parsed = [parse(path) for path in sorted(directory.glob("*.tf"))]
        return cls(
            directory=directory,
            variables=_named(parsed, "variable"),
            outputs=_named(parsed, "output"),
            locals={
                k: v for f in parsed for b in f.get("locals", []) for k, v in b.items()
            },
            resources=_typed(parsed, "resource"),
            data=_typed(parsed, "data"),
            providers=_named(parsed, "provider"),
            settings=[block for f in parsed for block in f.get("terraform", [])],
        )

    def resource(self, kind: str, name: str) -> Body:
        return self.resources.get(kind, {}).get(name, {})


@dataclass(frozen=True)
class Mutation:
    """Replace ``old`` (found exactly once) with ``new`` in ``file``."""

    name: str
    file: str
    old: str
    new: str
    check: str


def mutated_copy(mutations: Iterable[Mutation], destination: Path) -> Path:
    """Copy the stack to ``destination`` and apply every mutation to the copy."""
    shutil.copytree(TERRAFORM_DIR, destination)
    for mutation in mutations:
        target = destination / mutation.file
        text = target.read_text(encoding="utf-8")
        # A mutation that no longer matches would prove nothing: fail loudly.
        if text.count(mutation.old) != 1:
            raise AssertionError(
                f"{mutation.name}: the text to mutate is not there once"
            )
        target.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")
    return destination


def parse(path: Path) -> dict[str, Any]:
    return _parse_text(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=64)
def _parse_text(text: str) -> dict[str, Any]:
    # Parsing is slow and mutated copies change one file: parse each text once.
    # Callers only read the result.
    parsed: dict[str, Any] = hcl2.loads(text, serialization_options=_OPTIONS)
    return parsed


def _named(parsed: list[dict[str, Any]], kind: str) -> dict[str, Body]:
    return {
        name: body
        for f in parsed
        for entry in f.get(kind, [])
        for name, body in entry.items()
    }


def _typed(parsed: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Body]]:
    merged: dict[str, dict[str, Body]] = {}
    for f in parsed:
        for entry in f.get(kind, []):
            for type_name, named in entry.items():
                merged.setdefault(type_name, {}).update(named)
    return merged


def block(body: Body, name: str) -> Body:
    """The first nested block called ``name``, or an empty dict."""
    value = body.get(name)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def references(value: Any, kind: str) -> set[str]:
    """Names referenced as ``<kind>.<name>`` anywhere inside ``value``."""
    text = json.dumps(value)
    return set(re.findall(rf"(?<![\w.]){kind}\.([A-Za-z_][\w-]*)", text))


def _validations(stack: Stack, variable: str) -> list[str]:
    body = stack.variables.get(variable, {})
    conditions = [str(v.get("condition", "")) for v in body.get("validation", [])]
    return [c for c in conditions if c.strip()]


def _bounded(stack: Stack, variable: str, low: float, high: float) -> bool:
    """Whether a validation of ``variable`` enforces ``low <= var <= high``."""
    conditions = " ".join(_validations(stack, variable))
    name = re.escape(f"var.{variable}")
    return bool(
        re.search(rf"{name}\s*>=\s*{low:g}(?![\d.])", conditions)
        and re.search(rf"{name}\s*<=\s*{high:g}(?![\d.])", conditions)
    )


def _missing(body: Body, what: str) -> list[str]:
    return [f"{what} is missing"] if not body else []


# --- house rules -------------------------------------------------------------


def variables_typed_and_described(stack: Stack) -> list[str]:
    problems = []
    for name, body in stack.variables.items():
        if "type" not in body:
            problems.append(f"variable {name} has no type")
        if not str(body.get("description", "")).strip():
            problems.append(f"variable {name} has no description")
    return problems


def variables_validated(stack: Stack) -> list[str]:
    return [
        f"variable {name} has no validation block"
        for name in VALIDATED_VARIABLES
        if not _validations(stack, name)
    ]


def secret_variables_sensitive(stack: Stack) -> list[str]:
    return [
        f"variable {name} must be sensitive = true"
        for name in SECRET_VARIABLES
        if stack.variables.get(name, {}).get("sensitive") is not True
    ]


def outputs_described(stack: Stack) -> list[str]:
    return [
        f"output {name} has no description"
        for name, body in stack.outputs.items()
        if not str(body.get("description", "")).strip()
    ]


def no_unused_variables(stack: Stack) -> list[str]:
    # A variable read only by its own validation is still unused.
    used = references(
        [
            stack.outputs,
            stack.locals,
            stack.resources,
            stack.data,
            stack.providers,
            stack.settings,
        ],
        "var",
    )
    return [
        f"variable {name} is never used" for name in stack.variables if name not in used
    ]


def _secret_locals(stack: Stack, secret_vars: set[str]) -> set[str]:
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, value in stack.locals.items():
            if name not in tainted and _carries_secret(value, secret_vars, tainted):
                tainted.add(name)
                changed = True
    return tainted


def _carries_secret(value: Any, secret_vars: set[str], secret_locals: set[str]) -> bool:
    return bool(
        references(value, "var") & secret_vars
        or references(value, "local") & secret_locals
        or ".client_secret" in json.dumps(value)
    )


def secrets_only_in_sensitive_outputs(stack: Stack) -> list[str]:
    secret_vars = {n for n, b in stack.variables.items() if b.get("sensitive") is True}
    secret_locals = _secret_locals(stack, secret_vars)
    return [
        f"output {name} carries a secret but is not sensitive"
        for name, body in stack.outputs.items()
        if _carries_secret(body.get("value"), secret_vars, secret_locals)
        and body.get("sensitive") is not True
    ]


def outputs_match_contract(stack: Stack) -> list[str]:
    """Names, secrecy and types equal ``scripts.outputs.OUTPUTS``."""
    problems = []
    for name in sorted(set(OUTPUTS) - set(stack.outputs)):
        problems.append(f"output {name} is missing")
    for name in sorted(set(stack.outputs) - set(OUTPUTS)):
        problems.append(f"output {name} is not in scripts/outputs.py")
    for name, spec in OUTPUTS.items():
        body = stack.outputs.get(name)
        if body is None:
            continue
        if (body.get("sensitive") is True) != spec.sensitive:
            problems.append(f"output {name} must have sensitive = {spec.sensitive}")
        value = str(body.get("value", ""))
        # Without tolist/tomap Terraform may print a tuple or object type.
        if spec.type == STRING_LIST and not value.startswith("${tolist("):
            problems.append(f"output {name} must be a list: wrap it in tolist()")
        if spec.type == STRING_MAP and not value.startswith("${tomap("):
            problems.append(f"output {name} must be a map: wrap it in tomap()")
        if spec.type not in (STRING_LIST, STRING_MAP) and value.startswith(
            ("${tolist(", "${tomap(", "[", "{")
        ):
            problems.append(f"output {name} must be a string")
    return problems


def no_count_on_cognito(stack: Stack) -> list[str]:
    kinds = (
        "aws_cognito_user_pool",
        "aws_cognito_user_pool_domain",
        "aws_cognito_user_pool_client",
        "aws_cognito_identity_provider",
    )
    return [
        f"{kind}.{name} uses count: an index shift would replace it"
        for kind in kinds
        for name, body in stack.resources.get(kind, {}).items()
        if "count" in body
    ]


def for_each_keys_stable(stack: Stack) -> list[str]:
    """``for_each`` only over a local map written out key by key."""
    problems = []
    for kind, named in stack.resources.items():
        for name, body in named.items():
            if "for_each" not in body:
                continue
            source = re.fullmatch(r"\$\{local\.(\w+)\}", str(body["for_each"]))
            if not source or not isinstance(stack.locals.get(source.group(1)), dict):
                problems.append(
                    f"{kind}.{name}: for_each must name a local map literal"
                )
    return problems


def versions_pinned(stack: Stack) -> list[str]:
    settings = stack.settings[0] if stack.settings else {}
    problems = []
    required = str(settings.get("required_version", ""))
    floor = re.fullmatch(r">=\s*1\.(\d+)(\.\d+)?", required.strip())
    if not floor or int(floor.group(1)) < 11:
        problems.append("required_version must be >= 1.11 (write-only value_wo)")
    aws = block(settings, "required_providers").get("aws", {})
    if aws.get("source") != "hashicorp/aws":
        problems.append("provider aws must come from hashicorp/aws")
    version = str(aws.get("version", ""))
    if not re.search(r">=\s*6\.\d+", version) or not re.search(r"<\s*7\.0", version):
        problems.append("provider aws must be pinned to >= 6.x, < 7.0")
    return problems


# --- Cognito -----------------------------------------------------------------


def _pool(stack: Stack) -> Body:
    return stack.resource("aws_cognito_user_pool", "this")


def _client(stack: Stack) -> Body:
    return stack.resource("aws_cognito_user_pool_client", "web")


def _kakao(stack: Stack) -> Body:
    return stack.resource("aws_cognito_identity_provider", "kakao")


def prevent_destroy_on_pool_and_client(stack: Stack) -> list[str]:
    problems = []
    for what, body in (("user pool", _pool(stack)), ("app client", _client(stack))):
        if block(body, "lifecycle").get("prevent_destroy") is not True:
            problems.append(
                f"{what} needs lifecycle prevent_destroy = true (a literal)"
            )
    return problems


def pool_guards(stack: Stack) -> list[str]:
    pool = _pool(stack)
    if not pool:
        return ["aws_cognito_user_pool.this is missing"]
    problems = []
    if pool.get("deletion_protection") != "ACTIVE":
        problems.append('user pool needs deletion_protection = "ACTIVE"')
    for attribute in ("username_attributes", "alias_attributes"):
        if attribute in pool:
            problems.append(
                f"user pool must not set {attribute}: Kakao users have no email"
            )
    if "schema" not in block(pool, "lifecycle").get("ignore_changes", []):
        problems.append("user pool needs ignore_changes = [schema]")
    for attribute in pool.get("schema", []):
        if attribute.get("name") == "email" and attribute.get("required") is True:
            problems.append("user pool must not require email")
    return problems


def domain_managed_login_version(stack: Stack) -> list[str]:
    domain = stack.resource("aws_cognito_user_pool_domain", "this")
    if domain.get("managed_login_version") != 1:
        return ["domain needs managed_login_version = 1 (2 needs branding per client)"]
    return []


def kakao_provider_guards(stack: Stack) -> list[str]:
    kakao = _kakao(stack)
    if not kakao:
        return ["aws_cognito_identity_provider.kakao is missing"]
    problems = []
    details = kakao.get("provider_details", {})
    expected = {
        "provider_name": (kakao.get("provider_name"), "Kakao"),
        "provider_type": (kakao.get("provider_type"), "OIDC"),
        "oidc_issuer": (details.get("oidc_issuer"), KAKAO_ISSUER),
        "authorize_scopes": (details.get("authorize_scopes"), KAKAO_SCOPES),
        "attributes_request_method": (details.get("attributes_request_method"), "GET"),
        "attribute_mapping": (kakao.get("attribute_mapping"), KAKAO_ATTRIBUTE_MAPPING),
    }
    for field, (actual, wanted) in expected.items():
        if actual != wanted:
            problems.append(
                f"Kakao provider {field} is {actual!r}, expected {wanted!r}"
            )
    secret_vars = {n for n, b in stack.variables.items() if b.get("sensitive") is True}
    if not references(details.get("client_secret"), "var") & secret_vars:
        problems.append("Kakao client_secret must come from a sensitive variable")
    ignored = block(kakao, "lifecycle").get("ignore_changes", [])
    for key in DERIVED_PROVIDER_DETAILS:
        if f'${{provider_details["{key}"]}}' not in ignored:
            problems.append(
                f'Kakao provider must ignore_changes provider_details["{key}"]'
            )
    return problems


def client_code_flow_only(stack: Stack) -> list[str]:
    client = _client(stack)
    if not client:
        return ["aws_cognito_user_pool_client.web is missing"]
    problems = []
    if client.get("allowed_oauth_flows") != ["code"]:
        problems.append('app client allowed_oauth_flows must be exactly ["code"]')
    if client.get("allowed_oauth_flows_user_pool_client") is not True:
        problems.append("app client needs allowed_oauth_flows_user_pool_client = true")
    if client.get("generate_secret") is not True:
        problems.append("app client needs generate_secret = true")
    if sorted(client.get("allowed_oauth_scopes", [])) != sorted(CLIENT_SCOPES):
        problems.append(f"app client scopes must be {CLIENT_SCOPES}")
    providers = stack.locals.get("identity_providers", "")
    if client.get("supported_identity_providers") != "${local.identity_providers}":
        problems.append("app client providers must come from local.identity_providers")
    if "aws_cognito_identity_provider.kakao" not in str(providers):
        problems.append(
            "local.identity_providers must name the Kakao provider resource"
        )
    if not re.search(r'var\.enable_cognito_login\s*\?\s*\[\\?"COGNITO', str(providers)):
        problems.append("COGNITO must be offered only when var.enable_cognito_login")
    if "${aws_cognito_identity_provider.kakao}" not in client.get("depends_on", []):
        problems.append("app client must depend_on the Kakao provider")
    return problems


def client_token_validity_explicit(stack: Stack) -> list[str]:
    client = _client(stack)
    units = block(client, "token_validity_units")
    problems = []
    for token, attribute in TOKEN_ATTRIBUTES.items():
        unit = units.get(token)
        value = client.get(attribute)
        if unit not in MINUTES_PER_UNIT:
            problems.append(f"token_validity_units.{token} must be set explicitly")
            continue
        if value is None:
            problems.append(f"app client must set {attribute} explicitly")
            continue
        low_min, high_min = TOKEN_BOUNDS_MINUTES[token]
        low = math.ceil(low_min / MINUTES_PER_UNIT[unit])
        high = math.floor(high_min / MINUTES_PER_UNIT[unit])
        if isinstance(value, int | float):
            in_bounds = low <= value <= high
        else:
            variables = references(value, "var")
            in_bounds = len(variables) == 1 and _bounded(
                stack, variables.pop(), low, high
            )
        if not in_bounds:
            problems.append(f"{attribute} must stay within {low}..{high} {unit}")
    return problems


def client_refresh_rotation(stack: Stack) -> list[str]:
    client = _client(stack)
    rotation = block(client, "refresh_token_rotation")
    if not rotation:
        return ["app client needs a refresh_token_rotation block"]
    problems = []
    if rotation.get("feature") != "ENABLED":
        problems.append('refresh_token_rotation.feature must be "ENABLED"')
    grace = rotation.get("retry_grace_period_seconds")
    low, high = ROTATION_GRACE_SECONDS
    if isinstance(grace, int):
        in_bounds = low <= grace <= high
    else:
        variables = references(grace, "var")
        in_bounds = len(variables) == 1 and _bounded(stack, variables.pop(), low, high)
    if not in_bounds:
        problems.append(f"retry_grace_period_seconds must stay within {low}..{high}")
    flows = client.get("explicit_auth_flows")
    if not isinstance(flows, list):
        problems.append(
            "explicit_auth_flows must be listed (the default allows refresh)"
        )
    elif "ALLOW_REFRESH_TOKEN_AUTH" in flows:
        problems.append(
            "ALLOW_REFRESH_TOKEN_AUTH conflicts with refresh token rotation"
        )
    return problems


def client_revocation_and_existence_errors(stack: Stack) -> list[str]:
    client = _client(stack)
    problems = []
    if client.get("enable_token_revocation") is not True:
        problems.append("app client needs enable_token_revocation = true")
    if client.get("prevent_user_existence_errors") != "ENABLED":
        problems.append('app client needs prevent_user_existence_errors = "ENABLED"')
    return problems


def session_timeouts_ordered(stack: Stack) -> list[str]:
    ordered = re.compile(
        r"var\.session_idle_timeout_seconds\s*<=\s*"
        r"var\.session_absolute_timeout_seconds"
    )
    conditions = _validations(stack, "session_idle_timeout_seconds") + _validations(
        stack, "session_absolute_timeout_seconds"
    )
    if not any(ordered.search(c) for c in conditions):
        return ["a validation must keep the idle timeout <= the absolute timeout"]
    return []


# --- SSM, DynamoDB, KMS, IAM -------------------------------------------------


def ssm_parameters(stack: Stack) -> dict[str, tuple[str, Body]]:
    """Short parameter name -> (type, resource body), from the HCL."""
    found: dict[str, tuple[str, Body]] = {}
    for body in stack.resources.get("aws_ssm_parameter", {}).values():
        name = str(body.get("name", ""))
        suffix = name.removeprefix("${local.ssm_prefix}")
        if suffix == "${each.key}":
            source = references(body.get("for_each"), "local")
            values = stack.locals.get(source.pop(), {}) if len(source) == 1 else {}
            names: Iterable[str] = values if isinstance(values, dict) else []
        else:
            names = [suffix]
        for short in names:
            found[short] = (str(body.get("type")), body)
    return found


def ssm_parameters_match_contract(stack: Stack) -> list[str]:
    """Names equal ``chalicelib.config.PARAMETERS``; SecureString for secrets only."""
    problems = []
    if stack.locals.get("ssm_prefix") != "/${var.project}/${var.stage}/":
        problems.append("local.ssm_prefix must be /${var.project}/${var.stage}/")
    found = ssm_parameters(stack)
    for name in sorted(set(PARAMETERS) - set(found)):
        problems.append(f"SSM parameter {name} is missing")
    for name in sorted(set(found) - set(PARAMETERS)):
        problems.append(f"SSM parameter {name} is not in chalicelib.config.PARAMETERS")
    for name, secret in PARAMETERS.items():
        if name not in found:
            continue
        kind, body = found[name]
        if kind != ("SecureString" if secret else "String"):
            problems.append(f"SSM parameter {name} has type {kind}")
        if secret and not {"key_id", "value_wo", "value_wo_version"} <= set(body):
            problems.append(
                f"SSM parameter {name} needs key_id, value_wo, value_wo_version"
            )
        if secret and "value" in body:
            problems.append(f"SSM parameter {name} must be write-only (value_wo)")
    secret_vars = {n for n, b in stack.variables.items() if b.get("sensitive") is True}
    plain = stack.locals.get("ssm_string_parameters", {})
    for name, value in plain.items() if isinstance(plain, dict) else []:
        if _carries_secret(value, secret_vars, _secret_locals(stack, secret_vars)):
            problems.append(f"SSM String parameter {name} carries a secret")
    return problems


def sessions_table(stack: Stack) -> list[str]:
    table = stack.resource("aws_dynamodb_table", "sessions")
    if not table:
        return ["aws_dynamodb_table.sessions is missing"]
    checks = {
        "hash_key pk": table.get("hash_key") == "pk",
        "attribute pk of type S": {"name": "pk", "type": "S"}
        in table.get("attribute", []),
        "ttl on expires_at": block(table, "ttl")
        == {"attribute_name": "expires_at", "enabled": True},
        "point_in_time_recovery": block(table, "point_in_time_recovery").get("enabled")
        is True,
        "KMS encryption with the stage key": block(table, "server_side_encryption")
        == {"enabled": True, "kms_key_arn": "${aws_kms_key.this.arn}"},
        "PAY_PER_REQUEST billing": table.get("billing_mode") == "PAY_PER_REQUEST",
        "deletion_protection_enabled": table.get("deletion_protection_enabled") is True,
    }
    return [f"sessions table needs {what}" for what, ok in checks.items() if not ok]


def kms_key_rotation(stack: Stack) -> list[str]:
    keys = stack.resources.get("aws_kms_key", {})
    problems = _missing(keys, "a customer-managed KMS key")
    for name, body in keys.items():
        if body.get("enable_key_rotation") is not True:
            problems.append(f"aws_kms_key.{name} needs enable_key_rotation = true")
        if not body.get("policy"):
            problems.append(f"aws_kms_key.{name} needs an explicit key policy")
    return problems


def _statements(document: Body) -> list[Body]:
    statements: list[Body] = document.get("statement", [])
    return statements


def lambda_role_least_privilege(stack: Stack) -> list[str]:
    problems = []
    assume = stack.data.get("aws_iam_policy_document", {}).get("lambda_assume", {})
    principals = [p for s in _statements(assume) for p in s.get("principals", [])]
    if principals != [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}]:
        problems.append(
            "the Lambda role must be assumable by lambda.amazonaws.com only"
        )
    policy = stack.data.get("aws_iam_policy_document", {}).get("lambda", {})
    statements = _statements(policy)
    if not statements:
        return [*problems, "the Lambda role policy document is missing"]
    for statement in statements:
        sid = statement.get("sid", "?")
        actions = set(statement.get("actions", []))
        resources = statement.get("resources", [])
        if any("*" in action for action in actions) or "*" in resources:
            problems.append(f"statement {sid} uses a wildcard action or resource")
        if any(a.startswith("dynamodb:") for a in actions):
            if not actions <= SESSION_ACTIONS:
                problems.append(
                    f"statement {sid}: DynamoDB actions beyond {SESSION_ACTIONS}"
                )
            if resources != ["${aws_dynamodb_table.sessions.arn}"]:
                problems.append(f"statement {sid}: DynamoDB only on the sessions table")
        if any(a.startswith("ssm:") for a in actions):
            if not actions <= CONFIG_ACTIONS:
                problems.append(f"statement {sid}: SSM actions beyond {CONFIG_ACTIONS}")
            if not resources or not all(
                str(r).endswith(("parameter/${var.project}/${var.stage}", "/*"))
                and "parameter/${var.project}/${var.stage}" in str(r)
                for r in resources
            ):
                problems.append(f"statement {sid}: SSM only under /<project>/<stage>")
        if any(a.startswith("kms:") for a in actions):
            conditions = [c.get("variable") for c in statement.get("condition", [])]
            if (
                resources != ["${aws_kms_key.this.arn}"]
                or "kms:ViaService" not in conditions
            ):
                problems.append(
                    f"statement {sid}: KMS only on the stage key, via a service"
                )
    return problems


Check = Callable[[Stack], list[str]]

CHECKS: dict[str, Check] = {
    check.__name__: check
    for check in (
        variables_typed_and_described,
        variables_validated,
        secret_variables_sensitive,
        outputs_described,
        no_unused_variables,
        secrets_only_in_sensitive_outputs,
        outputs_match_contract,
        no_count_on_cognito,
        for_each_keys_stable,
        versions_pinned,
        prevent_destroy_on_pool_and_client,
        pool_guards,
        domain_managed_login_version,
        kakao_provider_guards,
        client_code_flow_only,
        client_token_validity_explicit,
        client_refresh_rotation,
        client_revocation_and_existence_errors,
        session_timeouts_ordered,
        ssm_parameters_match_contract,
        sessions_table,
        kms_key_rotation,
        lambda_role_least_privilege,
    )
}


def problems(directory: Path = TERRAFORM_DIR) -> dict[str, list[str]]:
    """Every check's problems for one directory, failing checks only."""
    stack = Stack.load(directory)
    return {name: found for name, check in CHECKS.items() if (found := check(stack))}
