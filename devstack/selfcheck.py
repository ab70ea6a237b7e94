"""A scripted person: logs in through the whole product over real HTTP.

The browser's part is played by ``requests`` with one change to its cookie
policy: like Chromium, it sends ``Secure`` cookies to ``http://localhost``.
Python's default refuses to, which would make the production cookie attributes
untestable offline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from http.cookiejar import Cookie, DefaultCookiePolicy
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from urllib.request import Request

import requests
from chalicelib.config import LOOPBACK_HOSTS
from requests.cookies import get_cookie_header

from devstack.kakao import consent_form_fields
from devstack.settings import StackSettings

SESSION_COOKIE = "__Host-kl_session"
TIMEOUT = 10
CSRF_HEADERS = {"X-CSRF": "1", "Content-Type": "application/json"}


class LoopbackSecurePolicy(DefaultCookiePolicy):
    """Send ``Secure`` cookies over plain http to loopback hosts, as Chromium does."""

    def return_ok_secure(self, cookie: Cookie, request: Request) -> bool:
        if urlsplit(request.get_full_url()).hostname in LOOPBACK_HOSTS:
            return True
        return bool(super().return_ok_secure(cookie, request))


class SelfCheckError(Exception):
    pass


class LoopbackBrowser(requests.Session):
    """A session whose cookie jar behaves like Chromium's on localhost.

    requests rebuilds the ``Cookie`` header from a default-policy copy of the
    jar, so the header is set here, on every hop of a redirect chain, from the
    session's own jar and policy.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cookies.set_policy(LoopbackSecurePolicy())

    def send(
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        jar = self.cookies
        header = get_cookie_header(jar, request)  # type: ignore[no-untyped-call]
        if header:
            request.headers["Cookie"] = header
        return super().send(request, **kwargs)


def browser() -> requests.Session:
    return LoopbackBrowser()


@dataclass
class LoginResult:
    session: requests.Session
    landed_at: str
    seconds: float

    @property
    def cookie(self) -> str | None:
        return self.session.cookies.get(SESSION_COOKIE)


def login(
    settings: StackSettings,
    user_id: str = "4000000001",
    share_email: bool = True,
    session: requests.Session | None = None,
    return_to: str = "/",
) -> LoginResult:
    """Click "Log in with Kakao", agree at Kakao, land back on the front end."""
    session = session or browser()
    started = time.monotonic()
    page = session.get(
        f"{settings.api_url}/auth/login",
        params={"return_to": return_to},
        timeout=TIMEOUT,
    )
    if not page.url.startswith(settings.kakao_url):
        raise SelfCheckError(
            f"login did not reach Kakao's consent page ({page.status_code})"
        )
    query = dict(parse_qsl(urlsplit(page.url).query))
    fields = consent_form_fields(query, user_id, share_email=share_email)
    landed = session.post(
        f"{settings.kakao_url}/oauth/authorize", data=fields, timeout=TIMEOUT
    )
    if not landed.url.startswith(settings.frontend_url):
        raise SelfCheckError(
            f"login ended at {landed.url.split('?')[0]}, not the front end"
        )
    if "login_error" in landed.url:
        raise SelfCheckError(f"the front end was told {landed.url.split('?', 1)[1]}")
    return LoginResult(session, landed.url, time.monotonic() - started)


def api(session: requests.Session, method: str, url: str) -> tuple[int, dict[str, Any]]:
    headers = CSRF_HEADERS if method == "POST" else {}
    answer = session.request(method, url, headers=headers, timeout=TIMEOUT)
    try:
        body = answer.json()
    except ValueError:
        body = {}
    return answer.status_code, body


def run_demo_check(settings: StackSettings) -> bool:
    print("\nself-check: logging in as test user 4000000001 through Kakao and Cognito")
    try:
        result = login(settings)
        status, user = api(result.session, "GET", f"{settings.api_url}/api/user-info")
    except (SelfCheckError, requests.RequestException) as error:
        print(f"self-check FAILED: {error}")
        return False
    if status != 200:
        print(
            f"self-check FAILED: /api/user-info answered {status} {user.get('error')}"
        )
        return False
    print(
        f"  logged in     {user['name']} <{user['email']}> "
        f"via {user['identity_provider']}"
    )
    print(
        f"  session       {user['session_expires_in']} s left, "
        f"login took {result.seconds:.2f} s"
    )
    return True


def run_smoke(settings: StackSettings) -> bool:
    """The whole flow without a person; prints one summary line."""
    steps: list[str] = []
    started = time.monotonic()
    try:
        result = login(settings)
        steps.append("login")
        old_cookie = result.cookie
        expect(api(result.session, "GET", f"{settings.api_url}/api/user-info"), 200)
        steps.append("user-info")
        expect(api(result.session, "POST", f"{settings.api_url}/auth/refresh"), 200)
        steps.append("refresh")
        status, body = api(result.session, "POST", f"{settings.api_url}/auth/logout")
        if status != 200 or not body.get("logout_url", "").startswith(
            settings.cognito_url
        ):
            raise SelfCheckError(f"logout answered {status}")
        steps.append("logout")
        answer = requests.get(
            f"{settings.api_url}/api/user-info",
            headers={"Cookie": f"{SESSION_COOKIE}={old_cookie}"},
            timeout=TIMEOUT,
        )
        if answer.status_code != 401 or answer.json().get("error") != "unauthenticated":
            raise SelfCheckError(f"the old cookie was accepted ({answer.status_code})")
        steps.append("old cookie refused")
    except (SelfCheckError, requests.RequestException, KeyError) as error:
        print(f"smoke: FAILED after {', '.join(steps) or 'nothing'}: {error}")
        return False
    print(f"smoke: passed ({', '.join(steps)}) in {time.monotonic() - started:.2f} s")
    return True


def expect(answer: tuple[int, dict[str, Any]], status: int) -> None:
    if answer[0] != status:
        raise SelfCheckError(
            f"expected {status}, got {answer[0]} {answer[1].get('error')}"
        )
