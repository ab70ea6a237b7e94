# The Lambda role of the Chalice app. Chalice stages set manage_iam_role =
# false and iam_role_arn = lambda_role_arn, so every permission lives here.

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # Chalice names functions <app_name>-<stage>[-<function>]; app_name = project.
  lambda_log_groups = [
    "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/lambda/${local.name_prefix}:*",
    "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/lambda/${local.name_prefix}-*:*",
  ]
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${local.name_prefix}-api"
  description        = "Chalice API of ${local.name_prefix}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid = "SessionsTable"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    ]
    resources = [aws_dynamodb_table.sessions.arn]
  }

  statement {
    sid = "StageConfiguration"
    actions = [
      "ssm:GetParametersByPath",
      "ssm:GetParameters",
      "ssm:GetParameter",
    ]
    resources = [
      "arn:${local.partition}:ssm:${var.region}:${local.account_id}:parameter/${var.project}/${var.stage}",
      "arn:${local.partition}:ssm:${var.region}:${local.account_id}:parameter/${var.project}/${var.stage}/*",
    ]
  }

  # Read-only look-up before each login leaves for Cognito (cached a minute
  # per container): a stale client id in SSM becomes our own clear error
  # instead of Cognito's error page.
  statement {
    sid       = "CheckAppClient"
    actions   = ["cognito-idp:DescribeUserPoolClient"]
    resources = [aws_cognito_user_pool.this.arn]
  }

  statement {
    sid       = "DecryptClientSecretThroughSsm"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid = "SessionsEncryptionThroughDynamodb"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:DescribeKey",
    ]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid = "OwnLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = local.lambda_log_groups
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "${local.name_prefix}-api"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}
