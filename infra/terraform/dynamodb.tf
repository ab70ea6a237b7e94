# Server-side sessions of the backend-for-frontend.

resource "aws_dynamodb_table" "sessions" {
  name         = local.sessions_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  # DynamoDB deletes expired sessions up to about 48 hours late; the API
  # checks expires_at on every read as well.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  # Items hold Cognito refresh tokens: encrypt with the stage's own key.
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  deletion_protection_enabled = true
}
