"""Each guard is load-bearing: remove it from a copy and its check must fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terraform.structure import (
    CHECKS,
    TERRAFORM_DIR,
    Mutation,
    Stack,
    mutated_copy,
)

MUTATIONS = [
    Mutation(
        "pool_prevent_destroy_off",
        "cognito.tf",
        "prevent_destroy = true\n    # Cognito cannot change",
        "prevent_destroy = false\n    # Cognito cannot change",
        "prevent_destroy_on_pool_and_client",
    ),
    Mutation(
        "client_prevent_destroy_removed",
        "cognito.tf",
        "    prevent_destroy = true\n  }\n}\n",
        "  }\n}\n",
        "prevent_destroy_on_pool_and_client",
    ),
    Mutation(
        "pool_deletion_protection_inactive",
        "cognito.tf",
        'deletion_protection = "ACTIVE"',
        'deletion_protection = "INACTIVE"',
        "pool_guards",
    ),
    Mutation(
        "pool_schema_changes_not_ignored",
        "cognito.tf",
        "ignore_changes = [schema]",
        "ignore_changes = []",
        "pool_guards",
    ),
    Mutation(
        "pool_email_as_username",
        "cognito.tf",
        "  deletion_protection = ",
        '  username_attributes = ["email"]\n  deletion_protection = ',
        "pool_guards",
    ),
    Mutation(
        "domain_managed_login_v2",
        "cognito.tf",
        "managed_login_version = 1",
        "managed_login_version = 2",
        "domain_managed_login_version",
    ),
    Mutation(
        "client_token_revocation_off",
        "cognito.tf",
        "enable_token_revocation = true",
        "enable_token_revocation = false",
        "client_revocation_and_existence_errors",
    ),
    Mutation(
        "client_user_existence_errors_legacy",
        "cognito.tf",
        'prevent_user_existence_errors = "ENABLED"',
        'prevent_user_existence_errors = "LEGACY"',
        "client_revocation_and_existence_errors",
    ),
    Mutation(
        "client_rotation_block_removed",
        "cognito.tf",
        "  refresh_token_rotation {\n"
        '    feature                    = "ENABLED"\n'
        "    retry_grace_period_seconds = var.refresh_rotation_grace_seconds\n"
        "  }\n",
        "",
        "client_refresh_rotation",
    ),
    Mutation(
        "rotation_grace_bound_widened",
        "variables.tf",
        "var.refresh_rotation_grace_seconds <= 60",
        "var.refresh_rotation_grace_seconds <= 600",
        "client_refresh_rotation",
    ),
    Mutation(
        "client_refresh_token_auth_allowed",
        "cognito.tf",
        'explicit_auth_flows = ["ALLOW_USER_SRP_AUTH"]',
        'explicit_auth_flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]',
        "client_refresh_rotation",
    ),
    Mutation(
        "client_implicit_flow_allowed",
        "cognito.tf",
        'allowed_oauth_flows                  = ["code"]',
        'allowed_oauth_flows                  = ["code", "implicit"]',
        "client_code_flow_only",
    ),
    Mutation(
        "client_secret_not_generated",
        "cognito.tf",
        "generate_secret = true",
        "generate_secret = false",
        "client_code_flow_only",
    ),
    Mutation(
        "client_cognito_always_offered",
        "locals.tf",
        'var.enable_cognito_login ? ["COGNITO"] : []',
        '["COGNITO"]',
        "client_code_flow_only",
    ),
    Mutation(
        "client_id_token_unit_implicit",
        "cognito.tf",
        '    id_token      = "minutes"\n',
        "",
        "client_token_validity_explicit",
    ),
    Mutation(
        "access_token_bound_beyond_a_day",
        "variables.tf",
        "var.access_token_validity_minutes <= 1440",
        "var.access_token_validity_minutes <= 2880",
        "client_token_validity_explicit",
    ),
    Mutation(
        "client_with_count",
        "cognito.tf",
        'resource "aws_cognito_user_pool_client" "web" {\n',
        'resource "aws_cognito_user_pool_client" "web" {\n  count = 1\n',
        "no_count_on_cognito",
    ),
    Mutation(
        "ssm_keys_by_position",
        "ssm.tf",
        "for_each = local.ssm_string_parameters",
        "for_each = { for i, k in keys(local.ssm_string_parameters) : i => k }",
        "for_each_keys_stable",
    ),
    Mutation(
        "kakao_derived_key_not_ignored",
        "kakao_idp.tf",
        '      provider_details["jwks_uri"],\n',
        "",
        "kakao_provider_guards",
    ),
    Mutation(
        "kakao_scopes_without_openid",
        "kakao_idp.tf",
        '"openid profile_nickname account_email"',
        '"profile_nickname account_email"',
        "kakao_provider_guards",
    ),
    Mutation(
        "kakao_secret_not_sensitive",
        "variables.tf",
        "  sensitive   = true\n\n  validation {\n"
        "    condition     = length(trimspace(var.kakao_client_secret))",
        "\n  validation {\n"
        "    condition     = length(trimspace(var.kakao_client_secret))",
        "secret_variables_sensitive",
    ),
    Mutation(
        "secret_output_not_sensitive",
        "outputs.tf",
        "  value       = aws_cognito_user_pool_client.web.client_secret\n"
        "  sensitive   = true\n",
        "  value       = aws_cognito_user_pool_client.web.client_secret\n",
        "secrets_only_in_sensitive_outputs",
    ),
    Mutation(
        "kakao_secret_leaks_through_a_local_into_an_output",
        "outputs.tf",
        "  value       = var.stage\n",
        '  value       = "${var.stage}-${local.leak}"\n}\n\nlocals {\n'
        "  leak = sha256(var.kakao_client_secret)\n",
        "secrets_only_in_sensitive_outputs",
    ),
    Mutation(
        "public_output_marked_sensitive",
        "outputs.tf",
        "  value       = var.project\n",
        "  value       = var.project\n  sensitive   = true\n",
        "outputs_match_contract",
    ),
    Mutation(
        "output_renamed",
        "outputs.tf",
        'output "jwks_url" {',
        'output "jwks_uri" {',
        "outputs_match_contract",
    ),
    Mutation(
        "list_output_as_tuple",
        "outputs.tf",
        "value       = tolist(local.callback_urls)",
        "value       = local.callback_urls",
        "outputs_match_contract",
    ),
    Mutation(
        "output_without_description",
        "outputs.tf",
        '  description = "Stage name these resources belong to."\n',
        "",
        "outputs_described",
    ),
    Mutation(
        "variable_without_type",
        "variables.tf",
        '  type        = bool\n  description = "Also offer',
        '  description = "Also offer',
        "variables_typed_and_described",
    ),
    Mutation(
        "unused_variable",
        "variables.tf",
        'variable "tags" {',
        'variable "unused" {\n  type        = string\n'
        '  description = "Read by nothing."\n  default     = ""\n}\n\n'
        'variable "tags" {',
        "no_unused_variables",
    ),
    Mutation(
        "stage_without_validation",
        "variables.tf",
        '    condition     = can(regex("^[a-z][a-z0-9]{0,15}$", var.stage))\n'
        '    error_message = "stage must be 1-16 lowercase letters or digits, '
        'starting with a letter."\n',
        "",
        "variables_validated",
    ),
    Mutation(
        "session_timeouts_unordered",
        "variables.tf",
        "var.session_idle_timeout_seconds <= var.session_absolute_timeout_seconds",
        "var.session_idle_timeout_seconds > 0",
        "session_timeouts_ordered",
    ),
    Mutation(
        "ssm_parameter_dropped",
        "ssm.tf",
        "    jwks_url                         = local.jwks_url\n",
        "",
        "ssm_parameters_match_contract",
    ),
    Mutation(
        "ssm_secret_stored_as_string",
        "ssm.tf",
        'type   = "SecureString"',
        'type   = "String"',
        "ssm_parameters_match_contract",
    ),
    Mutation(
        "ssm_secret_stored_in_state",
        "ssm.tf",
        "  value_wo = aws_cognito_user_pool_client.web.client_secret\n",
        "  value_wo = aws_cognito_user_pool_client.web.client_secret\n"
        "  value    = aws_cognito_user_pool_client.web.client_secret\n",
        "ssm_parameters_match_contract",
    ),
    Mutation(
        "ssm_outside_the_stage_prefix",
        "locals.tf",
        'ssm_prefix          = "/${var.project}/${var.stage}/"',
        'ssm_prefix          = "/${var.project}/"',
        "ssm_parameters_match_contract",
    ),
    Mutation(
        "table_ttl_attribute_renamed",
        "dynamodb.tf",
        'attribute_name = "expires_at"',
        'attribute_name = "ttl"',
        "sessions_table",
    ),
    Mutation(
        "table_without_pitr",
        "dynamodb.tf",
        "  point_in_time_recovery {\n    enabled = true",
        "  point_in_time_recovery {\n    enabled = false",
        "sessions_table",
    ),
    Mutation(
        "table_deletion_unprotected",
        "dynamodb.tf",
        "deletion_protection_enabled = true",
        "deletion_protection_enabled = false",
        "sessions_table",
    ),
    Mutation(
        "kms_rotation_off",
        "kms.tf",
        "enable_key_rotation     = true",
        "enable_key_rotation     = false",
        "kms_key_rotation",
    ),
    Mutation(
        "lambda_may_scan",
        "iam.tf",
        '      "dynamodb:DeleteItem",\n',
        '      "dynamodb:DeleteItem",\n      "dynamodb:Scan",\n',
        "lambda_role_least_privilege",
    ),
    Mutation(
        "lambda_reads_every_parameter",
        "iam.tf",
        "parameter/${var.project}/${var.stage}/*",
        "parameter/*",
        "lambda_role_least_privilege",
    ),
    Mutation(
        "lambda_decrypts_without_via_service",
        "iam.tf",
        '      variable = "kms:ViaService"\n'
        '      values   = ["ssm.${var.region}.amazonaws.com"]',
        '      variable = "aws:SourceAccount"\n      values   = [local.account_id]',
        "lambda_role_least_privilege",
    ),
    Mutation(
        "terraform_too_old_for_write_only",
        "versions.tf",
        'required_version = ">= 1.11"',
        'required_version = ">= 1.5"',
        "versions_pinned",
    ),
]


def test_every_mutation_targets_a_known_check() -> None:
    unknown = {m.check for m in MUTATIONS} - set(CHECKS)

    assert unknown == set()


def test_mutation_names_are_unique() -> None:
    names = [m.name for m in MUTATIONS]

    assert len(names) == len(set(names))


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_removing_a_guard_fails_its_check(mutation: Mutation, tmp_path: Path) -> None:
    original = CHECKS[mutation.check](Stack.load(TERRAFORM_DIR))
    copy = mutated_copy([mutation], tmp_path / "terraform")

    found = CHECKS[mutation.check](Stack.load(copy))

    assert original == []
    assert found, f"{mutation.check} did not notice {mutation.name}"
