"""Before a login leaves for Cognito: does Cognito know what the config names?

A redeploy that replaced the app client, or config copied from another stage,
would otherwise send the browser to Cognito's own error page with nothing to
say which value is stale. One ``DescribeUserPoolClient`` per client id per
minute per container turns that into our ``config_stale`` error and a log line
naming the stale value. Any other failure of the look-up (throttling, a missing
permission, a network blip) lets the login proceed: the check is a diagnosis,
never a new way to be down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from chalicelib.config import AppConfig, Clock
from chalicelib.errors import ConfigStale

logger = logging.getLogger(__name__)

CHECK_MAX_AGE_SECONDS = 60.0


class DeploymentCheck:
    def __init__(
        self,
        cognito: Callable[[], Any],
        clock: Clock,
        max_age: float = CHECK_MAX_AGE_SECONDS,
    ) -> None:
        self._cognito = cognito
        self._clock = clock
        self._max_age = max_age
        # (pool, client) -> (looked up at, the client's settings or None if gone)
        self._clients: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def verify(self, config: AppConfig, redirect_uri: str, idp: str) -> None:
        """Raise ConfigStale when the app client or a value it needs is gone."""
        found, client = self._client(config)
        problem: str | None
        if not found:
            problem = (
                f"app client {config.client_id} does not exist in user pool "
                f"{config.user_pool_id}"
            )
        elif client is None:
            return  # the look-up failed: proceed unchecked
        else:
            problem = stale_value(client, config, redirect_uri, idp)
        if problem is not None:
            logger.error("stale configuration: %s", problem)
            raise ConfigStale()

    def _client(self, config: AppConfig) -> tuple[bool, dict[str, Any] | None]:
        """(exists, settings), looked up at most once a minute per client id."""
        key = (config.user_pool_id, config.client_id)
        now = self._clock.now()
        with self._lock:
            cached = self._clients.get(key)
        if cached is not None and now - cached[0] < self._max_age:
            return cached[1] is not None, cached[1]
        try:
            answer = self._cognito().describe_user_pool_client(
                UserPoolId=config.user_pool_id, ClientId=config.client_id
            )
        except Exception as exc:
            code = _error_code(exc)
            if code not in ("ResourceNotFoundException", "InvalidParameterException"):
                logger.warning("app client check skipped: %s", code)
                return True, None
            client = None
        else:
            client = answer["UserPoolClient"]
        with self._lock:
            self._clients[key] = (now, client)
        return client is not None, client


def stale_value(
    client: dict[str, Any], config: AppConfig, redirect_uri: str, idp: str
) -> str | None:
    """Name the first value the config uses that the live client lacks."""
    if redirect_uri not in client.get("CallbackURLs", []):
        return f"redirect URI {redirect_uri} is not registered on the app client"
    if config.logout_redirect_url not in client.get("LogoutURLs", []):
        return f"sign-out URL {config.logout_redirect_url} is not registered"
    if idp not in client.get("SupportedIdentityProviders", []):
        return f"identity provider {idp} is not enabled on the app client"
    return None


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__
