# Inputs for one stage. Validation blocks that name another variable need
# Terraform >= 1.9 (versions.tf asks for 1.11).

variable "project" {
  type        = string
  description = "Project name: the prefix of every resource name and of the SSM path /<project>/<stage>/; also the Chalice app_name."
  default     = "kakao-login"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.project))
    error_message = "project must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "stage" {
  type        = string
  description = "Stage name (dev, prod, ...): the Chalice stage deployed against these resources."

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{0,15}$", var.stage))
    error_message = "stage must be 1-16 lowercase letters or digits, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region of every resource, e.g. ap-northeast-2 (Seoul)."
  default     = "ap-northeast-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as ap-northeast-2."
  }
}

variable "cognito_domain_prefix" {
  type        = string
  description = "Prefix of the hosted-UI domain <prefix>.auth.<region>.amazoncognito.com; null means <project>-<stage>. Prefixes are global per region, so pick another if it is taken."
  default     = null

  validation {
    condition = var.cognito_domain_prefix == null || (
      can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", coalesce(var.cognito_domain_prefix, "x"))) &&
      !can(regex("aws|amazon|cognito", coalesce(var.cognito_domain_prefix, "x")))
    )
    error_message = "cognito_domain_prefix must be 1-63 lowercase letters, digits or inner hyphens, without aws, amazon or cognito."
  }
}

variable "api_base_url" {
  type        = string
  description = "Base URL at which the browser reaches the API on the shared site (e.g. https://app.example.com), without a trailing slash; the app client's callback is <api_base_url>/auth/callback."

  validation {
    condition     = can(regex("^(https://[a-z0-9.-]+(:[0-9]+)?|http://localhost(:[0-9]+)?)(/[^?#]*)?$", var.api_base_url)) && !endswith(var.api_base_url, "/")
    error_message = "api_base_url must be https (or http on localhost), without query, fragment or trailing slash."
  }

  validation {
    # execute-api.amazonaws.com is a public suffix: a session cookie set there
    # is cross-site to every front end, so SameSite=Lax would drop it.
    condition     = !can(regex("\\.amazonaws\\.com(:|/|$)", var.api_base_url))
    error_message = "api_base_url must be the shared site (CloudFront or custom domain), not the execute-api URL: see README, One site."
  }
}

variable "frontend_url" {
  type        = string
  description = "URL of the front end's page (e.g. https://app.example.com); <frontend_url>/ is registered as a callback and as the sign-out URL."

  validation {
    condition     = can(regex("^(https://[a-z0-9.-]+(:[0-9]+)?|http://localhost(:[0-9]+)?)(/[^?#]*)?$", var.frontend_url))
    error_message = "frontend_url must be https (or http on localhost), without query or fragment."
  }
}

variable "extra_callback_urls" {
  type        = list(string)
  description = "Callback URLs registered on the app client besides <api_base_url>/auth/callback and <frontend_url>/ (always first)."
  default     = []

  validation {
    condition = alltrue([
      for url in var.extra_callback_urls :
      can(regex("^(https://[a-z0-9.-]+(:[0-9]+)?|http://localhost(:[0-9]+)?)/[^?#]*$", url))
    ])
    error_message = "Every callback URL must be https (or http on localhost) with a path and no query or fragment."
  }
}

variable "extra_sign_out_urls" {
  type        = list(string)
  description = "Sign-out URLs registered on the app client besides <frontend_url>/ (which is always first)."
  default     = []

  validation {
    condition = alltrue([
      for url in var.extra_sign_out_urls :
      can(regex("^(https://[a-z0-9.-]+(:[0-9]+)?|http://localhost(:[0-9]+)?)/[^?#]*$", url))
    ])
    error_message = "Every sign-out URL must be https (or http on localhost) with a path and no query or fragment."
  }
}

variable "allowed_origins" {
  type        = list(string)
  description = "Exact browser origins the API accepts state-changing requests from, besides the origin of frontend_url (always included)."
  default     = []

  validation {
    condition = alltrue([
      for origin in var.allowed_origins :
      can(regex("^(https://[a-z0-9.-]+(:[0-9]+)?|http://localhost(:[0-9]+)?)$", origin))
    ])
    error_message = "allowed_origins must be exact origins (scheme://host[:port], https or http on localhost): no *, null, path or trailing slash."
  }
}

variable "kakao_client_id" {
  type        = string
  description = "Kakao app's REST API key (the OIDC client id), from Kakao Developers > App > App Keys."

  validation {
    condition     = length(trimspace(var.kakao_client_id)) > 0
    error_message = "kakao_client_id must not be empty."
  }
}

variable "kakao_client_secret" {
  type        = string
  description = "Kakao app's client secret (Kakao Login > Security, enabled). Stored in state: use the encrypted backend."
  sensitive   = true

  validation {
    condition     = length(trimspace(var.kakao_client_secret)) > 0
    error_message = "kakao_client_secret must not be empty."
  }
}

variable "access_token_validity_minutes" {
  type        = number
  description = "Lifetime of Cognito access tokens, in minutes (Cognito allows 5 minutes to 1 day)."
  default     = 60

  validation {
    condition     = var.access_token_validity_minutes >= 5 && var.access_token_validity_minutes <= 1440 && floor(var.access_token_validity_minutes) == var.access_token_validity_minutes
    error_message = "access_token_validity_minutes must be a whole number from 5 to 1440."
  }
}

variable "id_token_validity_minutes" {
  type        = number
  description = "Lifetime of Cognito ID tokens, in minutes (Cognito allows 5 minutes to 1 day)."
  default     = 60

  validation {
    condition     = var.id_token_validity_minutes >= 5 && var.id_token_validity_minutes <= 1440 && floor(var.id_token_validity_minutes) == var.id_token_validity_minutes
    error_message = "id_token_validity_minutes must be a whole number from 5 to 1440."
  }
}

variable "refresh_token_validity_days" {
  type        = number
  description = "Lifetime of Cognito refresh tokens, in days (Cognito allows up to 10 years); it bounds the absolute session timeout."
  default     = 1

  validation {
    condition     = var.refresh_token_validity_days >= 1 && var.refresh_token_validity_days <= 3650 && floor(var.refresh_token_validity_days) == var.refresh_token_validity_days
    error_message = "refresh_token_validity_days must be a whole number from 1 to 3650."
  }
}

variable "refresh_rotation_grace_seconds" {
  type        = number
  description = "How long a rotated refresh token still works, in seconds (0-60): covers a refresh whose response was lost."
  default     = 10

  validation {
    condition     = var.refresh_rotation_grace_seconds >= 0 && var.refresh_rotation_grace_seconds <= 60 && floor(var.refresh_rotation_grace_seconds) == var.refresh_rotation_grace_seconds
    error_message = "refresh_rotation_grace_seconds must be a whole number from 0 to 60."
  }
}

variable "session_idle_timeout_seconds" {
  type        = number
  description = "A session unused for this long ends, in seconds."
  default     = 1800

  validation {
    condition     = var.session_idle_timeout_seconds >= 60 && floor(var.session_idle_timeout_seconds) == var.session_idle_timeout_seconds
    error_message = "session_idle_timeout_seconds must be a whole number of at least 60."
  }

  validation {
    condition     = var.session_idle_timeout_seconds <= var.session_absolute_timeout_seconds
    error_message = "session_idle_timeout_seconds must not exceed session_absolute_timeout_seconds."
  }
}

variable "session_absolute_timeout_seconds" {
  type        = number
  description = "A session ends this long after sign-in whatever its use, in seconds; at most the refresh token lifetime."
  default     = 28800

  validation {
    condition     = var.session_absolute_timeout_seconds >= 60 && floor(var.session_absolute_timeout_seconds) == var.session_absolute_timeout_seconds
    error_message = "session_absolute_timeout_seconds must be a whole number of at least 60."
  }

  validation {
    # A longer session would outlive its refresh token and fail at refresh.
    condition     = var.session_absolute_timeout_seconds <= var.refresh_token_validity_days * 86400
    error_message = "session_absolute_timeout_seconds must not exceed refresh_token_validity_days in seconds."
  }
}

variable "token_delivery" {
  type        = string
  description = "How the browser gets tokens: bff (tokens stay in the API, the browser holds a session cookie) or token-mediating (the API hands the browser short-lived access tokens)."
  default     = "bff"

  validation {
    condition     = contains(["bff", "token-mediating"], var.token_delivery)
    error_message = "token_delivery must be bff or token-mediating."
  }
}

variable "enable_cognito_login" {
  type        = bool
  description = "Also offer Cognito's own username/password login on the hosted UI (administrator-created users only)."
  default     = false
}

variable "app_public_config" {
  type        = map(string)
  description = "Public settings of the app handed to the front end as-is (e.g. its API and WebSocket URLs); never secrets."
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.app_public_config) : can(regex("^[a-z][a-z0-9_]{0,63}$", key))])
    error_message = "app_public_config keys must be snake_case identifiers."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags on every resource, merged over Project, Stage and ManagedBy."
  default     = {}
}
