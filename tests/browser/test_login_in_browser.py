"""A person's path through the real pages, in Chromium."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from devstack.settings import StackSettings

pytestmark = pytest.mark.browser

Shoot = Callable[[Page, str], Path]


def open_app(page: Page, settings: StackSettings) -> None:
    page.goto(f"{settings.frontend_url}/")
    expect(page.get_by_test_id("loading")).to_be_hidden()


def log_in_at_kakao(
    page: Page,
    settings: StackSettings,
    user: str = "4000000001",
    share_email: bool = True,
) -> None:
    page.get_by_test_id("login").click()
    page.wait_for_url(f"{settings.kakao_url}/**")
    share = page.get_by_test_id("share-email")
    if share.is_checked() != share_email:
        share.click()
    page.get_by_test_id(f"user-{user}").click()
    page.wait_for_url(f"{settings.frontend_url}/**")
    expect(page.get_by_test_id("signed-in")).to_be_visible()


def script_visible_secrets(page: Page) -> dict[str, object]:
    return page.evaluate(
        """() => ({
            local: Object.keys(localStorage).length,
            session: Object.keys(sessionStorage).length,
            cookies: document.cookie,
        })"""
    )


def test_person_logs_in_with_kakao_and_sees_their_profile(
    page: Page, settings: StackSettings, shoot: Shoot
) -> None:
    open_app(page, settings)
    expect(page.get_by_test_id("signed-out")).to_be_visible()
    shoot(page, "signed-out")

    page.get_by_test_id("login").click()
    page.wait_for_url(f"{settings.kakao_url}/**")
    shoot(page, "kakao-consent")
    page.get_by_test_id("user-4000000001").click()
    page.wait_for_url(f"{settings.frontend_url}/**")

    expect(page.get_by_test_id("user-name")).to_have_text("Minji Kim")
    expect(page.get_by_test_id("user-email")).to_have_text("minji@example.com")
    expect(page.get_by_test_id("user-provider")).to_have_text("Kakao")
    expect(page.get_by_test_id("session-left")).to_contain_text("left")
    assert "code=" not in page.url and "state=" not in page.url
    assert script_visible_secrets(page) == {"local": 0, "session": 0, "cookies": ""}
    shoot(page, "signed-in")


def test_reload_keeps_the_session(page: Page, settings: StackSettings) -> None:
    open_app(page, settings)
    log_in_at_kakao(page, settings)

    page.reload()

    expect(page.get_by_test_id("user-name")).to_have_text("Minji Kim")


def test_second_tab_shares_the_session_and_logout_ends_both(
    context: BrowserContext, page: Page, settings: StackSettings, shoot: Shoot
) -> None:
    open_app(page, settings)
    log_in_at_kakao(page, settings)
    second = context.new_page()
    open_app(second, settings)
    expect(second.get_by_test_id("user-name")).to_have_text("Minji Kim")

    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{settings.frontend_url}/**")

    expect(page.get_by_test_id("signed-out")).to_be_visible()
    expect(second.get_by_test_id("signed-out")).to_be_visible()
    shoot(second, "other-tab-after-logout")
    second.reload()
    expect(second.get_by_test_id("signed-out")).to_be_visible()


def test_declining_email_still_logs_in_with_email_not_shared(
    page: Page, settings: StackSettings, shoot: Shoot
) -> None:
    # A user who never shared an email before: Cognito keeps a mapped email
    # from an earlier login even when a later one declines it.
    open_app(page, settings)

    log_in_at_kakao(page, settings, user="4000000003", share_email=False)

    expect(page.get_by_test_id("user-name")).to_have_text("Seoyeon Lee")
    expect(page.get_by_test_id("user-email")).to_have_text("not shared")
    shoot(page, "email-not-shared")


def test_user_without_an_email_logs_in(page: Page, settings: StackSettings) -> None:
    open_app(page, settings)

    log_in_at_kakao(page, settings, user="4000000002")

    expect(page.get_by_test_id("user-name")).to_have_text("Joon Park")
    expect(page.get_by_test_id("user-email")).to_have_text("not shared")


def test_cancelling_at_kakao_shows_a_clear_message(
    page: Page, settings: StackSettings, shoot: Shoot
) -> None:
    open_app(page, settings)
    page.get_by_test_id("login").click()
    page.wait_for_url(f"{settings.kakao_url}/**")

    page.get_by_test_id("cancel").click()
    page.wait_for_url(f"{settings.frontend_url}/**")

    expect(page.get_by_test_id("message")).to_contain_text("cancelled the login")
    expect(page.get_by_test_id("signed-out")).to_be_visible()
    assert "login_error" not in page.url
    shoot(page, "cancelled")


def test_forged_code_and_state_in_the_url_log_nobody_in(
    page: Page, settings: StackSettings, shoot: Shoot
) -> None:
    page.goto(f"{settings.frontend_url}/?code=forged-code&state=forged-state")

    expect(page.get_by_test_id("signed-out")).to_be_visible()
    expect(page.get_by_test_id("message")).to_contain_text("Please log in again")
    assert "code=" not in page.url and "state=" not in page.url
    shoot(page, "forged-code")
