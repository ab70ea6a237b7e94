"""A stand-in for Cognito's hosted-UI domain.

On AWS the domain is ``https://<prefix>.auth.<region>.amazoncognito.com``.

moto has user pools, clients and identity providers but none of the OAuth 2.0
endpoints, so this app serves them, reading the pool, the app client and the
identity provider from moto on every request: a client setting changed in moto
(or a pool replaced by ``provision --recreate``) takes effect at once, and the
stand-in rejects what Cognito would reject, with Cognito's error codes.

The login, top to bottom:

1. ``GET /oauth2/authorize`` checks the client and its redirect URI, then sends
   the browser to Kakao's authorize endpoint with the provider's own client id,
   state and nonce.
2. ``GET /oauth2/idpresponse`` exchanges Kakao's code, verifies Kakao's ID token,
   creates or updates the moto user ``Kakao_<sub>`` and redirects to the app with
   a Cognito authorization code.
3. ``POST /oauth2/token`` trades that code (or a refresh token) for tokens signed
   with moto's key, so moto's JWKS endpoint verifies them.
4. ``POST /oauth2/revoke``, ``GET /logout`` and ``GET /oauth2/userInfo`` follow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import re
import secrets
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import flask
import jwt
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from botocore.exceptions import ClientError, ParamValidationError
from chalicelib.config import is_loopback_url
from jwt.algorithms import RSAAlgorithm
from moto.utilities.utils import load_resource

from devstack.aws import aws_client
from devstack.settings import StackSettings

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

CODE_LIFETIME_SECONDS = 300  # Cognito's authorization codes live about 5 minutes.
LOGIN_TIMEOUT_SECONDS = 600  # a login must come back from Kakao within this
REDEEMED_CODE_MEMORY_SECONDS = 600  # how long a redeemed code is remembered
UPSTREAM_TIMEOUT_SECONDS = 5.0
UPSTREAM_LEEWAY_SECONDS = 60
SIGNING_KEY_ID = "dummy"  # the kid of moto's key in its JWKS document
SIGNING_KEY_RESOURCE = "cognitoidp/resources/jwks-private.json"
COGNITO_PROVIDER = "COGNITO"
TOKEN_VALIDITY_DEFAULTS = {  # Cognito's, when a client sets none
    "AccessToken": (60, "minutes"),
    "IdToken": (60, "minutes"),
    "RefreshToken": (30, "days"),
}
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# RFC 7636 section 4.1: 43 to 128 unreserved characters.
CODE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
CLIENT_ID = re.compile(r"^[\w+]{1,128}$")
# Claims userInfo returns per scope (Cognito's userInfo endpoint section).
SCOPE_ATTRIBUTES = {
    "email": ("email", "email_verified"),
    "profile": (
        "name",
        "family_name",
        "given_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
    ),
    "phone": ("phone_number", "phone_number_verified"),
}

KNOWN_LIMITATIONS: tuple[str, ...] = (
    "Tokens are signed with moto's fixed, public test key (kid 'dummy'); no "
    "deployed stage may ever trust that key.",
    "Authorization codes, login transactions and refresh tokens live in the "
    "memory of one stand-in process: restarting it ends every refresh token "
    "(the next refresh answers invalid_grant).",
    "There is no hosted-UI session cookie: every /oauth2/authorize goes to the "
    "identity provider again, and /logout ends nothing but redirects.",
    "Only OIDC identity providers on loopback are supported; the COGNITO "
    "password page, sign-up, MFA, SAML and built-in social providers are not.",
    "Only the authorization code grant and refresh grant are implemented "
    "(no implicit or client_credentials grant, no custom scopes).",
    "Federated users are created with AdminCreateUser, so moto shows them as "
    "FORCE_CHANGE_PASSWORD rather than EXTERNAL_PROVIDER; the identities claim "
    "is built at token time, not stored as an attribute.",
    "Request quotas, WAF, advanced security and the pre-token-generation "
    "trigger are not applied.",
    "Upstream ID tokens are checked against the real time; the injected clock "
    "governs only this stand-in's own codes and tokens.",
)


class StandInWarning(UserWarning):
    """The Cognito stand-in fakes or skips something Cognito does."""


# --- Errors: each carries its OAuth error code and HTTP status.


class OAuthError(Exception):
    error = "invalid_request"
    status = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidRequest(OAuthError):
    error = "invalid_request"


class RedirectMismatch(OAuthError):
    error = "redirect_mismatch"


class InvalidClient(OAuthError):
    error = "invalid_client"


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"


class AccessDenied(OAuthError):
    error = "access_denied"


class InvalidToken(OAuthError):
    error = "invalid_token"
    status = 401


class NotProvisioned(OAuthError):
    """No pool owns the domain prefix: provisioning has not run."""

    error = "server_error"
    status = 503


# --- What moto holds, read per request.


@dataclass(frozen=True)
class Pool:
    id: str
    region: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.id}"


@dataclass(frozen=True)
class AppClient:
    id: str
    secret: str | None
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...]
    oauth_flows: tuple[str, ...]
    oauth_enabled: bool
    scopes: tuple[str, ...]
    providers: tuple[str, ...]
    revocation_enabled: bool
    access_seconds: int
    id_seconds: int
    refresh_seconds: int
    rotation_grace_seconds: int | None  # None: refresh tokens do not rotate

    @classmethod
    def from_moto(cls, raw: dict[str, Any]) -> AppClient:
        rotation = raw.get("RefreshTokenRotation") or {}
        rotates = rotation.get("Feature") == "ENABLED"
        return cls(
            id=raw["ClientId"],
            secret=raw.get("ClientSecret"),
            callback_urls=tuple(raw.get("CallbackURLs") or ()),
            logout_urls=tuple(raw.get("LogoutURLs") or ()),
            oauth_flows=tuple(raw.get("AllowedOAuthFlows") or ()),
            oauth_enabled=bool(raw.get("AllowedOAuthFlowsUserPoolClient")),
            scopes=tuple(raw.get("AllowedOAuthScopes") or ()),
            providers=tuple(raw.get("SupportedIdentityProviders") or ()),
            revocation_enabled=bool(raw.get("EnableTokenRevocation", True)),
            access_seconds=_validity(raw, "AccessTokenValidity", "AccessToken"),
            id_seconds=_validity(raw, "IdTokenValidity", "IdToken"),
            refresh_seconds=_validity(raw, "RefreshTokenValidity", "RefreshToken"),
            rotation_grace_seconds=(
                int(rotation.get("RetryGracePeriodSeconds", 0)) if rotates else None
            ),
        )


@dataclass(frozen=True)
class UpstreamProvider:
    name: str
    type: str
    client_id: str
    client_secret: str
    issuer: str
    scopes: str
    attributes_method: str
    attribute_mapping: dict[str, str]

    @classmethod
    def from_moto(cls, raw: dict[str, Any]) -> UpstreamProvider:
        details = raw.get("ProviderDetails") or {}
        return cls(
            name=raw["ProviderName"],
            type=raw.get("ProviderType") or "",
            client_id=details.get("client_id", ""),
            client_secret=details.get("client_secret", ""),
            issuer=details.get("oidc_issuer", "").rstrip("/"),
            scopes=details.get("authorize_scopes", "openid"),
            attributes_method=details.get("attributes_request_method", "GET"),
            attribute_mapping=dict(raw.get("AttributeMapping") or {"username": "sub"}),
        )


@dataclass(frozen=True)
class PoolUser:
    username: str
    attributes: dict[str, str]
    created: datetime
    enabled: bool


# --- In-memory grants. One process only, guarded by one lock: this is a
# --- development stand-in, and Cognito's own store is not reachable offline.


@dataclass(frozen=True)
class LoginTransaction:
    """A login waiting at the upstream provider, keyed by the state we sent."""

    pool_id: str
    client_id: str
    redirect_uri: str
    state: str | None
    scope: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    provider: str
    upstream_nonce: str
    started_at: float


@dataclass(frozen=True)
class AuthorizationGrant:
    pool_id: str
    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    username: str
    auth_time: int
    issued_at: float


@dataclass(frozen=True)
class RefreshGrant:
    pool_id: str
    client_id: str
    username: str
    scope: tuple[str, ...]
    auth_time: int
    family: str  # origin_jti: every token descended from one login
    expires_at: float
    rotated_at: float | None = None


@dataclass
class GrantStore:
    clock: Clock
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _logins: dict[str, LoginTransaction] = field(default_factory=dict)
    _codes: dict[str, AuthorizationGrant] = field(default_factory=dict)
    _redeemed: dict[str, tuple[str, float]] = field(default_factory=dict)
    _refresh: dict[str, RefreshGrant] = field(default_factory=dict)
    _revoked_families: set[str] = field(default_factory=set)

    def start_login(self, login: LoginTransaction) -> str:
        key = secrets.token_urlsafe(32)
        with self._lock:
            self._purge()
            self._logins[key] = login
        return key

    def finish_login(self, key: str) -> LoginTransaction | None:
        """The transaction for ``key``, once: a replayed state finds nothing."""
        with self._lock:
            login = self._logins.pop(key, None)
        if login is None or self.clock() - login.started_at > LOGIN_TIMEOUT_SECONDS:
            return None
        return login

    def issue_code(self, grant: AuthorizationGrant) -> str:
        code = str(uuid.uuid4())
        with self._lock:
            self._purge()
            self._codes[code] = grant
        return code

    def redeem_code(self, code: str, family: str) -> AuthorizationGrant:
        """Single use: a second presentation also revokes what the first one got.

        RFC 6749 section 4.1.2: a reused code means it leaked.
        """
        with self._lock:
            grant = self._codes.pop(code, None)
            if grant is None:
                reused = self._redeemed.get(code)
                if reused is not None:
                    self._revoked_families.add(reused[0])
                raise InvalidGrant("The authorization code is unknown or was used.")
            self._redeemed[code] = (family, self.clock())
        if self.clock() - grant.issued_at > CODE_LIFETIME_SECONDS:
            raise InvalidGrant("The authorization code has expired.")
        return grant

    def issue_refresh(self, grant: RefreshGrant) -> str:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._refresh[token] = grant
        return token

    def refresh_grant(self, token: str) -> RefreshGrant | None:
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None or grant.family in self._revoked_families:
                return None
        return grant

    def mark_rotated(self, token: str) -> None:
        with self._lock:
            grant = self._refresh.get(token)
            if grant is not None and grant.rotated_at is None:
                self._refresh[token] = replace(grant, rotated_at=self.clock())

    def revoke_family(self, family: str) -> None:
        with self._lock:
            self._revoked_families.add(family)

    def is_revoked(self, family: str) -> bool:
        with self._lock:
            return family in self._revoked_families

    def _purge(self) -> None:
        now = self.clock()
        for key, login in list(self._logins.items()):
            if now - login.started_at > LOGIN_TIMEOUT_SECONDS:
                del self._logins[key]
        for code, grant in list(self._codes.items()):
            if now - grant.issued_at > CODE_LIFETIME_SECONDS:
                del self._codes[code]
        for code, (_, redeemed_at) in list(self._redeemed.items()):
            if now - redeemed_at > REDEEMED_CODE_MEMORY_SECONDS:
                del self._redeemed[code]
        for token, refresh in list(self._refresh.items()):
            if now > refresh.expires_at:
                del self._refresh[token]


# --- Tokens, signed with the key moto's JWKS endpoint publishes.


class TokenMinter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        jwk = load_resource(SIGNING_KEY_RESOURCE)
        self._private_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
        public = {k: v for k, v in jwk.items() if k in ("alg", "e", "kid", "kty", "n")}
        self.jwks: dict[str, Any] = {"keys": [{**public, "use": "sig"}]}
        self._public_key = RSAAlgorithm.from_jwk(json.dumps(public))

    def access_token(
        self,
        pool: Pool,
        client: AppClient,
        user: PoolUser,
        scope: tuple[str, ...],
        auth_time: int,
        family: str,
    ) -> str:
        now = int(self._clock())
        return self._sign(
            {
                "sub": user.attributes.get("sub", ""),
                "iss": pool.issuer,
                "client_id": client.id,
                "origin_jti": family,
                "token_use": "access",
                "scope": " ".join(scope),
                "auth_time": auth_time,
                "iat": now,
                "exp": now + client.access_seconds,
                "jti": str(uuid.uuid4()),
                "username": user.username,
                "version": 2,
            }
        )

    def id_token(
        self,
        pool: Pool,
        client: AppClient,
        user: PoolUser,
        provider: UpstreamProvider | None,
        auth_time: int,
        family: str,
        access_token: str,
        nonce: str | None,
    ) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            name: value
            for name, value in user.attributes.items()
            if name not in ("sub", "identities")
        }
        if "email_verified" in claims:
            claims["email_verified"] = claims["email_verified"] == "true"
        claims.update(
            {
                "at_hash": _at_hash(access_token),
                "sub": user.attributes.get("sub", ""),
                "cognito:username": user.username,
                "aud": client.id,
                "iss": pool.issuer,
                "token_use": "id",
                "auth_time": auth_time,
                "iat": now,
                "exp": now + client.id_seconds,
                "jti": str(uuid.uuid4()),
                "origin_jti": family,
            }
        )
        if provider is not None:
            claims["identities"] = [_identity(provider, user)]
        if nonce is not None:
            claims["nonce"] = nonce
        return self._sign(claims)

    def verify_access_token(self, token: str, pool: Pool) -> dict[str, Any]:
        """Claims of our own access token; expiry against the injected clock."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public_key,  # type: ignore[arg-type]
                algorithms=["RS256"],
                issuer=pool.issuer,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp"]},
            )
        except jwt.PyJWTError:
            raise InvalidToken("The access token is not valid.") from None
        if claims.get("token_use") != "access":
            raise InvalidToken("The token is not an access token.")
        if int(claims["exp"]) <= self._clock():
            raise InvalidToken("The access token has expired.")
        return claims

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims,
            self._private_key,  # type: ignore[arg-type]
            algorithm="RS256",
            headers={"kid": SIGNING_KEY_ID},
        )


def _identity(provider: UpstreamProvider, user: PoolUser) -> dict[str, Any]:
    """Cognito's identities entry; it writes primary and dateCreated as strings."""
    return {
        "userId": user.username.removeprefix(provider.name + "_"),
        "providerName": provider.name,
        "providerType": provider.type,
        "issuer": None,
        "primary": "true",
        "dateCreated": str(int(user.created.timestamp() * 1000)),
    }


def _at_hash(access_token: str) -> str:
    """OpenID Connect Core section 3.1.3.6: left half of SHA-256, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


# --- The hosted UI.


class HostedUi:
    """The endpoints of one user pool domain, backed by moto."""

    def __init__(
        self,
        settings: StackSettings,
        clock: Clock,
        cognito: Any,
        http: requests.Session,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.cognito = cognito
        self.http = http
        self.grants = GrantStore(clock)
        self.minter = TokenMinter(clock)

    # -- 1. Authorize: check the client, then send the browser upstream.

    def authorize(self) -> flask.Response:
        query = flask.request.args
        pool = self.pool()
        client = self.client_or_none(pool, query.get("client_id", ""))
        if client is None:
            return error_page(InvalidRequest("The client_id is unknown."))
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in client.callback_urls:
            return error_page(
                RedirectMismatch("The redirect_uri is not a registered callback URL.")
            )

        # From here on Cognito tells the app, on its own redirect URI.
        state = query.get("state")
        try:
            login = self.check_authorize(pool, client, redirect_uri)
        except OAuthError as failure:
            audit("authorize", failure.error, client.id)
            return redirect_with(redirect_uri, _error_params(failure, state))
        if login is None:
            return self.provider_page(client)
        if login.provider == COGNITO_PROVIDER:
            return error_page(
                InvalidRequest(
                    "The password sign-in page is not part of the stand-in."
                ),
                status=501,
            )
        try:
            return self.send_upstream(pool, login)
        except OAuthError as failure:
            audit("authorize", failure.error, client.id)
            return redirect_with(redirect_uri, _error_params(failure, state))

    def check_authorize(
        self, pool: Pool, client: AppClient, redirect_uri: str
    ) -> LoginTransaction | None:
        """The login to start, or None when the user must pick a provider."""
        query = flask.request.args
        response_type = query.get("response_type")
        if not response_type:
            raise InvalidRequest("response_type is required.")
        if (
            response_type != "code"
            or "code" not in client.oauth_flows
            or not client.oauth_enabled
        ):
            raise UnauthorizedClient("The client may not use this response_type.")

        scope = tuple(query.get("scope", "").split()) or client.scopes
        if any(item not in client.scopes for item in scope):
            raise InvalidScope("A requested scope is not allowed for the client.")

        challenge = query.get("code_challenge")
        method = query.get("code_challenge_method")
        if challenge is not None or method is not None:
            # RFC 7636 section 4.3; Cognito accepts S256 only.
            if method != "S256":
                raise InvalidRequest("code_challenge_method must be S256.")
            if not challenge or not CODE_CHALLENGE.match(challenge):
                raise InvalidRequest("code_challenge is malformed.")

        provider = query.get("identity_provider")
        if provider is not None and provider not in client.providers:
            raise InvalidRequest("The identity_provider is not enabled for the client.")
        if provider is None:
            if len(client.providers) != 1:
                if not client.providers:
                    raise UnauthorizedClient("The client has no identity provider.")
                return None
            provider = client.providers[0]

        return LoginTransaction(
            pool_id=pool.id,
            client_id=client.id,
            redirect_uri=redirect_uri,
            state=query.get("state"),
            scope=scope,
            nonce=query.get("nonce"),
            code_challenge=challenge,
            provider=provider,
            upstream_nonce=secrets.token_urlsafe(24),
            started_at=self.clock(),
        )

    def send_upstream(self, pool: Pool, login: LoginTransaction) -> flask.Response:
        provider = self.provider(pool, login.provider)
        discovery = self.discover(provider)
        key = self.grants.start_login(login)
        audit("authorize", "sent_upstream", login.client_id)
        return redirect_with(
            discovery["authorization_endpoint"],
            {
                "response_type": "code",
                "client_id": provider.client_id,
                "redirect_uri": self.idpresponse_url,
                "scope": provider.scopes,
                "state": key,
                "nonce": login.upstream_nonce,
            },
        )

    def provider_page(self, client: AppClient) -> flask.Response:
        items = []
        for name in client.providers:
            query = {**flask.request.args.to_dict(), "identity_provider": name}
            href = html.escape("/oauth2/authorize?" + urlencode(query))
            items.append(f'<li><a href="{href}">Continue with {html.escape(name)}</a>')
        body = "<h1>Sign in</h1><ul>" + "".join(items) + "</ul>"
        return _html(body, 200)

    # -- 2. The provider comes back: verify it, create the user, issue a code.

    def idpresponse(self) -> flask.Response:
        query = flask.request.args
        login = self.grants.finish_login(query.get("state", ""))
        if login is None:
            return error_page(InvalidRequest("The login is unknown or has expired."))
        if "error" in query:
            audit("idpresponse", "upstream_denied", login.client_id)
            failure = AccessDenied(
                _printable(query.get("error_description") or query["error"])
            )
            return redirect_with(
                login.redirect_uri, _error_params(failure, login.state)
            )

        try:
            pool = self.pool()
            if pool.id != login.pool_id:
                raise InvalidRequest("The user pool changed during the login.")
            provider = self.provider(pool, login.provider)
            claims = self.upstream_claims(provider, query.get("code", ""), login)
            user = self.sign_in_user(pool, provider, claims)
        except OAuthError as failure:
            audit("idpresponse", failure.error, login.client_id)
            return redirect_with(
                login.redirect_uri, _error_params(failure, login.state)
            )

        code = self.grants.issue_code(
            AuthorizationGrant(
                pool_id=pool.id,
                client_id=login.client_id,
                redirect_uri=login.redirect_uri,
                scope=login.scope,
                nonce=login.nonce,
                code_challenge=login.code_challenge,
                username=user.username,
                auth_time=int(self.clock()),
                issued_at=self.clock(),
            )
        )
        audit("idpresponse", "code_issued", login.client_id, user.username)
        params = {"code": code}
        if login.state is not None:
            params["state"] = login.state
        return redirect_with(login.redirect_uri, params)

    def upstream_claims(
        self, provider: UpstreamProvider, code: str, login: LoginTransaction
    ) -> dict[str, Any]:
        """Exchange the code (client_secret_post) and verify the ID token."""
        if not code:
            raise InvalidRequest("The identity provider sent no code.")
        discovery = self.discover(provider)
        tokens = self.upstream_json(
            "POST",
            discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.idpresponse_url,
                "client_id": provider.client_id,
                "client_secret": provider.client_secret,
            },
        )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise InvalidRequest("The identity provider returned no id_token.")
        claims = self.verify_upstream_id_token(provider, discovery, id_token)
        if claims.get("nonce") != login.upstream_nonce:
            raise InvalidRequest("Bad id_token nonce.")

        userinfo_url = discovery.get("userinfo_endpoint")
        access_token = tokens.get("access_token")
        if userinfo_url and isinstance(access_token, str):
            info = self.upstream_json(
                provider.attributes_method.upper(),
                userinfo_url,
                headers={"Authorization": f"Bearer {access_token}"},
            )
            if str(info.get("sub")) != str(claims["sub"]):
                raise InvalidRequest("The userinfo subject differs from the id_token.")
            claims = {**info, **claims}
        return claims

    def verify_upstream_id_token(
        self, provider: UpstreamProvider, discovery: dict[str, Any], token: str
    ) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key_set = jwt.PyJWKSet.from_dict(
                self.upstream_json("GET", discovery["jwks_uri"])
            )
            keys = [key for key in key_set.keys if key.key_id == kid]
            if not keys:
                raise InvalidRequest("Bad id_token: unknown signing key.")
            claims: dict[str, Any] = jwt.decode(
                token,
                keys[0].key,
                algorithms=["RS256"],
                audience=provider.client_id,
                issuer=provider.issuer,
                leeway=UPSTREAM_LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.exceptions.InvalidIssuerError:
            raise InvalidRequest("Bad id_token issuer.") from None
        except jwt.exceptions.InvalidAudienceError:
            raise InvalidRequest("Bad id_token audience.") from None
        except jwt.PyJWTError:
            raise InvalidRequest("Bad id_token.") from None
        return claims

    def sign_in_user(
        self, pool: Pool, provider: UpstreamProvider, claims: dict[str, Any]
    ) -> PoolUser:
        """Create or update ``<Provider>_<sub>`` with the mapped attributes."""
        mapped: dict[str, str] = {}
        for attribute, claim in provider.attribute_mapping.items():
            value = claims.get(claim)
            if value is not None and value != "":
                mapped[attribute] = _attribute_text(value)
        subject = mapped.pop("username", None)
        if not subject:
            raise InvalidRequest("The identity provider sent no subject.")
        username = f"{provider.name}_{subject}"

        existing = self.user_or_none(pool, username)
        attributes = [{"Name": name, "Value": value} for name, value in mapped.items()]
        if existing is None:
            self.cognito.admin_create_user(
                UserPoolId=pool.id,
                Username=username,
                UserAttributes=attributes,
                MessageAction="SUPPRESS",
            )
        elif not existing.enabled:
            raise AccessDenied("User is disabled.")
        else:
            changed = [
                item
                for item in attributes
                if existing.attributes.get(item["Name"]) != item["Value"]
            ]
            if changed:
                self.cognito.admin_update_user_attributes(
                    UserPoolId=pool.id, Username=username, UserAttributes=changed
                )
        user = self.user_or_none(pool, username)
        if user is None:
            raise InvalidRequest("The user could not be created.")
        return user

    # -- 3. The token endpoint.

    def token(self) -> flask.Response:
        pool = self.pool()
        client = self.authenticate_client(pool)
        grant_type = flask.request.form.get("grant_type")
        if not grant_type:
            raise InvalidRequest("grant_type is required.")
        if grant_type not in ("authorization_code", "refresh_token"):
            if grant_type == "client_credentials" and (
                "client_credentials" not in client.oauth_flows
            ):
                raise UnauthorizedClient("The client may not use this grant.")
            raise UnsupportedGrantType("The grant_type is not supported.")
        if not client.oauth_enabled or (
            grant_type == "authorization_code" and "code" not in client.oauth_flows
        ):
            raise UnauthorizedClient("The client may not use this grant.")
        if grant_type == "authorization_code":
            return self.redeem_code(pool, client)
        return self.refresh(pool, client)

    def redeem_code(self, pool: Pool, client: AppClient) -> flask.Response:
        form = flask.request.form
        code = form.get("code")
        redirect_uri = form.get("redirect_uri")
        if not code or not redirect_uri:
            raise InvalidRequest("code and redirect_uri are required.")
        family = str(uuid.uuid4())
        grant = self.grants.redeem_code(code, family)
        if grant.client_id != client.id or grant.pool_id != pool.id:
            raise InvalidGrant("The authorization code was not issued to this client.")
        if redirect_uri != grant.redirect_uri:
            raise InvalidGrant("redirect_uri differs from the authorization request.")
        _check_code_verifier(grant.code_challenge, form.get("code_verifier"))

        user = self.active_user(pool, grant.username)
        provider = self.provider_of(pool, user)
        refresh = self.grants.issue_refresh(
            RefreshGrant(
                pool_id=pool.id,
                client_id=client.id,
                username=user.username,
                scope=grant.scope,
                auth_time=grant.auth_time,
                family=family,
                expires_at=self.clock() + client.refresh_seconds,
            )
        )
        audit("token", "code_redeemed", client.id, user.username)
        return self.token_response(
            pool,
            client,
            user,
            provider,
            grant.scope,
            grant.auth_time,
            family,
            nonce=grant.nonce,
            refresh_token=refresh,
        )

    def refresh(self, pool: Pool, client: AppClient) -> flask.Response:
        token = flask.request.form.get("refresh_token")
        if not token:
            raise InvalidRequest("refresh_token is required.")
        grant = self.grants.refresh_grant(token)
        if grant is None or grant.client_id != client.id or grant.pool_id != pool.id:
            raise InvalidGrant("Invalid Refresh Token")
        now = self.clock()
        if now > grant.expires_at:
            raise InvalidGrant("Refresh Token has expired")
        grace = client.rotation_grace_seconds
        if grant.rotated_at is not None and now > grant.rotated_at + (grace or 0):
            raise InvalidGrant("Invalid Refresh Token")

        user = self.active_user(pool, grant.username)
        new_refresh = None
        if grace is not None:
            # Rotation: a new refresh token each time; the presented one keeps
            # working for the grace period, covering a lost response.
            new_refresh = self.grants.issue_refresh(replace(grant, rotated_at=None))
            self.grants.mark_rotated(token)
        audit("token", "refreshed", client.id, user.username)
        return self.token_response(
            pool,
            client,
            user,
            self.provider_of(pool, user),
            grant.scope,
            grant.auth_time,
            grant.family,
            nonce=None,
            refresh_token=new_refresh,
        )

    def token_response(
        self,
        pool: Pool,
        client: AppClient,
        user: PoolUser,
        provider: UpstreamProvider | None,
        scope: tuple[str, ...],
        auth_time: int,
        family: str,
        *,
        nonce: str | None,
        refresh_token: str | None,
    ) -> flask.Response:
        access = self.minter.access_token(pool, client, user, scope, auth_time, family)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": client.access_seconds,
            "token_type": "Bearer",
        }
        if "openid" in scope:
            body["id_token"] = self.minter.id_token(
                pool, client, user, provider, auth_time, family, access, nonce
            )
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return _json(body, 200)

    # -- 4. Revoke, logout, userInfo.

    def revoke(self) -> flask.Response:
        pool = self.pool()
        client = self.authenticate_client(pool)
        token = flask.request.form.get("token")
        if not token:
            raise InvalidRequest("token is required.")
        if not client.revocation_enabled:
            raise UnauthorizedClient("Token revocation is not enabled for the client.")
        if token.count(".") == 2:
            raise UnsupportedTokenType("Only refresh tokens can be revoked.")
        grant = self.grants.refresh_grant(token)
        if grant is not None:
            if grant.client_id != client.id:
                # RFC 7009 section 2.1: the token must belong to the caller.
                raise UnauthorizedClient("The token was not issued to this client.")
            # Cognito revokes the refresh token and every access token from it.
            self.grants.revoke_family(grant.family)
            audit("revoke", "revoked", client.id, grant.username)
        # RFC 7009 section 2.2: an unknown token is not an error.
        return flask.Response(status=200, headers={"Cache-Control": "no-store"})

    def logout(self) -> flask.Response:
        query = flask.request.args
        pool = self.pool()
        client = self.client_or_none(pool, query.get("client_id", ""))
        if client is None:
            return error_page(InvalidRequest("The client_id is unknown."))
        logout_uri = query.get("logout_uri")
        if logout_uri is None and query.get("redirect_uri"):
            # Cognito's "sign out, then sign in again" form of /logout.
            return _redirect("/oauth2/authorize?" + urlencode(query))
        if logout_uri not in client.logout_urls:
            return error_page(
                RedirectMismatch("The logout_uri is not a registered sign-out URL.")
            )
        audit("logout", "redirected", client.id)
        return _redirect(logout_uri)

    def userinfo(self) -> flask.Response:
        header = flask.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("A Bearer access token is required.")
        pool = self.pool()
        claims = self.minter.verify_access_token(token.strip(), pool)
        if self.grants.is_revoked(str(claims.get("origin_jti", ""))):
            raise InvalidToken("Access token has been revoked")
        user = self.user_or_none(pool, str(claims.get("username", "")))
        if user is None or not user.enabled:
            raise InvalidToken("The user no longer exists.")

        scope = str(claims.get("scope", "")).split()
        visible = {"sub", "identities"}
        for item in scope:
            visible.update(SCOPE_ATTRIBUTES.get(item, ()))
        body: dict[str, Any] = {
            name: value for name, value in user.attributes.items() if name in visible
        }
        provider = self.provider_of(pool, user)
        if provider is not None:
            body["identities"] = json.dumps([_identity(provider, user)])
        body["username"] = user.username
        return _json(body, 200)

    # -- Discovery.

    def openid_configuration(self) -> flask.Response:
        pool = self.pool()
        base = self.settings.cognito_url
        return _json(
            {
                "issuer": pool.issuer,
                "authorization_endpoint": f"{base}/oauth2/authorize",
                "token_endpoint": f"{base}/oauth2/token",
                "userinfo_endpoint": f"{base}/oauth2/userInfo",
                "revocation_endpoint": f"{base}/oauth2/revoke",
                "end_session_endpoint": f"{base}/logout",
                # Offline, moto publishes the pool's keys (the same key as ours).
                "jwks_uri": f"{self.settings.aws_url}/{pool.id}/.well-known/jwks.json",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "scopes_supported": ["openid", "email", "phone", "profile"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
            },
            200,
        )

    # -- Plumbing: moto, the upstream provider, client authentication.

    @property
    def idpresponse_url(self) -> str:
        return f"{self.settings.cognito_url}/oauth2/idpresponse"

    def pool(self) -> Pool:
        prefix = self.settings.cognito_domain_prefix
        domain = self.cognito.describe_user_pool_domain(Domain=prefix)
        pool_id = domain["DomainDescription"].get("UserPoolId")
        if not pool_id:
            raise NotProvisioned(
                f"No user pool owns domain {prefix}: "
                "run `python -m devstack provision`."
            )
        return Pool(id=pool_id, region=self.settings.region)

    def client_or_none(self, pool: Pool, client_id: str) -> AppClient | None:
        if not CLIENT_ID.match(client_id):
            return None
        try:
            raw = self.cognito.describe_user_pool_client(
                UserPoolId=pool.id, ClientId=client_id
            )
        except (ClientError, ParamValidationError):
            return None
        return AppClient.from_moto(raw["UserPoolClient"])

    def provider(self, pool: Pool, name: str) -> UpstreamProvider:
        try:
            raw = self.cognito.describe_identity_provider(
                UserPoolId=pool.id, ProviderName=name
            )
        except (ClientError, ParamValidationError):
            raise InvalidRequest("The identity provider does not exist.") from None
        provider = UpstreamProvider.from_moto(raw["IdentityProvider"])
        if provider.type != "OIDC":
            raise InvalidRequest("Only OIDC identity providers are supported offline.")
        return provider

    def provider_of(self, pool: Pool, user: PoolUser) -> UpstreamProvider | None:
        name = user.username.partition("_")[0]
        if "_" not in user.username:
            return None
        try:
            return self.provider(pool, name)
        except OAuthError:
            return None

    def user_or_none(self, pool: Pool, username: str) -> PoolUser | None:
        try:
            raw = self.cognito.admin_get_user(UserPoolId=pool.id, Username=username)
        except (ClientError, ParamValidationError):
            return None
        return PoolUser(
            username=raw["Username"],
            attributes={item["Name"]: item["Value"] for item in raw["UserAttributes"]},
            created=raw["UserCreateDate"],
            enabled=bool(raw.get("Enabled", True)),
        )

    def active_user(self, pool: Pool, username: str) -> PoolUser:
        user = self.user_or_none(pool, username)
        if user is None or not user.enabled:
            raise InvalidGrant("The user no longer exists or is disabled.")
        return user

    def discover(self, provider: UpstreamProvider) -> dict[str, Any]:
        url = provider.issuer + "/.well-known/openid-configuration"
        document = self.upstream_json("GET", url)
        # OpenID Connect Discovery section 4.3: the issuer must match exactly.
        if document.get("issuer") != provider.issuer:
            raise InvalidRequest("Bad OIDC discovery issuer.")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str):
                raise InvalidRequest(f"The provider's discovery lacks {key}.")
        return document

    def upstream_json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """Call the upstream provider; only loopback URLs, never echo its body."""
        if not is_loopback_url(url):
            raise InvalidRequest("The stand-in only calls providers on localhost.")
        try:
            answer = self.http.request(
                method, url, timeout=UPSTREAM_TIMEOUT_SECONDS, **kwargs
            )
        except requests.RequestException:
            raise InvalidRequest("The identity provider is unreachable.") from None
        if answer.status_code != 200:
            raise InvalidRequest(
                f"The identity provider answered HTTP {answer.status_code}."
            )
        try:
            body = answer.json()
        except ValueError:
            raise InvalidRequest("The identity provider answered non-JSON.") from None
        if not isinstance(body, dict):
            raise InvalidRequest("The identity provider answered non-JSON.")
        return body

    def authenticate_client(self, pool: Pool) -> AppClient:
        """client_secret_basic or client_secret_post (RFC 6749 section 2.3.1)."""
        form = flask.request.form
        basic = _basic_credentials(flask.request.headers.get("Authorization"))
        secret: str | None
        if basic is not None:
            client_id, secret = basic
            if form.get("client_secret") is not None:
                raise InvalidRequest("Use one client authentication method only.")
            if form.get("client_id") not in (None, client_id):
                raise InvalidClient("client_id differs from the Authorization header.")
        else:
            client_id, secret = form.get("client_id") or "", form.get("client_secret")
        client = self.client_or_none(pool, client_id)
        if client is None:
            raise InvalidClient("Client authentication failed.")
        if client.secret is not None and not (
            secret and hmac.compare_digest(secret.encode(), client.secret.encode())
        ):
            raise InvalidClient("Client authentication failed.")
        return client


def create_app(
    settings: StackSettings,
    clock: Clock = time.time,
    *,
    cognito: Any = None,
    http: requests.Session | None = None,
) -> flask.Flask:
    """The hosted-UI stand-in for ``settings.cognito_domain_prefix``."""
    warnings.warn(
        "Cognito hosted-UI stand-in: " + " ".join(KNOWN_LIMITATIONS),
        StandInWarning,
        stacklevel=2,
    )
    ui = HostedUi(
        settings,
        clock,
        cognito if cognito is not None else aws_client("cognito-idp", settings),
        http if http is not None else requests.Session(),
    )
    app = flask.Flask(__name__)
    app.extensions["hosted_ui"] = ui

    app.add_url_rule("/oauth2/authorize", view_func=ui.authorize, methods=["GET"])
    app.add_url_rule("/oauth2/idpresponse", view_func=ui.idpresponse, methods=["GET"])
    app.add_url_rule("/oauth2/token", view_func=ui.token, methods=["POST"])
    app.add_url_rule("/oauth2/revoke", view_func=ui.revoke, methods=["POST"])
    app.add_url_rule("/oauth2/userInfo", view_func=ui.userinfo, methods=["GET", "POST"])
    app.add_url_rule("/logout", view_func=ui.logout, methods=["GET"])
    app.add_url_rule(
        "/.well-known/openid-configuration",
        view_func=ui.openid_configuration,
        methods=["GET"],
    )
    app.add_url_rule(
        "/.well-known/jwks.json",
        view_func=lambda: _json(ui.minter.jwks, 200),
        methods=["GET"],
        endpoint="jwks",
    )
    app.add_url_rule(
        "/health", view_func=lambda: _json({"status": "ok"}, 200), endpoint="health"
    )

    @app.errorhandler(OAuthError)
    def _oauth_error(failure: OAuthError) -> flask.Response:
        response = _json(
            {"error": failure.error, "error_description": failure.description},
            failure.status,
        )
        if isinstance(failure, InvalidToken):
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    @app.errorhandler(Exception)
    def _unexpected(failure: Exception) -> flask.Response:
        if isinstance(failure, OAuthError):
            return _oauth_error(failure)
        code = getattr(failure, "code", None)
        if isinstance(code, int) and 400 <= code < 500:  # werkzeug's 404, 405 ...
            return _json({"error": "invalid_request", "message": str(code)}, code)
        logger.error("cognito stand-in: unexpected %s", type(failure).__name__)
        return _json(
            {"error": "server_error", "message": "The stand-in failed; see its log."},
            500,
        )

    return app


# --- Small pieces.


def audit(event: str, outcome: str, client_id: str, username: str = "") -> None:
    """One line per auth event; the subject only as a short hash."""
    subject = hashlib.sha256(username.encode()).hexdigest()[:12] if username else "-"
    logger.info(
        "event=%s outcome=%s client=%s subject=%s", event, outcome, client_id, subject
    )


def error_page(failure: OAuthError, status: int = 400) -> flask.Response:
    """Cognito's error page: shown to the user, no redirect to the app."""
    body = (
        "<h1>An error was encountered with the requested page.</h1>"
        f'<p>error=<code id="error">{html.escape(failure.error)}</code></p>'
        f"<p>{html.escape(failure.description)}</p>"
    )
    return _html(body, status)


def redirect_with(url: str, params: dict[str, str]) -> flask.Response:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return _redirect(urlunsplit(parts._replace(query=urlencode(query))))


def _redirect(target: str) -> flask.Response:
    return flask.Response(
        status=302, headers={"Location": target, "Cache-Control": "no-store"}
    )


def _error_params(failure: OAuthError, state: str | None) -> dict[str, str]:
    params = {"error_description": failure.description, "error": failure.error}
    if state is not None:
        params["state"] = state
    return params


def _check_code_verifier(challenge: str | None, verifier: str | None) -> None:
    """RFC 7636 section 4.6, and RFC 9700 section 2.1.1 against PKCE downgrade."""
    if challenge is None:
        if verifier is not None:
            raise InvalidGrant("code_verifier was sent without a code_challenge.")
        return
    if verifier is None or not CODE_VERIFIER.match(verifier):
        raise InvalidGrant("code_verifier is missing or malformed.")
    expected = create_s256_code_challenge(verifier)
    if not hmac.compare_digest(expected, challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge.")


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        _invalid_client()
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        _invalid_client()
    return unquote_plus(client_id), unquote_plus(secret)


def _invalid_client() -> NoReturn:
    raise InvalidClient("Client authentication failed.")


def _validity(raw: dict[str, Any], name: str, unit_key: str) -> int:
    default_value, default_unit = TOKEN_VALIDITY_DEFAULTS[unit_key]
    value = raw.get(name)
    unit = (raw.get("TokenValidityUnits") or {}).get(unit_key)
    if value is None:
        return default_value * UNIT_SECONDS[default_unit]
    return (
        int(value)
        * UNIT_SECONDS[unit or ("days" if name.startswith("Refresh") else "hours")]
    )


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _printable(text: str, limit: int = 200) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def _json(body: dict[str, Any], status: int) -> flask.Response:
    response = flask.Response(
        json.dumps(body), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _html(body: str, status: int) -> flask.Response:
    page = (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        f"<title>Sign in</title><body>{body}</body></html>"
    )
    response = flask.Response(page, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
