# Kakao Login as an OIDC identity provider of the pool.

resource "aws_cognito_identity_provider" "kakao" {
  user_pool_id  = aws_cognito_user_pool.this.id
  provider_name = "Kakao"
  provider_type = "OIDC"

  provider_details = {
    client_id     = var.kakao_client_id
    client_secret = var.kakao_client_secret
    oidc_issuer   = "https://kauth.kakao.com"
    # Kakao's scopes are its consent items; there is no plain email scope.
    authorize_scopes = "openid profile_nickname account_email"
    # Kakao's /v1/oidc/userinfo answers GET with flat claims.
    attributes_request_method = "GET"
  }

  # Federated users are named Kakao_<sub>; email is optional at Kakao.
  attribute_mapping = {
    username = "sub"
    nickname = "nickname"
    email    = "email"
    picture  = "picture"
  }

  lifecycle {
    # Cognito discovers these from the issuer and writes them back; without
    # this every plan shows a diff that would erase them.
    ignore_changes = [
      provider_details["authorize_url"],
      provider_details["token_url"],
      provider_details["attributes_url"],
      provider_details["jwks_uri"],
      provider_details["attributes_url_add_attributes"],
      provider_details["token_request_method"],
    ]
  }
}
