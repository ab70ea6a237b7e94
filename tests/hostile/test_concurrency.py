"""Parallel requests on one session: one refresh grant, logout racing a refresh."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import RealClock, Stack, make_stack
from tests.hostile.conftest import Figures, session_count
from tests.hostile.support import SESSION, error_of, login, user_info

PARALLEL = 20


def _in_parallel(count: int, task: Callable[[int], Any]) -> list[Any]:
    """Run ``task`` on ``count`` threads released together; bounded wait."""
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait(timeout=5)
        results[index] = task(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.fixture
def live(aws_env: None, signing_key: Any, tmp_path: Path) -> Stack:
    """A stack on the wall clock, since parallel waits are real waits."""
    return make_stack(signing_key, tmp_path, RealClock())


@pytest.mark.parametrize("rotate", [True, False], ids=["rotating", "fixed"])
@pytest.mark.parametrize("route", ["user-info", "refresh"])
def test_twenty_parallel_requests_with_an_expiring_token_make_one_grant(
    live: Stack, figures: Figures, route: str, rotate: bool
) -> None:
    # given a session whose access token is inside the refresh margin
    live.cognito.rotate = rotate
    live.cognito.access_lifetime = 30
    session_id = login(live)
    live.cognito.access_lifetime = 3600
    live.cognito.refresh_delay = 0.3

    # when
    def one(_: int) -> Any:
        if route == "user-info":
            return user_info(live, session_id)
        return live.post("/auth/refresh", Cookie=f"{SESSION}={session_id}")

    responses = _in_parallel(PARALLEL, one)

    # then
    statuses = [response.status_code for response in responses]
    figures.fault(statuses == [200] * PARALLEL)
    assert statuses == [200] * PARALLEL
    assert live.cognito.calls["token:refresh_token"] == 1
    assert session_count(live.dynamodb) == 1
    assert user_info(live, session_id).status_code == 200


@pytest.mark.parametrize("rotate", [True, False], ids=["rotating", "fixed"])
@pytest.mark.parametrize("route", ["user-info", "refresh"])
def test_logout_in_one_tab_while_another_refreshes_leaves_no_session(
    live: Stack, figures: Figures, route: str, rotate: bool
) -> None:
    # given a refresh that Cognito answers slowly
    live.cognito.rotate = rotate
    live.cognito.access_lifetime = 30
    session_id = login(live)
    live.cognito.access_lifetime = 3600
    live.cognito.refresh_delay = 0.4
    cookie = f"{SESSION}={session_id}"

    # when one tab refreshes and the other logs out meanwhile
    def one(index: int) -> Any:
        if index == 0:
            if route == "user-info":
                return user_info(live, session_id)
            return live.post("/auth/refresh", Cookie=cookie)
        time.sleep(0.15)
        return live.post("/auth/logout", Cookie=cookie)

    refreshed, logged_out = _in_parallel(2, one)

    # then no 500, the logout won, and the session stays gone
    figures.hostile(refreshed.status_code < 500 and logged_out.status_code == 200)
    assert logged_out.status_code == 200
    assert refreshed.status_code in {200, 401}
    if refreshed.status_code == 401:
        assert error_of(refreshed) in {"session_expired", "unauthenticated"}
    assert live.session_item(session_id) is None
    assert session_count(live.dynamodb) == 0
    assert user_info(live, session_id).status_code == 401
    # a rotated refresh token minted during the race is revoked, not orphaned
    assert not live.cognito.refresh_tokens
