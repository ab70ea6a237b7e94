"""Plumbing: CSRF, CORS, bodies, routing errors, config, health, faults, logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalicelib import login

from tests.api.conftest import (
    CLIENT_SECRET,
    FRONTEND,
    LOOPBACK_VALUES,
    FakeClock,
    Stack,
    aws_client,
    body,
    cookie_value,
    make_stack,
    set_cookies,
)


def _error(response: Any) -> str:
    return str(body(response)["error"])


# --- CSRF -----------------------------------------------------------------------


def test_post_without_the_csrf_header_is_refused_without_side_effect(
    stack: Stack,
) -> None:
    session_id = stack.login()

    response = stack.client.http.post(
        "/auth/logout",
        headers={"Cookie": f"__Host-kl_session={session_id}"},
    )

    assert response.status_code == 403
    assert _error(response) == "csrf_required"
    assert stack.session_item(session_id) is not None


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"],
)
def test_post_with_a_form_content_type_is_refused(
    stack: Stack, content_type: str
) -> None:
    session_id = stack.login()

    response = stack.post(
        "/auth/logout",
        **{"Content-Type": content_type, "Cookie": f"__Host-kl_session={session_id}"},
    )

    assert response.status_code == 403
    assert _error(response) == "csrf_required"
    assert stack.session_item(session_id) is not None


def test_post_from_a_foreign_origin_is_refused(stack: Stack) -> None:
    session_id = stack.login()

    response = stack.post(
        "/auth/logout",
        Origin="https://evil.example",
        Cookie=f"__Host-kl_session={session_id}",
    )

    assert response.status_code == 403
    assert _error(response) == "origin_not_allowed"
    assert stack.session_item(session_id) is not None


def test_post_from_the_api_origin_is_accepted(stack: Stack) -> None:
    response = stack.post("/auth/logout", Origin="https://api.example.test")

    assert response.status_code == 200


# --- CORS -----------------------------------------------------------------------


def test_allowed_origin_gets_exact_credentialed_cors_headers(stack: Stack) -> None:
    response = stack.client.http.get("/api/config", headers={"Origin": FRONTEND})

    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", FRONTEND + ".evil"])
def test_other_origins_get_no_cors_headers(stack: Stack, origin: str) -> None:
    response = stack.client.http.get("/api/config", headers={"Origin": origin})

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("path", "method"),
    [("/auth/logout", "POST"), ("/auth/refresh", "POST"), ("/api/user-info", "GET")],
)
def test_preflight_from_an_allowed_origin_is_answered(
    stack: Stack, path: str, method: str
) -> None:
    response = stack.client.http.request(
        "OPTIONS",
        path,
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type, x-csrf",
        },
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert method in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type, X-CSRF"


def test_preflight_from_another_origin_is_not_allowed(stack: Stack) -> None:
    response = stack.client.http.request(
        "OPTIONS", "/auth/logout", headers={"Origin": "https://evil.example"}
    )

    assert "Access-Control-Allow-Origin" not in response.headers


# --- Bodies and routing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"code": 1, "state": "s"}', "application/json"),
        (b'{"code": "c"}', "application/json"),
        (b'{"code": "\xff", "state": "s"}', "application/json"),
        (
            b'{"code": "c", "state": "s", "pad": "' + b"a" * 70000 + b'"}',
            "application/json",
        ),
        (b"<code>c</code>", "application/xml"),
    ],
    ids=["not-json", "array", "wrong-type", "missing", "not-utf8", "too-big", "xml"],
)
def test_malformed_token_body_is_invalid_request(
    stack: Stack, raw: bytes, content_type: str
) -> None:
    response = stack.client.http.post(
        "/auth/token", headers={"X-CSRF": "1", "Content-Type": content_type}, body=raw
    )

    assert response.status_code == 400
    assert _error(response) == "invalid_request"


def test_unknown_route_is_a_json_404(stack: Stack) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = stack.client.http.request(method, "/nope")
        assert response.status_code == 404
        assert _error(response) == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/auth/refresh", "POST"),
        ("PUT", "/auth/token", "POST"),
        ("POST", "/api/user-info", "GET"),
        ("DELETE", "/auth/login", "GET"),
    ],
)
def test_wrong_method_is_a_json_405_with_allow(
    stack: Stack, method: str, path: str, allow: str
) -> None:
    response = stack.client.http.request(method, path)

    assert response.status_code == 405
    assert _error(response) == "method_not_allowed"
    assert response.headers["Allow"] == allow


def test_every_response_is_no_store_with_a_request_id(stack: Stack) -> None:
    for response in (
        stack.client.http.get("/health"),
        stack.client.http.get("/api/user-info"),
        stack.start(),
        stack.client.http.get("/nope"),
    ):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Request-Id"]


def test_error_body_carries_the_request_id_of_the_response(stack: Stack) -> None:
    response = stack.client.http.get("/api/user-info")

    assert body(response)["request_id"] == response.headers["X-Request-Id"]


# --- Config and health --------------------------------------------------------------


def test_config_is_the_public_view_without_secrets(stack: Stack) -> None:
    response = stack.client.http.get("/api/config")

    payload = body(response)
    assert response.status_code == 200
    assert payload == stack.runtime.config_source.get().public()
    assert len(payload["fingerprint"]) == 16
    assert CLIENT_SECRET not in response.body.decode()


def test_config_is_served_from_cache_without_aws_calls(stack: Stack) -> None:
    stack.client.http.get("/api/config")
    stack.aws.reset()

    for _ in range(5):
        stack.clock.advance(10)
        stack.client.http.get("/api/config")

    assert sum(stack.aws.calls.values()) == 0


def test_health_touches_no_aws(stack: Stack) -> None:
    response = stack.client.http.get("/health")

    assert body(response) == {"status": "ok"}
    assert sum(stack.aws.calls.values()) == 0


def test_missing_ssm_config_is_503_and_recovers_without_restart(stack: Stack) -> None:
    # given the client id parameter disappears
    stack.ssm.delete_parameter(Name="/kakao-login/test/client_id")

    # when
    down = stack.client.http.get("/auth/login")

    # then
    assert down.status_code == 503
    assert _error(down) == "config_unavailable"
    stack.put_config(client_id="back-again")
    stack.clock.advance(2)
    assert stack.client.http.get("/auth/login").status_code == 302


# --- Session store faults -----------------------------------------------------------


class ThrottledDynamoDB:
    def __init__(self, client: Any, failing: set[str]) -> None:
        self._client = client
        self.failing = failing

    def __getattr__(self, name: str) -> Any:
        if name in self.failing:

            def throttled(**_: Any) -> Any:
                error = {"Error": {"Code": "ProvisionedThroughputExceededException"}}
                raise ClientError(error, name)  # type: ignore[arg-type]

            return throttled
        return getattr(self._client, name)


def test_throttled_session_store_is_503_and_writes_no_session(
    aws_env: None, signing_key: Any, tmp_path: Path
) -> None:
    # given DynamoDB throttles puts
    throttled = ThrottledDynamoDB(aws_client("dynamodb"), set())
    stack = make_stack(signing_key, tmp_path, FakeClock(), dynamodb=throttled)
    started = stack.start("?flow=frontend")
    binding = cookie_value(started, "__Host-kl_login")
    code, state = stack.cognito.authorize(started.headers["Location"])
    throttled.failing = {"put_item"}

    # when
    response = stack.post(
        "/auth/token",
        {"code": code, "state": state},
        Cookie=f"__Host-kl_login={binding}",
    )

    # then
    assert response.status_code == 503
    assert _error(response) == "session_store_unavailable"
    assert "Set-Cookie" not in response.headers


def test_unreachable_session_store_on_user_info_is_503(
    aws_env: None, signing_key: Any, tmp_path: Path
) -> None:
    throttled = ThrottledDynamoDB(aws_client("dynamodb"), set())
    stack = make_stack(signing_key, tmp_path, FakeClock(), dynamodb=throttled)
    session_id = stack.login()
    throttled.failing = {"get_item"}

    response = stack.client.http.get(
        "/api/user-info", headers={"Cookie": f"__Host-kl_session={session_id}"}
    )

    assert response.status_code == 503
    assert _error(response) == "session_store_unavailable"


def test_unexpected_failure_is_a_500_without_exception_text(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(login, "user_info", explode)
    session_id = stack.login()

    response = stack.client.http.get(
        "/api/user-info", headers={"Cookie": f"__Host-kl_session={session_id}"}
    )

    assert response.status_code == 500
    assert _error(response) == "internal_error"
    assert "secret detail" not in response.body.decode()


# --- Cookies on an offline stage ---------------------------------------------------


def test_loopback_stage_keeps_secure_host_cookies_by_default(stack: Stack) -> None:
    stack.put_config(**LOOPBACK_VALUES)
    stack.clock.advance(61)

    response = stack.start()

    assert "__Host-kl_login" in set_cookies(response)


def test_loopback_stage_may_opt_into_plain_cookies(
    aws_env: None, signing_key: Any, tmp_path: Path
) -> None:
    stack = make_stack(signing_key, tmp_path, FakeClock(), allow_insecure_cookies=True)
    stack.put_config(**LOOPBACK_VALUES)
    stack.clock.advance(61)

    line = set_cookies(stack.start())["kl_login"]

    assert "Secure" not in line and "HttpOnly" in line


def test_deployed_stage_ignores_the_plain_cookie_opt_in(
    aws_env: None, signing_key: Any, tmp_path: Path
) -> None:
    stack = make_stack(signing_key, tmp_path, FakeClock(), allow_insecure_cookies=True)

    assert "__Host-kl_login" in set_cookies(stack.start())


# --- Audit log -----------------------------------------------------------------------


def test_auth_events_log_one_json_line_each_and_no_secrets(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.INFO)
    session_id = stack.login()
    item = stack.session_item(session_id)
    assert item

    # when
    stack.post("/auth/refresh", Cookie=f"__Host-kl_session={session_id}")
    stack.post("/auth/logout", Cookie=f"__Host-kl_session={session_id}")

    # then
    lines = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "chalicelib.audit"
    ]
    assert [line["event"] for line in lines] == [
        "login_started",
        "login_succeeded",
        "refresh_succeeded",
        "logout",
    ]
    for line in lines:
        assert set(line) == {"event", "outcome", "request_id", "subject", "error"}
    assert lines[1]["subject"] and len(lines[1]["subject"]) == 16
    everything = caplog.text
    for secret in (
        session_id,
        item["refresh_token"]["S"],
        item["access_token"]["S"],
        CLIENT_SECRET,
    ):
        assert secret not in everything


@pytest.mark.parametrize(
    ("status", "answered", "code"),
    [
        (400, 400, "invalid_request"),
        (415, 400, "invalid_request"),
        (404, 404, "not_found"),
        (405, 405, "method_not_allowed"),
        (500, 500, "internal_error"),
        (502, 500, "internal_error"),
    ],
)
def test_chalice_error_bodies_never_reach_a_client(
    stack: Stack, status: int, answered: int, code: str
) -> None:
    from app import _replace_framework_error
    from chalice.app import Response

    framework = Response(
        body={"Code": "BadRequestError", "Message": "internal detail"},
        status_code=status,
    )

    answer = _replace_framework_error(framework)

    assert answer.status_code == answered
    assert json.loads(answer.body)["error"] == code
    assert "internal detail" not in answer.body
