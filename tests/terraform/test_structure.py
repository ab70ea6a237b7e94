"""The Terraform stack parses, keeps every guard, and documents its inputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.terraform import structure
from tests.terraform.structure import CHECKS, TERRAFORM_DIR, Stack

TF_FILES = sorted(TERRAFORM_DIR.glob("*.tf"))
EXAMPLES = sorted((TERRAFORM_DIR / "envs").glob("*.tfvars.example"))


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack.load(TERRAFORM_DIR)


def _url_patterns(stack: Stack, variable: str) -> list[re.Pattern[str]]:
    """The regexes a variable's validation blocks apply, as Python patterns."""
    found = []
    for validation in stack.variables[variable]["validation"]:
        condition = validation["condition"]
        for literal in re.findall(r'regex\("((?:[^"\\]|\\.)*)"', condition):
            # The condition keeps HCL's string escapes: \\ stands for \.
            found.append(re.compile(literal.replace("\\\\", "\\")))
    return found


def _accepts(stack: Stack, variable: str, value: str) -> bool:
    patterns = _url_patterns(stack, variable)
    assert patterns, f"{variable} has no regex validation"
    if variable == "api_base_url":
        # The second rule is negated: it names what must not match.
        shape, forbidden = patterns
        return bool(shape.search(value)) and not forbidden.search(value)
    return all(pattern.search(value) for pattern in patterns)


def test_the_stack_has_one_file_per_concern() -> None:
    names = {path.name for path in TF_FILES}

    assert {
        "versions.tf",
        "providers.tf",
        "variables.tf",
        "cognito.tf",
        "kakao_idp.tf",
        "ssm.tf",
        "dynamodb.tf",
        "iam.tf",
        "outputs.tf",
    } <= names


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: p.name)
def test_every_tf_file_parses(path: Path) -> None:
    parsed = structure.parse(path)

    assert parsed, f"{path.name} parsed to nothing"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_structure_check_holds(stack: Stack, name: str) -> None:
    found = CHECKS[name](stack)

    assert found == []


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com",
        "https://app.example.com:8443",
        "http://localhost:3001",
    ],
)
def test_allowed_origins_accept_exact_origins(stack: Stack, origin: str) -> None:
    assert _accepts(stack, "allowed_origins", origin)


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "null",
        "https://*.example.com",
        "https://app.example.com/",
        "https://app.example.com/app",
        "http://app.example.com",
        "http://localhost.attacker.example",
    ],
)
def test_allowed_origins_reject_wildcards_paths_and_plain_http(
    stack: Stack, origin: str
) -> None:
    assert not _accepts(stack, "allowed_origins", origin)


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://app.example.com/auth/callback", True),
        ("http://localhost:8000/auth/callback", True),
        ("http://app.example.com/auth/callback", False),
        ("https://app.example.com/auth/callback?next=/", False),
        ("https://app.example.com/auth/callback#x", False),
        ("https://app.example.com", False),
    ],
)
def test_extra_callback_urls_must_be_https_or_localhost(
    stack: Stack, url: str, accepted: bool
) -> None:
    assert _accepts(stack, "extra_callback_urls", url) is accepted
    assert _accepts(stack, "extra_sign_out_urls", url) is accepted


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://app.example.com", True),
        ("http://localhost:8000", True),
        ("https://abc123.execute-api.ap-northeast-2.amazonaws.com/api", False),
        ("http://app.example.com", False),
    ],
)
def test_api_base_url_must_be_on_the_shared_site(
    stack: Stack, url: str, accepted: bool
) -> None:
    assert _accepts(stack, "api_base_url", url) is accepted


def test_derived_urls_follow_the_cognito_and_api_shapes(stack: Stack) -> None:
    derived = stack.locals

    assert derived["api_callback_url"] == "${var.api_base_url}/auth/callback"
    assert derived["frontend_page_url"] == '${trimsuffix(var.frontend_url, "/")}/'
    assert derived["callback_urls"].startswith(
        "${distinct(concat([local.api_callback_url, local.frontend_page_url],"
    )
    assert derived["logout_redirect_url"] == "${local.frontend_page_url}"
    assert derived["cognito_domain_url"] == (
        "https://${local.cognito_domain_prefix}.auth.${var.region}.amazoncognito.com"
    )
    assert derived["cognito_issuer"] == (
        "https://cognito-idp.${var.region}.amazonaws.com/"
        "${aws_cognito_user_pool.this.id}"
    )
    assert derived["jwks_url"] == "${local.cognito_issuer}/.well-known/jwks.json"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_tfvars_set_every_required_variable_and_nothing_unknown(
    stack: Stack, path: Path
) -> None:
    values = structure.parse(path)
    required = {name for name, body in stack.variables.items() if "default" not in body}

    assert set(values) <= set(stack.variables)
    assert required - set(values) <= {"kakao_client_secret"}


def test_examples_exist_for_dev_and_prod() -> None:
    assert {p.name for p in EXAMPLES} == {"dev.tfvars.example", "prod.tfvars.example"}


def test_readme_documents_every_input_and_output(stack: Stack) -> None:
    readme = (TERRAFORM_DIR / "README.md").read_text(encoding="utf-8")

    undocumented = [
        name for name in [*stack.variables, *stack.outputs] if f"`{name}`" not in readme
    ]

    assert undocumented == []
