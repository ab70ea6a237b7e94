"""Browser-side helpers for the hostile suite: start and finish logins, read answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.api.conftest import CLIENT_SECRET, Stack, cookie_value, set_cookies
from tests.hostile.conftest import FIGURES

SESSION = "__Host-kl_session"
LOGIN = "__Host-kl_login"


@dataclass(frozen=True)
class Outcome:
    """What the browser saw at the end of a login: status, error code, cookie."""

    status: int
    error: str | None
    session_id: str | None


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def begin(stack: Stack, flow: str = "api", return_to: str = "/") -> tuple[str, ...]:
    """Start a login and let the hosted UI approve it: (code, state, binding)."""
    FIGURES.secret(CLIENT_SECRET)
    started = stack.start("?" + urlencode({"flow": flow, "return_to": return_to}))
    assert started.status_code == 302, started.body
    binding = cookie_value(started, LOGIN)
    code, state = stack.cognito.authorize(started.headers["Location"])
    FIGURES.secret(binding, code, state)
    return code, state, binding


def finish(stack: Stack, via: str, code: str, state: str, cookie: str) -> Outcome:
    """Finish a login through the callback (api flow) or /auth/token (front end)."""
    if via == "callback":
        path = "/auth/callback?" + urlencode({"code": code, "state": state})
        headers = {"Cookie": cookie} if cookie else {}
        response = stack.client.http.get(path, headers=headers)
        assert response.status_code == 302, response.body
        error = query_of(response.headers["Location"]).get("login_error")
        return Outcome(302, error, session_of(response))
    extra = {"Cookie": cookie} if cookie else {}
    response = stack.post("/auth/token", {"code": code, "state": state}, **extra)
    error = None if response.status_code == 200 else error_of(response)
    return Outcome(response.status_code, error, session_of(response))


def flow_for(via: str) -> str:
    return "api" if via == "callback" else "frontend"


def login(stack: Stack) -> str:
    session_id = stack.login()
    FIGURES.secret(session_id)
    return session_id


def session_of(response: Any) -> str | None:
    line = set_cookies(response).get(SESSION)
    if line is None:
        return None
    value = line.split(";", 1)[0].split("=", 1)[1]
    FIGURES.secret(value)
    return value or None


def error_of(response: Any) -> str:
    document = json.loads(response.body)
    assert set(document) == {"error", "message", "request_id"}, document
    return str(document["error"])


def user_info(stack: Stack, session_id: str) -> Any:
    return stack.client.http.get(
        "/api/user-info", headers={"Cookie": f"{SESSION}={session_id}"}
    )


def no_internals(response: Any) -> None:
    """An error body names no exception, trace or upstream text."""
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    for marker in ("Traceback", "Exception", "Error:", 'File "', "<html", "botocore"):
        assert marker not in (text or ""), text
