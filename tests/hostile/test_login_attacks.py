"""Hostile logins: replayed codes and states, authorize errors, forged ID tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.api.conftest import CLIENT_ID, FRONTEND, ISSUER, Grant, Stack
from tests.hostile.conftest import Figures, session_count
from tests.hostile.support import (
    LOGIN,
    Outcome,
    begin,
    finish,
    flow_for,
    login,
    user_info,
)

VIA = ["callback", "token"]
REFUSED_STATUS = {"callback": 302, "token": 400}


# --- The same code twice --------------------------------------------------------------


@pytest.mark.parametrize("via", VIA)
def test_same_code_sent_twice_at_once_opens_exactly_one_session(
    stack: Stack, figures: Figures, via: str
) -> None:
    # given one approved login, and the browser firing its callback twice
    code, state, binding = begin(stack, flow_for(via))
    outcomes: list[Outcome] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait(timeout=5)
        outcomes.append(finish(stack, via, code, state, f"{LOGIN}={binding}"))

    # when
    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # then one session, and the loser was refused cleanly
    won = [o for o in outcomes if o.session_id]
    lost = [o for o in outcomes if not o.session_id]
    figures.hostile(len(won) == 1 and len(lost) == 1)
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert lost[0].status == REFUSED_STATUS[via]
    assert lost[0].error == "invalid_state"
    assert stack.cognito.calls["token:authorization_code"] == 1
    assert session_count(stack.dynamodb) == 1
    winner = won[0].session_id
    assert winner is not None
    assert user_info(stack, winner).status_code == 200


@pytest.mark.parametrize("via", VIA)
def test_replayed_code_with_the_new_session_cookie_does_not_end_that_session(
    stack: Stack, figures: Figures, via: str
) -> None:
    # given a finished login
    code, state, binding = begin(stack, flow_for(via))
    first = finish(stack, via, code, state, f"{LOGIN}={binding}")
    assert first.session_id

    # when the same code and state come again, carrying the new session
    cookie = f"{LOGIN}={binding}; __Host-kl_session={first.session_id}"
    again = finish(stack, via, code, state, cookie)

    # then refused, and the first session lives on
    figures.hostile(again.error == "invalid_state")
    lost = int(user_info(stack, first.session_id).status_code != 200)
    figures.lost(lost)
    assert (again.status, again.error) == (REFUSED_STATUS[via], "invalid_state")
    assert again.session_id is None
    assert lost == 0
    assert session_count(stack.dynamodb) == 1


# --- States that are not this browser's, used or expired ------------------------------


def _other_browser(stack: Stack, via: str) -> tuple[str, str, str]:
    code, state, _ = begin(stack, flow_for(via))
    _, _, attacker = begin(stack, flow_for(via))
    return code, state, f"{LOGIN}={attacker}"


def _no_binding(stack: Stack, via: str) -> tuple[str, str, str]:
    code, state, _ = begin(stack, flow_for(via))
    return code, state, ""


def _forged_binding(stack: Stack, via: str) -> tuple[str, str, str]:
    code, state, _ = begin(stack, flow_for(via))
    return code, state, f"{LOGIN}=" + "A" * 43


def _already_used(stack: Stack, via: str) -> tuple[str, str, str]:
    code, state, binding = begin(stack, flow_for(via))
    used = finish(stack, via, code, state, f"{LOGIN}={binding}")
    assert used.session_id
    stack.cognito.calls.clear()
    code2, _, _ = begin(stack, flow_for(via))
    return code2, state, f"{LOGIN}={binding}"


def _expired(stack: Stack, via: str) -> tuple[str, str, str]:
    code, state, binding = begin(stack, flow_for(via))
    stack.clock.advance(601)
    return code, state, f"{LOGIN}={binding}"


def _unknown(stack: Stack, via: str) -> tuple[str, str, str]:
    code, _, binding = begin(stack, flow_for(via))
    return code, "forged-" + "x" * 40, f"{LOGIN}={binding}"


def _oversized(stack: Stack, via: str) -> tuple[str, str, str]:
    code, _, binding = begin(stack, flow_for(via))
    return code, "s" * 1000, f"{LOGIN}={binding}"


def _other_flow(stack: Stack, via: str) -> tuple[str, str, str]:
    other = "frontend" if via == "callback" else "api"
    code, state, binding = begin(stack, other)
    return code, state, f"{LOGIN}={binding}"


STATE_CASES: dict[str, Callable[[Stack, str], tuple[str, str, str]]] = {
    "started_in_another_browser": _other_browser,
    "without_binding_cookie": _no_binding,
    "forged_binding_cookie": _forged_binding,
    "already_used": _already_used,
    "expired": _expired,
    "unknown": _unknown,
    "oversized": _oversized,
    "started_for_the_other_flow": _other_flow,
}


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("case", sorted(STATE_CASES))
def test_callback_with_a_state_not_this_browsers_is_refused_before_cognito(
    stack: Stack, figures: Figures, via: str, case: str
) -> None:
    # given
    code, state, cookie = STATE_CASES[case](stack, via)
    sessions = session_count(stack.dynamodb)

    # when
    outcome = finish(stack, via, code, state, cookie)

    # then
    figures.hostile(outcome.error == "invalid_state")
    assert (outcome.status, outcome.error) == (REFUSED_STATUS[via], "invalid_state")
    assert outcome.session_id is None
    assert stack.cognito.calls["token:authorization_code"] == 0
    assert session_count(stack.dynamodb) == sessions


# --- Cognito reports an error on the callback -----------------------------------------


@pytest.mark.parametrize(
    ("cognito_error", "told"),
    [
        ("access_denied", "access_denied"),
        ("temporarily_unavailable", "temporarily_unavailable"),
        ("server_error", "login_failed"),
        ("invalid_scope", "login_failed"),
        ("<script>alert(1)</script>", "login_failed"),
        ("x" * 3000, "login_failed"),
    ],
    ids=["access_denied", "unavailable", "server", "scope", "markup", "long"],
)
def test_authorize_error_on_the_callback_tells_the_front_end_without_a_token_call(
    stack: Stack, figures: Figures, cognito_error: str, told: str
) -> None:
    # given a login in progress, and a code smuggled next to the error
    code, state, binding = begin(stack)
    query = {"error": cognito_error, "error_description": "no", "state": state}

    # when
    response = stack.client.http.get(
        "/auth/callback?" + urlencode({**query, "code": code}),
        headers={"Cookie": f"{LOGIN}={binding}"},
    )

    # then the front end is told why, nothing reached the token endpoint
    location = response.headers.get("Location", "")
    figures.hostile(response.status_code == 302 and told in location)
    assert response.status_code == 302
    assert location == f"{FRONTEND}/?login_error={told}"
    assert stack.cognito.calls["token:authorization_code"] == 0
    assert session_count(stack.dynamodb) == 0
    # and the state is burnt
    retry = finish(stack, "callback", code, state, f"{LOGIN}={binding}")
    assert retry.error == "invalid_state"


# --- Forged ID tokens -----------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(stack: Stack, grant: Grant, **overrides: Any) -> dict[str, Any]:
    now = int(stack.clock.now())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        "nonce": grant.nonce,
        "sub": "user-1",
        **overrides,
    }
    return {k: v for k, v in claims.items() if v is not None}


def _signed(stack: Stack, claims: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(
        claims,
        stack.cognito.key,
        algorithm="RS256",
        headers={"kid": "kid-1", **headers},
    )


def _hs256(stack: Stack, grant: Grant, secret: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "kid": "kid-1", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(stack, grant)).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(signature.digest())}"


def _public_pem(stack: Stack) -> bytes:
    return stack.cognito.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _public_jwk(stack: Stack) -> bytes:
    return jwt.algorithms.RSAAlgorithm.to_jwk(stack.cognito.key.public_key()).encode()


def _unsigned(stack: Stack, grant: Grant, _: Any) -> str:
    header = _b64(json.dumps({"alg": "none", "kid": "kid-1"}).encode())
    return f"{header}.{_b64(json.dumps(_claims(stack, grant)).encode())}."


def _access_token(stack: Stack, grant: Grant, _: Any) -> str:
    claims = _claims(stack, grant, aud=None, token_use="access", nonce=None)
    claims.update(client_id=CLIENT_ID, scope="openid email", username="Kakao_1")
    return _signed(stack, claims)


ID_TOKENS: dict[str, Callable[[Stack, Grant, Any], str]] = {
    "unsigned_alg_none": _unsigned,
    "unsigned_alg_none_with_signature": lambda s, g, _: _unsigned(s, g, _) + "c2ln",
    "hs256_keyed_with_public_pem": lambda s, g, _: _hs256(s, g, _public_pem(s)),
    "hs256_keyed_with_public_jwk": lambda s, g, _: _hs256(s, g, _public_jwk(s)),
    "other_audience": lambda s, g, _: _signed(s, _claims(s, g, aud="other-client")),
    "audience_list_without_us": lambda s, g, _: _signed(
        s, _claims(s, g, aud=["a", "b"])
    ),
    "other_issuer": lambda s, g, _: _signed(
        s, _claims(s, g, iss="https://cognito-idp.us-east-1.amazonaws.com/other")
    ),
    "issuer_with_trailing_slash": lambda s, g, _: _signed(
        s, _claims(s, g, iss=ISSUER + "/")
    ),
    "access_token_in_its_place": _access_token,
    "expired": lambda s, g, _: _signed(
        s, _claims(s, g, exp=int(s.clock.now()) - 3600, iat=int(s.clock.now()) - 7200)
    ),
    "issued_in_the_future": lambda s, g, _: _signed(
        s, _claims(s, g, iat=int(s.clock.now()) + 3600)
    ),
    "other_nonce": lambda s, g, _: _signed(s, _claims(s, g, nonce="other-nonce")),
    "no_nonce": lambda s, g, _: _signed(s, _claims(s, g, nonce=None)),
    "no_subject": lambda s, g, _: _signed(s, _claims(s, g, sub=None)),
    "signed_by_another_key": lambda s, g, other: jwt.encode(
        _claims(s, g), other, algorithm="RS256", headers={"kid": "kid-1"}
    ),
    "jku_pointing_elsewhere": lambda s, g, other: jwt.encode(
        _claims(s, g),
        other,
        algorithm="RS256",
        headers={"kid": "kid-1", "jku": "https://evil.example/jwks.json"},
    ),
    "no_kid": lambda s, g, _: jwt.encode(_claims(s, g), s.cognito.key, "RS256"),
    "not_a_jwt": lambda s, g, _: "not.a.jwt",
}


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("forgery", sorted(ID_TOKENS))
def test_forged_id_token_is_refused_and_opens_no_session(
    stack: Stack, figures: Figures, other_key: Any, via: str, forgery: str
) -> None:
    # given Cognito's answer carries a forged ID token
    stack.cognito.id_token_override = lambda grant: ID_TOKENS[forgery](
        stack, grant, other_key
    )
    code, state, binding = begin(stack, flow_for(via))

    # when
    outcome = finish(stack, via, code, state, f"{LOGIN}={binding}")

    # then
    figures.hostile(outcome.error == "invalid_id_token")
    expected = 302 if via == "callback" else 401
    assert (outcome.status, outcome.error) == (expected, "invalid_id_token")
    assert outcome.session_id is None
    assert session_count(stack.dynamodb) == 0
    assert stack.cognito.calls["jwks"] <= 1


# --- Key rotation ---------------------------------------------------------------------


@pytest.mark.parametrize("cache_age", [0, 10, 61, 3600, 86_400])
def test_token_signed_with_a_rotated_key_costs_one_jwks_refetch(
    stack: Stack, other_key: Any, cache_age: int
) -> None:
    # given a warm container holding the old key, fetched just now or long ago
    login(stack)
    assert stack.cognito.calls["jwks"] == 1
    stack.clock.advance(cache_age)

    # when Cognito rotates its signing key
    stack.cognito.key, stack.cognito.kid = other_key, "kid-rotated"
    first = login(stack)
    second = login(stack)

    # then both logins pass with one refetch
    assert stack.cognito.calls["jwks"] == 2
    assert user_info(stack, first).status_code == 200
    assert user_info(stack, second).status_code == 200


@pytest.mark.parametrize("flood", [5, 40])
def test_flood_of_unknown_kids_refetches_at_most_once_a_minute(
    stack: Stack, figures: Figures, flood: int
) -> None:
    # given a container whose keys are over a minute old
    login(stack)
    stack.clock.advance(61)
    kids = iter(range(10_000))

    def unknown_kid(grant: Grant) -> str:
        return _signed(stack, _claims(stack, grant), kid=f"unknown-{next(kids)}")

    stack.cognito.id_token_override = unknown_kid

    # when tokens naming unknown keys arrive through two minutes
    for minute in range(2):
        for _ in range(flood):
            code, state, binding = begin(stack)
            outcome = finish(stack, "callback", code, state, f"{LOGIN}={binding}")
            figures.hostile(outcome.error == "invalid_id_token")
            assert outcome.error == "invalid_id_token"
            stack.clock.advance(50 / flood)
        stack.clock.advance(11)

        # then at most one refetch in each minute
        assert stack.cognito.calls["jwks"] <= 2 + minute
    assert session_count(stack.dynamodb) == 1
