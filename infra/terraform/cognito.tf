# The user pool, its hosted-UI domain and the web app client.

resource "aws_cognito_user_pool" "this" {
  name = local.name_prefix

  # Kakao users sign in as Kakao_<sub>: no username_attributes or
  # alias_attributes, and email is not required, because Kakao sends email
  # only with consent and a verified address. Both settings force a new pool.
  username_configuration {
    case_sensitive = false
  }

  deletion_protection = "ACTIVE"

  # Only administrators create password users, and only when
  # enable_cognito_login offers the password form at all.
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = false
    temporary_password_validity_days = 3
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "admin_only"
      priority = 1
    }
  }

  lifecycle {
    # Replacing the pool deletes every user and every client id, stranding
    # the deployed API and front end on ids that no longer exist.
    prevent_destroy = true
    # Cognito cannot change a schema attribute once created; a drifting
    # schema would plan a replacement of the pool.
    ignore_changes = [schema]

    # Applying one stage's variables in another stage's workspace would plan
    # a rename, that is a replacement, of that stage's pool.
    precondition {
      condition     = contains(["default", var.stage], terraform.workspace)
      error_message = "Select the stage's workspace first: terraform workspace select ${var.stage}."
    }
  }
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = local.cognito_domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id

  # Version 1 (classic hosted UI): version 2 needs an
  # aws_cognito_managed_login_branding per client or the page shows
  # "Login pages unavailable". Chosen at creation; changing it later
  # changes what every user sees.
  managed_login_version = 1
}

resource "aws_cognito_user_pool_client" "web" {
  name         = "${local.name_prefix}-web"
  user_pool_id = aws_cognito_user_pool.this.id

  # A confidential client: the API holds the secret, the browser never does.
  # Toggling generate_secret replaces the client (new id and secret).
  generate_secret = true

  # Authorization code flow only (RFC 9700 section 2.1.2 rules out the
  # implicit grant); the API adds PKCE to every request.
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  callback_urls                        = local.callback_urls
  logout_urls                          = local.sign_out_urls
  supported_identity_providers         = local.identity_providers

  # Refresh tokens go through /oauth2/token with rotation on, and Cognito
  # rejects ALLOW_REFRESH_TOKEN_AUTH on a rotating client. Left empty,
  # Cognito would switch on its default set, which includes it.
  explicit_auth_flows = ["ALLOW_USER_SRP_AUTH"]

  access_token_validity  = var.access_token_validity_minutes
  id_token_validity      = var.id_token_validity_minutes
  refresh_token_validity = var.refresh_token_validity_days
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }

  # Rotation is decided once and the block stays: removing or toggling it has
  # open provider bugs (README, Refresh token rotation). Every refresh returns
  # a new refresh token; the old one works for the grace period only.
  refresh_token_rotation {
    feature                    = "ENABLED"
    retry_grace_period_seconds = var.refresh_rotation_grace_seconds
  }

  # Logout revokes the refresh token at /oauth2/revoke (RFC 7009).
  enable_token_revocation = true

  # Failed sign-ins do not reveal whether a username exists.
  prevent_user_existence_errors = "ENABLED"

  # The client names the provider, so the provider must exist first.
  depends_on = [aws_cognito_identity_provider.kakao]

  lifecycle {
    # A new client means a new id and secret: every stored session and the
    # API's configuration would point at a client that no longer exists.
    prevent_destroy = true
  }
}
