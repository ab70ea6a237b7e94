"""Scripted federated logins: a person's browser played by ``requests``.

``scripted_login`` starts at a Cognito authorize URL (the stand-in's, or one the
API redirected to), agrees on Kakao's consent page and follows the redirects by
hand until the browser would land on the app's redirect URI. It returns that
URL, which carries ``code`` and ``state`` (or Cognito's ``error``).
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from devstack.kakao import consent_form_fields
from devstack.settings import KAKAO_PROVIDER_NAME, StackSettings

KAKAO_AUTHORIZE_PATH = "/oauth/authorize"
MAX_HOPS = 8
TIMEOUT_SECONDS = 5.0


class LoginFlowError(Exception):
    """A step of the login did not answer as a browser would need it to."""


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge), RFC 7636 section 4."""
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def authorize_url(
    settings: StackSettings,
    client_id: str,
    redirect_uri: str,
    *,
    scope: str = "openid email profile",
    state: str | None = None,
    nonce: str | None = None,
    code_challenge: str | None = None,
    identity_provider: str | None = KAKAO_PROVIDER_NAME,
) -> str:
    """The hosted UI's authorize URL for a code flow (PKCE S256 when given)."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256" if code_challenge else None,
        "identity_provider": identity_provider,
    }
    present = {name: value for name, value in query.items() if value is not None}
    return f"{settings.cognito_url}/oauth2/authorize?{urlencode(present)}"


def scripted_login(
    authorize: str,
    *,
    user_id: str = "4000000001",
    share_email: bool = True,
    decision: str = "agree",
    redirect_uri: str | None = None,
    session: requests.Session | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> str:
    """Drive authorize, Kakao consent and idpresponse; return the app's URL.

    ``authorize`` is a Cognito authorize URL, or any URL that redirects to one
    (such as the API's login route). The login ends where the browser would
    land on ``redirect_uri`` (default: the authorize URL's own). That URL is
    returned unfollowed. ``decision="cancel"`` presses Cancel at Kakao, and
    the returned URL then carries ``error=access_denied``. Pass ``session`` to
    keep cookies (the API's login cookie, for one).
    """
    http = session or requests.Session()
    redirect_uri = redirect_uri or dict(parse_qsl(urlsplit(authorize).query)).get(
        "redirect_uri"
    )
    if not redirect_uri:
        raise LoginFlowError("say where the login ends: no redirect_uri is known")

    url = authorize
    for _ in range(MAX_HOPS):
        if _lands_on(url, redirect_uri):
            return url
        answer = http.get(url, allow_redirects=False, timeout=timeout)
        if answer.is_redirect:
            url = urljoin(url, answer.headers["Location"])
            continue
        if answer.status_code == 200 and _is_kakao_consent(url):
            url = _consent(http, url, user_id, share_email, decision, timeout)
            continue
        raise LoginFlowError(f"{_where(url)} answered HTTP {answer.status_code}")
    raise LoginFlowError(f"no landing on the redirect URI after {MAX_HOPS} steps")


def _consent(
    http: requests.Session,
    page_url: str,
    user_id: str,
    share_email: bool,
    decision: str,
    timeout: float,
) -> str:
    """POST the consent page's form, as pressing Agree (or Cancel) does."""
    query = dict(parse_qsl(urlsplit(page_url).query))
    fields = consent_form_fields(
        query, user_id, share_email=share_email, decision=decision
    )
    action = urlunsplit(urlsplit(page_url)._replace(query="", fragment=""))
    answer = http.post(action, data=fields, allow_redirects=False, timeout=timeout)
    if not answer.is_redirect:
        raise LoginFlowError(f"Kakao's consent answered HTTP {answer.status_code}")
    return urljoin(action, answer.headers["Location"])


def _lands_on(url: str, redirect_uri: str) -> bool:
    target = urlsplit(redirect_uri)
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc, parts.path) == (
        target.scheme,
        target.netloc,
        target.path,
    )


def _is_kakao_consent(url: str) -> bool:
    return urlsplit(url).path == KAKAO_AUTHORIZE_PATH


def _where(url: str) -> str:
    """The URL without its query: never print codes or state."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
