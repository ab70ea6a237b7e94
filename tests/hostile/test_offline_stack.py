"""Over real HTTP against the offline stack: load, fuzzing, moto's atomicity, logs.

One stack for the module (``chalice local`` behind moto server and the Cognito and
Kakao stand-ins, all on free loopback ports). The log scan runs last.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.selfcheck import browser, login
from tests.hostile.conftest import FIGURES, Figures, Offline, leaked, session_count

OPENAPI = Path(__file__).resolve().parents[2] / "chalice_app" / "openapi.yaml"
LOAD_REQUESTS = 2000
LOAD_CONCURRENCY = 20
LOAD_SECONDS = 60.0
FUZZ_SECONDS = 60.0
# The only 5xx answers the API declares: upstream and store faults.
DECLARED_5XX = {
    (502, "login_failed"),
    (503, "upstream_unavailable"),
    (503, "config_unavailable"),
    (503, "session_store_unavailable"),
    (503, "config_stale"),
}
INTERNALS = ("Traceback", 'File "', "Exception", "botocore", "chalicelib")
SESSION = "__Host-kl_session"


@pytest.fixture(scope="module")
def users(offline: Offline) -> Iterator[dict[str, str]]:
    """Two users logged in through Kakao and Cognito: session cookie -> sub."""
    found: dict[str, str] = {}
    for user_id, share_email in (("4000000001", True), ("4000000002", False)):
        session = browser()
        session.hooks["response"].append(_remember_codes)
        result = login(offline.settings, user_id, share_email, session=session)
        cookie = result.cookie
        assert cookie
        FIGURES.secret(cookie, session.cookies.get("__Host-kl_login"))
        found[cookie] = _user_info(offline, cookie).json()["sub"]
    yield found


def _remember_codes(response: requests.Response, *_: Any, **__: Any) -> None:
    for url in (response.headers.get("Location", ""), response.url):
        params = parse_qs(urlsplit(url).query)
        for name in ("code", "state", "nonce", "code_challenge"):
            FIGURES.secret(*params.get(name, []))


def _user_info(
    offline: Offline, cookie: str, http: requests.Session | None = None
) -> requests.Response:
    return (http or requests).get(
        f"{offline.settings.api_url}/api/user-info",
        headers={"Cookie": f"{SESSION}={cookie}"},
        timeout=10,
    )


def _dynamodb(offline: Offline) -> Any:
    env = offline.settings.aws_env()
    return boto3.client(
        "dynamodb",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


# --- Load -----------------------------------------------------------------------------


def test_user_info_load_has_no_errors_and_loses_no_session(
    offline: Offline, users: dict[str, str], figures: Figures
) -> None:
    # given two live sessions
    table = _dynamodb(offline)
    sessions = session_count(table, offline.settings.sessions_table)
    cookies = list(users)
    deadline = time.monotonic() + LOAD_SECONDS
    sent = iter(range(LOAD_REQUESTS))
    lock = threading.Lock()
    wrong: list[str] = []

    def worker(index: int) -> None:
        http = requests.Session()
        cookie = cookies[index % len(cookies)]
        while time.monotonic() < deadline:
            with lock:
                if next(sent, None) is None:
                    return
            started = time.perf_counter()
            try:
                answer = _user_info(offline, cookie, http)
                ok = answer.status_code == 200 and answer.json()["sub"] == users[cookie]
            except (requests.RequestException, ValueError, KeyError):
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            with figures.lock:
                figures.latencies_ms.append(elapsed)
                figures.load_errors += int(not ok)
            if not ok:
                wrong.append(cookie[:4])

    # when
    with ThreadPoolExecutor(LOAD_CONCURRENCY) as pool:
        list(pool.map(worker, range(LOAD_CONCURRENCY)))
    figures.load_stopped_early = len(figures.latencies_ms) < LOAD_REQUESTS

    # then every answer was the right user's, and no session was lost
    assert not wrong
    assert len(figures.latencies_ms) >= 200
    after = session_count(table, offline.settings.sessions_table)
    figures.lost(sessions - after)
    assert after == sessions
    for cookie, sub in users.items():
        assert _user_info(offline, cookie).json()["sub"] == sub


# --- moto server's conditional writes -------------------------------------------------


def test_moto_server_applies_a_conditional_put_once_under_concurrency(
    offline: Offline,
) -> None:
    # given many writers racing to create the same item, several times over
    table = _dynamodb(offline)
    name = offline.settings.sessions_table
    winners: list[int] = []

    def create(key: str) -> bool:
        try:
            table.put_item(
                TableName=name,
                Item={"pk": {"S": key}, "expires_at": {"N": "1"}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except table.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # when
    with ThreadPoolExecutor(16) as pool:
        for round_ in range(10):
            key = f"race#{round_}"
            winners.append(sum(pool.map(create, [key] * 16)))
            table.delete_item(TableName=name, Key={"pk": {"S": key}})

    # then exactly one writer won every round
    assert winners == [1] * 10


# --- Fuzzing --------------------------------------------------------------------------


def _check_answer(status: int, body: str, figures: Figures) -> None:
    with figures.lock:
        figures.fuzz_calls += 1
    for marker in INTERNALS:
        assert marker not in body, body[:300]
    error = None
    if body.startswith("{"):
        document = json.loads(body)
        error = document.get("error") if isinstance(document, dict) else None
    if status >= 500:
        assert (status, error) in DECLARED_5XX, (status, body[:300])


def test_schemathesis_finds_no_undeclared_5xx_and_no_internals(
    offline: Offline, figures: Figures
) -> None:
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_path(str(OPENAPI))
    base_url = offline.settings.api_url
    http = requests.Session()
    deadline = time.monotonic() + FUZZ_SECONDS

    for result in schema.get_all_operations():
        operation = result.ok()
        main = operation.definition.raw.get("operationId") is not None
        strategy = operation.as_strategy(GenerationMode.POSITIVE)
        if main:
            strategy = strategy | operation.as_strategy(GenerationMode.NEGATIVE)

        @settings(
            max_examples=40 if main else 3,
            database=None,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def probe(case: Any) -> None:
            if time.monotonic() > deadline:
                return
            response = case.call(base_url=base_url, session=http, timeout=10)
            _check_answer(response.status_code, response.text, figures)

        probe()


PATH_SEGMENT = st.text(
    alphabet=st.characters(codec="ascii", exclude_characters="/?#%"), max_size=12
)


@settings(
    max_examples=150,
    database=None,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    path=st.one_of(
        st.sampled_from(
            [
                "/auth/login",
                "/auth/callback",
                "/auth/token",
                "/auth/refresh",
                "/auth/logout",
                "/api/user-info",
                "/api/config",
                "/health",
            ]
        ),
        st.lists(PATH_SEGMENT, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    ),
    origin=st.one_of(
        st.none(), st.sampled_from(["null", "https://evil.example", "http://localhost"])
    ),
    content_type=st.sampled_from(
        [None, "application/json", "text/plain", "application/json; charset=x"]
    ),
    csrf=st.sampled_from([None, "1", "0", ""]),
    cookie=st.text(
        alphabet=st.characters(codec="latin-1", exclude_characters="\r\n\x00"),
        max_size=200,
    ),
    body=st.one_of(st.binary(max_size=200), st.just(b'{"code": "c", "state": "s"}')),
)
def _wild_request(
    offline: Offline,
    method: str,
    path: str,
    origin: str | None,
    content_type: str | None,
    csrf: str | None,
    cookie: str,
    body: bytes,
) -> None:
    headers = {
        "Origin": origin,
        "Content-Type": content_type,
        "X-CSRF": csrf,
        "Cookie": f"{SESSION}={cookie}; __Host-kl_login={cookie}",
    }
    response = requests.request(
        method,
        offline.settings.api_url + path,
        headers={k: v for k, v in headers.items() if v is not None},
        data=body if method != "GET" else None,
        timeout=10,
        allow_redirects=False,
    )
    _check_answer(response.status_code, response.text, FIGURES)
    allowed = response.headers.get("Access-Control-Allow-Origin")
    assert allowed in (None, offline.settings.frontend_url)


def test_random_paths_headers_and_cookies_get_no_undeclared_5xx(
    offline: Offline,
) -> None:
    _wild_request(offline)


# --- Logs (last) ----------------------------------------------------------------------


def test_no_stack_log_line_carries_a_token_code_or_cookie(
    offline: Offline, users: dict[str, str], figures: Figures
) -> None:
    # given every value the tests saw over HTTP
    assert users and figures.secrets

    # when
    lines: list[str] = []
    for log in sorted((offline.state_dir / "logs").glob("*.log")):
        lines += log.read_text(errors="replace").splitlines()

    # then
    with figures.lock:
        figures.log_lines_scanned += len(lines)
    assert lines
    leaks = leaked(lines, figures.secrets)
    assert not leaks, f"{len(leaks)} lines, first: {leaks[0][:120]}"


@pytest.mark.parametrize("return_to", ["/\u3000", "/café", "/받은편지함?q=안녕"])
def test_non_ascii_return_to_keeps_both_sessions_working_over_http(
    offline: Offline, return_to: str
) -> None:
    # given a signed-in browser
    settings = offline.settings
    first = login(settings)
    old_cookie = first.cookie
    assert old_cookie is not None

    # when it logs in again through a link whose return path is not ASCII
    again = login(settings, session=first.session, return_to=return_to)

    # then it lands on that path, percent-encoded, with a new working session
    assert urlsplit(again.landed_at).path.startswith("/")
    assert again.landed_at.isascii()
    assert again.cookie not in (None, old_cookie)
    answer = again.session.get(f"{settings.api_url}/api/user-info", timeout=10)
    assert answer.status_code == 200
