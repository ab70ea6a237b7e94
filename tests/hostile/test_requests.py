"""Hostile requests: bad cookies, cross-site POSTs, open redirects, bad bodies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.api.conftest import FRONTEND, Stack
from tests.hostile.conftest import Figures, session_count
from tests.hostile.support import (
    LOGIN,
    SESSION,
    begin,
    error_of,
    finish,
    login,
    no_internals,
    query_of,
    user_info,
)


def _item(stack: Stack, session_id: str) -> Any:
    return stack.session_item(session_id)


# --- Session cookies ------------------------------------------------------------------


def _tampered(real: str) -> str:
    last = "A" if real[-1] != "A" else "B"
    return real[:-1] + last


COOKIES = {
    "garbage": lambda real, gone: "!!not-a-session!!",
    "empty": lambda real, gone: "",
    "tampered": lambda real, gone: _tampered(real),
    "truncated": lambda real, gone: real[:-4],
    "padded": lambda real, gone: real + "=",
    "deleted_session": lambda real, gone: gone,
    "eight_kilobytes": lambda real, gone: "A" * 8192,
    "sql_like": lambda real, gone: "' OR '1'='1",
    "key_prefix_itself": lambda real, gone: "session#" + real,
}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/user-info"), ("POST", "/auth/refresh")]
)
@pytest.mark.parametrize("kind", sorted(COOKIES))
def test_session_cookie_that_is_not_a_live_session_is_a_401(
    stack: Stack, figures: Figures, kind: str, method: str, path: str
) -> None:
    # given a live session, and one that was logged out
    real = login(stack)
    gone = login(stack)
    assert stack.post("/auth/logout", Cookie=f"{SESSION}={gone}").status_code == 200
    cookie = f"{SESSION}={COOKIES[kind](real, gone)}"

    # when
    if method == "GET":
        response = stack.client.http.get(path, headers={"Cookie": cookie})
    else:
        response = stack.post(path, Cookie=cookie)

    # then
    refused = response.status_code == 401
    figures.hostile(refused)
    assert response.status_code == 401
    assert error_of(response) == "unauthenticated"
    no_internals(response)
    lost = int(user_info(stack, real).status_code != 200)
    figures.lost(lost)
    assert lost == 0


def test_a_second_session_cookie_cannot_override_the_first(
    stack: Stack, figures: Figures
) -> None:
    # given a garbage cookie placed before a real one (cookie tossing)
    real = login(stack)
    cookie = f"{SESSION}=tossed; {SESSION}={real}"

    # when
    response = stack.client.http.get("/api/user-info", headers={"Cookie": cookie})

    # then the first wins and is refused
    figures.hostile(response.status_code == 401)
    assert error_of(response) == "unauthenticated"


# --- CSRF, origin and content type ----------------------------------------------------

POST_PATHS = ["/auth/refresh", "/auth/logout", "/auth/token"]
CROSS_SITE: dict[str, tuple[dict[str, str | None], str]] = {
    "no_csrf_header": ({"X-CSRF": None}, "csrf_required"),
    "csrf_header_empty": ({"X-CSRF": ""}, "csrf_required"),
    "csrf_header_zero": ({"X-CSRF": "0"}, "csrf_required"),
    "csrf_header_true": ({"X-CSRF": "true"}, "csrf_required"),
    "text_plain": ({"Content-Type": "text/plain"}, "csrf_required"),
    "text_plain_charset": (
        {"Content-Type": "text/plain; charset=utf-8"},
        "csrf_required",
    ),
    "form": ({"Content-Type": "application/x-www-form-urlencoded"}, "csrf_required"),
    "multipart": ({"Content-Type": "multipart/form-data; boundary=x"}, "csrf_required"),
    "evil_origin": ({"Origin": "https://evil.example"}, "origin_not_allowed"),
    "null_origin": ({"Origin": "null"}, "origin_not_allowed"),
    "lookalike_origin": (
        {"Origin": "https://app.example.test.evil.example"},
        "origin_not_allowed",
    ),
    "origin_with_other_scheme": (
        {"Origin": "http://app.example.test"},
        "origin_not_allowed",
    ),
    "origin_with_port": ({"Origin": FRONTEND + ":8443"}, "origin_not_allowed"),
}


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("kind", sorted(CROSS_SITE))
def test_cross_site_post_is_a_403_and_changes_nothing(
    stack: Stack, figures: Figures, kind: str, path: str
) -> None:
    # given a live session and a login in progress
    session_id = login(stack)
    before = _item(stack, session_id)
    code, state, binding = begin(stack, "frontend")
    calls = dict(stack.cognito.calls)
    headers, expected = CROSS_SITE[kind]
    sent = {
        "X-CSRF": "1",
        "Content-Type": "application/json",
        "Cookie": f"{SESSION}={session_id}; {LOGIN}={binding}",
        **headers,
    }
    raw = json.dumps({"code": code, "state": state}).encode()

    # when
    response = stack.client.http.post(
        path, headers={k: v for k, v in sent.items() if v is not None}, body=raw
    )

    # then
    figures.hostile(response.status_code == 403)
    assert response.status_code == 403
    assert error_of(response) == expected
    assert "Set-Cookie" not in response.headers
    assert _item(stack, session_id) == before
    assert dict(stack.cognito.calls) == calls
    assert session_count(stack.dynamodb) == 1
    # and the login in progress is still usable
    assert finish(stack, "token", code, state, f"{LOGIN}={binding}").session_id


def test_post_without_any_csrf_header_is_refused(
    stack: Stack, figures: Figures
) -> None:
    session_id = login(stack)

    response = stack.client.http.post(
        "/auth/logout",
        headers={
            "Cookie": f"{SESSION}={session_id}",
            "Content-Type": "application/json",
        },
        body=b"{}",
    )

    figures.hostile(response.status_code == 403)
    assert error_of(response) == "csrf_required"
    assert user_info(stack, session_id).status_code == 200


PREFLIGHT_ORIGINS = [
    "null",
    "https://evil.example",
    "https://app.example.test.evil.example",
    "http://app.example.test",
    "https://APP.example.test",
    FRONTEND + "/",
    "*",
]


@pytest.mark.parametrize("path", [*POST_PATHS, "/api/user-info", "/auth/login"])
@pytest.mark.parametrize("origin", PREFLIGHT_ORIGINS)
def test_preflight_from_a_disallowed_origin_gets_no_allow_origin(
    stack: Stack, figures: Figures, origin: str, path: str
) -> None:
    # when
    response = stack.client.http.request(
        "OPTIONS",
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-csrf, content-type",
        },
    )

    # then
    names = {name.lower() for name in response.headers}
    refused = "access-control-allow-origin" not in names
    figures.hostile(refused)
    assert refused
    assert "access-control-allow-credentials" not in names


# --- return_to ------------------------------------------------------------------------

LEAVING = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "/x\\..\\evil",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>",
    "evil.example",
    "",
    " /inbox",
    "/inbox\r\nSet-Cookie: x=1",
    "/\x00",
    "/\t/evil.example",
    "/\x7f",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("return_to", LEAVING, ids=repr)
def test_return_to_that_leaves_the_site_is_a_400(
    stack: Stack, figures: Figures, return_to: str
) -> None:
    # when
    response = stack.client.http.get("/auth/login?return_to=" + quote(return_to))

    # then no login transaction was recorded
    figures.hostile(response.status_code == 400)
    assert response.status_code == 400
    assert error_of(response) == "invalid_return_to"
    assert "Location" not in response.headers
    assert stack.aws.calls["PutItem"] == 0


@pytest.mark.parametrize(
    ("return_to", "landing"),
    [
        ("/", "/"),
        ("/inbox", "/inbox"),
        ("/a/b?tab=2&x=%2F%2Fevil", "/a/b?tab=2&x=%2F%2Fevil"),
        ("/search#top", "/search#top"),
        # Outside ASCII: percent-encoded, as a Location header must be.
        ("/ü", "/%C3%BC"),
        ("/café", "/caf%C3%A9"),
        ("/\u3000", "/%E3%80%80"),
        ("/받은편지함?q=안녕", "/" + quote("받은편지함") + "?q=" + quote("안녕")),
    ],
)
def test_local_return_to_is_where_the_login_lands(
    stack: Stack, return_to: str, landing: str
) -> None:
    # when
    code, state, binding = begin(stack, return_to=return_to)
    response = stack.callback(code, state, f"{LOGIN}={binding}")

    # then
    location = response.headers["Location"]
    assert response.status_code == 302
    assert location == FRONTEND + landing
    assert location.isascii()
    assert "login_error" not in query_of(location)


# --- Bodies ---------------------------------------------------------------------------

BAD_BODIES: dict[str, tuple[bytes, str]] = {
    "not_json": (b"code=abc&state=def", "application/json"),
    "truncated_json": (b'{"code": "abc", "state": ', "application/json"),
    "json_list": (b'["code", "state"]', "application/json"),
    "json_string": (b'"code"', "application/json"),
    "json_number": (b"42", "application/json"),
    "json_null": (b"null", "application/json"),
    "one_megabyte": (b'{"code": "' + b"a" * 1_048_576 + b'"}', "application/json"),
    "latin1": ('{"code": "caf\xe9"}'.encode("latin-1"), "application/json"),
    "utf16": ('{"code": "x", "state": "y"}'.encode("utf-16"), "application/json"),
    "lone_surrogate_bytes": (b'{"code": "\xed\xa0\x80"}', "application/json"),
    # Valid UTF-8 that decodes to a lone surrogate through a JSON escape.
    "lone_surrogate_escape": (
        b'{"code": "\\ud800", "state": "\\udfff"}',
        "application/json",
    ),
    "surrogate_in_other_field": (
        b'{"code": "c", "state": "s", "x": ["\\udbff"]}',
        "application/json",
    ),
    # Nesting deep enough to exhaust the parser's recursion, under 64 KB.
    "deeply_nested": (
        b'{"a": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        "application/json",
    ),
    "json_as_octets": (b'{"code": "a", "state": "b"}', "application/octet-stream"),
    "json_as_xml": (b'{"code": "a", "state": "b"}', "application/xml"),
}
WRONG_FIELDS: dict[str, Any] = {
    "code_number": {"code": 1, "state": "s"},
    "state_list": {"code": "c", "state": ["s"]},
    "code_object": {"code": {"$ne": ""}, "state": "s"},
    "code_null": {"code": None, "state": "s"},
    "code_bool": {"code": True, "state": "s"},
    "code_empty": {"code": "", "state": "s"},
    "state_missing": {"code": "c"},
    "empty_object": {},
    "state_too_long": {"code": "c", "state": "s" * 5000},
}


def _raw_post(stack: Stack, path: str, raw: bytes, content_type: str, **h: str) -> Any:
    headers = {"X-CSRF": "1", "Content-Type": content_type, **h}
    return stack.client.http.post(path, headers=headers, body=raw)


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
def test_body_that_is_not_a_utf8_json_object_is_invalid_request(
    stack: Stack, figures: Figures, kind: str, path: str
) -> None:
    # given
    session_id = login(stack)
    before = _item(stack, session_id)
    raw, content_type = BAD_BODIES[kind]

    # when
    response = _raw_post(
        stack, path, raw, content_type, Cookie=f"{SESSION}={session_id}"
    )

    # then
    figures.hostile(response.status_code == 400)
    assert response.status_code == 400
    assert error_of(response) == "invalid_request"
    no_internals(response)
    assert _item(stack, session_id) == before
    assert session_count(stack.dynamodb) == 1


@pytest.mark.parametrize("kind", sorted(WRONG_FIELDS))
def test_token_body_with_wrong_field_types_is_invalid_request(
    stack: Stack, figures: Figures, kind: str
) -> None:
    # when
    response = stack.post("/auth/token", WRONG_FIELDS[kind])

    # then
    figures.hostile(response.status_code == 400)
    assert response.status_code == 400
    assert error_of(response) == "invalid_request"
    assert session_count(stack.dynamodb) == 0
    assert stack.cognito.calls["token:authorization_code"] == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_logout_by_another_method_is_a_405_and_keeps_the_session(
    stack: Stack, figures: Figures, method: str
) -> None:
    # given
    session_id = login(stack)

    # when a link or image tag tries to log the user out
    response = stack.client.http.request(
        method, "/auth/logout", headers={"Cookie": f"{SESSION}={session_id}"}
    )

    # then
    figures.hostile(response.status_code == 405)
    assert response.status_code == 405
    assert error_of(response) == "method_not_allowed"
    assert response.headers["Allow"] == "POST"
    assert user_info(stack, session_id).status_code == 200
    assert json.loads(user_info(stack, session_id).body)["sub"] == "user-1"
