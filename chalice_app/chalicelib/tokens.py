"""ID token verification against the user pool's JWKS (OIDC Core 3.1.3.7).

RS256 only; the key is chosen by ``kid`` from the configured JWKS URL and never
from ``jku``, ``x5u`` or ``jwk`` headers. Parsed keys are cached per container;
an unknown ``kid`` triggers at most one refetch per minute, however many tokens
name unknown keys.
"""

from __future__ import annotations

import hmac
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from chalicelib.config import AppConfig, Clock
from chalicelib.errors import InvalidIdToken, UpstreamUnavailable

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
LEEWAY_SECONDS = 30
REFETCH_INTERVAL_SECONDS = 60.0
HTTP_TIMEOUT = (3.05, 5.0)


@dataclass
class _KeySet:
    keys: dict[str, Any] = field(default_factory=dict)
    fetched: bool = False
    # When an unknown kid last caused a refetch: the first fetch of a
    # container does not count, so a key rotated in just after it is found.
    refetched_at: float | None = None


class TokenVerifier:
    def __init__(self, http: Any, clock: Clock) -> None:
        self._http = http
        self._clock = clock
        self._key_sets: dict[str, _KeySet] = {}
        self._lock = threading.Lock()

    def verify(self, id_token: str, config: AppConfig, *, nonce: str) -> dict[str, Any]:
        """The verified claims of an ID token, or InvalidIdToken."""
        import jwt

        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise InvalidIdToken() from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise InvalidIdToken()

        key = self._key(config.jwks_url, kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=[ALGORITHM],
                audience=config.client_id,
                issuer=config.issuer,
                # Expiry is checked below against the injected clock.
                options={
                    "require": ["iss", "aud", "sub", "exp", "iat"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise InvalidIdToken() from None

        self._check_claims(claims, nonce)
        return claims

    def _check_claims(self, claims: dict[str, Any], nonce: str) -> None:
        now = self._clock.now()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise InvalidIdToken()
        if exp <= now - LEEWAY_SECONDS or iat > now + LEEWAY_SECONDS:
            raise InvalidIdToken()
        if claims.get("token_use") != "id":
            raise InvalidIdToken()
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidIdToken()
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(
            token_nonce.encode(), nonce.encode()
        ):
            raise InvalidIdToken()

    def _key(self, jwks_url: str, kid: str) -> Any:
        with self._lock:
            key_set = self._key_sets.setdefault(jwks_url, _KeySet())
            if kid in key_set.keys:
                return key_set.keys[kid]
            now = self._clock.now()
            cold = not key_set.fetched
            if not cold:
                # A flood of made-up kids costs at most one fetch a minute.
                recent = key_set.refetched_at is not None and (
                    now - key_set.refetched_at < REFETCH_INTERVAL_SECONDS
                )
                if recent:
                    raise InvalidIdToken()
                key_set.refetched_at = now
            # A failed fetch raises and leaves the set as it was.
            key_set.keys = self._fetch(jwks_url)
            key_set.fetched = True
            if kid not in key_set.keys:
                raise InvalidIdToken()
            return key_set.keys[kid]

    def _fetch(self, jwks_url: str) -> dict[str, Any]:
        import jwt

        try:
            response = self._http.get(jwks_url, timeout=HTTP_TIMEOUT)
            document = response.json() if response.status_code == 200 else None
        except Exception as exc:
            logger.warning("JWKS fetch failed: %s", type(exc).__name__)
            raise UpstreamUnavailable() from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            logger.warning("JWKS fetch returned an unusable document")
            raise UpstreamUnavailable()

        keys: dict[str, Any] = {}
        for entry in document["keys"]:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA":
                continue
            if entry.get("alg", ALGORITHM) != ALGORITHM:
                continue
            if entry.get("use", "sig") != "sig" or not isinstance(
                entry.get("kid"), str
            ):
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM).key
            except jwt.PyJWTError:
                continue
        return keys
