"""The login flow, top to bottom: start, finish, refresh, user info, logout.

Authorization code grant with PKCE S256, ``state`` bound to the browser and
single-use, ``nonce`` checked in the verified ID token (RFC 9700 section 2.1,
RFC 7636, OIDC Core 3.1). Tokens stay in the server-side session; the browser
gets an opaque session cookie. Routes and cookies live in ``app.py`` and
``http.py``; this module holds each rule once.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.audit import audit
from chalicelib.cognito import GrantRejected
from chalicelib.config import AppConfig, origin_of
from chalicelib.errors import (
    ApiError,
    ConfigStale,
    InvalidRequest,
    InvalidReturnTo,
    InvalidState,
    LoginFailed,
    LoginUpstreamFailed,
    SessionExpired,
    Unauthenticated,
    UnsupportedIdentityProvider,
    UpstreamUnavailable,
)
from chalicelib.runtime import Runtime
from chalicelib.sessions import NewSession, Session
from chalicelib.transactions import LoginTransaction, digest

SCOPES = "openid email profile"
FLOWS = ("api", "frontend")
MAX_RETURN_TO_BYTES = 2048
# Refresh inline when the access token has less than this left.
REFRESH_MARGIN_SECONDS = 60
REFRESH_LEASE_SECONDS = 10
REFRESH_WAIT_SECONDS = 5.0
REFRESH_POLL_SECONDS = 0.1
# Errors Cognito may put on the callback that the front end may see verbatim.
REPORTED_AUTHORIZE_ERRORS = frozenset({"access_denied", "temporarily_unavailable"})
# RFC 3986 reserved and unreserved characters, and "%" for what is encoded
# already: quote() then touches only what a URL cannot carry as it is.
URL_SAFE = "/?#[]@!$&'()*+,;=:-._~%"
_BINDING = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class LoginStart:
    authorize_url: str
    binding: str


@dataclass(frozen=True)
class LoginResult:
    session_id: str
    session: Session
    return_to: str


# --- Start -----------------------------------------------------------------


def start_login(
    rt: Runtime,
    config: AppConfig,
    *,
    return_to: str | None,
    idp: str | None,
    flow: str | None,
    binding: str | None,
    fingerprint: str | None = None,
) -> LoginStart:
    """Record a login transaction and build the authorize URL from current config.

    ``config`` must be freshly read; a front end that sends the fingerprint of
    the config it was built with is refused when that config is stale, and so
    is a config naming an app client or URL that Cognito no longer has.
    """
    return_to = local_path(return_to if return_to is not None else "/")
    idp = idp or config.default_identity_provider
    if idp not in config.identity_providers:
        raise UnsupportedIdentityProvider()
    flow = flow or "api"
    if flow not in FLOWS:
        raise InvalidRequest("flow must be 'api' or 'frontend'.")

    # The binding cookie is reused so that two tabs can log in at once.
    if binding is None or not _BINDING.fullmatch(binding):
        binding = secrets.token_urlsafe(32)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)
    redirect_uri = config.callback_url if flow == "api" else config.frontend_url
    if fingerprint is not None and fingerprint != config.public()["fingerprint"]:
        audit("login_failed", "failure", error=ConfigStale.code)
        raise ConfigStale()
    try:
        rt.deployment.verify(config, redirect_uri, idp)
    except ConfigStale:
        audit("login_failed", "failure", error=ConfigStale.code)
        raise

    rt.transactions.save(
        state,
        LoginTransaction(
            binding_hash=digest(binding),
            nonce=nonce,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            flow=flow,
            return_to=return_to,
            identity_provider=idp,
            expires_at=rt.transactions.expiry(),
        ),
    )

    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "scope": SCOPES,
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce_challenge(code_verifier),
        "code_challenge_method": "S256",
        "identity_provider": idp,
    }
    audit("login_started", "success")
    return LoginStart(
        authorize_url=f"{config.cognito_domain_url}/oauth2/authorize?"
        + urlencode(query),
        binding=binding,
    )


def local_path(value: str) -> str:
    """A post-login return path that can only lead back to our own front end.

    Characters outside ASCII (a Korean path, say) are percent-encoded here, so
    the path can always be sent in a ``Location`` header, which is ASCII.
    """
    if (
        not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or "\\" in value
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
    ):
        raise InvalidReturnTo()
    try:
        encoded = quote(value, safe=URL_SAFE)
    except UnicodeEncodeError:  # a lone surrogate cannot be a path
        raise InvalidReturnTo() from None
    if len(encoded) > MAX_RETURN_TO_BYTES:
        raise InvalidReturnTo()
    return encoded


def pkce_challenge(code_verifier: str) -> str:
    """RFC 7636 section 4.2, S256."""
    hashed = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed).rstrip(b"=").decode("ascii")


def frontend_return_url(config: AppConfig, return_to: str) -> str:
    return origin_of(config.frontend_url) + return_to


# --- Finish (callback or /auth/token) --------------------------------------


def finish_login(
    rt: Runtime,
    config: AppConfig,
    *,
    code: str,
    state: str,
    binding: str | None,
    flow: str,
    previous_session_id: str | None,
) -> LoginResult:
    """Exchange the code, verify the ID token and open a new session."""
    try:
        transaction = rt.transactions.consume(state, binding)
        if transaction.flow != flow:
            raise InvalidState()

        tokens = rt.oauth.exchange_code(
            config,
            code=code,
            code_verifier=transaction.code_verifier,
            redirect_uri=transaction.redirect_uri,
        )
        if not tokens.id_token or not tokens.refresh_token:
            raise LoginFailed()
        claims = rt.verifier.verify(tokens.id_token, config, nonce=transaction.nonce)

        now = int(rt.clock.now())
        session_id, session = rt.sessions.create(
            NewSession(
                sub=claims["sub"],
                name=_text_claim(claims, "nickname") or _text_claim(claims, "name"),
                email=_text_claim(claims, "email"),
                identity_provider=_provider_of(claims),
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                access_expires_at=now + tokens.expires_in,
            ),
            idle_timeout=config.session_idle_timeout,
            absolute_timeout=config.session_absolute_timeout,
        )
    except GrantRejected:
        audit("login_failed", "failure", error=LoginFailed.code)
        raise LoginFailed() from None
    except UpstreamUnavailable:
        audit("login_failed", "failure", error=LoginFailed.code)
        raise LoginUpstreamFailed() from None
    except ApiError as exc:
        audit("login_failed", "failure", error=exc.code)
        raise

    # A login replaces whatever session this browser had before.
    if previous_session_id:
        rt.sessions.delete(previous_session_id)
    audit("login_succeeded", "success", sub=session.sub)
    return LoginResult(session_id, session, transaction.return_to)


def abandon_login(
    rt: Runtime, *, state: str | None, binding: str | None, error: str
) -> str:
    """Cognito reported an error on the callback: burn the state, name the error."""
    reported = error if error in REPORTED_AUTHORIZE_ERRORS else LoginFailed.code
    if state:
        with contextlib.suppress(InvalidState):
            rt.transactions.consume(state, binding)
    audit("login_failed", "failure", error=reported)
    return reported


def _text_claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _provider_of(claims: dict[str, Any]) -> str:
    identities = claims.get("identities")
    if isinstance(identities, str):
        try:
            identities = json.loads(identities)
        except ValueError:
            identities = None
    if isinstance(identities, list) and identities:
        first = identities[0]
        if isinstance(first, dict) and isinstance(first.get("providerName"), str):
            return str(first["providerName"])
    return "Cognito"


# --- Session use and refresh ------------------------------------------------


def current_session(rt: Runtime, session_id: str | None) -> Session:
    session = rt.sessions.load(session_id) if session_id else None
    if session is None:
        raise Unauthenticated()
    return session


def user_info(rt: Runtime, config: AppConfig, session_id: str | None) -> dict[str, Any]:
    """Who is signed in; refreshes inline when the access token is nearly spent."""
    session = current_session(rt, session_id)

    now = int(rt.clock.now())
    if session.access_expires_at - now < REFRESH_MARGIN_SECONDS:
        session = refresh(rt, config, session)
    else:
        extended = rt.sessions.extend_idle(session, config.session_idle_timeout)
        if extended is None:
            raise Unauthenticated()
        session = extended

    return {
        "sub": session.sub,
        "name": session.name,
        "email": session.email,
        "identity_provider": session.identity_provider,
        "session_expires_in": max(0, session.expires_at - int(rt.clock.now())),
        "absolute_expires_at": session.absolute_expires_at,
    }


def refresh(rt: Runtime, config: AppConfig, session: Session) -> Session:
    """Refresh the session's tokens; one refresh at a time per session.

    The first request takes a lease in DynamoDB and calls Cognito; the others
    wait for its result, because a rotated refresh token works only once.
    """
    lease = rt.sessions.acquire_refresh_lease(
        session, lease_seconds=REFRESH_LEASE_SECONDS
    )
    if lease is None:
        return _await_refresh(rt, session)

    try:
        tokens = rt.oauth.refresh(config, refresh_token=session.refresh_token)
    except GrantRejected as exc:
        if exc.fatal:
            # RFC 6749 section 5.2: the grant is dead; so is the session.
            rt.sessions.delete_key(session)
            audit(
                "refresh_failed", "failure", sub=session.sub, error=SessionExpired.code
            )
            raise SessionExpired() from None
        _keep_for_retry(rt, session, lease)
        raise UpstreamUnavailable() from None
    except UpstreamUnavailable:
        _keep_for_retry(rt, session, lease)
        raise

    refreshed = rt.sessions.save_refreshed(
        session,
        lease_owner=lease,
        access_token=tokens.access_token,
        access_expires_at=int(rt.clock.now()) + tokens.expires_in,
        refresh_token=tokens.refresh_token or session.refresh_token,
        idle_timeout=config.session_idle_timeout,
    )
    if refreshed is None:
        # Logged out meanwhile: do not resurrect it, and retire the new token.
        if tokens.refresh_token:
            rt.oauth.revoke(config, refresh_token=tokens.refresh_token)
        audit("refresh_failed", "failure", sub=session.sub, error=SessionExpired.code)
        raise SessionExpired()
    audit("refresh_succeeded", "success", sub=session.sub)
    return refreshed


def _keep_for_retry(rt: Runtime, session: Session, lease: str) -> None:
    """A passing failure: the session stays and the next request may retry."""
    rt.sessions.release_refresh_lease(session, lease)
    audit("refresh_failed", "failure", sub=session.sub, error=UpstreamUnavailable.code)


def _await_refresh(rt: Runtime, session: Session) -> Session:
    """Wait (bounded) for the request holding the lease to store new tokens."""
    deadline = rt.clock.now() + REFRESH_WAIT_SECONDS
    while True:
        current = rt.sessions.reload(session)
        if current is None:
            raise SessionExpired()
        if current.access_token != session.access_token:
            return current
        if current.refresh_lease_owner is None or rt.clock.now() >= deadline:
            # The holder gave up (upstream trouble) or is stuck: retry later.
            raise UpstreamUnavailable()
        rt.clock.sleep(REFRESH_POLL_SECONDS)


# --- Logout ------------------------------------------------------------------


def logout(rt: Runtime, config: AppConfig, session_id: str | None) -> str:
    """End the local session, revoke its refresh token, return Cognito's logout URL.

    A failed revocation is logged and does not block the local logout.
    """
    old = rt.sessions.delete(session_id) if session_id else None
    if old is not None:
        revoked = rt.oauth.revoke(config, refresh_token=old.refresh_token)
        audit(
            "logout",
            "success",
            sub=old.sub,
            error=None if revoked else "revocation_failed",
        )
    else:
        audit("logout", "no_session")

    query = urlencode(
        {"client_id": config.client_id, "logout_uri": config.logout_redirect_url}
    )
    return f"{config.cognito_domain_url}/logout?{query}"
