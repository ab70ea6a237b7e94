"""Sessions: user info, refresh (inline, explicit, concurrent), expiry, logout."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from chalicelib import login

from tests.api.conftest import (
    CLIENT_ID,
    DOMAIN,
    RealClock,
    Stack,
    body,
    make_stack,
    set_cookies,
)


def _cookie(session_id: str) -> str:
    return f"__Host-kl_session={session_id}"


def _user_info(stack: Stack, session_id: str) -> Any:
    return stack.client.http.get(
        "/api/user-info", headers={"Cookie": _cookie(session_id)}
    )


def _refresh(stack: Stack, session_id: str) -> Any:
    return stack.post("/auth/refresh", Cookie=_cookie(session_id))


def _cleared(response: Any) -> bool:
    line = set_cookies(response).get("__Host-kl_session", "")
    return "Max-Age=0" in line and "Secure" in line and "HttpOnly" in line


def test_user_info_without_a_session_is_a_json_401(stack: Stack) -> None:
    response = stack.client.http.get("/api/user-info")

    assert response.status_code == 401
    assert body(response)["error"] == "unauthenticated"
    assert "Location" not in response.headers


def test_unknown_session_cookie_is_a_401(stack: Stack) -> None:
    response = _user_info(stack, "not-a-session")

    assert response.status_code == 401
    assert body(response)["error"] == "unauthenticated"


def test_expired_item_still_in_the_table_counts_as_absent(stack: Stack) -> None:
    # given a session idle past its timeout (DynamoDB TTL has not run yet)
    session_id = stack.login()
    stack.clock.advance(1801)

    # when
    response = _user_info(stack, session_id)

    # then
    assert response.status_code == 401
    assert stack.session_item(session_id) is not None


def test_absolute_timeout_ends_an_active_session(stack: Stack) -> None:
    session_id = stack.login()
    for _ in range(17):  # active every 30 minutes for 8.5 hours
        stack.clock.advance(1790)
        _user_info(stack, session_id)

    assert _user_info(stack, session_id).status_code == 401


def test_idle_expiry_slides_only_once_half_the_window_is_spent(stack: Stack) -> None:
    # given
    session_id = stack.login()
    stack.clock.advance(600)
    stack.runtime.config_source.get()  # config re-read after its 60 s lifetime
    stack.aws.reset()

    # when early in the window: a read only
    assert _user_info(stack, session_id).status_code == 200
    assert stack.aws.calls == {"GetItem": 1}

    # when past half of it: one conditional update
    stack.clock.advance(400)
    stack.runtime.config_source.get()
    stack.aws.reset()
    response = _user_info(stack, session_id)
    assert stack.aws.calls == {"GetItem": 1, "UpdateItem": 1}
    assert body(response)["session_expires_in"] == 1800


def test_user_info_refreshes_inline_when_the_access_token_is_nearly_spent(
    stack: Stack,
) -> None:
    # given an access token valid for 5 minutes, 50 s of it left
    stack.cognito.access_lifetime = 300
    session_id = stack.login()
    before = stack.session_item(session_id)
    stack.clock.advance(250)

    # when
    response = _user_info(stack, session_id)

    # then
    assert response.status_code == 200
    assert stack.cognito.calls["token:refresh_token"] == 1
    after = stack.session_item(session_id)
    assert before and after
    assert after["access_token"]["S"] != before["access_token"]["S"]
    assert after["access_expires_at"]["N"] == str(int(stack.clock.now()) + 300)
    assert isinstance(body(response)["session_expires_in"], int)


def test_refresh_returns_expires_in_and_no_token(stack: Stack) -> None:
    session_id = stack.login()
    stack.clock.advance(100)

    response = _refresh(stack, session_id)

    assert response.status_code == 200
    assert body(response) == {"success": True, "expires_in": 3600}


def test_rotated_refresh_token_replaces_the_old_one(stack: Stack) -> None:
    # given
    stack.cognito.rotate = True
    session_id = stack.login()
    first = stack.session_item(session_id)

    # when refreshed twice
    assert _refresh(stack, session_id).status_code == 200
    assert _refresh(stack, session_id).status_code == 200

    # then the second refresh used the rotated token
    after = stack.session_item(session_id)
    assert first and after
    assert after["refresh_token"]["S"] != first["refresh_token"]["S"]
    assert after["refresh_token"]["S"] in stack.cognito.refresh_tokens


@pytest.mark.parametrize("error", ["invalid_grant", "invalid_client"])
def test_fatal_refresh_error_ends_the_session(stack: Stack, error: str) -> None:
    session_id = stack.login()
    stack.cognito.token_fault = error

    response = _refresh(stack, session_id)

    assert response.status_code == 401
    assert body(response)["error"] == "session_expired"
    assert _cleared(response)
    assert stack.session_item(session_id) is None


def test_user_info_ends_the_session_on_a_fatal_inline_refresh(stack: Stack) -> None:
    stack.cognito.access_lifetime = 300
    session_id = stack.login()
    stack.cognito.refresh_tokens.clear()
    stack.clock.advance(250)

    response = _user_info(stack, session_id)

    assert response.status_code == 401
    assert body(response)["error"] == "session_expired"
    assert _cleared(response)


@pytest.mark.parametrize("fault", ["timeout", "500", "html", "malformed"])
def test_unreachable_cognito_keeps_the_session(stack: Stack, fault: str) -> None:
    # given
    session_id = stack.login()
    stack.cognito.token_fault = fault

    # when
    response = _refresh(stack, session_id)

    # then
    assert response.status_code == 503
    assert body(response)["error"] == "upstream_unavailable"
    assert "Set-Cookie" not in response.headers
    # and once Cognito is back, the same session refreshes
    stack.cognito.token_fault = None
    assert _refresh(stack, session_id).status_code == 200


def test_refresh_without_a_session_is_a_401(stack: Stack) -> None:
    response = stack.post("/auth/refresh")

    assert response.status_code == 401
    assert body(response)["error"] == "unauthenticated"


def test_refresh_never_recreates_a_session_logged_out_meanwhile(stack: Stack) -> None:
    # given a refresh that is in flight when another tab logs out
    session_id = stack.login()
    runtime, config = stack.runtime, stack.runtime.config_source.get()
    session = runtime.sessions.load(session_id)
    assert session is not None
    original = runtime.oauth.refresh

    def refresh_then_logout(*args: Any, **kwargs: Any) -> Any:
        tokens = original(*args, **kwargs)
        runtime.sessions.delete(session_id)
        return tokens

    runtime.oauth.refresh = refresh_then_logout  # type: ignore[method-assign]

    # when / then
    with pytest.raises(login.SessionExpired):
        login.refresh(runtime, config, session)
    assert stack.session_item(session_id) is None


def test_twenty_parallel_requests_with_an_expiring_token_make_one_grant(
    aws_env: None, signing_key: Any, tmp_path: Path
) -> None:
    # given a session whose access token is about to expire, and a slow Cognito
    stack = make_stack(signing_key, tmp_path, RealClock())
    stack.cognito.rotate = True
    stack.cognito.access_lifetime = 30
    session_id = stack.login()
    stack.cognito.access_lifetime = 3600
    stack.cognito.refresh_delay = 0.3
    runtime, config = stack.runtime, stack.runtime.config_source.get()
    results: list[object] = []
    barrier = threading.Barrier(20)

    def one_request() -> None:
        barrier.wait()
        try:
            results.append(login.user_info(runtime, config, session_id)["sub"])
        except Exception as exc:
            results.append(exc)

    # when
    threads = [threading.Thread(target=one_request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # then
    assert stack.cognito.calls["token:refresh_token"] == 1
    assert len(results) == 20
    assert results == ["user-1"] * 20


def test_logout_deletes_revokes_clears_and_returns_the_cognito_logout_url(
    stack: Stack,
) -> None:
    # given
    session_id = stack.login()
    item = stack.session_item(session_id)
    assert item
    refresh_token = item["refresh_token"]["S"]

    # when
    response = stack.post("/auth/logout", Cookie=_cookie(session_id))

    # then
    assert response.status_code == 200
    assert body(response) == {
        "success": True,
        "logout_url": f"{DOMAIN}/logout?client_id={CLIENT_ID}"
        "&logout_uri=https%3A%2F%2Fapp.example.test%2F",
    }
    assert _cleared(response)
    assert stack.session_item(session_id) is None
    assert refresh_token not in stack.cognito.refresh_tokens
    assert _user_info(stack, session_id).status_code == 401


def test_failed_revocation_does_not_block_logout(stack: Stack) -> None:
    session_id = stack.login()
    stack.cognito.revoke_fault = True

    response = stack.post("/auth/logout", Cookie=_cookie(session_id))

    assert response.status_code == 200
    assert stack.cognito.calls["revoke"] == 1
    assert stack.session_item(session_id) is None


def test_logout_without_a_session_still_clears_the_cookie(stack: Stack) -> None:
    response = stack.post("/auth/logout")

    assert response.status_code == 200
    assert _cleared(response)
    assert stack.cognito.calls["revoke"] == 0


def test_get_on_logout_is_405_and_changes_nothing(stack: Stack) -> None:
    session_id = stack.login()

    response = stack.client.http.get(
        "/auth/logout", headers={"Cookie": _cookie(session_id)}
    )

    assert response.status_code == 405
    assert body(response)["error"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST"
    assert stack.session_item(session_id) is not None
