# Names and URLs derived once, so every file and output agrees on them.

locals {
  name_prefix           = "${var.project}-${var.stage}"
  cognito_domain_prefix = coalesce(var.cognito_domain_prefix, local.name_prefix)
  cognito_domain_url    = "https://${local.cognito_domain_prefix}.auth.${var.region}.amazoncognito.com"
  cognito_issuer        = "https://cognito-idp.${var.region}.amazonaws.com/${aws_cognito_user_pool.this.id}"
  jwks_url              = "${local.cognito_issuer}/.well-known/jwks.json"

  # Two callbacks, each sent byte for byte as redirect_uri: the API's own
  # (login flow "api") first, then the front end's page (flow "frontend",
  # where the page posts the code to /auth/token). The page is also where
  # sign-out lands.
  api_callback_url    = "${var.api_base_url}/auth/callback"
  frontend_page_url   = "${trimsuffix(var.frontend_url, "/")}/"
  callback_urls       = distinct(concat([local.api_callback_url, local.frontend_page_url], var.extra_callback_urls))
  logout_redirect_url = local.frontend_page_url
  sign_out_urls       = distinct(concat([local.logout_redirect_url], var.extra_sign_out_urls))

  frontend_origin = regex("^[a-z]+://[^/]+", var.frontend_url)
  allowed_origins = distinct(concat([local.frontend_origin], var.allowed_origins))

  # Kakao first: the API's default provider is the first one listed.
  identity_providers = concat(
    [aws_cognito_identity_provider.kakao.provider_name],
    var.enable_cognito_login ? ["COGNITO"] : [],
  )

  ssm_prefix          = "/${var.project}/${var.stage}/"
  sessions_table_name = "${local.name_prefix}-sessions"
}
