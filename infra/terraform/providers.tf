provider "aws" {
  region = var.region

  default_tags {
    tags = merge(
      {
        Project   = var.project
        Stage     = var.stage
        ManagedBy = "terraform"
      },
      var.tags,
    )
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
