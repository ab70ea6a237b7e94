# Read by scripts/sync_config.py through `terraform output -json`; the names,
# types and secrecy are scripts/outputs.py OUTPUTS (a test keeps them equal).
# Lists and maps are converted explicitly so the JSON type is list/map, not
# tuple/object.

output "project" {
  description = "Project name, the first segment of every resource name."
  value       = var.project
}

output "stage" {
  description = "Stage name these resources belong to."
  value       = var.stage
}

output "region" {
  description = "AWS region of every resource."
  value       = var.region
}

output "user_pool_id" {
  description = "Cognito user pool id."
  value       = aws_cognito_user_pool.this.id
}

output "app_client_id" {
  description = "Cognito app client id of the web client."
  value       = aws_cognito_user_pool_client.web.id
}

output "app_client_secret" {
  description = "Cognito app client secret; the API reads it from SSM, never from config files."
  value       = aws_cognito_user_pool_client.web.client_secret
  sensitive   = true
}

output "cognito_domain_url" {
  description = "Hosted-UI base URL (authorize, token, revoke, logout endpoints)."
  value       = local.cognito_domain_url
}

output "cognito_issuer" {
  description = "Issuer (iss) of the pool's tokens."
  value       = local.cognito_issuer
}

output "jwks_url" {
  description = "JWKS document of the pool's signing keys."
  value       = local.jwks_url
}

output "identity_providers" {
  description = "Identity providers offered by the app client, the default first."
  value       = tolist(local.identity_providers)
}

output "callback_urls" {
  description = "Callback URLs registered on the app client: the API's, then the front end's page."
  value       = tolist(local.callback_urls)
}

output "sign_out_urls" {
  description = "Sign-out URLs registered on the app client, the front end's first."
  value       = tolist(local.sign_out_urls)
}

output "api_callback_url" {
  description = "The API's OAuth callback, sent as redirect_uri."
  value       = local.api_callback_url
}

output "frontend_url" {
  description = "Front end's page, exactly as registered (callback and sign-out URL)."
  value       = local.frontend_page_url
}

output "api_base_url" {
  description = "Base URL of the API on the shared site."
  value       = var.api_base_url
}

output "allowed_origins" {
  description = "Exact origins the API accepts browser requests from."
  value       = tolist(local.allowed_origins)
}

output "ssm_prefix" {
  description = "SSM path holding the API's configuration, with trailing slash."
  value       = local.ssm_prefix
}

output "sessions_table_name" {
  description = "DynamoDB table of server-side sessions."
  value       = aws_dynamodb_table.sessions.name
}

output "lambda_role_arn" {
  description = "Role for the Chalice stage's iam_role_arn (manage_iam_role false)."
  value       = aws_iam_role.lambda.arn
}

output "token_delivery" {
  description = "How the browser gets tokens: bff or token-mediating."
  value       = var.token_delivery
}

output "app_public_config" {
  description = "The app's public settings handed to the front end."
  value       = tomap(var.app_public_config)
}
