"""The user pool's OAuth 2.0 endpoints: token (code and refresh grants) and revoke.

The app client is confidential and authenticates with HTTP Basic
(``client_secret_basic``, RFC 6749 section 2.3.1). Upstream bodies are never
logged or passed on: a caller learns only "rejected" (with the OAuth error code)
or "unavailable".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from chalicelib.config import AppConfig
from chalicelib.errors import UpstreamUnavailable

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = (3.05, 5.0)
# RFC 6749 section 5.2 errors after which retrying the same grant is pointless.
FATAL_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})
KNOWN_ERRORS = FATAL_ERRORS | {
    "invalid_request",
    "unsupported_grant_type",
    "invalid_scope",
}


class GrantRejected(Exception):
    """The token endpoint refused the grant (HTTP 400/401 with an OAuth error)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error

    @property
    def fatal(self) -> bool:
        return self.error in FATAL_ERRORS


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    expires_in: int
    id_token: str | None
    refresh_token: str | None


class CognitoOAuthClient:
    def __init__(self, http: Any) -> None:
        self._http = http

    def exchange_code(
        self, config: AppConfig, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenResponse:
        """Authorization code grant with PKCE (RFC 6749 4.1.3, RFC 7636 4.5)."""
        return self._token(
            config,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
        )

    def refresh(self, config: AppConfig, *, refresh_token: str) -> TokenResponse:
        """Refresh grant (RFC 6749 section 6); a rotated refresh token comes back."""
        return self._token(
            config, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    def revoke(self, config: AppConfig, *, refresh_token: str) -> bool:
        """Revoke a refresh token (RFC 7009); False when Cognito did not confirm."""
        try:
            response = self._http.post(
                config.cognito_domain_url + "/oauth2/revoke",
                data={"token": refresh_token},
                auth=(config.client_id, config.client_secret),
                timeout=HTTP_TIMEOUT,
            )
        except Exception as exc:
            logger.warning("token revocation failed: %s", type(exc).__name__)
            return False
        if response.status_code != 200:
            logger.warning("token revocation refused: HTTP %s", response.status_code)
            return False
        return True

    def _token(self, config: AppConfig, form: dict[str, str]) -> TokenResponse:
        try:
            response = self._http.post(
                config.cognito_domain_url + "/oauth2/token",
                data=form,
                auth=(config.client_id, config.client_secret),
                headers={"Accept": "application/json"},
                timeout=HTTP_TIMEOUT,
            )
        except Exception as exc:
            logger.warning("token endpoint unreachable: %s", type(exc).__name__)
            raise UpstreamUnavailable() from None

        document = _json_object(response)
        if response.status_code in (400, 401) and document is not None:
            error = document.get("error")
            if isinstance(error, str) and error in KNOWN_ERRORS:
                raise GrantRejected(error)
        if response.status_code != 200 or document is None:
            logger.warning("token endpoint answered HTTP %s", response.status_code)
            raise UpstreamUnavailable()
        return _token_response(document)


def _json_object(response: Any) -> dict[str, Any] | None:
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type.lower():
        return None
    try:
        document = response.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _token_response(document: dict[str, Any]) -> TokenResponse:
    access_token = document.get("access_token")
    expires_in = document.get("expires_in")
    id_token = document.get("id_token")
    refresh_token = document.get("refresh_token")
    well_formed = (
        isinstance(access_token, str)
        and access_token
        and isinstance(expires_in, int)
        and not isinstance(expires_in, bool)
        and expires_in > 0
        and (id_token is None or isinstance(id_token, str))
        and (refresh_token is None or isinstance(refresh_token, str))
    )
    if not well_formed:
        logger.warning("token endpoint returned a malformed token response")
        raise UpstreamUnavailable()
    return TokenResponse(
        access_token=str(access_token),
        expires_in=int(str(expires_in)),
        id_token=id_token or None,
        refresh_token=refresh_token or None,
    )
