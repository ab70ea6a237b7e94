"""Kakao Login stand-in: an OpenID Connect provider shaped like kauth.kakao.com.

Cognito's hosted UI (or its stand-in) federates to this the way a deployed stage
federates to Kakao: discovery, the consent page, the code grant with
``client_secret_post``, RS256 ID tokens, the flat ``/v1/oidc/userinfo`` and
Kakao's error shapes. The issuer is exactly ``StackSettings.kakao_url``.

Endpoints::

    GET  /.well-known/openid-configuration   discovery (Kakao's keys)
    GET  /.well-known/jwks.json              the signing key, ``kid`` set
    GET  /oauth/authorize                    validate, then the consent page
    POST /oauth/authorize                    the consent page's decision
    POST /oauth/token                        authorization_code, refresh_token
    GET  /v1/oidc/userinfo                   flat claims for a Bearer access token
    GET  /oauth/logout                       302 to ``logout_redirect_uri``
    GET  /avatars/<sub>.svg                  test users' profile pictures

Refusals
--------
Error pages, never redirected (the redirect URI cannot be trusted yet):

- ``KOE101`` (HTTP 401): ``client_id`` missing or not the registered app key.
- ``KOE006`` (HTTP 400): ``redirect_uri`` missing or not registered.
- ``KOE001`` (HTTP 400): a parameter given twice, or a malformed consent decision.
- ``KOE007`` (HTTP 400): a logout redirect URI outside ``http://localhost``.
- HTTP 403 without a KOE code: a consent POST sent by another site (its
  ``Origin`` or ``Sec-Fetch-Site`` header names a foreign origin).

Redirected back with ``error`` / ``error_description`` / ``state`` (RFC 6749
section 4.1.2.1): ``invalid_scope`` (no ``openid``, or a scope Kakao does not
have), ``unsupported_response_type``, ``invalid_request`` (PKCE or length
problems), ``login_required`` (``prompt=none``: the stand-in keeps no Kakao
session) and ``access_denied`` (the person pressed Cancel).

Token endpoint, JSON ``{"error", "error_description", "error_code"}``:
``invalid_client`` ``KOE010`` (HTTP 401) for HTTP Basic, an unknown client or a
wrong secret; ``invalid_grant`` ``KOE320`` for a code that is unknown, used,
expired, issued to another client or fails PKCE; ``invalid_grant`` ``KOE006``
for a redirect URI that differs from the authorize request; ``invalid_grant``
``KOE322`` for an unknown or expired refresh token; ``unsupported_grant_type``
and ``invalid_request`` (HTTP 400, no ``error_code``).

Userinfo answers a bad token with Kakao's API shape: HTTP 401
``{"msg": "this access token does not exist", "code": -401}``.

Scripted logins
---------------
A script plays the person by POSTing the consent page's own form to
``/oauth/authorize`` (``application/x-www-form-urlencoded``); the answer is a 302
to the redirect URI. Fields:

- every authorize query parameter it was given, unchanged: ``response_type``,
  ``client_id``, ``redirect_uri``, ``scope``, ``state``, ``nonce``,
  ``code_challenge``, ``code_challenge_method``, ``prompt`` (those present);
- ``decision=agree`` with ``user_id=<a test user's sub>`` (``4000000001``,
  ``4000000002``, ``4000000003``), or ``user_id=custom`` with ``custom_nickname``
  and, optionally, ``custom_email``;
- ``share_email=on`` to consent to ``account_email``; leave it out to decline;
- or ``decision=cancel`` (no user fields) to cancel.

``consent_form_fields()`` builds that body from the authorize query. Without any
form, ``DEVSTACK_KAKAO_AUTO_LOGIN=<user id>[:noemail]`` (read on every request)
makes ``GET /oauth/authorize`` log that test user in at once, as if Kakao still
had a login session; ``:noemail`` declines the email.

Logout: ``GET /oauth/logout?client_id=<app key>&logout_redirect_uri=<url>
[&state=...]`` checks the app key and answers 302 to ``logout_redirect_uri``
(with ``state`` when given); there is no Kakao session to end.

Registration: ``ensure_registration()`` writes the app key, client secret and
redirect URIs to ``StackSettings.kakao_registration_file``; provisioning hands
the same values to Cognito, and the stand-in re-reads the file on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import os
import re
import secrets
import threading
import time
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask, Response, abort, g, jsonify, render_template, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from devstack.settings import KAKAO_CLIENT_ID, PUBLIC_HOST, StackSettings

_log = logging.getLogger(__name__)

Clock = Callable[[], float]

AUTO_LOGIN_ENV = "DEVSTACK_KAKAO_AUTO_LOGIN"
SIGNING_KEY_FILE = "kakao-signing-key.json"

# Kakao's consent items; there is no plain "email" or "profile" scope at Kakao.
SUPPORTED_SCOPES = ("openid", "profile_nickname", "profile_image", "account_email")
# The request parameters the consent form carries through, in this order.
AUTHORIZE_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
)
_TOKEN_PARAMETERS = (
    "grant_type",
    "client_id",
    "client_secret",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
)

# Codes are single-use and short-lived (RFC 6749 section 4.1.2 says at most ten
# minutes); five, like Cognito's.
CODE_SECONDS = 300
# Kakao's token lifetimes for REST API apps; its ID tokens last as long as the
# access token issued with them.
ACCESS_TOKEN_SECONDS = 21599
REFRESH_TOKEN_SECONDS = 5183999
# Kakao hands out a new refresh token only when the old one has under a month left.
REFRESH_RENEWAL_WINDOW_SECONDS = 30 * 24 * 3600

_MAX_PARAMETER_LENGTH = 4096
_MAX_NICKNAME_LENGTH = 40
# RFC 7636 section 4.1 (verifier) and 4.2 (an S256 challenge is 43 characters).
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")

KNOWN_LIMITATIONS: tuple[str, ...] = (
    "No Kakao login session: every authorize request shows the consent page "
    "(unless DEVSTACK_KAKAO_AUTO_LOGIN is set), prompt=none answers "
    "login_required, and /oauth/logout has nothing to end.",
    "/v1/oidc/userinfo is served by the stand-in itself; Kakao serves it from "
    "kapi.kakao.com, a different host from kauth.kakao.com.",
    "Codes and tokens live in the stand-in's memory: a restart forgets them, "
    "so refresh tokens issued before a restart stop working.",
    "Logout accepts any http://localhost redirect URI; Kakao requires a "
    "registered Logout Redirect URI (KOE007).",
    "Nickname and picture consent cannot be declined one by one; only the email "
    "is optional. Scopes other than openid, profile_nickname, profile_image and "
    "account_email are refused with invalid_scope instead of Kakao's "
    "consent-item error page.",
    "Access and refresh tokens are opaque random strings; Kakao's other APIs "
    "(/v2/user/me, token info, unlink, user logout) are not served.",
    "The test accounts are fixed (plus typed-in ones); every email counts as "
    "verified, and age, phone and other consent items do not exist.",
    "The client secret is always required; Kakao lets an app switch it off.",
)


class KakaoStandInWarning(UserWarning):
    """Where the stand-in fakes or skips something Kakao does."""


class KakaoRegistrationError(RuntimeError):
    """The registration or key file exists but cannot be used."""


@dataclass(frozen=True)
class KakaoRegistration:
    """The Kakao app: REST API key, client secret, registered redirect URIs."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass(frozen=True)
class KakaoAccount:
    """A Kakao member: ``sub`` is the member number as a numeric string."""

    sub: str
    nickname: str
    email: str | None


KAKAO_ACCOUNTS: tuple[KakaoAccount, ...] = (
    KakaoAccount("4000000001", "Minji Kim", "minji@example.com"),
    KakaoAccount("4000000002", "Joon Park", None),
    KakaoAccount("4000000003", "Seoyeon Lee", "seoyeon.lee@example.com"),
)
_ACCOUNTS = {account.sub: account for account in KAKAO_ACCOUNTS}


def custom_account(nickname: str, email: str | None) -> KakaoAccount:
    """A typed-in member; the same nickname and email always give the same sub."""
    key = f"{nickname.casefold()}\n{(email or '').casefold()}".encode()
    number = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % 10**9
    return KakaoAccount(f"5{number:09d}", nickname, email)


# ---------------------------------------------------------------------------
# Registration and signing key: files in the state folder, mode 0600.


def ensure_registration(settings: StackSettings) -> KakaoRegistration:
    """Create or read the Kakao app registration; the same values on every call.

    The secret is made once; Cognito's ``/oauth2/idpresponse`` on this stack is
    added to the redirect URIs when it is missing (a changed Cognito port).
    """
    path = settings.kakao_registration_file
    idp_response = f"{settings.cognito_url}/oauth2/idpresponse"
    current = _read_registration(path)
    if current is None:
        fresh = KakaoRegistration(
            KAKAO_CLIENT_ID, secrets.token_urlsafe(32), (idp_response,)
        )
        if _create_private_file(path, _registration_json(fresh)):
            return fresh
        # Another process created it first: use theirs.
        current = _read_registration(path)
        if current is None:
            raise KakaoRegistrationError(f"{path} vanished while it was being read")
    os.chmod(path, 0o600)
    if idp_response in current.redirect_uris:
        return current
    updated = KakaoRegistration(
        current.client_id,
        current.client_secret,
        (*current.redirect_uris, idp_response),
    )
    _replace_private_file(path, _registration_json(updated))
    return updated


def _registration_json(registration: KakaoRegistration) -> str:
    return json.dumps(
        {
            "client_id": registration.client_id,
            "client_secret": registration.client_secret,
            "redirect_uris": list(registration.redirect_uris),
        },
        indent=2,
    )


def _read_registration(path: Path) -> KakaoRegistration | None:
    """The registration in ``path``; None when there is none yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise KakaoRegistrationError(
            f"{path} is not a Kakao registration: delete it and provision again"
        ) from None
    uris = data.get("redirect_uris") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("client_id"), str)
        or not isinstance(data.get("client_secret"), str)
        or not data["client_secret"]
        or not isinstance(uris, list)
        or not all(isinstance(uri, str) for uri in uris)
    ):
        raise KakaoRegistrationError(
            f"{path} is not a Kakao registration: delete it and provision again"
        )
    return KakaoRegistration(data["client_id"], data["client_secret"], tuple(uris))


def _load_signing_key(state_dir: Path) -> RSAKey:
    """The stand-in's RSA key, made once so a restart keeps the published JWKS."""
    path = state_dir / SIGNING_KEY_FILE
    if not path.exists():
        key = RSAKey.generate_key(2048, private=True)
        fresh = RSAKey.import_key(
            key.as_dict(private=True),
            {"kid": key.thumbprint(), "use": "sig", "alg": "RS256"},
        )
        if _create_private_file(path, json.dumps(fresh.as_dict(private=True))):
            return fresh
    try:
        key = RSAKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise KakaoRegistrationError(
            f"{path} is not an RSA private key ({type(error).__name__}): delete it "
            "and restart the Kakao stand-in"
        ) from None
    if not key.is_private or not key.kid:
        raise KakaoRegistrationError(
            f"{path} holds no private key with a kid: delete it and restart"
        )
    os.chmod(path, 0o600)
    return key


def _write_temporary(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
    return temporary


def _create_private_file(path: Path, text: str) -> bool:
    """Write ``path`` (mode 0600) unless it exists; True when this call made it.

    A hard link either creates the name or fails, so two processes starting at
    once agree on one file instead of overwriting each other's secret.
    """
    temporary = _write_temporary(path, text)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _replace_private_file(path: Path, text: str) -> None:
    os.replace(_write_temporary(path, text), path)


# ---------------------------------------------------------------------------
# Grants: what a person agreed to, behind codes and tokens.


@dataclass(frozen=True)
class _Consent:
    account: KakaoAccount
    scopes: tuple[str, ...]
    auth_time: int


@dataclass(frozen=True)
class _CodeGrant:
    consent: _Consent
    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str | None
    expires_at: float


@dataclass(frozen=True)
class _TokenGrant:
    consent: _Consent
    client_id: str
    expires_at: float


@dataclass
class _Redeemed:
    expires_at: float
    tokens: list[str] = field(default_factory=list)


class _GrantStore:
    """Codes and tokens of this process.

    Kept in memory on purpose (a stand-in has no database): a restart forgets
    them. The lock makes each step atomic under the threaded server.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, _CodeGrant] = {}
        self._redeemed: dict[str, _Redeemed] = {}
        self._access: dict[str, _TokenGrant] = {}
        self._refresh: dict[str, _TokenGrant] = {}

    def issue_code(self, grant: _CodeGrant) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_expired()
            self._codes[code] = grant
        return code

    def redeem_code(self, code: str) -> _CodeGrant | None:
        """The grant behind ``code``, once; None if unknown, used or expired.

        A second use revokes what the first use issued (RFC 6749 section 4.1.2).
        """
        with self._lock:
            grant = self._codes.pop(code, None)
            if grant is None:
                replayed = self._redeemed.pop(code, None)
                for token in replayed.tokens if replayed else ():
                    self._access.pop(token, None)
                    self._refresh.pop(token, None)
                return None
            if grant.expires_at <= self._clock():
                return None
            self._redeemed[code] = _Redeemed(grant.expires_at)
            return grant

    def bind_to_code(self, code: str, tokens: list[str]) -> None:
        with self._lock:
            redeemed = self._redeemed.get(code)
            if redeemed is not None:
                redeemed.tokens.extend(tokens)

    def issue_access(self, grant: _TokenGrant) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._access[token] = grant
        return token

    def issue_refresh(self, grant: _TokenGrant) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[token] = grant
        return token

    def access_grant(self, token: str) -> _TokenGrant | None:
        with self._lock:
            return self._live(self._access, token)

    def refresh_grant(self, token: str) -> _TokenGrant | None:
        with self._lock:
            return self._live(self._refresh, token)

    def retire_refresh(self, token: str) -> None:
        with self._lock:
            self._refresh.pop(token, None)

    def _live(self, grants: dict[str, _TokenGrant], token: str) -> _TokenGrant | None:
        grant = grants.get(token)
        if grant is not None and grant.expires_at <= self._clock():
            del grants[token]
            return None
        return grant

    def _forget_expired(self) -> None:
        now = self._clock()
        for code in [c for c, grant in self._codes.items() if grant.expires_at <= now]:
            del self._codes[code]
        for code in [c for c, used in self._redeemed.items() if used.expires_at <= now]:
            del self._redeemed[code]
        for grants in (self._access, self._refresh):
            for token in [t for t, grant in grants.items() if grant.expires_at <= now]:
                del grants[token]


# ---------------------------------------------------------------------------
# Refusals: each class knows how Kakao answers it.


class _PageError(Exception):
    """Shown as an error page at Kakao; never redirected."""

    status = 400
    error_code: str | None = "KOE001"
    title = "Bad request"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class _UnknownClient(_PageError):
    status = 401
    error_code = "KOE101"
    title = "Invalid app key"


class _UnregisteredRedirectUri(_PageError):
    error_code = "KOE006"
    title = "Redirect URI not registered"


class _UnregisteredLogoutRedirectUri(_PageError):
    error_code = "KOE007"
    title = "Logout redirect URI not registered"


class _ForeignOrigin(_PageError):
    status = 403
    error_code = None
    title = "Request refused"


class _StandInMisconfigured(_PageError):
    status = 500
    error_code = None
    title = "Stand-in misconfigured"


class _RedirectError(Exception):
    """Sent back to the client's redirect URI (RFC 6749 section 4.1.2.1)."""

    def __init__(
        self, redirect_uri: str, state: str | None, error: str, description: str
    ) -> None:
        super().__init__(error)
        self.redirect_uri = redirect_uri
        self.state = state
        self.error = error
        self.description = description


class _TokenError(Exception):
    """A token endpoint refusal, JSON (RFC 6749 section 5.2 plus Kakao's code)."""

    status = 400
    error = "invalid_request"
    error_code: str | None = None

    def __init__(self, description: str, error_code: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        if error_code is not None:
            self.error_code = error_code


class _InvalidClient(_TokenError):
    status = 401
    error = "invalid_client"
    error_code = "KOE010"


class _InvalidGrant(_TokenError):
    error = "invalid_grant"
    error_code = "KOE320"


class _UnsupportedGrantType(_TokenError):
    error = "unsupported_grant_type"


class _ConsentFormError(Exception):
    """The person's input on the consent page needs fixing; show the page again."""


# ---------------------------------------------------------------------------
# The authorize request.


@dataclass(frozen=True)
class _AuthorizeRequest:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    prompt: tuple[str, ...]
    parameters: dict[str, str]

    def refuse(self, error: str, description: str) -> _RedirectError:
        return _RedirectError(self.redirect_uri, self.state, error, description)


def _single_values(
    source: MultiDict[str, str], names: tuple[str, ...]
) -> dict[str, str]:
    """Each named parameter once; RFC 6749 section 3.1 forbids repeating one."""
    values: dict[str, str] = {}
    for name in names:
        given = source.getlist(name)
        if len(given) > 1:
            raise _PageError(f"The parameter {name} appears more than once.")
        if given:
            values[name] = given[0]
    return values


def _split_scopes(raw: str) -> tuple[str, ...]:
    # Kakao documents commas; OIDC clients such as Cognito send spaces.
    return tuple(dict.fromkeys(part for part in re.split(r"[ ,]+", raw) if part))


def _parse_authorize(
    source: MultiDict[str, str], registration: KakaoRegistration | None
) -> _AuthorizeRequest:
    """Check the client and redirect URI first: until both hold, nothing redirects."""
    values = _single_values(source, AUTHORIZE_PARAMETERS)
    client_id = values.get("client_id", "")
    if registration is None or not hmac.compare_digest(
        client_id.encode(), registration.client_id.encode()
    ):
        raise _UnknownClient("The client_id is not the REST API key of any app.")
    redirect_uri = values.get("redirect_uri", "")
    if redirect_uri not in registration.redirect_uris:
        raise _UnregisteredRedirectUri(
            "The redirect_uri is not registered for this app; register it or use "
            "a registered one."
        )
    request_ = _AuthorizeRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=_split_scopes(values.get("scope", "")),
        state=values.get("state"),
        nonce=values.get("nonce"),
        code_challenge=values.get("code_challenge"),
        prompt=tuple(values.get("prompt", "").split()),
        parameters=values,
    )
    _check_authorize(request_, values)
    return request_


def _check_authorize(request_: _AuthorizeRequest, values: dict[str, str]) -> None:
    too_long = [
        name for name, value in values.items() if len(value) > _MAX_PARAMETER_LENGTH
    ]
    if too_long:
        raise request_.refuse("invalid_request", f"{too_long[0]} is too long.")
    if values.get("response_type") != "code":
        raise request_.refuse(
            "unsupported_response_type", "Only response_type=code is supported."
        )
    if "openid" not in request_.scopes:
        raise request_.refuse(
            "invalid_scope", "The scope must contain openid to get an ID token."
        )
    unknown = [scope for scope in request_.scopes if scope not in SUPPORTED_SCOPES]
    if unknown:
        raise request_.refuse(
            "invalid_scope",
            f"Unknown scope {unknown[0]}; Kakao's consent items are "
            f"{', '.join(SUPPORTED_SCOPES)}.",
        )
    _check_pkce_request(request_, values.get("code_challenge_method"))


def _check_pkce_request(request_: _AuthorizeRequest, method: str | None) -> None:
    """RFC 7636 section 4.3; Kakao supports S256 only (no plain)."""
    if request_.code_challenge is None and method is None:
        return
    if method != "S256":
        raise request_.refuse("invalid_request", "code_challenge_method must be S256.")
    if request_.code_challenge is None or not _S256_CHALLENGE.fullmatch(
        request_.code_challenge
    ):
        raise request_.refuse(
            "invalid_request", "code_challenge must be 43 base64url characters."
        )


def _pkce_holds(challenge: str | None, verifier: str | None) -> bool:
    """RFC 7636 section 4.6, and RFC 9700 section 2.1.1: no verifier without one."""
    if challenge is None:
        return verifier is None
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        return False
    computed = create_s256_code_challenge(verifier)
    return hmac.compare_digest(computed.encode(), challenge.encode())


def _with_query(url: str, parameters: Mapping[str, str | None]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, value) for name, value in parameters.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def consent_form_fields(
    authorize_query: Mapping[str, str],
    user_id: str,
    share_email: bool = True,
    decision: str = "agree",
) -> dict[str, str]:
    """The form body the consent page would POST to ``/oauth/authorize``.

    ``authorize_query`` is the query of the authorize URL the script was sent to;
    ``user_id`` is a test user's sub, or ``custom`` (then add ``custom_nickname``
    and optionally ``custom_email`` yourself).
    """
    if decision not in ("agree", "cancel"):
        raise ValueError(f"decision must be 'agree' or 'cancel', not {decision!r}")
    fields = {
        name: authorize_query[name]
        for name in AUTHORIZE_PARAMETERS
        if name in authorize_query
    }
    fields["decision"] = decision
    if decision == "agree":
        fields["user_id"] = user_id
        if share_email:
            fields["share_email"] = "on"
    return fields


# ---------------------------------------------------------------------------
# The provider.


def _subject_hash(sub: str) -> str:
    return hashlib.sha256(sub.encode()).hexdigest()[:16]


def _audit(
    event: str, outcome: str, *, reason: str = "-", subject: str | None = None
) -> None:
    _log.info(
        "kakao_auth event=%s outcome=%s reason=%s subject=%s request_id=%s",
        event,
        outcome,
        reason,
        _subject_hash(subject) if subject else "-",
        g.get("request_id", "-"),
    )


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _redirect(url: str) -> Response:
    response = Response(status=302, headers={"Location": url})
    response.headers["Referrer-Policy"] = "no-referrer"
    return _no_store(response)


def _page(body: str, status: int = 200) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Not no-referrer: under it Chromium sends "Origin: null" with the page's own
    # form POST, which the login CSRF check must refuse.
    response.headers["Referrer-Policy"] = "same-origin"
    return _no_store(response)


class KakaoStandIn:
    """Kakao's OAuth server and OIDC userinfo for one offline stack."""

    def __init__(
        self, settings: StackSettings, clock: Clock, env: Mapping[str, str]
    ) -> None:
        self._settings = settings
        self._issuer = settings.kakao_url
        self._clock = clock
        self._env = env
        self._key = _load_signing_key(settings.state_dir)
        self._grants = _GrantStore(clock)

    def register(self, app: Flask) -> None:
        routes: list[tuple[str, Callable[..., Response], list[str]]] = [
            ("/.well-known/openid-configuration", self.discovery, ["GET"]),
            ("/.well-known/jwks.json", self.jwks, ["GET"]),
            ("/oauth/authorize", self.authorize_page, ["GET"]),
            ("/oauth/authorize", self.authorize_decision, ["POST"]),
            ("/oauth/token", self.token, ["POST"]),
            ("/v1/oidc/userinfo", self.userinfo, ["GET", "POST"]),
            ("/oauth/logout", self.logout, ["GET"]),
            ("/avatars/<sub>.svg", self.avatar, ["GET"]),
        ]
        for rule, view, methods in routes:
            app.add_url_rule(rule, view.__name__, view, methods=methods)
        app.register_error_handler(_PageError, self._page_error)
        app.register_error_handler(_RedirectError, self._redirect_error)
        app.register_error_handler(_TokenError, self._token_error)

    # -- discovery ---------------------------------------------------------

    def discovery(self) -> Response:
        return jsonify(
            {
                "issuer": self._issuer,
                "authorization_endpoint": f"{self._issuer}/oauth/authorize",
                "token_endpoint": f"{self._issuer}/oauth/token",
                "userinfo_endpoint": f"{self._issuer}/v1/oidc/userinfo",
                "jwks_uri": f"{self._issuer}/.well-known/jwks.json",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "request_uri_parameter_supported": False,
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": list(SUPPORTED_SCOPES),
                "claims_supported": [
                    "iss",
                    "aud",
                    "sub",
                    "auth_time",
                    "exp",
                    "iat",
                    "nonce",
                    "nickname",
                    "picture",
                    "email",
                ],
            }
        )

    def jwks(self) -> Response:
        return jsonify({"keys": [self._key.as_dict(private=False)]})

    # -- authorize ---------------------------------------------------------

    def authorize_page(self) -> Response:
        request_ = _parse_authorize(request.args, self._registration())
        auto_login = self._env.get(AUTO_LOGIN_ENV, "").strip()
        if auto_login:
            account, share_email = self._auto_login_choice(auto_login)
            return self._grant_code(request_, account, share_email)
        if "none" in request_.prompt:
            raise request_.refuse(
                "login_required", "The user is not logged in to Kakao."
            )
        _audit("authorize", "consent_page")
        return self._consent_page(request_)

    def authorize_decision(self) -> Response:
        self._refuse_foreign_origin()
        request_ = _parse_authorize(request.form, self._registration())
        decision = request.form.get("decision")
        if decision == "cancel":
            _audit("authorize", "denied", reason="cancelled")
            raise request_.refuse("access_denied", "User denied access")
        if decision != "agree":
            raise _PageError("The decision must be agree or cancel.")
        try:
            account = self._chosen_account(request.form)
        except _ConsentFormError as problem:
            return self._consent_page(request_, problem=str(problem), status=400)
        share_email = request.form.get("share_email", "") in ("on", "true", "1")
        return self._grant_code(request_, account, share_email)

    def _grant_code(
        self, request_: _AuthorizeRequest, account: KakaoAccount, share_email: bool
    ) -> Response:
        scopes = tuple(
            scope
            for scope in request_.scopes
            if share_email or scope != "account_email"
        )
        now = self._clock()
        code = self._grants.issue_code(
            _CodeGrant(
                consent=_Consent(account, scopes, int(now)),
                client_id=request_.client_id,
                redirect_uri=request_.redirect_uri,
                nonce=request_.nonce,
                code_challenge=request_.code_challenge,
                expires_at=now + CODE_SECONDS,
            )
        )
        _audit("authorize", "code_issued", subject=account.sub)
        return _redirect(
            _with_query(request_.redirect_uri, {"code": code, "state": request_.state})
        )

    def _auto_login_choice(self, value: str) -> tuple[KakaoAccount, bool]:
        user_id, _, option = value.partition(":")
        account = _ACCOUNTS.get(user_id.strip())
        if account is None or option.strip() not in ("", "noemail"):
            raise _StandInMisconfigured(
                f"{AUTO_LOGIN_ENV} must be <user id>[:noemail] with a test user id "
                f"({', '.join(_ACCOUNTS)})."
            )
        return account, option.strip() != "noemail"

    def _chosen_account(self, form: MultiDict[str, str]) -> KakaoAccount:
        user_id = form.get("user_id", "")
        if user_id != "custom":
            account = _ACCOUNTS.get(user_id)
            if account is None:
                raise _ConsentFormError("Pick one of the test users.")
            return account
        nickname = form.get("custom_nickname", "").strip()
        email = form.get("custom_email", "").strip() or None
        if not nickname:
            raise _ConsentFormError("Type a nickname for the other user.")
        if len(nickname) > _MAX_NICKNAME_LENGTH or any(
            unicodedata.category(char).startswith("C") for char in nickname
        ):
            raise _ConsentFormError(
                f"A nickname has at most {_MAX_NICKNAME_LENGTH} printable characters."
            )
        if email is not None and (len(email) > 254 or not _EMAIL.fullmatch(email)):
            raise _ConsentFormError("Type an email address like name@example.com.")
        return custom_account(nickname, email)

    def _consent_page(
        self, request_: _AuthorizeRequest, problem: str | None = None, status: int = 200
    ) -> Response:
        body = render_template(
            "kakao_consent.html",
            parameters=request_.parameters,
            scopes=request_.scopes,
            accounts=KAKAO_ACCOUNTS,
            picture=self._picture,
            problem=problem,
            custom_nickname=request.form.get("custom_nickname", ""),
            custom_email=request.form.get("custom_email", ""),
        )
        return _page(body, status)

    def _refuse_foreign_origin(self) -> None:
        """Refuse a consent POST that another site's page submitted (login CSRF).

        Browsers name the submitting origin; scripts send neither header.
        """
        origin = request.headers.get("Origin")
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if (origin is not None and origin != self._issuer) or (
            fetch_site is not None and fetch_site not in ("same-origin", "none")
        ):
            _audit("authorize", "refused", reason="foreign_origin")
            raise _ForeignOrigin("The consent form was submitted by another site.")

    # -- token -------------------------------------------------------------

    def token(self) -> Response:
        values = self._token_values()
        registration = self._authenticate_client(values)
        grant_type = values.get("grant_type")
        if grant_type == "authorization_code":
            body = self._exchange_code(values, registration)
        elif grant_type == "refresh_token":
            body = self._refresh(values, registration)
        else:
            raise _UnsupportedGrantType(
                "grant_type must be authorization_code or refresh_token."
            )
        return _no_store(jsonify(body))

    def _token_values(self) -> dict[str, str]:
        try:
            return _single_values(request.form, _TOKEN_PARAMETERS)
        except _PageError as repeated:
            raise _TokenError(repeated.description) from None

    def _authenticate_client(self, values: dict[str, str]) -> KakaoRegistration:
        """``client_secret_post`` only, as Kakao's discovery document says."""
        scheme = request.headers.get("Authorization", "").split(" ", 1)[0]
        if scheme.lower() == "basic":
            raise _InvalidClient(
                "client_secret_basic is not supported: send client_id and "
                "client_secret in the form body."
            )
        registration = self._registration()
        given_id = values.get("client_id", "").encode()
        given_secret = values.get("client_secret", "").encode()
        if (
            registration is None
            or not hmac.compare_digest(given_id, registration.client_id.encode())
            or not hmac.compare_digest(
                given_secret, registration.client_secret.encode()
            )
        ):
            raise _InvalidClient("Bad client credentials")
        return registration

    def _exchange_code(
        self, values: dict[str, str], registration: KakaoRegistration
    ) -> dict[str, Any]:
        code = values.get("code", "")
        grant = self._grants.redeem_code(code) if code else None
        if grant is None or grant.client_id != registration.client_id:
            raise _InvalidGrant("authorization code not found or expired")
        if values.get("redirect_uri") != grant.redirect_uri:
            raise _InvalidGrant(
                "redirect_uri differs from the authorize request", "KOE006"
            )
        if not _pkce_holds(grant.code_challenge, values.get("code_verifier")):
            raise _InvalidGrant("code_verifier does not match the code_challenge")
        token_grant = _TokenGrant(
            grant.consent, grant.client_id, self._clock() + ACCESS_TOKEN_SECONDS
        )
        access_token = self._grants.issue_access(token_grant)
        refresh_token = self._grants.issue_refresh(
            _TokenGrant(
                grant.consent, grant.client_id, self._clock() + REFRESH_TOKEN_SECONDS
            )
        )
        self._grants.bind_to_code(code, [access_token, refresh_token])
        _audit(
            "token",
            "issued",
            reason="authorization_code",
            subject=grant.consent.account.sub,
        )
        return {
            "token_type": "bearer",
            "access_token": access_token,
            "id_token": self._id_token(grant.consent, grant.client_id, grant.nonce),
            "expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh_token,
            "refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
            "scope": " ".join(grant.consent.scopes),
        }

    def _refresh(
        self, values: dict[str, str], registration: KakaoRegistration
    ) -> dict[str, Any]:
        old_token = values.get("refresh_token", "")
        if not old_token:
            raise _TokenError("refresh_token is required.")
        grant = self._grants.refresh_grant(old_token)
        if grant is None or grant.client_id != registration.client_id:
            raise _InvalidGrant("expired_or_invalid_refresh_token", "KOE322")
        now = self._clock()
        access_token = self._grants.issue_access(
            _TokenGrant(grant.consent, grant.client_id, now + ACCESS_TOKEN_SECONDS)
        )
        body: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": access_token,
            # OIDC Core section 12.2: no nonce in a refreshed ID token.
            "id_token": self._id_token(grant.consent, grant.client_id, None),
            "expires_in": ACCESS_TOKEN_SECONDS,
        }
        if grant.expires_at - now < REFRESH_RENEWAL_WINDOW_SECONDS:
            self._grants.retire_refresh(old_token)
            body["refresh_token"] = self._grants.issue_refresh(
                _TokenGrant(grant.consent, grant.client_id, now + REFRESH_TOKEN_SECONDS)
            )
            body["refresh_token_expires_in"] = REFRESH_TOKEN_SECONDS
        _audit(
            "token", "issued", reason="refresh_token", subject=grant.consent.account.sub
        )
        return body

    def _id_token(self, consent: _Consent, client_id: str, nonce: str | None) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": client_id,
            "sub": consent.account.sub,
            "iat": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "auth_time": consent.auth_time,
            **self._profile_claims(consent),
        }
        claims.pop("email_verified", None)
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"alg": "RS256", "kid": self._key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._key, algorithms=["RS256"])

    def _profile_claims(self, consent: _Consent) -> dict[str, Any]:
        """Only what the person consented to; email only if the account has one."""
        claims: dict[str, Any] = {}
        if "profile_nickname" in consent.scopes:
            claims["nickname"] = consent.account.nickname
        if "profile_image" in consent.scopes:
            claims["picture"] = self._picture(consent.account.sub)
        if "account_email" in consent.scopes and consent.account.email:
            claims["email"] = consent.account.email
            claims["email_verified"] = True
        return claims

    # -- userinfo, logout, pictures ----------------------------------------

    def userinfo(self) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        grant = (
            self._grants.access_grant(token.strip())
            if scheme.lower() == "bearer" and token.strip()
            else None
        )
        if grant is None:
            _audit("userinfo", "refused", reason="unknown_token")
            response = jsonify(
                {"msg": "this access token does not exist", "code": -401}
            )
            response.status_code = 401
            return _no_store(response)
        claims = {
            "sub": grant.consent.account.sub,
            **self._profile_claims(grant.consent),
        }
        return _no_store(jsonify(claims))

    def logout(self) -> Response:
        values = _single_values(
            request.args, ("client_id", "logout_redirect_uri", "state")
        )
        registration = self._registration()
        if registration is None or values.get("client_id") != registration.client_id:
            raise _UnknownClient("The client_id is not the REST API key of any app.")
        target = values.get("logout_redirect_uri", "")
        parts = urlsplit(target)
        if parts.scheme != "http" or parts.hostname != PUBLIC_HOST or parts.username:
            raise _UnregisteredLogoutRedirectUri(
                "The logout_redirect_uri must be an http://localhost URL."
            )
        _audit("logout", "redirected")
        return _redirect(_with_query(target, {"state": values.get("state")}))

    def avatar(self, sub: str) -> Response:
        if not sub.isdigit() or len(sub) > 19:
            abort(404)
        account = _ACCOUNTS.get(sub)
        initials = (
            "".join(word[0] for word in account.nickname.split()[:2])
            if account
            else "K"
        )
        hue = int(_subject_hash(sub)[:4], 16) % 360
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" '
            f'viewBox="0 0 96 96"><circle cx="48" cy="48" r="48" '
            f'fill="hsl({hue} 45% 50%)"/><text x="48" y="60" '
            'font-family="sans-serif" font-size="34" text-anchor="middle" '
            f'fill="#fff">{html.escape(initials)}</text></svg>'
        )
        response = Response(svg, mimetype="image/svg+xml")
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    def _picture(self, sub: str) -> str:
        return f"{self._issuer}/avatars/{sub}.svg"

    # -- plumbing ----------------------------------------------------------

    def _registration(self) -> KakaoRegistration | None:
        """Read per request, so re-provisioning takes effect without a restart."""
        try:
            return _read_registration(self._settings.kakao_registration_file)
        except KakaoRegistrationError:
            _log.warning("kakao registration file unreadable: answering KOE101")
            return None

    def _page_error(self, error: _PageError) -> Response:
        _audit(str(request.endpoint), "refused", reason=error.error_code or error.title)
        body = render_template(
            "kakao_error.html",
            status=error.status,
            error_code=error.error_code,
            title=error.title,
            description=error.description,
        )
        return _page(body, error.status)

    def _redirect_error(self, error: _RedirectError) -> Response:
        _audit(str(request.endpoint), "refused", reason=error.error)
        return _redirect(
            _with_query(
                error.redirect_uri,
                {
                    "error": error.error,
                    "error_description": error.description,
                    "state": error.state,
                },
            )
        )

    def _token_error(self, error: _TokenError) -> Response:
        _audit("token", "refused", reason=error.error_code or error.error)
        body = {"error": error.error, "error_description": error.description}
        if error.error_code is not None:
            body["error_code"] = error.error_code
        response = jsonify(body)
        response.status_code = error.status
        if isinstance(error, _InvalidClient):
            response.headers["WWW-Authenticate"] = 'Bearer realm="kakao"'
        return _no_store(response)


def _json_http_error(error: HTTPException) -> Response:
    code = (error.name or "error").lower().replace(" ", "_")
    response = jsonify({"error": code, "message": error.description or error.name})
    response.status_code = error.code or 500
    return response


def _json_server_error(error: Exception) -> Response:
    _log.exception("kakao stand-in failed on %s", request.path)
    response = jsonify(
        {"error": "server_error", "message": "The Kakao stand-in failed; see its log."}
    )
    response.status_code = 500
    return response


def _start_request() -> None:
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)


def _finish_request(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id", "-")
    return response


def create_app(
    settings: StackSettings,
    clock: Clock = time.time,
    env: Mapping[str, str] | None = None,
) -> Flask:
    """The Kakao stand-in as a Flask app; serve it on ``settings.kakao_port``.

    ``clock`` gives seconds since the epoch (tests move time); ``env`` is read
    on every request for ``DEVSTACK_KAKAO_AUTO_LOGIN`` (default: os.environ).
    """
    warnings.warn(
        "The Kakao stand-in imitates Kakao Login with these gaps:\n- "
        + "\n- ".join(KNOWN_LIMITATIONS),
        KakaoStandInWarning,
        stacklevel=2,
    )
    ensure_registration(settings)
    app = Flask(__name__, template_folder="templates")
    KakaoStandIn(settings, clock, os.environ if env is None else env).register(app)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(HTTPException, _json_http_error)
    app.register_error_handler(Exception, _json_server_error)
    return app
