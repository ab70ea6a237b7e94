"""The API's configuration: one typed object, loaded from SSM in one place.

Terraform writes every value under ``/<project>/<stage>/`` (``infra/terraform/
ssm.tf``); the offline stack's provisioning writes the same names. The Chalice
stage config holds only pointers that cannot go stale (region, SSM prefix, table
name), so a redeploy that changes the app client id never strands the API.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from chalicelib.errors import ConfigUnavailable

logger = logging.getLogger(__name__)

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
        own_jwks = self.issuer + "/.well-known/jwks.json"
        if self.jwks_url != own_jwks and not self.all_loopback:
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
        return public_config(
            region=self.region,
            user_pool_id=self.user_pool_id,
            client_id=self.client_id,
            cognito_domain_url=self.cognito_domain_url,
            identity_providers=self.identity_providers,
            token_delivery=self.token_delivery,
            app=self.app_public_config,
        )


def public_config(
    *,
    region: str,
    user_pool_id: str,
    client_id: str,
    cognito_domain_url: str,
    identity_providers: tuple[str, ...] | list[str],
    token_delivery: str,
    app: dict[str, Any],
) -> dict[str, Any]:
    """The front end's public config with its fingerprint.

    The API builds it from SSM and the config generator from Terraform outputs,
    through this one function, so equal fingerprints mean equal config.
    """
    values: dict[str, Any] = {
        "region": region,
        "user_pool_id": user_pool_id,
        "client_id": client_id,
        "cognito_domain_url": cognito_domain_url.rstrip("/"),
        "identity_providers": list(identity_providers),
        "token_delivery": token_delivery,
        "app": dict(app),
    }
    values["fingerprint"] = fingerprint(values)
    return values


def fingerprint(public_values: dict[str, Any]) -> str:
    """A short digest of the public config; equal digests mean equal config.

    The config generator computes it from Terraform outputs and the API from
    SSM, so a front end or a doctor run can tell at once which side is stale.
    """
    material = {
        key: value for key, value in public_values.items() if key != "fingerprint"
    }
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


class Clock(Protocol):
    """Wall time in epoch seconds, and a way to wait; tests inject a fake."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class ConfigSource:
    """Reads every parameter under the stage's SSM prefix, cached per container.

    A good read is reused for ``max_age`` seconds so a warm request costs no AWS
    call; a failed read is retried after ``retry_after`` seconds, so the API
    recovers by itself once SSM answers again (no restart, no long-cached error).
    """

    def __init__(
        self,
        ssm: Callable[[], Any],
        *,
        region: str,
        prefix: str,
        clock: Clock,
        max_age: float = 60.0,
        retry_after: float = 1.0,
    ) -> None:
        self._ssm = ssm
        self._region = region
        self._prefix = prefix if prefix.endswith("/") else prefix + "/"
        self._clock = clock
        self._max_age = max_age
        self._retry_after = retry_after
        self._config: AppConfig | None = None
        self._loaded_at = 0.0
        self._failed_at: float | None = None

    def get(self, max_age: float | None = None) -> AppConfig:
        """The config, read again when older than ``max_age`` (default 60 s).

        A login start asks with ``max_age=0``: it must never send Cognito a
        client id that SSM no longer holds.
        """
        now = self._clock.now()
        limit = self._max_age if max_age is None else max_age
        if self._config is not None and now - self._loaded_at < limit:
            return self._config
        if self._failed_at is not None and now - self._failed_at < self._retry_after:
            raise ConfigUnavailable()
        try:
            config = AppConfig.from_parameters(self._region, self._read())
        except ConfigError as exc:
            # The message names parameters, never their values.
            logger.error("configuration unusable: %s", exc)
            return self._fail(now)
        except Exception as exc:
            logger.error("configuration unreadable: %s", type(exc).__name__)
            return self._fail(now)
        self._config, self._loaded_at, self._failed_at = config, now, None
        return config

    def _fail(self, now: float) -> AppConfig:
        self._config, self._failed_at = None, now
        raise ConfigUnavailable()

    def _read(self) -> dict[str, str]:
        values: dict[str, str] = {}
        pages = (
            self._ssm()
            .get_paginator("get_parameters_by_path")
            .paginate(Path=self._prefix, WithDecryption=True)
        )
        for page in pages:
            for parameter in page["Parameters"]:
                short_name = parameter["Name"][len(self._prefix) :]
                values[short_name] = parameter["Value"]
        return values
