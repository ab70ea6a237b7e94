"""The API's configuration: one typed object, loaded from SSM in one place.

Terraform writes every value under ``/<project>/<stage>/`` (``infra/terraform/
ssm.tf``); the offline stack's provisioning writes the same names. The Chalice
stage config holds only pointers that cannot go stale (region, SSM prefix, table
name), so a redeploy that changes the app client id never strands the API.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Every SSM parameter the API reads, and whether it is a secret (SecureString).
# The Terraform contract test compares this with ssm.tf.
PARAMETERS: dict[str, bool] = {
    "user_pool_id": False,
    "client_id": False,
    "client_secret": True,
    "cognito_domain_url": False,
    "issuer": False,
    "jwks_url": False,
    "callback_url": False,
    "logout_redirect_url": False,
    "frontend_url": False,
    "allowed_origins": False,
    "identity_providers": False,
    "token_delivery": False,
    "session_idle_timeout_seconds": False,
    "session_absolute_timeout_seconds": False,
    "app_public_config": False,
}

TOKEN_DELIVERY_MODES = ("bff", "token-mediating")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ConfigError(Exception):
    """The stored configuration is missing a value or holds an unusable one."""


def is_loopback_url(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class AppConfig:
    region: str
    user_pool_id: str
    client_id: str
    client_secret: str
    cognito_domain_url: str
    issuer: str
    jwks_url: str
    callback_url: str
    logout_redirect_url: str
    frontend_url: str
    allowed_origins: tuple[str, ...]
    identity_providers: tuple[str, ...]
    token_delivery: str
    session_idle_timeout: int
    session_absolute_timeout: int
    app_public_config: dict[str, Any]

    @classmethod
    def from_parameters(cls, region: str, values: dict[str, str]) -> AppConfig:
        """Build from SSM values keyed by short name (the prefix removed)."""
        missing = sorted(name for name in PARAMETERS if not values.get(name))
        if missing:
            raise ConfigError(f"SSM parameters missing: {', '.join(missing)}")
        config = cls(
            region=region,
            user_pool_id=values["user_pool_id"],
            client_id=values["client_id"],
            client_secret=values["client_secret"],
            cognito_domain_url=values["cognito_domain_url"].rstrip("/"),
            issuer=values["issuer"].rstrip("/"),
            jwks_url=values["jwks_url"],
            callback_url=values["callback_url"],
            logout_redirect_url=values["logout_redirect_url"],
            frontend_url=values["frontend_url"],
            allowed_origins=_split(values["allowed_origins"]),
            identity_providers=_split(values["identity_providers"]),
            token_delivery=values["token_delivery"],
            session_idle_timeout=_seconds(values, "session_idle_timeout_seconds"),
            session_absolute_timeout=_seconds(
                values, "session_absolute_timeout_seconds"
            ),
            app_public_config=_json_object(values["app_public_config"]),
        )
        config._validate()
        return config

    def _validate(self) -> None:
        if self.token_delivery not in TOKEN_DELIVERY_MODES:
            raise ConfigError(f"token_delivery must be one of {TOKEN_DELIVERY_MODES}")
        if not self.identity_providers:
            raise ConfigError("identity_providers is empty")
        if "*" in self.allowed_origins or "null" in self.allowed_origins:
            raise ConfigError("allowed_origins must list exact origins")
        if self.session_idle_timeout > self.session_absolute_timeout:
            raise ConfigError("the idle timeout exceeds the absolute timeout")
        # Only a stage whose every URL is loopback may fetch keys from anywhere
        # but the issuer's own JWKS document (the offline stack serves it from
        # moto). A deployed stage can never be pointed at another key set.
        if self.jwks_url != self.issuer + "/.well-known/jwks.json":
            if not self.all_loopback:
                raise ConfigError("jwks_url may differ from the issuer's only offline")

    @property
    def all_loopback(self) -> bool:
        urls = [
            self.cognito_domain_url,
            self.jwks_url,
            self.callback_url,
            self.logout_redirect_url,
            self.frontend_url,
            *self.allowed_origins,
        ]
        return all(is_loopback_url(url) for url in urls)

    @property
    def default_identity_provider(self) -> str:
        return self.identity_providers[0]

    def public(self) -> dict[str, Any]:
        """What the front end may see: never a secret, plain key names."""
        values: dict[str, Any] = {
            "region": self.region,
            "user_pool_id": self.user_pool_id,
            "client_id": self.client_id,
            "cognito_domain_url": self.cognito_domain_url,
            "identity_providers": list(self.identity_providers),
            "token_delivery": self.token_delivery,
            "session_idle_timeout_seconds": self.session_idle_timeout,
            "session_absolute_timeout_seconds": self.session_absolute_timeout,
            "app": dict(self.app_public_config),
        }
        values["fingerprint"] = fingerprint(values)
        return values


def fingerprint(public_values: dict[str, Any]) -> str:
    """A short digest of the public config; equal digests mean equal config.

    The config generator computes it from Terraform outputs and the API from
    SSM, so a front end or a doctor run can tell at once which side is stale.
    """
    material = {key: value for key, value in public_values.items() if key != "fingerprint"}
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _split(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _seconds(values: dict[str, str], name: str) -> int:
    try:
        seconds = int(values[name])
    except ValueError:
        raise ConfigError(f"{name} is not a whole number of seconds") from None
    if seconds <= 0:
        raise ConfigError(f"{name} must be positive")
    return seconds


def _json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError("app_public_config is not JSON") from None
    if not isinstance(value, dict):
        raise ConfigError("app_public_config must be a JSON object")
    return value
