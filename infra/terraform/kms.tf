# One customer-managed key for the stage's secrets at rest: the client secret
# in SSM and the sessions table (which holds refresh tokens).

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's "*" resource means this key only; the root principal hands control to IAM.
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource means this key only; the root principal hands control to IAM.
  #checkov:skip=CKV_AWS_356:In a key policy "*" is the key itself, the form AWS documents for the default policy.
  # Key administration and use are delegated to IAM policies of this
  # account (iam.tf grants the Lambda role Decrypt through SSM and DynamoDB).
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${local.name_prefix}: SSM client secret and sessions table"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}
