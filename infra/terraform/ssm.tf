# The API's configuration under /<project>/<stage>/: one parameter per name in
# chalice_app/chalicelib/config.py PARAMETERS (a test keeps the two equal).

locals {
  # Plain settings, keyed by parameter name (stable for_each keys).
  ssm_string_parameters = {
    user_pool_id                     = aws_cognito_user_pool.this.id
    client_id                        = aws_cognito_user_pool_client.web.id
    cognito_domain_url               = local.cognito_domain_url
    issuer                           = local.cognito_issuer
    jwks_url                         = local.jwks_url
    callback_url                     = local.api_callback_url
    logout_redirect_url              = local.logout_redirect_url
    frontend_url                     = local.frontend_page_url
    allowed_origins                  = join(",", local.allowed_origins)
    identity_providers               = join(",", local.identity_providers)
    token_delivery                   = var.token_delivery
    session_idle_timeout_seconds     = tostring(var.session_idle_timeout_seconds)
    session_absolute_timeout_seconds = tostring(var.session_absolute_timeout_seconds)
    app_public_config                = jsonencode(var.app_public_config)
  }
}

resource "aws_ssm_parameter" "setting" {
  #checkov:skip=CKV2_AWS_34:Public settings (ids, URLs, timeouts) the front end sees anyway; the one secret is a SecureString below.
  for_each = local.ssm_string_parameters

  name  = "${local.ssm_prefix}${each.key}"
  type  = "String"
  tier  = "Standard"
  value = each.value
}

resource "aws_ssm_parameter" "client_secret" {
  name   = "${local.ssm_prefix}client_secret"
  type   = "SecureString"
  tier   = "Standard"
  key_id = aws_kms_key.this.arn

  # Write-only: the value is sent to SSM but never stored in state (the app
  # client's own client_secret attribute still is: README, Secrets in state).
  value_wo = aws_cognito_user_pool_client.web.client_secret
  # SSM is rewritten only when this number changes. It is derived from the
  # client id, so a new client (hence a new secret) rewrites the parameter.
  value_wo_version = parseint(substr(sha256(aws_cognito_user_pool_client.web.id), 0, 8), 16)
}
