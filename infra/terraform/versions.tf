terraform {
  # 1.11 brings write-only arguments (value_wo on the SSM SecureString), and
  # validation blocks that refer to other variables (1.9).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.x has refresh_token_rotation on the app client and
      # managed_login_version on the domain; the floor pins both.
      version = ">= 6.14, < 7.0"
    }
  }
}
