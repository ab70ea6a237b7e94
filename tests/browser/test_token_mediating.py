"""Token-mediating mode in the browser: the access token in memory, nowhere else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, Response, expect

from devstack.settings import StackSettings
from tests.browser.test_login_in_browser import (
    Shoot,
    log_in_at_kakao,
    open_app,
    script_visible_secrets,
)
from tests.stack import running_stack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def mediating(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StackSettings]:
    state = tmp_path_factory.mktemp("mediating-stack")
    with running_stack(state, DEVSTACK_TOKEN_DELIVERY="token-mediating") as (
        settings,
        _,
    ):
        yield settings


def bodies(page: Page, path: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def keep(response: Response) -> None:
        if response.url.endswith(path) and response.request.method == "POST":
            seen.append(response.json())

    page.on("response", keep)
    return seen


def test_access_token_reaches_the_page_in_a_body_and_is_never_stored(
    mediating: StackSettings, page: Page, shoot: Shoot
) -> None:
    exchanged = bodies(page, "/auth/token")
    refreshed = bodies(page, "/auth/refresh")
    open_app(page, mediating)

    log_in_at_kakao(page, mediating)

    # the code came back to the page, which handed it to /auth/token
    expect(page.get_by_test_id("user-name")).to_have_text("Minji Kim")
    assert "code=" not in page.url and "state=" not in page.url
    assert len(exchanged) == 1
    assert set(exchanged[0]) == {"success", "expires_in", "access_token"}
    assert script_visible_secrets(page) == {"local": 0, "session": 0, "cookies": ""}
    shoot(page, "token-mediating-signed-in")

    # a reload has no token in memory: one refresh fetches a fresh one
    with page.expect_response(lambda r: r.url.endswith("/auth/refresh")):
        page.reload()
    expect(page.get_by_test_id("user-name")).to_have_text("Minji Kim")
    assert len(refreshed) == 1
    assert set(refreshed[0]) == {"success", "expires_in", "access_token"}
    assert "refresh_token" not in str(refreshed) and "id_token" not in str(refreshed)
    assert script_visible_secrets(page) == {"local": 0, "session": 0, "cookies": ""}
