"""Faults at the boundaries: Cognito's token endpoint, DynamoDB and SSM."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Stack
from tests.hostile.conftest import (
    UPSTREAM_TEXT,
    AwsOutage,
    Figures,
    adapter_of,
    session_count,
)
from tests.hostile.support import (
    LOGIN,
    SESSION,
    begin,
    error_of,
    finish,
    flow_for,
    login,
    no_internals,
    user_info,
)

LOGIN_FAULTS = ["html500", "html502", "json503", "malformed", "timeout", "connection"]
TRANSIENT_FAULTS = ["html500", "json503", "malformed", "timeout", "connection"]
FATAL_ERRORS = ["invalid_grant", "invalid_client", "unauthorized_client"]
SHORT_ACCESS_LIFETIME = 90


# --- Cognito during login -------------------------------------------------------------


@pytest.mark.parametrize("via", ["callback", "token"])
@pytest.mark.parametrize("fault", LOGIN_FAULTS)
def test_token_endpoint_failing_during_login_is_502_login_failed(
    hstack: Stack, figures: Figures, fault: str, via: str
) -> None:
    # given an approved login, and Cognito's token endpoint broken
    code, state, binding = begin(hstack, flow_for(via))
    adapter_of(hstack).fault = fault

    # when
    outcome = finish(hstack, via, code, state, f"{LOGIN}={binding}")

    # then
    expected = 302 if via == "callback" else 502
    survived = (outcome.status, outcome.error) == (expected, "login_failed")
    figures.fault(survived)
    assert (outcome.status, outcome.error) == (expected, "login_failed")
    assert outcome.session_id is None
    assert session_count(hstack.dynamodb) == 0
    assert hstack.cognito.calls["faulted"] == 1


def test_login_failure_body_shows_no_upstream_text(
    hstack: Stack, figures: Figures
) -> None:
    code, state, binding = begin(hstack, "frontend")
    adapter_of(hstack).fault = "html500"

    response = hstack.post(
        "/auth/token", {"code": code, "state": state}, Cookie=f"{LOGIN}={binding}"
    )

    figures.fault(response.status_code == 502)
    assert response.status_code == 502
    assert error_of(response) == "login_failed"
    no_internals(response)
    for text in UPSTREAM_TEXT:
        assert text not in response.body.decode()


# --- Cognito during refresh -----------------------------------------------------------


def _refresh_via(stack: Stack, route: str, session_id: str) -> Any:
    if route == "refresh":
        return stack.post("/auth/refresh", Cookie=f"{SESSION}={session_id}")
    # an access token inside the refresh margin makes user-info refresh inline
    stack.clock.advance(SHORT_ACCESS_LIFETIME - 30)
    return user_info(stack, session_id)


@pytest.mark.parametrize("route", ["refresh", "user-info"])
@pytest.mark.parametrize("error", FATAL_ERRORS)
def test_fatal_refresh_error_ends_the_session_with_a_401(
    hstack: Stack, figures: Figures, error: str, route: str
) -> None:
    # given
    hstack.cognito.access_lifetime = SHORT_ACCESS_LIFETIME
    session_id = login(hstack)
    adapter = adapter_of(hstack)
    adapter.fault, adapter.grant = error, "refresh_token"

    # when
    response = _refresh_via(hstack, route, session_id)

    # then the session is over, and the cookie cleared
    figures.fault(response.status_code == 401)
    assert response.status_code == 401
    assert error_of(response) == "session_expired"
    assert "Max-Age=0" in str(response.headers.get("Set-Cookie"))
    assert hstack.session_item(session_id) is None
    assert session_count(hstack.dynamodb) == 0


@pytest.mark.parametrize("route", ["refresh", "user-info"])
@pytest.mark.parametrize("fault", TRANSIENT_FAULTS)
def test_transient_refresh_failure_keeps_the_session_and_a_retry_succeeds(
    hstack: Stack, figures: Figures, fault: str, route: str
) -> None:
    # given
    hstack.cognito.access_lifetime = SHORT_ACCESS_LIFETIME
    session_id = login(hstack)
    adapter = adapter_of(hstack)
    adapter.fault, adapter.grant = fault, "refresh_token"

    # when
    down = _refresh_via(hstack, route, session_id)
    adapter.fault = None
    retry = _refresh_via(hstack, "refresh", session_id)

    # then
    survived = down.status_code == 503 and retry.status_code == 200
    figures.fault(survived)
    assert down.status_code == 503
    assert error_of(down) == "upstream_unavailable"
    no_internals(down)
    assert "Set-Cookie" not in down.headers
    assert retry.status_code == 200
    assert hstack.cognito.calls["token:refresh_token"] == 1
    lost = int(user_info(hstack, session_id).status_code != 200)
    figures.lost(lost)
    assert lost == 0


# --- DynamoDB -------------------------------------------------------------------------

STORE_ERRORS = ["throttled", "throttling", "limit", "internal", "unreachable"]


def _outage(stack: Stack) -> AwsOutage:
    return AwsOutage(stack.runtime.dynamodb(), "dynamodb")


@pytest.mark.parametrize("via", ["callback", "token"])
@pytest.mark.parametrize("error", STORE_ERRORS)
def test_session_store_failing_at_login_is_503_and_writes_no_session(
    stack: Stack, figures: Figures, error: str, via: str
) -> None:
    # given an approved login, and DynamoDB refusing writes
    outage = _outage(stack)
    code, state, binding = begin(stack, flow_for(via))
    outage.error, outage.operations = error, {"PutItem"}

    # when
    outcome = finish(stack, via, code, state, f"{LOGIN}={binding}")

    # then
    expected = 302 if via == "callback" else 503
    survived = outcome.error == "session_store_unavailable"
    figures.fault(survived)
    assert (outcome.status, outcome.error) == (expected, "session_store_unavailable")
    assert outcome.session_id is None
    assert outage.injected == 1
    assert session_count(stack.dynamodb) == 0


SESSION_CALLS = {
    "user-info reads": ("GET", "/api/user-info", "GetItem"),
    "refresh takes the lease": ("POST", "/auth/refresh", "UpdateItem"),
    "refresh reads": ("POST", "/auth/refresh", "GetItem"),
    "logout deletes": ("POST", "/auth/logout", "DeleteItem"),
}


@pytest.mark.parametrize("case", sorted(SESSION_CALLS))
@pytest.mark.parametrize("error", STORE_ERRORS)
def test_session_store_failing_mid_session_is_503_and_keeps_the_session(
    stack: Stack, figures: Figures, error: str, case: str
) -> None:
    # given
    session_id = login(stack)
    before = stack.session_item(session_id)
    outage = _outage(stack)
    method, path, operation = SESSION_CALLS[case]
    outage.error, outage.operations = error, {operation}

    # when
    if method == "GET":
        response = user_info(stack, session_id)
    else:
        response = stack.post(path, Cookie=f"{SESSION}={session_id}")
    outage.operations = set()

    # then nothing half-written, and the session works once DynamoDB is back
    figures.fault(response.status_code == 503)
    assert response.status_code == 503
    assert error_of(response) == "session_store_unavailable"
    no_internals(response)
    assert "Set-Cookie" not in response.headers
    assert stack.session_item(session_id) == before
    lost = int(user_info(stack, session_id).status_code != 200)
    figures.lost(lost)
    assert lost == 0


# --- SSM on a cold start --------------------------------------------------------------


@pytest.mark.parametrize("error", ["unreachable", "throttling", "internal"])
@pytest.mark.parametrize("path", ["/api/config", "/auth/login", "/api/user-info"])
def test_ssm_unreachable_on_a_cold_start_is_503_and_recovers_without_restart(
    stack: Stack, figures: Figures, error: str, path: str
) -> None:
    # given a container that has not read its config yet, and SSM down
    outage = AwsOutage(stack.runtime.ssm(), "ssm")
    outage.error, outage.operations = error, {"GetParametersByPath"}
    runtime = stack.runtime

    # when
    down = stack.client.http.get(path)
    outage.operations = set()
    stack.clock.advance(1.5)
    back = stack.client.http.get(path)

    # then
    survived = down.status_code == 503 and back.status_code != 503
    figures.fault(survived)
    assert down.status_code == 503
    assert error_of(down) == "config_unavailable"
    no_internals(down)
    assert back.status_code in {200, 302, 401}
    assert stack.runtime is runtime
    assert outage.injected >= 1
